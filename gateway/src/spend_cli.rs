//! `tollgate spend`: the spend report from the ledger a configuration points at.

use crate::config;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tollgate_metering::spend::{self, Format, GroupBy};
use tollgate_metering::time::Date;

/// Options of `tollgate spend`.
#[derive(Debug, Args)]
pub struct SpendArgs {
    /// The configuration file; its `[ledger] path` is read.
    #[arg(long, short, default_value = "tollgate.toml")]
    pub config: PathBuf,
    /// Group rows by route, tenant, model, backend or day.
    #[arg(long)]
    pub by: GroupBy,
    /// First UTC day included, YYYY-MM-DD.
    #[arg(long)]
    pub since: Option<Date>,
    /// Last UTC day included, YYYY-MM-DD.
    #[arg(long)]
    pub until: Option<Date>,
    /// Output format: table, csv or json.
    #[arg(long, default_value = "table")]
    pub format: Format,
}

/// Runs `tollgate spend`.
pub fn spend(args: &SpendArgs) -> ExitCode {
    let Some(cfg) = config::load_or_report(&args.config) else {
        return ExitCode::FAILURE;
    };
    let db = &cfg.metering.ledger.path;
    if !db.is_file() {
        eprintln!(
            "tollgate: no ledger at {} (nothing recorded yet, or [ledger] path differs)",
            db.display()
        );
        return ExitCode::FAILURE;
    }
    match spend::report(db, args.by, args.since, args.until, args.format) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let written = out.write_all(text.as_bytes()).and_then(|()| {
                if text.ends_with('\n') {
                    Ok(())
                } else {
                    out.write_all(b"\n")
                }
            });
            if written.is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::FAILURE
        }
    }
}
