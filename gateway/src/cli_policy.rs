//! `tollgate explain` and `tollgate models`: the policy engine, offline.

use crate::config;
use crate::gateway::Gateway;
use crate::pipeline::authenticate::TenantRef;
use crate::pipeline::endpoints;
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

fn load(path: &Path) -> Result<Gateway, ExitCode> {
    let config = config::load_or_report(path).ok_or(ExitCode::FAILURE)?;
    Gateway::offline(config).map_err(|e| {
        eprintln!("tollgate: {e}");
        ExitCode::FAILURE
    })
}

/// Reads a chat-completion body from stdin and prints the decision as JSON.
pub fn explain(path: &Path, tenant: Option<&str>, data_class: Option<&str>) -> ExitCode {
    let gw = match load(path) {
        Ok(gw) => gw,
        Err(code) => return code,
    };
    let tenant = match tenant {
        None => TenantRef::Anonymous,
        Some(name) => match gw.config.tenants.iter().position(|t| t.name == name) {
            Some(i) => TenantRef::Tenant(i),
            None => {
                eprintln!("tollgate: no tenant named '{name}'");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut body = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut body) {
        eprintln!("tollgate: cannot read the request from standard input: {e}");
        return ExitCode::FAILURE;
    }
    let result = crate::pipeline::read::parse(&body)
        .and_then(|req| endpoints::explain(&gw, tenant, data_class, &req));
    match result {
        Ok(json) => {
            let v: Value = serde_json::from_slice(&json.body).unwrap_or(Value::Null);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: {} ({})", e.message, e.code);
            ExitCode::FAILURE
        }
    }
}

/// Prints every backend model with its licence facts.
pub fn models(path: &Path, format: &str) -> ExitCode {
    let gw = match load(path) {
        Ok(gw) => gw,
        Err(code) => return code,
    };
    let rows: Vec<(String, Value)> = gw
        .config
        .backends
        .iter()
        .enumerate()
        .flat_map(|(b, backend)| {
            let gw = &gw;
            backend.models.iter().enumerate().map(move |(m, model)| {
                let c = crate::config::Candidate {
                    backend: b,
                    model: m,
                };
                (model.key.clone(), endpoints::model_facts(gw, c))
            })
        })
        .collect();
    if format == "json" {
        let list: Vec<Value> = rows
            .into_iter()
            .map(|(k, mut v)| {
                v["id"] = Value::String(k);
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let text = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|(k, v)| {
            let open = ["weights", "code", "training_data"]
                .iter()
                .filter(|f| v["open"][**f].as_bool() == Some(true))
                .copied()
                .collect::<Vec<_>>()
                .join("+");
            [
                k.clone(),
                text(&v["zone"]),
                text(&v["licence"]),
                text(&v["commercial_use"]),
                if open.is_empty() { "-".into() } else { open },
                text(&v["notice"]),
            ]
        })
        .collect();
    let header = ["MODEL", "ZONE", "LICENCE", "COMMERCIAL", "OPEN", "NOTICE"];
    let mut widths = header.map(str::len);
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(&header.map(String::from)));
    for row in &table {
        println!("{}", line(row));
    }
    ExitCode::SUCCESS
}
