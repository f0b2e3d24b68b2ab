//! One builder for the gateway configurations the end-to-end tests start the binary with, so a
//! test says only what is particular to it.
//!
//! ```
//! use tollgate_e2e::config::Config;
//! let toml = Config::new()
//!     .backend("cloud", "external", "http://127.0.0.1:9/v1", &[("gpt", "openai-terms")])
//!     .route("auto", &["cloud/gpt"])
//!     .build();
//! assert!(toml.contains("[routes.auto]"));
//! ```

use std::fmt::Write as _;

/// A gateway config under construction: `[server] listen = "127.0.0.1:0"` and whatever is added.
#[derive(Debug, Clone)]
pub struct Config {
    text: String,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// A config listening on a free loopback port, with nothing else.
    pub fn new() -> Config {
        Config {
            text: "[server]\nlisten = \"127.0.0.1:0\"\n".into(),
        }
    }

    /// An OpenAI-compatible backend serving `models` (name, licence id).
    pub fn backend(
        self,
        name: &str,
        zone: &str,
        base_url: &str,
        models: &[(&str, &str)],
    ) -> Config {
        self.backend_with(name, zone, base_url, &models_table(models), "")
    }

    /// An OpenAI-compatible backend with its `models` table written out (`m = { licence = … }`)
    /// and `extra` lines of its own (timeouts, keys, …).
    pub fn backend_with(
        mut self,
        name: &str,
        zone: &str,
        base_url: &str,
        models: &str,
        extra: &str,
    ) -> Config {
        let _ = write!(
            self.text,
            "\n[backends.{name}]\nkind = \"openai\"\nzone = \"{zone}\"\nbase_url = \"{base_url}\"\nmodels = {{ {models} }}\n{extra}"
        );
        if !extra.is_empty() && !extra.ends_with('\n') {
            self.text.push('\n');
        }
        self
    }

    /// A backend run by llama.cpp inside the gateway, serving `models` (name, licence id), with
    /// `engine` the inside of its engine table (`n_threads = 1, n_ctx = 512`, …). Without a
    /// `path` in `engine` the demo model is generated on first start.
    pub fn on_device(mut self, name: &str, models: &[(&str, &str)], engine: &str) -> Config {
        let _ = write!(
            self.text,
            "\n[backends.{name}]\nkind = \"on_device\"\nmodels = {{ {} }}\nengine = {{ {engine} }}\n",
            models_table(models)
        );
        self
    }

    /// A route over `candidates` (`BACKEND/MODEL`), with `extra` lines (`strategy`, `on_class`).
    pub fn route_with(mut self, name: &str, candidates: &[&str], extra: &str) -> Config {
        let list: Vec<String> = candidates.iter().map(|c| format!("\"{c}\"")).collect();
        let _ = write!(
            self.text,
            "\n[routes.{name}]\ncandidates = [{}]\n{extra}",
            list.join(", ")
        );
        if !extra.is_empty() && !extra.ends_with('\n') {
            self.text.push('\n');
        }
        self
    }

    /// A route over `candidates` in order.
    pub fn route(self, name: &str, candidates: &[&str]) -> Config {
        self.route_with(name, candidates, "")
    }

    /// A `[server]` setting, e.g. `max_connections = 4`.
    pub fn server(mut self, setting: &str) -> Config {
        let end = self.text.find("\n\n").unwrap_or(self.text.len());
        let at = if end == self.text.len() { end } else { end + 1 };
        self.text.insert_str(at, &format!("{setting}\n"));
        self
    }

    /// The admin listener (`/metrics`, …) on a free loopback port of its own; the gateway
    /// reports where it listens as [`crate::gateway::Gateway::admin`].
    pub fn admin_listener(self) -> Config {
        self.server("admin_listen = \"127.0.0.1:0\"")
    }

    /// A tenant named `name` with its `use` (`commercial`, `internal`, …) and `extra` lines of
    /// its own: how it authenticates (`api_key_sha256`, `api_key_env`), the `routes` it may use.
    /// With no tenant configured the gateway serves any client.
    pub fn tenant(mut self, name: &str, use_: &str, extra: &str) -> Config {
        let _ = write!(self.text, "\n[tenants.{name}]\nuse = \"{use_}\"\n{extra}");
        if !extra.is_empty() && !extra.ends_with('\n') {
            self.text.push('\n');
        }
        self
    }

    /// The ledger at `path` (relative to the gateway's temporary folder).
    pub fn ledger(self, path: &str) -> Config {
        self.extra(&format!("[ledger]\npath = \"{path}\"\n"))
    }

    /// The version of the price table, stored on every ledger row it costs.
    pub fn prices_version(self, version: &str) -> Config {
        self.extra(&format!("[prices]\nversion = \"{version}\"\n"))
    }

    /// The price of `model` (`BACKEND/MODEL`) in US dollars per million input and output tokens.
    /// A model without a price costs an unknown amount, never $0.
    pub fn price(self, model: &str, input_per_mtok: f64, output_per_mtok: f64) -> Config {
        self.price_with(model, input_per_mtok, output_per_mtok, "")
    }

    /// The price of `model` as [`Config::price`], with `extra` lines of its own
    /// (`cached_input_per_mtok`, …).
    pub fn price_with(
        self,
        model: &str,
        input_per_mtok: f64,
        output_per_mtok: f64,
        extra: &str,
    ) -> Config {
        let mut table = format!(
            "[prices.models.\"{model}\"]\ninput_per_mtok = {}\noutput_per_mtok = {}\n",
            float(input_per_mtok),
            float(output_per_mtok)
        );
        table.push_str(extra);
        self.extra(&table)
    }

    /// A daily budget of `usd` on route `route`, with `extra` lines of its own
    /// (`on_exhausted`, …).
    pub fn daily_budget(self, route: &str, usd: f64, extra: &str) -> Config {
        let mut table = format!("[budgets.routes.{route}]\ndaily_usd = {}\n", float(usd));
        table.push_str(extra);
        self.extra(&table)
    }

    /// Any other TOML, appended as is.
    pub fn extra(mut self, toml: &str) -> Config {
        self.text.push('\n');
        self.text.push_str(toml);
        if !toml.ends_with('\n') {
            self.text.push('\n');
        }
        self
    }

    /// The TOML text.
    pub fn build(&self) -> String {
        self.text.clone()
    }
}

/// `models` (name, licence id) written out as the inside of a `models` table.
fn models_table(models: &[(&str, &str)]) -> String {
    let models: Vec<String> = models
        .iter()
        .map(|(m, licence)| format!("{m} = {{ licence = \"{licence}\" }}"))
        .collect();
    models.join(", ")
}

/// `x` as a TOML float: `1` would be read as an integer, so whole numbers keep their `.0`.
fn float(x: f64) -> String {
    let s = x.to_string();
    if s.contains('.') {
        s
    } else {
        s + ".0"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_each_table_once_in_order() {
        let toml = Config::new()
            .backend(
                "a",
                "local",
                "http://127.0.0.1:1/v1",
                &[("m", "Apache-2.0"), ("n", "llama3")],
            )
            .route_with("r", &["a/m", "a/n"], "strategy = \"cheapest\"")
            .ledger("l.db")
            .server("max_connections = 4")
            .build();
        assert!(toml.starts_with("[server]\nlisten = \"127.0.0.1:0\"\nmax_connections = 4\n\n"));
        assert!(toml.starts_with("[server]\nlisten = \"127.0.0.1:0\"\n"));
        assert!(toml.contains(
            "[backends.a]\nkind = \"openai\"\nzone = \"local\"\nbase_url = \"http://127.0.0.1:1/v1\"\n\
             models = { m = { licence = \"Apache-2.0\" }, n = { licence = \"llama3\" } }\n"
        ));
        assert!(
            toml.contains("[routes.r]\ncandidates = [\"a/m\", \"a/n\"]\nstrategy = \"cheapest\"\n")
        );
        assert!(toml.ends_with("[ledger]\npath = \"l.db\"\n"));
    }

    #[test]
    fn writes_tenants_prices_budgets_and_on_device_backends() {
        let toml = Config::new()
            .admin_listener()
            .on_device("dev", &[("demo", "Apache-2.0")], "n_ctx = 512")
            .tenant("acme", "commercial", "api_key_env = \"ACME_KEY\"")
            .prices_version("v1")
            .price("dev/demo", 1.0, 0.5)
            .price_with("dev/demo2", 2.0, 3.0, "cached_input_per_mtok = 0.25")
            .daily_budget("r", 0.00002, "on_exhausted = \"fall_through\"")
            .build();
        assert!(toml
            .starts_with("[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\n"));
        assert!(toml.contains(
            "[backends.dev]\nkind = \"on_device\"\nmodels = { demo = { licence = \"Apache-2.0\" } }\n\
             engine = { n_ctx = 512 }\n"
        ));
        assert!(toml.contains("[tenants.acme]\nuse = \"commercial\"\napi_key_env = \"ACME_KEY\"\n"));
        assert!(toml.contains("[prices]\nversion = \"v1\"\n"));
        assert!(toml.contains(
            "[prices.models.\"dev/demo\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 0.5\n"
        ));
        assert!(toml.contains(
            "[prices.models.\"dev/demo2\"]\ninput_per_mtok = 2.0\noutput_per_mtok = 3.0\n\
             cached_input_per_mtok = 0.25\n"
        ));
        assert!(toml.ends_with(
            "[budgets.routes.r]\ndaily_usd = 0.00002\non_exhausted = \"fall_through\"\n"
        ));
    }
}
