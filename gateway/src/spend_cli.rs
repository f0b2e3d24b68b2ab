//! `tollgate spend`: the spend report from the ledger a configuration points at: PostgreSQL,
//! every replica's shipped rows, when `[ledger] postgres_url` is set; else (or with `--local`)
//! this machine's SQLite file. Both run the same report code (see `tollgate_metering::ship`).

use crate::config;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tollgate_metering::ship::Reader;
use tollgate_metering::spend::{self, Format, GroupBy};
use tollgate_metering::time::Date;
use tollgate_metering::MeteringError;

/// Options of `tollgate spend`.
#[derive(Debug, Args)]
#[command(
    after_help = "Source: with [ledger] postgres_url, PostgreSQL (every replica's shipped \
rows; rows a replica has not shipped yet are not counted); without it, or with --local, the \
[ledger] path file of this machine. Which one was read is said on stderr."
)]
pub struct SpendArgs {
    /// The configuration file; its `[ledger] postgres_url`, else its `[ledger] path`, is read.
    #[arg(long, short, default_value = "tollgate.toml")]
    pub config: PathBuf,
    /// Read this machine's ledger file even when `[ledger] postgres_url` is set.
    #[arg(long)]
    pub local: bool,
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
    let report = match cfg.metering.ledger.postgres_url.as_deref() {
        Some(url) if !args.local => from_postgres(url, args),
        _ => {
            let db = &cfg.metering.ledger.path;
            if !db.is_file() {
                eprintln!(
                    "tollgate: no ledger at {} (nothing recorded yet, or [ledger] path differs)",
                    db.display()
                );
                return ExitCode::FAILURE;
            }
            eprintln!("tollgate: spend from the ledger file {}", db.display());
            spend::report(db, args.by, args.since, args.until, args.format)
        }
    };
    match report {
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

/// The report over every ledger shipped to PostgreSQL, for the asked days.
fn from_postgres(url: &str, args: &SpendArgs) -> Result<String, MeteringError> {
    let from = args.since.map_or(i64::MIN, Date::start_ms);
    let to = args.until.map_or(i64::MAX, |d| d.next().start_ms());
    let reader = Reader::connect(url)?;
    let pulled = reader.range(from, to)?;
    eprintln!(
        "tollgate: spend from PostgreSQL: {} request rows of {} ledger(s), {} idle lines \
         (rows not yet shipped are not included; --local reads this machine's file)",
        pulled.rows,
        pulled.ledgers.len(),
        pulled.idle_lines
    );
    let conflicts = reader.conflicts(from, to)?;
    if conflicts > 0 {
        eprintln!(
            "tollgate: {conflicts} rows whose request id another ledger had are in table \
             request_id_conflicts, not in this report"
        );
    }
    spend::report_in(
        &pulled.conn,
        Path::new("(PostgreSQL)"),
        args.by,
        args.since,
        args.until,
        args.format,
    )
}
