//! `tollgate audit`: where sensitive prompts went, and whether the ledger is intact.
//!
//! With `[ledger] postgres_url` (and neither `--ledger` nor `--local`) both read PostgreSQL:
//! the exposures of every replica's shipped rows, and each ledger's hash chain verified on its
//! own (each file chains its own rows). The same code as for a file runs on the rows read back.

use crate::config;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tollgate_metering::audit;
use tollgate_metering::ledger;
use tollgate_metering::ship::Reader;
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
    /// From PostgreSQL, every shipped ledger's chain, each on its own.
    Verify {
        #[command(flatten)]
        ledger: LedgerArg,
        /// The head hash an earlier `verify` printed: fails when newer rows were deleted. From
        /// PostgreSQL, give it with `--ledger-id` (each ledger has its own head).
        #[arg(long)]
        expect_head: Option<String>,
        /// From PostgreSQL, verify only this ledger (a `ledger_id` an earlier `verify` printed).
        #[arg(long)]
        ledger_id: Option<String>,
    },
}

#[derive(Debug, Args)]
#[command(
    after_help = "Source: --ledger FILE reads that file; else the configuration's [ledger] \
postgres_url, PostgreSQL (every replica's shipped rows), when set and without --local; else its \
[ledger] path file. Which one was read is printed."
)]
struct LedgerArg {
    /// The configuration file; its `[ledger] postgres_url`, else its `[ledger] path`, is read.
    #[arg(long, short, default_value = "tollgate.toml")]
    config: PathBuf,
    /// The ledger database itself, instead of the configuration's.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Read this machine's ledger file even when `[ledger] postgres_url` is set.
    #[arg(long)]
    local: bool,
}

/// Where the rows are read.
enum Source {
    File(PathBuf),
    Postgres(String),
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
            ledger_id,
        }) => match source(ledger) {
            Ok(Source::File(path)) => verify(&path, expect_head.as_deref()),
            Ok(Source::Postgres(url)) => {
                verify_postgres(&url, ledger_id.as_deref(), expect_head.as_deref())
            }
            Err(e) => Err(e),
        },
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

fn source(arg: &LedgerArg) -> Result<Source, String> {
    let path = match &arg.ledger {
        Some(p) => p.clone(),
        None => {
            let cfg = config::load(&arg.config)
                .map_err(|e| format!("invalid configuration in {}:\n{e}", arg.config.display()))?;
            let ledger = &cfg.metering.ledger;
            match &ledger.postgres_url {
                Some(url) if !arg.local => return Ok(Source::Postgres(url.clone())),
                _ => ledger.path.clone(),
            }
        }
    };
    if !path.is_file() {
        return Err(format!("no ledger at {}", path.display()));
    }
    Ok(Source::File(path))
}

fn open(path: &Path) -> Result<rusqlite::Connection, String> {
    ledger::open_read_only(path).map_err(|e| e.to_string())
}

fn verify(path: &Path, expect_head: Option<&str>) -> Result<bool, String> {
    println!("source: the ledger file {}", path.display());
    let conn = open(path)?;
    let v = audit::verify(&conn).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(report_chain(&v, expect_head, ""))
}

/// Verifies the chain of every ledger shipped to PostgreSQL (or of `only`), each apart.
fn verify_postgres(
    url: &str,
    only: Option<&str>,
    expect_head: Option<&str>,
) -> Result<bool, String> {
    let reader = Reader::connect(url).map_err(|e| e.to_string())?;
    let ids = match only {
        Some(id) => vec![id.to_string()],
        None => reader.ledger_ids().map_err(|e| e.to_string())?,
    };
    if expect_head.is_some() && ids.len() != 1 {
        return Err(format!(
            "--expect-head names one ledger's head, and PostgreSQL has {} ledgers: add \
             --ledger-id",
            ids.len()
        ));
    }
    println!("source: PostgreSQL, {} ledger(s)", ids.len());
    let mut all_ok = true;
    for id in &ids {
        let pulled = reader.ledger(id).map_err(|e| e.to_string())?;
        if pulled.rows == 0 {
            println!("ledger {id}: no rows in PostgreSQL; chain BROKEN");
            all_ok = false;
            continue;
        }
        let v = audit::verify(&pulled.conn).map_err(|e| format!("ledger {id}: {e}"))?;
        all_ok &= report_chain(&v, expect_head, &format!("ledger {id}: "));
    }
    println!(
        "{} ledger(s) verified: {}",
        ids.len(),
        if all_ok { "all intact" } else { "some BROKEN" }
    );
    Ok(all_ok)
}

/// Prints one chain's breaks and summary, each line after `prefix`; whether it holds (and
/// ends at `expect_head`).
fn report_chain(v: &audit::Verification, expect_head: Option<&str>, prefix: &str) -> bool {
    for b in &v.breaks {
        println!(
            "{prefix}BROKEN at row {} (request {}): {}",
            b.id, b.request_id, b.problem
        );
    }
    let head_ok = expect_head.is_none_or(|h| h.eq_ignore_ascii_case(&v.head));
    if !head_ok {
        println!(
            "{prefix}BROKEN: the chain's head is {}, not the expected {}: rows were deleted or the \
             ledger was replaced",
            v.head,
            expect_head.unwrap_or_default()
        );
    }
    println!(
        "{prefix}{} rows, {} written before the chain started; head {}; {}",
        v.rows,
        v.unchained,
        v.head,
        if v.ok() && head_ok {
            "chain intact"
        } else {
            "chain BROKEN"
        }
    );
    v.ok() && head_ok
}

fn exposures(q: &QueryArgs) -> Result<bool, String> {
    let from = q.since.map_or(i64::MIN, Date::start_ms);
    let to = q.until.map_or(i64::MAX, |d| d.next().start_ms());
    let (conn, source) = match source(&q.ledger)? {
        Source::File(path) => (open(&path)?, format!("the ledger file {}", path.display())),
        Source::Postgres(url) => {
            let reader = Reader::connect(&url).map_err(|e| e.to_string())?;
            let pulled = reader.range(from, to).map_err(|e| e.to_string())?;
            let source = format!(
                "PostgreSQL, {} rows of {} ledger(s)",
                pulled.rows,
                pulled.ledgers.len()
            );
            (pulled.conn, source)
        }
    };
    let found =
        audit::exposures(&conn, from, to, q.min_class).map_err(|e| format!("{source}: {e}"))?;
    let in_clear = found.iter().filter(|e| !e.redacted).count();
    if q.format == "json" {
        let body = serde_json::json!({
            "min_class": q.min_class,
            "since": q.since.map(|d| d.to_string()),
            "until": q.until.map(|d| d.to_string()),
            "external_in_clear": in_clear,
            "external_redacted": found.len() - in_clear,
            "requests": found,
            "source": source,
        });
        println!("{body}");
    } else {
        println!("source: {source}");
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
