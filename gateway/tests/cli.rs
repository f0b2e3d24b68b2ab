//! The command line, run as a user would run it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn tollgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn help_and_version() {
    let out = tollgate().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("tollgate "));
    for sub in ["serve", "check-config", "hash-key", "spend"] {
        let out = tollgate().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
}

#[test]
fn the_example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../tollgate.toml");
    let out = tollgate().args(["check-config", example]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn check_config_prints_every_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "bad.toml",
        r#"
[server]
listen = "0.0.0.0:8000"
lissen = "typo"

[backends.a]
kind = "openai"
zone = "on_device"
base_url = "ftp://x"
models = { m = {} }
timeouts = { connect_ms = 0 }

[routes.auto]
candidates = ["a/m", "a/nope", "b/m"]
"#,
    );
    let out = tollgate()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "server.lissen: unknown key",
        "backends.a.zone:",
        "backends.a.base_url:",
        "backends.a.timeouts.connect_ms: must be greater than 0",
        "routes.auto.candidates[1]: 'a/nope'",
        "routes.auto.candidates[2]: 'b/m'",
        "server.listen: no tenants are configured",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in:\n{text}");
    }
}

#[test]
fn check_config_reports_type_errors_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "t.toml", "[server]\nmax_body_bytes = \"lots\"\n");
    let out = tollgate()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("server.max_body_bytes"), "{text}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let out = tollgate()
        .args(["check-config", "/nonexistent/tollgate.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not found"));
}

#[test]
fn hash_key_prints_sha256() {
    let out = tollgate().args(["hash-key", "abc"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn models_prints_each_model_with_its_licence() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../tollgate.toml");
    let out = tollgate()
        .args(["models", "--config", example])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("MODEL"));
    let qwen = lines
        .iter()
        .find(|l| l.starts_with("local/qwen2.5-7b-instruct"))
        .unwrap();
    assert!(
        qwen.contains("Apache-2.0") && qwen.contains("weights") && qwen.contains("local"),
        "{qwen}"
    );
    let json = tollgate()
        .args(["models", "--config", example, "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);
}

#[test]
fn an_unknown_licence_or_a_tenant_without_use_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "l.toml",
        r#"
[backends.a]
kind = "openai"
zone = "local"
base_url = "http://127.0.0.1:1/v1"
models = { m = { licence = "apache-2" } }

[tenants.t]
api_key_env = "T_KEY"
"#,
    );
    let out = tollgate()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("backends.a.models.m.licence: unknown licence id 'apache-2'"),
        "{text}"
    );
    assert!(text.contains("tenants.t.use: required"), "{text}");
}

/// `explain` and `models` are offline: they build no backend (no demo model is generated, no
/// llama.cpp model loaded) and open no ledger, so they leave nothing behind.
#[test]
fn offline_commands_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tollgate.toml")).unwrap();
    assert!(
        example.contains("kind = \"on_device\""),
        "the example has an on-device backend"
    );
    let path = write(&dir, "tollgate.toml", &example);
    let out = tollgate()
        .args(["models", "--config", path.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = tollgate()
        .args(["explain", "--config", path.to_str().unwrap()])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["tollgate.toml"], "offline commands wrote files");
}

#[test]
fn tenant_names_that_collide_with_labels_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let digest = "0".repeat(64);
    let path = write(
        &dir,
        "t.toml",
        &format!(
            r#"
[backends.a]
kind = "openai"
zone = "local"
base_url = "http://127.0.0.1:1/v1"
models = {{ m = {{ licence = "Apache-2.0" }} }}

[tenants.none]
use = "internal"
api_key_sha256 = ["{digest}"]

[tenants."a b,c"]
use = "internal"
api_key_sha256 = ["{digest}"]

[tenants.ok-name_1]
use = "internal"
api_key_sha256 = ["{digest}"]
"#
        ),
    );
    let out = tollgate()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tenants.none: 'none' is reserved"), "{text}");
    assert!(
        text.contains("tenants.a b,c: tenant names may use"),
        "{text}"
    );
    assert!(!text.contains("tenants.ok-name_1"), "{text}");
}

const METERED: &str = r#"
[server]
listen = "127.0.0.1:0"

[backends.a]
kind = "openai"
zone = "external"
base_url = "http://127.0.0.1:9/v1"
models = { priced = { licence = "Apache-2.0" }, free = { licence = "Apache-2.0" } }

[routes.auto]
candidates = ["a/priced", "a/free"]

[prices.models."a/priced"]
input_per_mtok = 1.0
output_per_mtok = 2.0
"#;

#[test]
fn check_config_checks_metering_sections_with_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let bad = format!(
        "{METERED}\n[ledger]\npaht = \"x\"\n[budgets.routes.auto]\ndaily_usd = -1\n\
         [budgets]\ndefault_max_tokens = 0\n"
    );
    let path = write(&dir, "bad.toml", &bad);
    let out = tollgate()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ledger"), "{text}");

    let bad =
        format!("{METERED}\n[prices]\ncurrency = \"EUR\"\n[budgets.routes.auto]\ndaily_usd = -1\n");
    let path = write(&dir, "bad2.toml", &bad);
    let out = tollgate()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "error: prices.currency: 'EUR' is not supported",
        "error: budgets.routes.auto.daily_usd: must be a number >= 0",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in:\n{text}");
    }

    // A valid config: unpriced models are warnings.
    let path = write(&dir, "ok.toml", METERED);
    let out = tollgate()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("warning: model \"a/free\" has no price"),
        "{text}"
    );
    assert!(!text.contains("\"a/priced\" has no price"), "{text}");
}

#[test]
fn spend_reads_the_configured_ledger_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "t.toml", METERED);
    let out = tollgate()
        .args(["spend", "--config", path.to_str().unwrap(), "--by", "route"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no ledger at"), "{err}");
    assert!(err.contains("tollgate-ledger.db"), "{err}");

    let out = tollgate()
        .args(["spend", "--config", path.to_str().unwrap(), "--by", "week"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown grouping 'week'"));
    let out = tollgate()
        .args(["spend", "--by", "day", "--since", "2025-02-30"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
