//! Token counts for local servers that send no usage in streams (llama.cpp's server, its
//! Python binding's, older vLLM): counted with the server's own tokenize endpoint, given to
//! a client that asked for the usage chunk, and recorded with their source. The fakes count
//! "tokens" as words, in their usage and their tokenize endpoints alike, so the model's own
//! count is what the same fake reports for the same request without streaming.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::time::Duration;
use tollgate_e2e::client::TestClient;
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi, TokenizeApi};
use tollgate_e2e::gateway::Gateway;
use tollgate_e2e::ledger::{open, wait_rows};

const REPLY: &str = "alpha beta gamma delta epsilon";

async fn server(api: Option<TokenizeApi>) -> FakeOpenAi {
    let fake = FakeOpenAi::start(Behavior::Answer {
        reply: REPLY.into(),
        stream_usage: false,
        head_delay: Duration::ZERO,
        event_gap: Duration::ZERO,
    })
    .await;
    fake.set_tokenize(api);
    fake
}

fn request(route: &str, stream: bool) -> Value {
    json!({
        "model": route,
        "stream": stream,
        "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
        "messages": [
            {"role": "system", "content": "You answer in Greek letters."},
            {"role": "user", "content": "Name five letters, please"},
        ],
    })
}

/// The usage the fake itself reports for the request, answered whole.
async fn own_usage(fake: &FakeOpenAi, route: &str) -> (u64, u64) {
    let mut body = request(route, false);
    body["model"] = json!("m");
    let r = TestClient::new()
        .post_json(&format!("{}/chat/completions", fake.base_url()), &[], &body)
        .await;
    let u = &r.json()["usage"];
    (
        u["prompt_tokens"].as_u64().unwrap(),
        u["completion_tokens"].as_u64().unwrap(),
    )
}

/// The usage chunk a streamed answer ended with, if any.
fn usage_chunk(sse: &[String]) -> Option<(u64, u64)> {
    sse.iter().find_map(|d| {
        let v: Value = serde_json::from_str(d).ok()?;
        let u = v.get("usage").filter(|u| !u.is_null())?;
        assert_eq!(v["choices"], json!([]), "the usage chunk has no choices");
        Some((
            u["prompt_tokens"].as_u64()?,
            u["completion_tokens"].as_u64()?,
        ))
    })
}

#[tokio::test]
async fn streams_without_usage_are_counted_by_the_servers_tokenizer() {
    let llama = server(Some(TokenizeApi::LlamaCpp)).await;
    let python = server(Some(TokenizeApi::LlamaCppPython)).await;
    let vllm = server(Some(TokenizeApi::Vllm)).await;
    let plain = server(None).await;
    // llama-cpp-python cannot render templates: the model's is configured (here, the fake's:
    // every message's text).
    let template = r#"chat_template = "{% for m in messages %}{{ m.content }} {% endfor %}""#;
    let cfg = Config::new()
        .backend("llama", "local", &llama.base_url(), &[("m", "Apache-2.0")])
        .backend_with(
            "python",
            "local",
            &python.base_url(),
            &format!("m = {{ licence = \"Apache-2.0\", {template} }}"),
            "",
        )
        .backend("vllm", "local", &vllm.base_url(), &[("m", "Apache-2.0")])
        .backend("plain", "local", &plain.base_url(), &[("m", "Apache-2.0")])
        .route("llama", &["llama/m"])
        .route("python", &["python/m"])
        .route("vllm", &["vllm/m"])
        .route("plain", &["plain/m"])
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&cfg);
    let client = TestClient::new();
    let mut expected = Vec::new();
    for (route, fake) in [("llama", &llama), ("python", &python), ("vllm", &vllm)] {
        let own = own_usage(fake, route).await;
        let r = client
            .post_json(&gw.url("/v1/chat/completions"), &[], &request(route, true))
            .await;
        assert_eq!(
            r.status,
            200,
            "{route}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.streamed_content(), REPLY, "{route}");
        let sse = r.sse_data();
        assert_eq!(sse.last().map(String::as_str), Some("[DONE]"));
        assert_eq!(
            usage_chunk(&sse),
            Some(own),
            "{route}: the client's usage chunk"
        );
        expected.push((route, own, false));
    }
    // No tokenize endpoint: the usage chunk still comes, estimated, and the row says so.
    let r = client
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &request("plain", true),
        )
        .await;
    let estimated = usage_chunk(&r.sse_data()).expect("a usage chunk without a tokenizer");
    expected.push(("plain", estimated, true));

    let db = gw.dir.path().join("ledger.db");
    wait_rows(&db, 4);
    let conn = open(&db);
    for (route, (prompt, completion), is_estimate) in expected {
        let row: (i64, i64, bool) = conn
            .query_row(
                "SELECT prompt_tokens, completion_tokens, estimated FROM requests WHERE route = ?1",
                [route],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            (prompt as i64, completion as i64, is_estimate),
            "{route}: the ledger row"
        );
    }
}

#[tokio::test]
async fn the_usage_chunk_is_sent_only_when_asked_for() {
    let llama = server(Some(TokenizeApi::LlamaCpp)).await;
    let cfg = Config::new()
        .backend("llama", "local", &llama.base_url(), &[("m", "Apache-2.0")])
        .route("llama", &["llama/m"])
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&cfg);
    let mut body = request("llama", true);
    body.as_object_mut().unwrap().remove("stream_options");
    let r = TestClient::new()
        .post_json(&gw.url("/v1/chat/completions"), &[], &body)
        .await;
    assert_eq!(r.streamed_content(), REPLY);
    assert_eq!(usage_chunk(&r.sse_data()), None);
    // Still counted for the ledger.
    let db = gw.dir.path().join("ledger.db");
    wait_rows(&db, 1);
    let own = own_usage(&llama, "llama").await;
    let row: (i64, i64, bool) = open(&db)
        .query_row(
            "SELECT prompt_tokens, completion_tokens, estimated FROM requests",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(row, (own.0 as i64, own.1 as i64, false));
}

#[tokio::test]
async fn a_cut_stream_of_an_openai_model_is_counted_with_its_encoding() {
    let openai = FakeOpenAi::start(Behavior::CutAfter { events: 3 }).await;
    let cfg = Config::new()
        .backend(
            "openai",
            "external",
            &openai.base_url(),
            &[("gpt-4o-mini", "openai-terms")],
        )
        .route("cloud", &["openai/gpt-4o-mini"])
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&cfg);
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &request("cloud", true),
        )
        .await;
    let got = r.streamed_content();
    assert!(!got.is_empty(), "some content before the cut");
    let db = gw.dir.path().join("ledger.db");
    wait_rows(&db, 1);
    let row: (i64, i64, bool, String) = open(&db)
        .query_row(
            "SELECT prompt_tokens, completion_tokens, estimated, outcome FROM requests",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    // OpenAI's framing: 3 tokens a message plus its role and text, 3 for the reply.
    let bpe = tiktoken_rs::o200k_base().unwrap();
    let n = |s: &str| bpe.encode_ordinary(s).len() as i64;
    let prompt = 3
        + n("system")
        + n("You answer in Greek letters.")
        + 3
        + n("user")
        + n("Name five letters, please")
        + 3;
    assert_eq!(row, (prompt, n(&got), false, "cut_off".to_string()));
}
