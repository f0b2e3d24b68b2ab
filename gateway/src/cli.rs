//! The `tollgate` command line.

use crate::config;
use crate::gateway::Gateway;
use crate::server;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// An OpenAI-compatible gateway that routes every request by licence and data-sensitivity
/// policy to on-device, local or closed-API models, and meters what each costs.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The configuration file.
        #[arg(long, short, default_value = "tollgate.toml")]
        config: PathBuf,
    },
    /// Ask a running gateway to load its config file again (as SIGHUP does), through its
    /// admin listener; prints what needs a restart, or every error of a refused file.
    Reload {
        /// The admin listener, e.g. `http://127.0.0.1:9464`.
        #[arg(long)]
        admin: String,
        /// The environment variable holding the admin token (`[server] admin_token_env`).
        #[arg(long)]
        token_env: Option<String>,
    },
    /// Check a configuration file and print every problem with its key path.
    CheckConfig {
        /// The configuration file.
        path: PathBuf,
    },
    /// Show, offline, how a chat request read from standard input would be routed and why.
    Explain {
        /// The configuration file.
        #[arg(long, short, default_value = "tollgate.toml")]
        config: PathBuf,
        /// The tenant to decide for (anonymous when absent).
        #[arg(long)]
        tenant: Option<String>,
        /// The class the client declares, as in the x-tollgate-data-class header.
        #[arg(long)]
        data_class: Option<String>,
    },
    /// List every backend model with its zone, licence, commercial use and obligations.
    Models {
        /// The configuration file.
        #[arg(long, short, default_value = "tollgate.toml")]
        config: PathBuf,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// Work with GGUF model files.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Print the SHA-256 of an API key, as `tenants.NAME.api_key_sha256` expects it.
    HashKey {
        /// The key; read from standard input when absent, so it stays out of shell history.
        key: Option<String>,
    },
    /// Report spend from the ledger, grouped by route, tenant, model, backend or day.
    Spend(crate::spend_cli::SpendArgs),
    /// Check the price table against the traffic in the ledger.
    Prices {
        #[command(subcommand)]
        command: crate::prices_cli::PricesCommand,
    },
    /// Which requests of a class reached an external backend between two days (from the
    /// ledger); `audit verify` checks that no ledger row was edited or deleted.
    Audit(crate::audit_cli::AuditArgs),
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Write a GGUF model with seeded random weights, for tests, benchmarks and demos: it
    /// runs like a real model of its shape, but its answers are noise.
    Synth {
        /// `tiny` (a few hundred KB) or `qwen2.5-0.5b` (the exact shape of Qwen2.5-0.5B).
        #[arg(long, value_parser = ["tiny", "qwen2.5-0.5b"])]
        preset: String,
        /// Weight type.
        #[arg(long = "type", default_value = "q8_0", value_parser = ["f32", "f16", "q8_0"])]
        ty: String,
        /// The file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Seed of the random weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// Runs the command line; the process exit code is its result.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve(&config),
        Command::CheckConfig { path } => check_config(&path),
        Command::Reload { admin, token_env } => {
            crate::reload_cli::reload(&admin, token_env.as_deref())
        }
        Command::HashKey { key } => hash_key(key),
        Command::Model {
            command:
                ModelCommand::Synth {
                    preset,
                    ty,
                    output,
                    seed,
                },
        } => model_synth(&preset, &ty, &output, seed),
        Command::Explain {
            config,
            tenant,
            data_class,
        } => crate::cli_policy::explain(&config, tenant.as_deref(), data_class.as_deref()),
        Command::Models { config, format } => crate::cli_policy::models(&config, &format),
        Command::Spend(args) => crate::spend_cli::spend(&args),
        Command::Prices { command } => crate::prices_cli::prices(&command),
        Command::Audit(args) => crate::audit_cli::audit(&args),
    }
}

fn init_logging() {
    use tracing_subscriber::filter::{FilterExt, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let asked = tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // At trace level these crates print whole request and response heads, API keys included.
    // This second filter only ever lowers what TOLLGATE_LOG asks: their trace events are off
    // at every setting, and nothing else changes.
    let no_header_traces = ["pingora_core", "pingora_proxy", "hyper", "hyper_util", "h2"]
        .into_iter()
        .fold(
            Targets::new().with_default(tracing::Level::TRACE),
            |t, target| t.with_target(target, tracing::Level::DEBUG),
        );
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(asked.and(no_header_traces));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

fn serve(path: &std::path::Path) -> ExitCode {
    init_logging();
    let Some(mut config) = config::load_or_report(path) else {
        return ExitCode::FAILURE;
    };
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    if config.tenants.is_empty() {
        tracing::warn!(
            "no [tenants] configured: requests are served without API keys (loopback listeners only)"
        );
    }
    if let Some(w) = server::fit_connections(&mut config.server.connections) {
        tracing::warn!("{w}");
    }
    let gw = match Gateway::build(config) {
        Ok(gw) => Arc::new(gw),
        Err(e) => {
            eprintln!("tollgate: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listeners = match server::bind_all(&gw.config.server.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tollgate: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let admin = match server::bind_admin(&gw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tollgate: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let api: Vec<String> = listeners
        .iter()
        .map(|(a, _)| format!("http://{a}"))
        .collect();
    // One line with every address, on stdout, so scripts and tests can read the ports.
    let mut out = std::io::stdout().lock();
    let admin_line = crate::admin::listening_suffix(admin.as_ref());
    let _ = writeln!(
        out,
        "tollgate listening on api {}{admin_line}",
        api.join(" ")
    );
    let _ = out.flush();
    drop(out);
    let live = crate::live::Live::new(gw, path.to_path_buf());
    server::run(live, listeners, admin, Default::default());
    ExitCode::SUCCESS
}

fn check_config(path: &std::path::Path) -> ExitCode {
    let loaded = config::load(path).and_then(|c| {
        let errors = config::serving_errors(&c, &config::env::ProcessEnv);
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(config::ConfigErrors(errors))
        }
    });
    match loaded {
        Ok(c) => {
            for w in &c.warnings {
                println!("warning: {w}");
            }
            println!(
                "{}: valid ({} backends, {} routes, {} tenants)",
                path.display(),
                c.backends.len(),
                c.routes.len(),
                c.tenants.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                println!("error: {e}");
            }
            println!("{}: {} error(s)", path.display(), errors.0.len());
            ExitCode::FAILURE
        }
    }
}

fn hash_key(key: Option<String>) -> ExitCode {
    let key = match key {
        Some(k) => k,
        None => {
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_err() {
                eprintln!("tollgate: could not read the key from standard input");
                return ExitCode::FAILURE;
            }
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    println!("{}", hex::encode(crate::gateway::digest(key.as_bytes())));
    ExitCode::SUCCESS
}

fn model_synth(preset: &str, ty: &str, output: &std::path::Path, seed: u64) -> ExitCode {
    use tollgate_adapters::synth::{synth, Preset, WeightType};
    let (Ok(preset), Ok(ty)) = (preset.parse::<Preset>(), ty.parse::<WeightType>()) else {
        eprintln!("tollgate: unknown preset or weight type");
        return ExitCode::FAILURE;
    };
    let started = std::time::Instant::now();
    match synth(preset, ty, seed, output) {
        Ok(report) => {
            println!(
                "wrote {} ({} bytes, {} parameters, {} tensors, {} tokens) in {:.1} s; its weights are random",
                report.path.display(),
                report.bytes,
                report.n_params,
                report.n_tensors,
                report.n_vocab,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::FAILURE
        }
    }
}
