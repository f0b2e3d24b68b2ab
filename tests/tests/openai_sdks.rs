//! The official OpenAI SDKs (Python and Node) against the real gateway, unchanged but for
//! their base URL: non-streamed, streamed with usage, failover, errors, the model list.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{dead_address, Gateway};

/// Route `auto` tries a dead backend first, then the fake: every SDK call exercises failover.
/// `cut/m1` streams two chunks and then breaks.
async fn setup() -> (FakeOpenAi, FakeOpenAi, Gateway) {
    let good = FakeOpenAi::start(Behavior::answer("Hello from the fake upstream")).await;
    let cut = FakeOpenAi::start(Behavior::CutAfter { events: 2 }).await;
    let dead = dead_address();
    const M1: &[(&str, &str)] = &[("m1", "Apache-2.0")];
    let config = Config::new()
        .backend("down", "local", &dead.base_url(), M1)
        .backend("up", "external", &good.base_url(), M1)
        .backend("cut", "external", &cut.base_url(), M1)
        .route("auto", &["down/m1", "up/m1"])
        .build();
    let gw = Gateway::start(&config).holding(dead);
    (good, cut, gw)
}

async fn run(program: &str, script: &str, gw: &Gateway) -> Value {
    let args = [gw.url("/v1"), "auto".to_string(), "cut/m1".to_string()];
    tollgate_e2e::sdk::run(program, script, &args).await
}

fn check_common(v: &Value) {
    assert_eq!(v["content"], "Hello from the fake upstream");
    assert_eq!(v["prompt_tokens"], 2);
    assert_eq!(
        v["backend"], "up",
        "the dead first candidate was failed over"
    );
    assert_eq!(v["streamed"], "Hello from the fake upstream");
    assert_eq!(v["streamed_completion_tokens"], 5);
    let cut = v["cut"].as_str().unwrap();
    assert!(
        cut.contains("mid-stream"),
        "a cut stream raises in the SDK: {cut}"
    );
}

#[tokio::test]
async fn python_sdk() {
    let (good, _cut, gw) = setup().await;
    let v = run("python3", "openai_sdk.py", &gw).await;
    check_common(&v);
    assert_eq!(v["finish_reason"], "stop");
    assert_eq!(v["not_found"], 404);
    assert_eq!(v["models"][0], "auto");
    assert_eq!(good.received().len(), 2);
}

#[tokio::test]
async fn node_sdk() {
    let (good, _cut, gw) = setup().await;
    let v = run("node", "openai_sdk.mjs", &gw).await;
    check_common(&v);
    assert_eq!(good.received().len(), 2);
}
