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

#[tokio::test]
async fn the_on_device_model_embeds_what_may_not_leave() {
    let cloud = FakeOpenAi::start(Behavior::answer("unused")).await;
    let config = Config::new()
        .backend_with(
            "cloud",
            "external",
            &cloud.base_url(),
            r#"e = { licence = "openai-terms", embeddings = true }"#,
            "",
        )
        .extra(
            r#"[backends.on-device]
kind = "on_device"
models = { demo = { licence = "Apache-2.0", embeddings = true } }
engine = { n_threads = 1, n_parallel = 1, n_ctx = 256 }
"#,
        )
        .route("embed", &["cloud/e", "on-device/demo"])
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&config);
    let doc = "Patient Dana Whitfield, born 12 April 1987, MRN 40291837, was prescribed 20 mg of fluoxetine.";
    let r = embed(
        &gw,
        json!({"model": "embed", "input": [doc, doc, "an unrelated sentence about the weather"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("on-device"));
    assert!(cloud.received().is_empty(), "the record never left");
    let v = r.json();
    let vectors: Vec<Vec<f64>> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(vectors.len(), 3);
    assert_eq!(vectors[0].len(), 64, "the demo model's width");
    for v in &vectors {
        let norm: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "unit length: {norm}");
    }
    assert_eq!(vectors[0], vectors[1], "the same text embeds the same");
    assert_ne!(vectors[0], vectors[2]);
    let counted = v["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(counted > 10, "{counted}");

    // base64, as the Python SDK asks by default: little-endian f32s of the same vector.
    let r = embed(
        &gw,
        json!({"model": "embed", "input": doc, "encoding_format": "base64"}),
    )
    .await;
    let b64 = r.json()["data"][0]["embedding"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b64.len(), (64 * 4_usize).div_ceil(3) * 4);
    // Widths the model does not have are refused, not faked.
    let r = embed(
        &gw,
        json!({"model": "on-device/demo", "input": "x", "dimensions": 8}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

    let db = gw.dir.path().join("ledger.db");
    ledger::wait_rows(&db, 3);
    let (backend, prompt, estimated): (String, i64, bool) = ledger::open(&db)
        .query_row(
            "SELECT backend, prompt_tokens, estimated FROM requests ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (backend.as_str(), prompt, estimated),
        ("on-device", counted as i64, false),
        "exact counts"
    );
}
