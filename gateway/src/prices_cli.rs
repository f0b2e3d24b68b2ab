//! `tollgate prices check`: which models the ledger saw traffic for that the configuration
//! cannot price, so finance learns of an unknown cost before the month closes.

use crate::config;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tollgate_metering::traffic;
use tollgate_metering::PriceTable;

/// `tollgate prices …`.
#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// List the BACKEND/MODEL pairs with traffic in the ledger but no price (no token price
    /// and no backend cost_per_hour), and the price table's warnings. Exits 1 when some
    /// traffic has no price, 2 when the configuration or the ledger cannot be read.
    Check(CheckArgs),
}

/// Options of `tollgate prices check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file; its `[prices]` and `[ledger] path` are read.
    #[arg(long, short, default_value = "tollgate.toml")]
    pub config: PathBuf,
}

/// Exit status when the check itself could not run.
const CANNOT_CHECK: u8 = 2;

/// Runs `tollgate prices …`.
pub fn prices(command: &PricesCommand) -> ExitCode {
    match command {
        PricesCommand::Check(args) => check(args),
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    let Some(cfg) = config::load_or_report(&args.config) else {
        return ExitCode::from(CANNOT_CHECK);
    };
    let prices = &cfg.metering.prices;
    let served = cfg
        .backends
        .iter()
        .flat_map(|b| b.models.iter().map(|m| (b.name.as_str(), m.name.as_str())));
    for w in tollgate_metering::warnings(prices, served) {
        println!("warning: {w}");
    }
    let db = &cfg.metering.ledger.path;
    if !db.is_file() {
        println!(
            "no ledger at {}: no traffic to check (nothing recorded yet, or [ledger] path differs)",
            db.display()
        );
        return ExitCode::SUCCESS;
    }
    let unpriced = match traffic::unpriced(db, &PriceTable::new(prices)) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(CANNOT_CHECK);
        }
    };
    if unpriced.is_empty() {
        println!("every model with traffic in {} has a price", db.display());
        return ExitCode::SUCCESS;
    }
    println!(
        "traffic without a price in {} (its cost is unknown):",
        db.display()
    );
    let width = unpriced
        .iter()
        .map(|t| t.backend.len() + t.model.len() + 1)
        .max()
        .unwrap_or(0);
    for t in &unpriced {
        let key = format!("{}/{}", t.backend, t.model);
        let noun = if t.requests == 1 {
            "request"
        } else {
            "requests"
        };
        println!("  {key:<width$}  {} {noun}", t.requests);
    }
    println!(
        "add [prices.models.\"BACKEND/MODEL\"] or [prices.backends.BACKEND] cost_per_hour for each"
    );
    ExitCode::FAILURE
}
