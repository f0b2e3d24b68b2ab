//! `POST /v1/embeddings` through the real binary: OpenAI's request and answer, batches split to
//! the backend's limit and merged in order, the rules (a confidential document is embedded
//! only inside the trust boundary, never redacted), failover, errors and the ledger.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use tollgate_e2e::client::{chat, Response, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;
use tollgate_e2e::ledger;

/// Route `embed`: a closed embedding model taking two inputs per call, then a local one; the
/// route would redact confidential chat, which embeddings never are. Route `chat`: a chat
/// model only.
async fn setup() -> (FakeOpenAi, FakeOpenAi, Gateway) {
    let cloud = FakeOpenAi::start(Behavior::answer("chat answer")).await;
    let local = FakeOpenAi::start(Behavior::answer("local chat answer")).await;
    let config = Config::new()
        .backend_with(
            "cloud",
            "external",
            &cloud.base_url(),
            r#"e = { licence = "openai-terms", embeddings = true, max_batch = 2 }, gpt = { licence = "openai-terms" }"#,
            "",
        )
        .backend_with(
            "local",
            "local",
            &local.base_url(),
            r#"e = { licence = "Apache-2.0", embeddings = true }"#,
            "",
        )
        .route_with("embed", &["cloud/e", "local/e"], "on_class = { confidential = \"redact\" }")
        .route("chat", &["cloud/gpt"])
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&config);
    (cloud, local, gw)
}

async fn embed(gw: &Gateway, body: Value) -> Response {
    TestClient::new()
        .post_json(&gw.url("/v1/embeddings"), &[], &body)
        .await
}

#[tokio::test]
async fn batches_are_split_to_the_backends_limit_and_merged_in_order() {
    let (cloud, local, gw) = setup().await;
    let inputs = ["one", "two words", "three more words", "four", "five five"];
    let r = embed(
        &gw,
        json!({"model": "embed", "input": inputs, "dimensions": 6}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
    let v = r.json();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    for (i, (item, input)) in data.iter().zip(inputs).enumerate() {
        assert_eq!(item["index"], i as u64);
        assert_eq!(
            item["embedding"][0],
            input.len() as f64,
            "item {i} is the embedding of its own input"
        );
        assert_eq!(item["embedding"].as_array().unwrap().len(), 6);
    }
    assert_eq!(v["usage"]["prompt_tokens"], 9);
    let sent = cloud.received();
    assert_eq!(sent.len(), 3, "5 inputs at 2 per call");
    assert!(sent
        .iter()
        .all(|s| s.path == "/v1/embeddings" && s.body["model"] == "e"));
    assert_eq!(sent[2].body["input"], json!(["five five"]));
    assert!(local.received().is_empty());

    let db = gw.dir.path().join("ledger.db");
    ledger::wait_rows(&db, 1);
    let row: (String, String, i64, i64, bool) = ledger::open(&db)
        .query_row(
            "SELECT endpoint, backend, prompt_tokens, completion_tokens, estimated FROM requests",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(row, ("embeddings".into(), "cloud".into(), 9, 0, false));
}

#[tokio::test]
async fn a_confidential_document_is_embedded_only_inside_the_trust_boundary() {
    let (cloud, local, gw) = setup().await;
    let doc = "Contract for Dana Whitfield, reachable at dana.whitfield@kestrel-insurance.co.uk.";
    let r = embed(
        &gw,
        json!({"model": "embed", "input": ["a public sentence", doc]}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    assert_eq!(
        r.header("x-tollgate-redacted"),
        None,
        "embeddings are never sent redacted"
    );
    assert!(cloud.received().is_empty());
    assert_eq!(local.received()[0].body["input"][1], doc);
    // Token ids cannot be scanned: they stay inside too.
    let r = embed(&gw, json!({"model": "embed", "input": [[101, 2023, 102]]})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    assert!(cloud.received().is_empty());
    // Explain says why, through the same rules.
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/embeddings"),
            &[("x-tollgate-data-class", "restricted")],
            &json!({"model": "embed", "input": "x"}),
        )
        .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
}

#[tokio::test]
async fn kinds_failover_and_errors() {
    let (cloud, local, gw) = setup().await;
    // A chat model never embeds, an embedding model never chats.
    let r = embed(&gw, json!({"model": "chat", "input": "x"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "no_capable_backend");
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("embed", "hi", false),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("embedding model"));
    // Bad input.
    for (body, param) in [
        (json!({"model": "embed"}), "input"),
        (json!({"model": "embed", "input": []}), "input"),
        (
            json!({"model": "embed", "input": "x", "encoding_format": "int8"}),
            "encoding_format",
        ),
    ] {
        let r = embed(&gw, body).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["error"]["param"], param);
    }
    // The closed API fails: the local one serves.
    cloud.set_behavior(Behavior::Status {
        status: 500,
        retry_after: None,
    });
    let r = embed(&gw, json!({"model": "embed", "input": ["a", "b", "c"]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        local.received().len(),
        1,
        "no limit on the local model: one call"
    );
    let db = gw.dir.path().join("ledger.db");
    ledger::wait_rows(&db, 6);
}
