//! The metering sections of the root config: `[ledger]`, `[prices]`, `[budgets]`, `[metrics]`.
//! Their keys and defaults are documented in `tollgate_metering::config`.

use super::raw::RawConfig;
use super::{Config, ConfigError};
use std::path::Path;
use tollgate_metering::{MeteringConfig, MeteringError};

/// The metering sections of `raw`, validated, with a relative ledger path resolved against the
/// config file's folder. Problems are added to `errors`, each keyed by its path.
pub(super) fn check(
    raw: &RawConfig,
    base_dir: &Path,
    errors: &mut Vec<ConfigError>,
) -> MeteringConfig {
    let mut cfg = MeteringConfig {
        ledger: raw.ledger.clone(),
        prices: raw.prices.clone(),
        budgets: raw.budgets.clone(),
        metrics: raw.metrics,
        cluster: raw.cluster.clone(),
        rate_limits: raw.rate_limits.clone(),
    };
    if cfg.ledger.path.as_os_str().is_empty() {
        errors.push(ConfigError {
            path: "ledger.path".into(),
            message: "must not be empty".into(),
        });
    } else if cfg.ledger.path.is_relative() {
        cfg.ledger.path = base_dir.join(&cfg.ledger.path);
    }
    if let Err(MeteringError::Config(problems)) = cfg.validate() {
        for p in problems {
            let (path, message) = p.split_once(": ").unwrap_or(("", p.as_str()));
            errors.push(ConfigError {
                path: path.to_string(),
                message: message.to_string(),
            });
        }
    }
    cfg
}

/// Adds the price table's warnings (models nobody priced, prices for no served model) to the
/// config's warnings, which `serve` logs and `check-config` prints.
pub(super) fn add_warnings(config: &mut Config) {
    let models: Vec<(&str, &str)> = config
        .backends
        .iter()
        .flat_map(|b| b.models.iter().map(|m| (b.name.as_str(), m.name.as_str())))
        .collect();
    let warnings = tollgate_metering::warnings(&config.metering.prices, models);
    config.warnings.extend(warnings);
}
