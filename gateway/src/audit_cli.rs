//! `tollgate audit`: where sensitive prompts went, and whether the ledger is intact.

use crate::config;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tollgate_metering::audit;
use tollgate_metering::ledger;
use tollgate_metering::time::Date;
use tollgate_policies::DataClass;

/// Options of `tollgate audit`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    #[command(flatten)]
    query: QueryArgs,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the ledger's hash chain: every row unchanged, none deleted or inserted between.
    Verify {
        #[command(flatten)]
        ledger: LedgerArg,
        /// The head hash an earlier `verify` printed: fails when newer rows were deleted.
        #[arg(long)]
        expect_head: Option<String>,
    },
}

#[derive(Debug, Args)]
struct LedgerArg {
    /// The configuration file; its `[ledger] path` is read.
    #[arg(long, short, default_value = "tollgate.toml")]
    config: PathBuf,
    /// The ledger database itself, instead of the configuration's.
    #[arg(long)]
    ledger: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct QueryArgs {
    #[command(flatten)]
    ledger: LedgerArg,
    /// First UTC day included, YYYY-MM-DD (default: the first day of the ledger).
    #[arg(long)]
    since: Option<Date>,
    /// Last UTC day included, YYYY-MM-DD (default: today and after).
    #[arg(long)]
    until: Option<Date>,
    /// The lowest class to report.
    #[arg(long, default_value = "confidential")]
    min_class: DataClass,
    /// Output format: table or json.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

/// Runs `tollgate audit`. Exit status 0: no request of the class reached an external backend
/// in clear (or the chain holds); 1: some did (or the chain is broken); 2: it could not tell.
pub fn audit(args: &AuditArgs) -> ExitCode {
    let result = match &args.command {
        Some(AuditCommand::Verify {
            ledger,
            expect_head,
        }) => verify(ledger, expect_head.as_deref()),
        None => exposures(&args.query),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::from(2)
        }
    }
}

fn ledger_path(arg: &LedgerArg) -> Result<PathBuf, String> {
    let path = match &arg.ledger {
        Some(p) => p.clone(),
        None => config::load(&arg.config)
            .map_err(|e| format!("invalid configuration in {}:\n{e}", arg.config.display()))?
            .metering
            .ledger
            .path
            .clone(),
    };
    if !path.is_file() {
        return Err(format!("no ledger at {}", path.display()));
    }
    Ok(path)
}

fn open(path: &Path) -> Result<rusqlite::Connection, String> {
    ledger::open_read_only(path).map_err(|e| e.to_string())
}

fn verify(arg: &LedgerArg, expect_head: Option<&str>) -> Result<bool, String> {
    let path = ledger_path(arg)?;
    let conn = open(&path)?;
    let v = audit::verify(&conn).map_err(|e| format!("{}: {e}", path.display()))?;
    for b in &v.breaks {
        println!(
            "BROKEN at row {} (request {}): {}",
            b.id, b.request_id, b.problem
        );
    }
    let head_ok = expect_head.is_none_or(|h| h.eq_ignore_ascii_case(&v.head));
    if !head_ok {
        println!(
            "BROKEN: the chain's head is {}, not the expected {}: rows were deleted or the \
             ledger was replaced",
            v.head,
            expect_head.unwrap_or_default()
        );
    }
    println!(
        "{} rows, {} written before the chain started; head {}; {}",
        v.rows,
        v.unchained,
        v.head,
        if v.ok() && head_ok {
            "chain intact"
        } else {
            "chain BROKEN"
        }
    );
    Ok(v.ok() && head_ok)
}

fn exposures(q: &QueryArgs) -> Result<bool, String> {
    let path = ledger_path(&q.ledger)?;
    let conn = open(&path)?;
    let from = q.since.map_or(i64::MIN, Date::start_ms);
    let to = q.until.map_or(i64::MAX, |d| d.next().start_ms());
    let found = audit::exposures(&conn, from, to, q.min_class)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let in_clear = found.iter().filter(|e| !e.redacted).count();
    if q.format == "json" {
        let body = serde_json::json!({
            "min_class": q.min_class,
            "since": q.since.map(|d| d.to_string()),
            "until": q.until.map(|d| d.to_string()),
            "external_in_clear": in_clear,
            "external_redacted": found.len() - in_clear,
            "requests": found,
        });
        println!("{body}");
    } else {
        println!(
            "requests of class {} or above sent to an external backend: {} in clear, {} redacted",
            q.min_class,
            in_clear,
            found.len() - in_clear
        );
        for e in &found {
            println!(
                "{}  {}  tenant={} route={} class={} kinds=[{}] attempts=[{}]{}",
                e.request_id,
                e.ts_ms,
                e.tenant,
                e.route,
                e.data_class,
                e.detected_kinds,
                e.attempt_zones,
                if e.redacted { "" } else { "  IN CLEAR" }
            );
        }
    }
    Ok(in_clear == 0)
}
