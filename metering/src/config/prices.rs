//! `[prices]`: the offline price table, its versions, and what local backends cost by the hour.

use crate::time::Date;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[prices]`: an offline, versioned price table. Nothing is fetched at run time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricesConfig {
    /// `version`: names this table; stored on every ledger row it costed. Default `unversioned`.
    pub version: String,
    /// `currency`: only `USD` is supported. Default `USD`.
    pub currency: String,
    /// `charge_failed_attempts`: a failed attempt that reached its provider (timed out after
    /// the request was sent, cut mid-answer, a 5xx) is charged its prompt tokens at that
    /// backend's input price, as providers bill them. Default true.
    pub charge_failed_attempts: bool,
    /// `reference_model`: a priced `BACKEND/MODEL` whose prices give every row an
    /// `api_equivalent_usd` (what the request would have cost there), for savings reports.
    pub reference_model: Option<String>,
    /// `[prices.models."BACKEND/MODEL"]`: token prices per model as served by a backend; one
    /// table, or `[[prices.models."BACKEND/MODEL"]]` versions each with a `from` date.
    pub models: BTreeMap<String, ModelPrices>,
    /// `[prices.backends.NAME]`: running cost of a local or on-device backend.
    pub backends: BTreeMap<String, BackendCost>,
}

impl Default for PricesConfig {
    fn default() -> Self {
        PricesConfig {
            version: "unversioned".to_string(),
            currency: "USD".to_string(),
            charge_failed_attempts: true,
            reference_model: None,
            models: BTreeMap::new(),
            backends: BTreeMap::new(),
        }
    }
}

/// Token prices of one model, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// `input_per_mtok`: price of a million prompt tokens not served from a cache.
    pub input_per_mtok: f64,
    /// `output_per_mtok`: price of a million completion tokens.
    pub output_per_mtok: f64,
    /// `cached_input_per_mtok`: price of a million cached prompt tokens; defaults to
    /// `input_per_mtok` when the provider gives no discount.
    #[serde(default)]
    pub cached_input_per_mtok: Option<f64>,
    /// `cache_write_input_per_mtok`: price of a million prompt tokens written to the
    /// provider's cache (Anthropic: 1.25× input for 5-minute writes); defaults to
    /// `input_per_mtok`.
    #[serde(default)]
    pub cache_write_input_per_mtok: Option<f64>,
}

/// One version of a model's prices: in force from its `from` date (UTC midnight) until the
/// next version's, or always when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceVersion {
    /// `from`: the first UTC day these prices apply, `YYYY-MM-DD`; absent means "since always".
    #[serde(default)]
    pub from: Option<Date>,
    /// See [`ModelPrice::input_per_mtok`].
    pub input_per_mtok: f64,
    /// See [`ModelPrice::output_per_mtok`].
    pub output_per_mtok: f64,
    /// See [`ModelPrice::cached_input_per_mtok`].
    #[serde(default)]
    pub cached_input_per_mtok: Option<f64>,
    /// See [`ModelPrice::cache_write_input_per_mtok`].
    #[serde(default)]
    pub cache_write_input_per_mtok: Option<f64>,
}

impl PriceVersion {
    /// The prices alone.
    pub fn price(&self) -> ModelPrice {
        ModelPrice {
            input_per_mtok: self.input_per_mtok,
            output_per_mtok: self.output_per_mtok,
            cached_input_per_mtok: self.cached_input_per_mtok,
            cache_write_input_per_mtok: self.cache_write_input_per_mtok,
        }
    }

    /// Unix ms from which the version applies (`i64::MIN` without a `from`).
    pub fn from_ms(&self) -> i64 {
        self.from.map_or(i64::MIN, Date::start_ms)
    }
}

/// A model's prices: one table, or versions by effective date.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelPrices {
    /// `[prices.models."B/M"]`: one table.
    One(PriceVersion),
    /// `[[prices.models."B/M"]]`: versions, each with its `from` date.
    Versions(Vec<PriceVersion>),
}

impl From<ModelPrice> for ModelPrices {
    fn from(p: ModelPrice) -> ModelPrices {
        ModelPrices::One(PriceVersion {
            from: None,
            input_per_mtok: p.input_per_mtok,
            output_per_mtok: p.output_per_mtok,
            cached_input_per_mtok: p.cached_input_per_mtok,
            cache_write_input_per_mtok: p.cache_write_input_per_mtok,
        })
    }
}

impl ModelPrices {
    /// Every version, as configured.
    pub fn versions(&self) -> &[PriceVersion] {
        match self {
            ModelPrices::One(v) => std::slice::from_ref(v),
            ModelPrices::Versions(v) => v,
        }
    }

    /// The version in force at `at_ms`: the latest whose `from` is not after it. `None` before
    /// the first version's date (the request has no price then, never a later one's).
    pub fn at(&self, at_ms: i64) -> Option<&PriceVersion> {
        self.versions()
            .iter()
            .filter(|v| v.from_ms() <= at_ms)
            .max_by_key(|v| v.from_ms())
    }
}

/// Both forms are accepted: a table is one version, an array of tables is a list. Not
/// `#[serde(untagged)]`, whose error ("did not match any variant") would hide which key of
/// the table is wrong.
impl<'de> Deserialize<'de> for ModelPrices {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ModelPrices, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = ModelPrices;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a price table or an array of price tables with `from` dates")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ModelPrices, A::Error> {
                PriceVersion::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ModelPrices::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ModelPrices, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(ModelPrices::Versions)
            }
        }
        d.deserialize_any(Either)
    }
}

/// The running cost of a backend the organisation operates.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendCost {
    /// `cost_per_hour`: USD per hour the backend runs (hardware, hosting), whether busy or
    /// idle: busy time is shared among the requests it serves (see `cost::compute_cost`), the
    /// rest is written as the backend's idle cost.
    pub cost_per_hour: f64,
    /// `watts`: the machine's mean power draw; with `energy_price_per_kwh`, adds
    /// `watts / 1000 × energy_price_per_kwh` to the hourly rate.
    #[serde(default)]
    pub watts: Option<f64>,
    /// `energy_price_per_kwh`: USD per kWh of electricity.
    #[serde(default)]
    pub energy_price_per_kwh: Option<f64>,
}

impl BackendCost {
    /// A backend at `cost_per_hour`, without an energy cost.
    pub fn per_hour(cost_per_hour: f64) -> BackendCost {
        BackendCost {
            cost_per_hour,
            watts: None,
            energy_price_per_kwh: None,
        }
    }

    /// USD per hour of electricity (0 without `watts` and `energy_price_per_kwh`).
    pub fn energy_per_hour(&self) -> f64 {
        match (self.watts, self.energy_price_per_kwh) {
            (Some(w), Some(p)) => w / 1000.0 * p,
            _ => 0.0,
        }
    }
}

impl PricesConfig {
    /// Checks values serde cannot; each problem starts with its key path.
    pub(super) fn problems(&self, out: &mut Vec<String>) {
        if self.currency != "USD" {
            out.push(format!(
                "prices.currency: '{}' is not supported (only USD)",
                self.currency
            ));
        }
        if self.version.trim().is_empty() {
            out.push("prices.version: must not be empty".to_string());
        }
        for (key, prices) in &self.models {
            model_problems(key, prices, out);
        }
        if let Some(reference) = &self.reference_model {
            if !self.models.contains_key(reference) {
                out.push(format!(
                    "prices.reference_model: \"{reference}\" names no [prices.models] entry \
                     (it must be a priced BACKEND/MODEL)"
                ));
            }
        }
        for (name, b) in &self.backends {
            backend_problems(name, b, out);
        }
    }
}

fn model_problems(key: &str, prices: &ModelPrices, out: &mut Vec<String>) {
    let path = format!("prices.models.\"{key}\"");
    match key.split_once('/') {
        Some((b, m)) if !b.is_empty() && !m.is_empty() => {}
        _ => out.push(format!("{path}: key must be BACKEND/MODEL")),
    }
    let versions = prices.versions();
    if versions.is_empty() {
        out.push(format!("{path}: an empty list of versions prices nothing"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, v) in versions.iter().enumerate() {
        let at = match prices {
            ModelPrices::One(_) => path.clone(),
            ModelPrices::Versions(_) => format!("{path}[{i}]"),
        };
        if !seen.insert(v.from) {
            let when = v
                .from
                .map_or("without a date".to_string(), |d| format!("from {d}"));
            out.push(format!("{at}.from: a second version {when}"));
        }
        let fields = [
            ("input_per_mtok", Some(v.input_per_mtok)),
            ("cache_write_input_per_mtok", v.cache_write_input_per_mtok),
            ("output_per_mtok", Some(v.output_per_mtok)),
            ("cached_input_per_mtok", v.cached_input_per_mtok),
        ];
        for (name, value) in fields {
            if value.is_some_and(|x| !(x.is_finite() && x >= 0.0)) {
                out.push(format!("{at}.{name}: must be a number >= 0"));
            }
        }
    }
}

fn backend_problems(name: &str, b: &BackendCost, out: &mut Vec<String>) {
    let path = format!("prices.backends.{name}");
    let fields = [
        ("cost_per_hour", Some(b.cost_per_hour)),
        ("watts", b.watts),
        ("energy_price_per_kwh", b.energy_price_per_kwh),
    ];
    for (key, value) in fields {
        if value.is_some_and(|x| !(x.is_finite() && x >= 0.0)) {
            out.push(format!("{path}.{key}: must be a number >= 0"));
        }
    }
    match (b.watts, b.energy_price_per_kwh) {
        (Some(_), None) => out.push(format!(
            "{path}.energy_price_per_kwh: needed with watts (the energy cost is their product)"
        )),
        (None, Some(_)) => out.push(format!(
            "{path}.watts: needed with energy_price_per_kwh (the energy cost is their product)"
        )),
        _ => {}
    }
}
