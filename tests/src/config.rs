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
        let models: Vec<String> = models
            .iter()
            .map(|(m, licence)| format!("{m} = {{ licence = \"{licence}\" }}"))
            .collect();
        self.backend_with(name, zone, base_url, &models.join(", "), "")
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

    /// The ledger at `path` (relative to the gateway's temporary folder).
    pub fn ledger(self, path: &str) -> Config {
        self.extra(&format!("[ledger]\npath = \"{path}\"\n"))
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
}
