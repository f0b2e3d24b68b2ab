//! Real clients of the Messages and Responses APIs through the real binary, unchanged but for
//! their base URL: the official Anthropic SDKs (Python and Node), the OpenAI SDKs' Responses
//! clients, and the coding agents Claude Code and Codex CLI, each completing a one-turn task
//! against a closed API, a local server and the on-device model, with a sensitive snippet in
//! the prompt kept off the closed API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;

/// `cloud` (external; a model that calls `weather`, then answers with what it said) before
/// `local`, behind route `coder`, which Claude-style and GPT-style names also reach.
async fn tool_setup() -> (FakeOpenAi, Gateway) {
    let cloud = FakeOpenAi::start(Behavior::Tools {
        name: "weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
        reply: "Sunny.".into(),
    })
    .await;
    let config = Config::new()
        .backend(
            "cloud",
            "external",
            &cloud.base_url(),
            &[("m", "openai-terms")],
        )
        .route_with("coder", &["cloud/m"], r#"aliases = ["claude-*"]"#)
        .build();
    let gw = Gateway::start(&config);
    (cloud, gw)
}

fn check_anthropic(v: &Value) {
    assert_eq!(v["backend"], "cloud");
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["tool_name"], "weather");
    assert_eq!(v["tool_input"]["city"], "Paris");
    assert_eq!(v["answer"], "Sunny. tool said: 18C");
    assert_eq!(v["output_tokens"], 3);
    assert_eq!(v["streamed_stop_reason"], "tool_use");
    assert_eq!(v["streamed_tool_input"]["city"], "Paris");
    assert!(
        v["streamed_input_tokens"].as_u64().unwrap() > 0,
        "usage reaches the stream's end"
    );
    assert_eq!(v["streamed_answer"], "Sunny. tool said: 18C");
    assert!(v["counted"].as_u64().unwrap() > 0);
    assert_eq!(v["not_found"], serde_json::json!([404, "not_found_error"]));
}

/// Runs the Python and the Node script of one SDK test against the same gateway.
async fn both_sdks(script: &str, args: &[String], check: fn(&Value)) {
    for (program, ext) in [("python3", "py"), ("node", "mjs")] {
        let v = tollgate_e2e::sdk::run(program, &format!("{script}.{ext}"), args).await;
        check(&v);
    }
}

#[tokio::test]
async fn anthropic_sdks() {
    let (cloud, gw) = tool_setup().await;
    let args = [gw.url(""), "claude-sonnet-4-5".into()];
    both_sdks("anthropic_sdk", &args, check_anthropic).await;
    assert_eq!(cloud.received().len(), 8, "four model calls from each SDK");
}

fn check_responses(v: &Value) {
    assert_eq!(v["status"], "completed");
    assert_eq!(v["tool_name"], "weather");
    assert_eq!(v["tool_arguments"]["city"], "Paris");
    assert_eq!(v["answer"], "Sunny. tool said: 18C");
    assert_eq!(v["output_tokens"], 3);
    assert_eq!(v["streamed_arguments"]["city"], "Paris");
    assert_eq!(v["streamed_status"], "completed");
    assert_eq!(v["streamed_answer"], "Sunny. tool said: 18C");
    assert_eq!(v["streamed_output_text"], "Sunny. tool said: 18C");
    assert!(v["streamed_total_tokens"].as_u64().unwrap() > 3);
    assert_eq!(
        v["stateful"],
        serde_json::json!([400, "previous_response_id"])
    );
}

#[tokio::test]
async fn openai_sdks_responses() {
    let (_cloud, gw) = tool_setup().await;
    both_sdks(
        "openai_responses",
        &[gw.url("/v1"), "coder".into()],
        check_responses,
    )
    .await;
}

/// A prompt with personal data in it: the closed API must never see it.
const SENSITIVE: &str = "Reply with one word. Context: the customer Dana Whitfield, IBAN DE84 5001 0517 5498 7654 32, called about her invoice.";

/// Where the agents live (installed by scripts/setup.sh).
fn agent(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("agents/node_modules/.bin")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

/// Runs one agent command to completion (bounded), stdin closed, in a fresh home.
async fn run_agent(mut cmd: tokio::process::Command) -> (bool, String, String) {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("the agent finished within 120 s")
        .expect("the agent ran");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `claude -p PROMPT --model MODEL`, streaming only (no silent non-streamed retry), no retries,
/// no traffic anywhere but the gateway.
async fn claude(gw: &Gateway, home: &Path, model: &str, prompt: &str) -> (bool, String, String) {
    claude_with_env(gw, home, model, prompt, &[], &[]).await
}

async fn claude_with_env(
    gw: &Gateway,
    home: &Path,
    model: &str,
    prompt: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new(agent("claude"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("ANTHROPIC_BASE_URL", gw.url(""))
        .env("ANTHROPIC_API_KEY", "sk-client-key")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .envs(env.iter().copied())
        .current_dir(home)
        .args(["-p", prompt, "--model", model])
        .args(extra);
    run_agent(cmd).await
}

/// `codex exec PROMPT` with the gateway as a custom Responses provider.
async fn codex(gw: &Gateway, home: &Path, model: &str, prompt: &str) -> (bool, String, String) {
    let codex_home = home.join("codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            r#"model = "{model}"
model_provider = "tollgate"

[analytics]
enabled = false

[features]
plugins = false

[model_providers.tollgate]
name = "tollgate"
base_url = "{}"
wire_api = "responses"
env_key = "TOLLGATE_KEY"
request_max_retries = 0
stream_max_retries = 0
"#,
            gw.url("/v1")
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(agent("codex"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("CODEX_HOME", &codex_home)
        .env("TOLLGATE_KEY", "sk-client-key")
        .current_dir(home)
        .args(["exec", "--skip-git-repo-check", "--ephemeral", prompt]);
    run_agent(cmd).await
}

/// `cloud` (external) first and `local` (a local OpenAI-compatible server) second, behind
/// route `coder` and the names the agents send.
async fn agent_setup() -> (FakeOpenAi, FakeOpenAi, Gateway) {
    let cloud = FakeOpenAi::start(Behavior::answer("Hello from the cloud")).await;
    let local = FakeOpenAi::start(Behavior::answer("Hello from the local model")).await;
    let config = Config::new()
        .backend(
            "cloud",
            "external",
            &cloud.base_url(),
            &[("m", "openai-terms")],
        )
        .backend("local", "local", &local.base_url(), &[("m", "Apache-2.0")])
        .route_with(
            "coder",
            &["cloud/m", "local/m"],
            r#"aliases = ["claude-*", "gpt-*"]"#,
        )
        .build();
    (cloud, local, Gateway::start(&config))
}

#[tokio::test]
async fn claude_code_completes_a_turn_and_keeps_a_sensitive_prompt_local() {
    let (cloud, local, gw) = agent_setup().await;
    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = claude(&gw, home.path(), "claude-sonnet-4-5", "Say hello").await;
    assert!(ok, "claude failed:\n{out}\n{err}\n{}", gw.stderr());
    assert_eq!(out.trim(), "Hello from the cloud");
    let sent = cloud.received();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].body["tools"].as_array().unwrap().len() > 10,
        "Claude Code's tools were translated"
    );

    let (ok, out, err) = claude(&gw, home.path(), "coder", SENSITIVE).await;
    assert!(ok, "claude failed:\n{out}\n{err}");
    assert_eq!(out.trim(), "Hello from the local model");
    assert_eq!(
        cloud.received().len(),
        1,
        "the sensitive prompt never reached the closed API"
    );
    let body = local.received()[0].body.to_string();
    assert!(
        body.contains("DE84 5001 0517 5498 7654 32"),
        "the local model got the prompt whole"
    );
}

#[tokio::test]
async fn codex_completes_a_turn_and_keeps_a_sensitive_prompt_local() {
    let (cloud, local, gw) = agent_setup().await;
    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = codex(&gw, home.path(), "coder", "Say hello").await;
    assert!(ok, "codex failed:\n{out}\n{err}\n{}", gw.stderr());
    assert_eq!(out.trim(), "Hello from the cloud");
    let sent = cloud.received();
    assert_eq!(sent.len(), 1);
    assert!(
        !sent[0].body["tools"].as_array().unwrap().is_empty(),
        "Codex's function tools were translated"
    );

    let (ok, out, err) = codex(&gw, home.path(), "gpt-5.5", SENSITIVE).await;
    assert!(ok, "codex failed:\n{out}\n{err}");
    assert_eq!(out.trim(), "Hello from the local model");
    assert_eq!(
        cloud.received().len(),
        1,
        "the sensitive prompt never reached the closed API"
    );
    assert_eq!(local.received().len(), 1);
}

#[tokio::test]
async fn codex_completes_a_turn_with_its_tools_on_the_on_device_model() {
    let cloud = FakeOpenAi::start(Behavior::answer("Hello from the cloud")).await;
    // Codex's instructions and tools are about 16,000 tokens of the demo model's vocabulary:
    // the context holds them with room for an answer of about a thousand tokens.
    let config = Config::new()
        .backend(
            "cloud",
            "external",
            &cloud.base_url(),
            &[("m", "openai-terms")],
        )
        .extra(
            r#"[backends.on-device]
kind = "on_device"
models = { demo = { licence = "Apache-2.0" } }
engine = { n_threads = 1, n_parallel = 1, n_ctx = 17000 }
"#,
        )
        .route_with(
            "coder",
            &["cloud/m", "on-device/demo"],
            r#"aliases = ["gpt-*"]"#,
        )
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&config);
    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = codex(&gw, home.path(), "coder", SENSITIVE).await;
    let db = gw.dir.path().join("ledger.db");
    let rows: Vec<(String, String, i64, String)> = tollgate_e2e::ledger::open(&db)
        .prepare("SELECT backend, endpoint, completion_tokens, outcome FROM requests ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Codex sends its function tools with every request: the device took them and answered.
    let (backend, endpoint, completion, outcome) = &rows[0];
    assert_eq!(
        (backend.as_str(), endpoint.as_str(), outcome.as_str()),
        ("on-device", "responses", "completed"),
        "{rows:?}\n{out}\n{err}\n{}",
        gw.stderr()
    );
    assert!(*completion > 0, "{rows:?}");
    assert!(rows.iter().all(|r| r.0 != "cloud"), "{rows:?}");
    assert!(
        cloud.received().is_empty(),
        "the sensitive prompt never reached the closed API"
    );
    // The demo model has random weights: its answer is a reply, a call Codex runs and answers
    // (then the next step, which may no longer fit the context), or an answer cut at the
    // context's end; Codex reports the last two.
    if !ok {
        let said = format!("{out}{err}");
        assert!(
            said.contains("max_output_tokens") || said.contains("context"),
            "{out}\n{err}\n{rows:?}"
        );
    }
}

#[tokio::test]
async fn claude_code_completes_a_turn_on_the_on_device_model() {
    let cloud = FakeOpenAi::start(Behavior::answer("Hello from the cloud")).await;
    let config = Config::new()
        .backend(
            "cloud",
            "external",
            &cloud.base_url(),
            &[("m", "openai-terms")],
        )
        .extra(
            r#"[backends.on-device]
kind = "on_device"
models = { demo = { licence = "Apache-2.0" } }
engine = { n_threads = 1, n_parallel = 1, n_ctx = 8192 }
"#,
        )
        .route_with(
            "coder",
            &["cloud/m", "on-device/demo"],
            r#"aliases = ["claude-*"]"#,
        )
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&config);
    let home = tempfile::tempdir().unwrap();
    // The on-device model takes no tools and has a small context: Claude Code is run without
    // its tools and with a small answer budget, as a user would run it against such a model.
    let (ok, out, err) = claude_with_env(
        &gw,
        home.path(),
        "claude-haiku-4-5",
        SENSITIVE,
        &["--bare", "--tools", "", "--output-format", "json"],
        &[("CLAUDE_CODE_MAX_OUTPUT_TOKENS", "16")],
    )
    .await;
    // The demo model has random weights: it never ends an answer by itself, so its turn ends
    // at the token limit, which Claude Code reports (exit 1) as an answer cut short. What
    // matters here is that the whole round trip happened on the device.
    let result: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| {
        panic!(
            "claude printed no result ({e}):\n{out}\n{err}\n{}",
            gw.stderr()
        )
    });
    let generated = result["usage"]["output_tokens"].as_i64().unwrap();
    assert!(generated > 0, "{result}");
    assert!(
        result["usage"]["input_tokens"].as_i64().unwrap() > 0,
        "{result}"
    );
    if !ok {
        let said = result["result"].as_str().unwrap();
        assert!(said.contains("output token maximum"), "{result}");
    }
    assert!(
        cloud.received().is_empty(),
        "the sensitive prompt never reached the closed API"
    );
    let db = gw.dir.path().join("ledger.db");
    // Rows are committed before an answer's last byte: all are there once Claude Code exits.
    let rows: Vec<(String, String, i64)> = tollgate_e2e::ledger::open(&db)
        .prepare("SELECT backend, endpoint, completion_tokens FROM requests ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Claude Code asks again when an answer is cut at the limit: every attempt has its row.
    assert!(!rows.is_empty());
    for (backend, endpoint, completion) in &rows {
        assert_eq!(
            (backend.as_str(), endpoint.as_str()),
            ("on-device", "messages")
        );
        assert!(*completion > 0 && *completion <= 16, "{rows:?}");
    }
    let recorded: i64 = rows.iter().map(|r| r.2).sum();
    assert_eq!(
        recorded, generated,
        "the ledger counts what Claude Code was told"
    );
}

/// An embedding model behind route `embed`.
async fn embed_setup() -> (FakeOpenAi, Gateway) {
    let local = FakeOpenAi::start(Behavior::answer("unused")).await;
    let config = Config::new()
        .backend_with(
            "local",
            "local",
            &local.base_url(),
            r#"e = { licence = "Apache-2.0", embeddings = true, max_batch = 1 }"#,
            "",
        )
        .route("embed", &["local/e"])
        .build();
    (local, Gateway::start(&config))
}

fn check_embeddings(v: &Value) {
    assert_eq!(v["count"], 2);
    // The fake's first number is the input's length: "first text" is 10 bytes.
    assert_eq!(v["first"][0], 10.0);
    assert_eq!(v["prompt_tokens"], 5);
    assert_eq!(v["dimensions"], 5);
}

#[tokio::test]
async fn openai_sdks_embeddings() {
    let (local, gw) = embed_setup().await;
    both_sdks(
        "openai_embeddings",
        &[gw.url("/v1"), "embed".into()],
        check_embeddings,
    )
    .await;
    assert_eq!(
        local.received().len(),
        6,
        "per SDK: two inputs one per call, then one"
    );
}
