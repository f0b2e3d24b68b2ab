//! Configuration: built-in defaults ← the TOML file ← `TOLLGATE_…` environment variables,
//! parsed into raw types, then checked into a [`Config`] whose cross-references all resolve.

mod backend;
mod check;
pub mod counting;
pub mod env;
mod metering;
pub mod raw;
mod server;

pub use backend::{Backend, Model};
pub use check::{Candidate, Config, Route, Tenant};

/// Why `config` cannot serve with the environment `env`: an admin token variable it names is
/// unset or empty (the commands that only read the ledger do not need it).
pub fn serving_errors(config: &Config, env: &dyn env::EnvSource) -> Vec<ConfigError> {
    let mut errors = Errors(Vec::new());
    check::check_admin_token(&config.server, env, &mut errors);
    errors.0
}
pub use server::{Concurrency, ConnLimits, Server};

use figment::providers::{Format, Toml};
use figment::Figment;
use std::fmt;
use std::path::Path;

/// One problem in the configuration, with the key path it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `routes.auto.candidates[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Collects errors with their paths while checking.
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Vec<ConfigError>);

impl Errors {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    fn one(path: &str, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError {
            path: path.into(),
            message: message.into(),
        }])
    }
}

/// Loads and checks the configuration at `path`, with overrides from the process environment:
/// `TOLLGATE_BACKENDS__OPENAI__BASE_URL` sets `[backends.openai] base_url`. Only variables with
/// a `__` are read, so `TOLLGATE_LOG` and the like are never mistaken for config keys.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with(path, &env::ProcessEnv)
}

/// [`load`] for a command: its errors are printed to stderr, as every command reports them.
pub fn load_or_report(path: &Path) -> Option<Config> {
    load(path)
        .map_err(|errors| {
            eprintln!(
                "tollgate: invalid configuration in {}:\n{errors}",
                path.display()
            );
        })
        .ok()
}

/// [`load`] with the environment read from `env` instead of the process.
pub fn load_with(path: &Path, env: &dyn env::EnvSource) -> Result<Config, ConfigErrors> {
    if !path.is_file() {
        return Err(ConfigErrors::one(
            "",
            format!("config file '{}' not found", path.display()),
        ));
    }
    let figment = Figment::new()
        .merge(Toml::file_exact(path))
        .merge(env::Overrides(env));
    let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut config = from_figment(&figment, base_dir)?;
    env::warnings(&mut config, env);
    Ok(config)
}

/// Loads a configuration from a TOML string alone (no environment), for tests and tools.
pub fn from_toml_str(toml: &str) -> Result<Config, ConfigErrors> {
    from_figment(&Figment::new().merge(Toml::string(toml)), Path::new("."))
}

fn from_figment(figment: &Figment, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let value: figment::value::Value = figment.extract().map_err(figment_errors)?;
    let mut errors = Vec::new();
    let mut unknown_key = |unknown: serde_ignored::Path| {
        errors.push(ConfigError {
            path: unknown.to_string(),
            message: "unknown key".into(),
        });
    };
    let ignoring = serde_ignored::Deserializer::new(&value, &mut unknown_key);
    let raw: Result<raw::RawConfig, _> = serde_path_to_error::deserialize(ignoring);
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            let path = e.path().to_string();
            errors.push(ConfigError {
                path: if path == "." { String::new() } else { path },
                message: e.into_inner().to_string(),
            });
            return Err(ConfigErrors(errors));
        }
    };
    match check::check(raw, base_dir) {
        Ok(mut config) if errors.is_empty() => {
            metering::add_warnings(&mut config);
            Ok(config)
        }
        Ok(_) => Err(ConfigErrors(errors)),
        Err(ConfigErrors(more)) => {
            errors.extend(more);
            Err(ConfigErrors(errors))
        }
    }
}

fn figment_errors(e: figment::Error) -> ConfigErrors {
    ConfigErrors(
        e.into_iter()
            .map(|e| ConfigError {
                path: e.path.join("."),
                message: e.kind.to_string(),
            })
            .collect(),
    )
}
