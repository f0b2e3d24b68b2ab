//! The shipping keys of `[ledger]` (`postgres_url`, `ship_batch_rows`, `ship_interval_ms`):
//! their checks, and the connection settings a URL gives (used by `crate::ship`).

use super::LedgerConfig;
use std::time::Duration;

/// The longest a connection attempt may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest `ship_batch_rows`: a transaction of 100 000 rows is tens of MB already.
pub const MAX_SHIP_BATCH_ROWS: usize = 100_000;

/// The connection settings of `url`, with a connect timeout and quiet notices. The error never
/// repeats the URL, which may hold a password.
pub fn postgres_config(url: &str) -> Result<tokio_postgres::Config, String> {
    let mut cfg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("not a PostgreSQL URL or connection string ({e})"))?;
    if cfg.get_hosts().is_empty() {
        return Err("names no host".into());
    }
    if cfg.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        return Err(
            "sslmode=require: this build connects without TLS (put the connection \
                    behind a TLS tunnel, or use sslmode=disable)"
                .into(),
        );
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(CONNECT_TIMEOUT);
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("tollgate");
    }
    // `CREATE … IF NOT EXISTS` says NOTICE when it skips; that is not worth a log line.
    let options = match cfg.get_options() {
        Some(o) => format!("{o} -c client_min_messages=warning"),
        None => "-c client_min_messages=warning".to_string(),
    };
    cfg.options(&options);
    Ok(cfg)
}

/// The problems of the shipping keys of `[ledger]`, each with its key path.
pub(super) fn problems(cfg: &LedgerConfig, out: &mut Vec<String>) {
    if !(1..=MAX_SHIP_BATCH_ROWS).contains(&cfg.ship_batch_rows) {
        out.push(format!(
            "ledger.ship_batch_rows: must be between 1 and {MAX_SHIP_BATCH_ROWS}"
        ));
    }
    if !(1..=3_600_000).contains(&cfg.ship_interval_ms) {
        out.push("ledger.ship_interval_ms: must be between 1 and 3600000".to_string());
    }
    if let Some(url) = &cfg.postgres_url {
        if !cfg.enabled {
            out.push(
                "ledger.postgres_url: rows ship from the ledger, which enabled = false turns off"
                    .to_string(),
            );
        }
        if let Err(e) = postgres_config(url) {
            out.push(format!("ledger.postgres_url: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_cfg(url: Option<&str>) -> LedgerConfig {
        LedgerConfig {
            postgres_url: url.map(str::to_string),
            ..LedgerConfig::default()
        }
    }

    fn problems_of(cfg: &LedgerConfig) -> Vec<String> {
        let mut out = Vec::new();
        problems(cfg, &mut out);
        out
    }

    #[test]
    fn shipping_keys_are_checked_without_echoing_the_url() {
        assert!(problems_of(&ledger_cfg(None)).is_empty());
        assert!(problems_of(&ledger_cfg(Some("postgres://u:pw@db.internal:5432/x"))).is_empty());
        assert!(problems_of(&ledger_cfg(Some("host=db user=u dbname=x"))).is_empty());

        let bad = problems_of(&ledger_cfg(Some("postgres://u:s3cret@db:notaport/x")));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].starts_with("ledger.postgres_url: "), "{bad:?}");
        assert!(!bad[0].contains("s3cret"), "{bad:?}");
        let tls = problems_of(&ledger_cfg(Some("postgres://db/x?sslmode=require")));
        assert!(tls[0].contains("sslmode=require"), "{tls:?}");

        let cfg = LedgerConfig {
            enabled: false,
            ship_batch_rows: 0,
            ship_interval_ms: 0,
            ..ledger_cfg(Some("postgres://db/x"))
        };
        let all = problems_of(&cfg).join("\n");
        assert!(all.contains("ledger.ship_batch_rows"), "{all}");
        assert!(all.contains("ledger.ship_interval_ms"), "{all}");
        assert!(all.contains("enabled = false"), "{all}");
    }

    #[test]
    fn connection_settings_get_a_timeout_and_quiet_notices() {
        let cfg =
            postgres_config("postgres://u@127.0.0.1:5/x?options=-c%20search_path%3Dtg").unwrap();
        assert_eq!(cfg.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(cfg.get_application_name(), Some("tollgate"));
        assert_eq!(
            cfg.get_options(),
            Some("-c search_path=tg -c client_min_messages=warning")
        );
    }
}
