//! Turning the raw file into a checked [`Config`]: every error is collected with its path.

use super::raw::{BackendKind, RawBackend, RawConfig, RawRoute, RawTenant};
use super::server::{check_server, Server};
use super::{ConfigErrors, Errors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tollgate_adapters::on_device::OnDeviceConfig;
use tollgate_adapters::Timeouts;
use tollgate_policies::{
    licence, ClassAction, DataClass, DetectorConfig, Openness, Strategy, TenantProfile, Use, Zone,
    ZoneCeilings,
};

/// A configuration whose every reference resolves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners and limits.
    pub server: Server,
    /// Backends, in name order.
    pub backends: Vec<Backend>,
    /// Routes, in name order.
    pub routes: Vec<Route>,
    /// Tenants, in name order.
    pub tenants: Vec<Tenant>,
    /// The licence profile of requests when no tenants are configured.
    pub anonymous: TenantProfile,
    /// Highest data class per trust zone.
    pub zones: ZoneCeilings,
    /// Sensitivity detector settings.
    pub detect: DetectorConfig,
    /// Things that work but deserve attention (missing key variables, ...).
    pub warnings: Vec<String>,
    /// The folder relative paths in the file are resolved against.
    pub base_dir: PathBuf,
    backend_index: HashMap<String, usize>,
    route_index: HashMap<String, usize>,
    /// `[ledger]`, `[prices]`, `[budgets]` and `[metrics]`, checked, ledger path resolved.
    pub metering: tollgate_metering::MeteringConfig,
}

/// `[server]`, checked.
/// A backend, checked.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Its name.
    pub name: String,
    /// Its protocol.
    pub kind: BackendKind,
    /// Its trust zone.
    pub zone: Zone,
    /// API root for HTTP kinds.
    pub base_url: Option<String>,
    /// Variable holding its key.
    pub api_key_env: Option<String>,
    /// Extra upstream headers.
    pub headers: Vec<(String, String)>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Its models, in name order.
    pub models: Vec<Model>,
    /// For on-device backends: the engine settings, and whether the model is the generated demo.
    pub engine: Option<(OnDeviceConfig, bool)>,
    /// For HTTP backends: the concurrency limit, if any.
    pub concurrency: Option<super::Concurrency>,
}

/// A model of a backend.
#[derive(Debug, Clone)]
pub struct Model {
    /// The backend's own name for it.
    pub name: String,
    /// `BACKEND/MODEL`.
    pub key: String,
    /// Licence or provider-terms id.
    pub licence: Option<String>,
    /// Context window in tokens.
    pub context_window: Option<u32>,
    /// Takes non-text input.
    pub multimodal: bool,
    /// What is open about it.
    pub open: Openness,
    /// Can stream.
    pub streaming: bool,
    /// Accepts tools.
    pub tools: bool,
    /// An embedding model.
    pub embeddings: bool,
    /// The most inputs of one upstream embeddings call.
    pub max_batch: usize,
}

/// Inputs per upstream embeddings call unless configured: OpenAI's limit.
const DEFAULT_MAX_BATCH: usize = 2048;

/// One candidate of a route: indexes into [`Config::backends`] and that backend's models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the backend.
    pub backend: usize,
    /// Index of the model within the backend.
    pub model: usize,
}

/// A route, checked.
#[derive(Debug, Clone)]
pub struct Route {
    /// The name clients send as `model`.
    pub name: String,
    /// Candidates in order of preference.
    pub candidates: Vec<Candidate>,
    /// How passing candidates are ordered.
    pub strategy: Strategy,
    /// Per-class action for external candidates.
    pub on_class: std::collections::BTreeMap<DataClass, ClassAction>,
    /// Client model names that also mean this route.
    pub aliases: Vec<glob::Pattern>,
}

/// A tenant, checked.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Its name.
    pub name: String,
    /// SHA-256 digests of its keys.
    pub key_digests: Vec<[u8; 32]>,
    /// Variable holding one more key.
    pub api_key_env: Option<String>,
    /// Its use, size, region and training, for licence rules; and its default data class.
    pub profile: TenantProfile,
    /// Routes it may use (indexes); `None` means all.
    pub routes: Option<Vec<usize>>,
}

impl Config {
    /// A backend's index by name.
    pub fn backend_index(&self, name: &str) -> Option<usize> {
        self.backend_index.get(name).copied()
    }

    /// A route's index by name.
    pub fn route_index(&self, name: &str) -> Option<usize> {
        self.route_index.get(name).copied()
    }

    /// The route an alias maps `name` to: of the aliases that match, the longest pattern (the
    /// most specific) wins, and between equally long ones the route first in name order.
    pub fn route_by_alias(&self, name: &str) -> Option<usize> {
        self.routes
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.aliases.iter().map(move |a| (i, a)))
            .filter(|(_, a)| a.matches(name))
            .max_by_key(|(i, a)| (a.as_str().len(), std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
    }

    /// Resolves `BACKEND/MODEL` to a candidate.
    pub fn candidate(&self, key: &str) -> Option<Candidate> {
        let (backend, model) = key.split_once('/')?;
        let b = self.backend_index(backend)?;
        let m = self.backends[b]
            .models
            .iter()
            .position(|m| m.name == model)?;
        Some(Candidate {
            backend: b,
            model: m,
        })
    }

    /// The model a candidate points at.
    pub fn model(&self, c: Candidate) -> &Model {
        &self.backends[c.backend].models[c.model]
    }

    /// Whether every API listener is on a loopback address.
    pub fn loopback_only(&self) -> bool {
        self.server.listen.iter().all(|a| a.ip().is_loopback())
    }
}

pub(super) fn check(raw: RawConfig, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let mut errors = Errors::default();
    let mut warnings = Vec::new();
    let server = check_server(&raw, &mut errors);
    let backends: Vec<Backend> = raw
        .backends
        .iter()
        .map(|(name, b)| check_backend(name, b, base_dir, &mut errors, &mut warnings))
        .collect();
    let backend_index: HashMap<String, usize> = backends
        .iter()
        .enumerate()
        .map(|(i, b)| (b.name.clone(), i))
        .collect();
    let mut config = Config {
        server,
        backends,
        routes: Vec::new(),
        tenants: Vec::new(),
        anonymous: TenantProfile {
            default_class: DataClass::Public,
            ..TenantProfile::new(raw.server.anonymous_use)
        },
        zones: raw.zones,
        detect: raw.detect.clone(),
        warnings,
        base_dir: base_dir.to_path_buf(),
        backend_index,
        route_index: HashMap::new(),
        metering: super::metering::check(&raw, base_dir, &mut errors.0),
    };
    config.routes = raw
        .routes
        .iter()
        .map(|(name, r)| check_route(name, r, &config, &mut errors))
        .collect();
    check_aliases(&config.routes, &mut errors);
    config.route_index = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.clone(), i))
        .collect();
    config.tenants = raw
        .tenants
        .iter()
        .map(|(name, t)| check_tenant(name, t, &config, &mut errors))
        .collect();
    if config.tenants.is_empty() && !config.loopback_only() {
        errors.add(
            "server.listen",
            "no tenants are configured, so requests are not authenticated: \
             listen on loopback addresses only, or add [tenants]",
        );
    }
    if config.tenants.is_empty()
        && config
            .server
            .admin_listen
            .is_some_and(|a| !a.ip().is_loopback())
    {
        // `/metrics` names routes, models and spend: with no keys anywhere, it stays as
        // private as the API itself.
        errors.add(
            "server.admin_listen",
            "no tenants are configured, so nothing on this machine is authenticated: \
             put the admin listener on a loopback address, or add [tenants]",
        );
    }
    if errors.0.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors.0))
    }
}

fn on_device_kind(b: &RawBackend) -> bool {
    b.kind == BackendKind::OnDevice
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The engine settings of an on-device backend; without `path`, the generated demo model.
fn check_engine(
    path: &str,
    mut engine: serde_json::Map<String, serde_json::Value>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<(OnDeviceConfig, bool)> {
    let demo = !engine.contains_key("path");
    if demo {
        let file = base_dir
            .join(".cache")
            .join(tollgate_adapters::synth::DEMO_MODEL_FILE);
        engine.insert("path".into(), file.to_string_lossy().into_owned().into());
    }
    let mut cfg: OnDeviceConfig = match serde_json::from_value(serde_json::Value::Object(engine)) {
        Ok(c) => c,
        Err(e) => {
            errors.add(format!("{path}.engine"), e.to_string());
            return None;
        }
    };
    if cfg.path.is_relative() {
        cfg.path = base_dir.join(&cfg.path);
    }
    if let Err(e) = cfg.validate() {
        errors.add(format!("{path}.engine"), e);
        return None;
    }
    Some((cfg, demo))
}

fn check_backend(
    name: &str,
    b: &RawBackend,
    base_dir: &Path,
    errors: &mut Errors,
    warnings: &mut Vec<String>,
) -> Backend {
    let path = format!("backends.{name}");
    if !valid_name(name) {
        errors.add(
            &path,
            "backend names may use letters, digits, '-', '_' and '.' only",
        );
    }
    let mut engine = None;
    let zone = match (b.kind, b.zone) {
        (BackendKind::OnDevice, None | Some(Zone::OnDevice)) => Zone::OnDevice,
        (BackendKind::OnDevice, Some(_)) => {
            errors.add(
                format!("{path}.zone"),
                "an on_device backend is always in zone 'on_device'",
            );
            Zone::OnDevice
        }
        (BackendKind::Openai, Some(Zone::OnDevice)) => {
            errors.add(
                format!("{path}.zone"),
                "an HTTP backend is in zone 'local' or 'external', never 'on_device'",
            );
            Zone::Local
        }
        (BackendKind::Openai, Some(z)) => z,
        (BackendKind::Openai, None) => {
            errors.add(
                format!("{path}.zone"),
                "required: 'external' for closed third-party APIs, 'local' for servers inside \
                 the organisation",
            );
            Zone::External
        }
    };
    match b.kind {
        BackendKind::OnDevice => {
            if b.models.len() != 1 {
                errors.add(
                    format!("{path}.models"),
                    "an on_device backend serves exactly one model: name it and give its licence",
                );
            }
            let settings = b.engine.clone().unwrap_or_default();
            engine = check_engine(&path, settings, base_dir, errors);
        }
        BackendKind::Openai => {
            if b.engine.is_some() {
                errors.add(
                    format!("{path}.engine"),
                    "only on_device backends have an engine",
                );
            }
            match &b.base_url {
                None => errors.add(format!("{path}.base_url"), "required for kind 'openai'"),
                Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => errors
                    .add(
                        format!("{path}.base_url"),
                        format!("'{url}' must start with http:// or https://"),
                    ),
                Some(url) if url.parse::<http::Uri>().is_err() => errors.add(
                    format!("{path}.base_url"),
                    format!("'{url}' is not a valid URL"),
                ),
                Some(_) => {}
            }
        }
    }
    let concurrency = b.concurrency.and_then(|c| {
        let at = format!("{path}.concurrency");
        if on_device_kind(b) {
            errors.add(
                &at,
                "on_device backends are bounded by engine.n_parallel and engine.queue",
            );
            return None;
        }
        if c.max == 0 {
            errors.add(format!("{at}.max"), "must be greater than 0");
            return None;
        }
        Some(super::Concurrency {
            max: c.max,
            queue: c.queue,
            queue_timeout: std::time::Duration::from_millis(c.queue_timeout_ms),
        })
    });
    let t = &b.timeouts;
    for (key, v) in [
        ("connect_ms", t.connect_ms),
        ("first_byte_ms", t.first_byte_ms),
        ("idle_ms", t.idle_ms),
        ("total_ms", t.total_ms),
    ] {
        if v == 0 {
            errors.add(format!("{path}.timeouts.{key}"), "must be greater than 0");
        }
    }
    if b.models.is_empty() {
        errors.add(
            format!("{path}.models"),
            "a backend needs at least one model",
        );
    }
    for (model, spec) in &b.models {
        if model.is_empty() {
            errors.add(format!("{path}.models"), "model names cannot be empty");
        }
        match &spec.licence {
            Some(id) => {
                if let Err(e) = licence::lookup(id) {
                    errors.add(format!("{path}.models.{model}.licence"), e.to_string());
                }
            }
            None => warnings.push(format!(
                "{path}.models.{model}.licence is not set: the model is refused for every use \
                 until its licence is given"
            )),
        }
        if spec.max_batch == Some(0) {
            errors.add(
                format!("{path}.models.{model}.max_batch"),
                "must be at least 1",
            );
        }
    }
    let on_device = b.kind == BackendKind::OnDevice;
    let n_ctx = engine.as_ref().map(|(e, _)| e.n_ctx);
    Backend {
        name: name.to_string(),
        kind: b.kind,
        zone,
        engine,
        base_url: b.base_url.clone(),
        api_key_env: b.api_key_env.clone(),
        headers: b
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        timeouts: b.timeouts,
        concurrency,
        models: b
            .models
            .iter()
            .map(|(m, spec)| Model {
                name: m.clone(),
                key: format!("{name}/{m}"),
                licence: spec.licence.clone(),
                context_window: spec.context_window.or(n_ctx),
                multimodal: spec.multimodal,
                open: spec.open,
                streaming: spec.streaming.unwrap_or(true),
                // The on-device engine does not implement tool calls.
                tools: spec.tools.unwrap_or(!on_device),
                embeddings: spec.embeddings,
                max_batch: spec.max_batch.unwrap_or(DEFAULT_MAX_BATCH),
            })
            .collect(),
    }
}

fn check_route(name: &str, r: &RawRoute, config: &Config, errors: &mut Errors) -> Route {
    let path = format!("routes.{name}");
    if !valid_name(name) {
        errors.add(
            &path,
            "route names may use letters, digits, '-', '_' and '.' only",
        );
    }
    if r.candidates.is_empty() {
        errors.add(
            format!("{path}.candidates"),
            "a route needs at least one candidate",
        );
    }
    let mut candidates = Vec::new();
    for (i, c) in r.candidates.iter().enumerate() {
        match config.candidate(c) {
            Some(cand) if candidates.contains(&cand) => errors.add(
                format!("{path}.candidates[{i}]"),
                format!("'{c}' is listed twice"),
            ),
            Some(cand) => candidates.push(cand),
            None => errors.add(
                format!("{path}.candidates[{i}]"),
                format!("'{c}' is not a BACKEND/MODEL defined under [backends]"),
            ),
        }
    }
    let mut aliases = Vec::new();
    for (i, a) in r.aliases.iter().enumerate() {
        let at = format!("{path}.aliases[{i}]");
        if a.contains('/') {
            errors.add(
                at,
                "an alias cannot contain '/': that is how BACKEND/MODEL is written",
            );
            continue;
        }
        match glob::Pattern::new(a) {
            Ok(p) => aliases.push(p),
            Err(e) => errors.add(at, format!("'{a}' is not a valid glob: {e}")),
        }
    }
    Route {
        name: name.to_string(),
        candidates,
        strategy: r.strategy,
        on_class: r.on_class.clone(),
        aliases,
    }
}

/// An alias pattern written on two routes, or one that is a route's own name, is a mistake:
/// which route it means would depend on a tie-break the author did not choose.
fn check_aliases(routes: &[Route], errors: &mut Errors) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for r in routes {
        for a in &r.aliases {
            if routes.iter().any(|other| other.name == a.as_str()) {
                errors.add(
                    format!("routes.{}.aliases", r.name),
                    format!("'{a}' is a route's own name; a name always means its route"),
                );
            } else if let Some(first) = seen.insert(a.as_str(), &r.name) {
                errors.add(
                    format!("routes.{}.aliases", r.name),
                    format!("'{a}' is also an alias of route '{first}'"),
                );
            }
        }
    }
}

fn check_tenant(name: &str, t: &RawTenant, config: &Config, errors: &mut Errors) -> Tenant {
    let path = format!("tenants.{name}");
    // Tenant names are metric labels and ledger values: `none` already means "no tenant"
    // there, and other characters would make labels and CSV exports ambiguous.
    if !valid_name(name) {
        errors.add(
            &path,
            "tenant names may use letters, digits, '-', '_' and '.' only",
        );
    } else if name.eq_ignore_ascii_case(tollgate_metering::metrics::NONE) {
        errors.add(
            &path,
            "'none' is reserved: it labels requests without a tenant in metrics and the ledger",
        );
    }
    let mut key_digests = Vec::new();
    for (i, h) in t.api_key_sha256.iter().enumerate() {
        let mut digest = [0u8; 32];
        match hex::decode_to_slice(h.trim(), &mut digest) {
            Ok(()) => key_digests.push(digest),
            Err(_) => errors.add(
                format!("{path}.api_key_sha256[{i}]"),
                "must be 64 hex digits (the SHA-256 of the key; `tollgate hash-key` prints it)",
            ),
        }
    }
    if t.api_key_sha256.is_empty() && t.api_key_env.is_none() {
        errors.add(&path, "a tenant needs api_key_sha256 or api_key_env");
    }
    let routes = if t.routes.is_empty() {
        None
    } else {
        let mut idx = Vec::new();
        for (i, r) in t.routes.iter().enumerate() {
            match config.route_index(r) {
                Some(ri) => idx.push(ri),
                None => errors.add(
                    format!("{path}.routes[{i}]"),
                    format!("no route named '{r}'"),
                ),
            }
        }
        Some(idx)
    };
    let use_ = t.use_.unwrap_or_else(|| {
        errors.add(
            format!("{path}.use"),
            "required: what the tenant uses models for (commercial, internal, research, \
             evaluation or personal); licence rules depend on it",
        );
        Use::Commercial
    });
    let profile = TenantProfile {
        use_,
        monthly_active_users: t.monthly_active_users,
        region: t.region.clone(),
        trains_models: t.trains_models,
        default_class: t.default_class.unwrap_or(DataClass::Public),
    };
    Tenant {
        name: name.to_string(),
        key_digests,
        api_key_env: t.api_key_env.clone(),
        profile,
        routes,
    }
}
