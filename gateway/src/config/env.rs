//! The one way configuration reads the environment: `TOLLGATE_…__…` overrides of config keys
//! and the variables that hold API keys (`api_key_env`). Everything goes through an
//! [`EnvSource`], so tests pass a fake environment instead of changing the process's.

use super::Config;
use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};
use std::collections::BTreeMap;

/// Where environment variables come from.
pub trait EnvSource: Send + Sync {
    /// The value of `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// Every variable.
    fn vars(&self) -> Vec<(String, String)>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn vars(&self) -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }
}

/// A fixed set of variables, for tests and tools.
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub BTreeMap<String, String>);

impl MapEnv {
    /// An environment with exactly these variables.
    pub fn of<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> MapEnv {
        MapEnv(
            vars.into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    fn vars(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// The prefix of config overrides.
const PREFIX: &str = "TOLLGATE_";

/// Config overrides from an environment, as a figment provider: `TOLLGATE_A__B=v` sets `a.b`.
/// Only variables with a `__` count, so `TOLLGATE_LOG` and the like are never config keys.
/// Values are parsed as figment parses environment values (numbers, booleans, arrays, tables).
pub struct Overrides<'e>(pub &'e dyn EnvSource);

impl Provider for Overrides<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable(s) `TOLLGATE_…__…`")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        let mut vars = self.0.vars();
        vars.sort();
        for (k, v) in vars {
            let Some(rest) = k.strip_prefix(PREFIX) else {
                continue;
            };
            if !rest.contains("__") {
                continue;
            }
            let key = rest
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(".");
            let value: Value = v.trim().parse().unwrap_or_else(|e| match e {});
            if let Some(nested) = figment::util::nest(&key, value).into_dict() {
                dict = merge(dict, nested);
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn merge(mut into: Dict, from: Dict) -> Dict {
    for (k, v) in from {
        let merged = match (into.remove(&k), v) {
            (Some(Value::Dict(t, a)), Value::Dict(_, b)) => Value::Dict(t, merge(a, b)),
            (_, v) => v,
        };
        into.insert(k, merged);
    }
    into
}

/// Warnings for `api_key_env` variables the environment does not set.
pub fn warnings(config: &mut Config, env: &dyn EnvSource) {
    for t in &config.tenants {
        if let Some(var) = &t.api_key_env {
            if env.var(var).is_none() {
                config.warnings.push(format!(
                    "tenants.{}.api_key_env: environment variable {var} is not set",
                    t.name
                ));
            }
        }
    }
    for b in &config.backends {
        if let Some(var) = &b.api_key_env {
            if env.var(var).is_none() {
                config.warnings.push(format!(
                    "backends.{}.api_key_env: environment variable {var} is not set; \
                     requests to this backend fail over to the next candidate",
                    b.name
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Gateway;

    const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"

[ledger]
enabled = false

[backends.a]
kind = "openai"
zone = "external"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "A_KEY"
models = { m = { licence = "Apache-2.0" } }

[tenants.t]
use = "internal"
api_key_env = "T_KEY"
"#;

    fn load(env: &MapEnv) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tollgate.toml");
        std::fs::write(&path, CONFIG).unwrap();
        super::super::load_with(&path, env).unwrap()
    }

    #[test]
    fn overrides_come_from_the_given_environment_only() {
        let env = MapEnv::of([
            ("TOLLGATE_SERVER__THREADS", "3"),
            ("TOLLGATE_BACKENDS__A__BASE_URL", "http://127.0.0.1:7/v1"),
            ("TOLLGATE_LOG", "debug"),
            ("OTHER__THING", "x"),
        ]);
        let config = load(&env);
        assert_eq!(config.server.threads, 3);
        assert_eq!(
            config.backends[0].base_url.as_deref(),
            Some("http://127.0.0.1:7/v1")
        );
        let plain = load(&MapEnv::default());
        assert_ne!(plain.server.threads, 3);
    }

    #[test]
    fn key_variables_are_read_from_the_given_environment() {
        let missing = load(&MapEnv::default());
        assert!(missing
            .warnings
            .iter()
            .any(|w| w.starts_with("tenants.t.api_key_env: environment variable T_KEY")));
        assert!(missing
            .warnings
            .iter()
            .any(|w| w.starts_with("backends.a.api_key_env: environment variable A_KEY")));
        let env = MapEnv::of([("T_KEY", "tenant-secret"), ("A_KEY", "sk-upstream")]);
        let config = load(&env);
        assert!(!config.warnings.iter().any(|w| w.contains("api_key_env")));
        let gw = Gateway::build_with(config, &env).unwrap();
        assert_eq!(gw.tenant_for_key(b"tenant-secret"), Some(0));
        assert_eq!(gw.tenant_for_key(b"other"), None);
    }
}
