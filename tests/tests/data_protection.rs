//! Data protection end to end: every field that reaches a backend is scanned, redaction
//! removes every detected value from every field, parts that cannot be scanned stay inside the
//! trust boundary, and the ledger's audit trail proves where each prompt went.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};
use std::path::PathBuf;
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{binary, Gateway};
use tollgate_e2e::ledger::wait_rows;

/// A Luhn-valid card number outside the processors' test ranges.
const CARD: &str = "4539 1488 0343 6467";
/// E-mail addresses at real (non-reserved) domains.
const EMAILS: [&str; 4] = [
    "jonas.weber@gmail.com",
    "claire.martin@orange.fr",
    "p.rossi@libero.it",
    "anna.devries@ziggo.nl",
];

/// `cloud` (external) comes first in every route, so only the policy keeps data from it.
fn config(cloud: &str, local: &str, extra: &str) -> String {
    Config::new()
        .extra("[ledger]\npath = \"ledger.db\"\nbatch_max = 1")
        .backend_with(
            "cloud",
            "external",
            cloud,
            "gpt = { licence = \"openai-terms\", multimodal = true, tools = true }",
            "",
        )
        .backend_with(
            "local",
            "local",
            local,
            "qwen = { licence = \"Apache-2.0\", tools = true }, \
             vl = { licence = \"Apache-2.0\", multimodal = true }",
            "",
        )
        .route("auto", &["cloud/gpt", "local/qwen"])
        .route_with(
            "redacting",
            &["cloud/gpt", "local/qwen"],
            "on_class = { confidential = \"redact\" }",
        )
        .route_with(
            "vision",
            &["cloud/gpt", "local/qwen", "local/vl"],
            "on_class = { confidential = \"redact\" }",
        )
        .extra(extra)
        .build()
}

async fn start(extra: &str, cloud_behavior: Behavior) -> (FakeOpenAi, FakeOpenAi, Gateway) {
    let cloud = FakeOpenAi::start(cloud_behavior).await;
    let local = FakeOpenAi::start(Behavior::answer("from the local server")).await;
    let gw = Gateway::start(&config(&cloud.base_url(), &local.base_url(), extra));
    (cloud, local, gw)
}

/// A chat body with one harmless user message and `extra` merged in at the top level.
fn body_with(model: &str, extra: Value) -> Value {
    let mut b = chat(model, "Please help me with this request.", false);
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

/// Where a value can hide outside message text, each still forwarded to the backend.
fn hiding_places(secret: &str) -> Vec<(&'static str, Value)> {
    let tool = |description: &str, default: &str| {
        json!([{"type": "function", "function": {
            "name": "lookup", "description": description,
            "parameters": {"type": "object", "properties": {
                "q": {"type": "string", "description": "query", "default": default}}}}}])
    };
    vec![
        ("user", json!({"user": secret})),
        ("metadata", json!({"metadata": {"note": secret}})),
        ("tool description", json!({"tools": tool(secret, "x")})),
        ("parameter default", json!({"tools": tool("find", secret)})),
        (
            "parameter enum",
            json!({"tools": [{"type": "function", "function": {"name": "f",
                "parameters": {"type": "object", "properties": {"q": {"type": "string", "enum": [secret]}}}}}]}),
        ),
        (
            "legacy functions",
            json!({"functions": [{"name": "f", "description": secret, "parameters": {"type": "object"}}]}),
        ),
        (
            "response_format schema",
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "s",
                "schema": {"type": "object", "description": secret}}}}),
        ),
        (
            "prediction",
            json!({"prediction": {"type": "content", "content": secret}}),
        ),
        ("stop", json!({"stop": [secret]})),
        (
            "vendor field",
            json!({"x_vendor": {"deep": [{"value": secret}]}}),
        ),
        (
            "assistant refusal and tool call id",
            json!({"messages": [
                {"role": "user", "content": "go on"},
                {"role": "assistant", "content": null, "refusal": secret},
                {"role": "user", "content": "and now?"}]}),
        ),
        (
            "tool call id",
            json!({"messages": [
                {"role": "user", "content": "go on"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": secret, "type": "function",
                    "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": secret, "content": "done"}]}),
        ),
    ]
}

#[tokio::test]
async fn every_field_that_reaches_a_backend_is_scanned() {
    let (cloud, local, gw) = start("", Behavior::answer("from the cloud")).await;
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let card = format!("card {CARD}");
    let places = hiding_places(&card);
    for (place, extra) in &places {
        let r = c
            .post_json(&url, &[], &body_with("auto", extra.clone()))
            .await;
        assert_eq!(
            r.status,
            200,
            "{place}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(
            r.header("x-tollgate-backend"),
            Some("local"),
            "a card in the {place} must keep the request local"
        );
        assert_eq!(
            r.header("x-tollgate-data-class"),
            Some("restricted"),
            "{place}"
        );
    }
    // A card number sent as a JSON number is found too.
    let r = c
        .post_json(
            &url,
            &[],
            &body_with("auto", json!({"metadata": {"card": 4539148803436467_u64}})),
        )
        .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    assert!(
        cloud.received().is_empty(),
        "the closed API received nothing"
    );
    assert_eq!(local.received().len(), places.len() + 1);
    // Their twins without the card go to the closed API, first in the route.
    for (place, extra) in hiding_places("nothing to see here") {
        let r = c.post_json(&url, &[], &body_with("auto", extra)).await;
        assert_eq!(r.header("x-tollgate-backend"), Some("cloud"), "{place}");
    }
}

#[tokio::test]
async fn redaction_leaves_no_detected_value_in_any_field() {
    let (cloud, _local, gw) = start("", Behavior::Echo { chunk_chars: 4 }).await;
    let c = TestClient::new();
    let tools = json!([{"type": "function", "function": {"name": "notify",
        "description": format!("Send mail, e.g. to {}", EMAILS[2]),
        "parameters": {"type": "object", "properties": {
            "to": {"type": "string", "default": EMAILS[3]}}}}}]);
    let text = format!("Write to {} and cc {}.", EMAILS[0], EMAILS[1]);
    for stream in [false, true] {
        let mut body = chat("redacting", &text, stream);
        body["user"] = json!(EMAILS[1]);
        body["metadata"] = json!({"owner": EMAILS[0]});
        body["tools"] = tools.clone();
        // What the gateway detects, field by field, it must also remove.
        let explained = c
            .post_json(&gw.url("/v1/tollgate/explain"), &[], &body)
            .await
            .json();
        assert_eq!(explained["effective_class"], "confidential");
        let detections = explained["detections"].as_array().unwrap();
        let fields: Vec<&str> = detections
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        for f in ["/messages/0/content", "/user", "/metadata/owner"] {
            assert!(fields.contains(&f), "{f} not in {fields:?}");
        }
        assert!(fields.iter().any(|f| f.starts_with("/tools/0/function")));
        let r = c
            .post_json(&gw.url("/v1/chat/completions"), &[], &body)
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
        assert_eq!(r.header("x-tollgate-redacted"), Some("true"));
        let answer = r.answer(stream);
        assert_eq!(answer, text, "placeholders are restored in the answer");
    }
    let received = cloud.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        let sent = r.body.to_string();
        for e in EMAILS {
            assert!(!sent.contains(e), "{e} reached the closed API: {sent}");
        }
        assert!(!sent.contains('@'), "{sent}");
        assert!(
            sent.contains("[EMAIL_1]") && sent.contains("[EMAIL_4]"),
            "{sent}"
        );
        // Redaction keeps the request's shape.
        assert_eq!(r.body["tools"][0]["function"]["name"], "notify");
        assert_eq!(r.body["model"], "gpt");
    }
}

fn image_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}}
    ]}]})
}

#[tokio::test]
async fn an_image_stays_inside_the_trust_boundary_by_default() {
    let (cloud, local, gw) = start("", Behavior::answer("from the cloud")).await;
    let c = TestClient::new();
    // Redaction cannot cover an image, so the redacting route refuses the closed API, and
    // the text-only local model is refused for want of image input.
    let r = c
        .post_json(&gw.url("/v1/chat/completions"), &[], &image_body("vision"))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    assert_eq!(r.header("x-tollgate-model"), Some("vl"));
    assert_eq!(r.header("x-tollgate-data-class"), Some("confidential"));
    assert!(cloud.received().is_empty());
    assert_eq!(local.received()[0].body["model"], "vl");

    let v = c
        .post_json(&gw.url("/v1/tollgate/explain"), &[], &image_body("vision"))
        .await
        .json();
    assert_eq!(
        v["unscannable"],
        json!([{"type": "image_url", "class": "confidential"}])
    );
    let rules: Vec<(&str, &str)> = v["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["candidate"].as_str().unwrap(),
                r["rule"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("cloud/gpt", "data_class_above_zone"),
            ("local/qwen", "capability_missing")
        ]
    );
    let why = v["why"][0]["reason"].as_str().unwrap();
    assert!(
        why.contains("image_url") && why.contains("cannot be scanned"),
        "{why}"
    );

    // Only text-only models are left: a clear 400, not a backend's error.
    let r = c
        .post_json(&gw.url("/v1/chat/completions"), &[], &image_body("auto"))
        .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"]["code"], "no_capable_backend");
    assert!(cloud.received().is_empty());
}

#[tokio::test]
async fn a_configured_class_for_images_lets_them_out() {
    let (cloud, _local, gw) = start(
        "\n[detect]\nunscannable = \"public\"\n",
        Behavior::answer("from the cloud"),
    )
    .await;
    let r = TestClient::new()
        .post_json(&gw.url("/v1/chat/completions"), &[], &image_body("vision"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
    assert_eq!(r.header("x-tollgate-data-class"), Some("public"));
    assert_eq!(cloud.received().len(), 1);
}

fn ledger(gw: &Gateway) -> PathBuf {
    gw.dir.path().join("ledger.db")
}

fn tollgate(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(binary())
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_audit_trail_proves_where_each_prompt_went() {
    let (_cloud, _local, mut gw) = start("", Behavior::answer("from the cloud")).await;
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let card = format!("Charge {CARD} please");
    let email = format!("Reply to {}", EMAILS[0]);
    for (route, text) in [
        ("auto", card.as_str()),
        ("redacting", email.as_str()),
        ("auto", "Plain question"),
    ] {
        let r = c.post_json(&url, &[], &chat(route, text, false)).await;
        assert_eq!(r.status, 200);
    }
    let db = ledger(&gw);
    wait_rows(&db, 3);
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let rows: Vec<(String, String, String, String)> = conn
        .prepare("SELECT data_class, detected_kinds, attempt_zones, refused_rules FROM requests ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            (
                "restricted".into(),
                "payment_card".into(),
                "local".into(),
                "data_class_above_zone".into()
            ),
            (
                "confidential".into(),
                "email".into(),
                "external/redacted".into(),
                String::new()
            ),
            (
                "public".into(),
                String::new(),
                "external".into(),
                String::new()
            ),
        ]
    );
    let db_arg = db.to_str().unwrap();
    let (code, out) = tollgate(&["audit", "--ledger", db_arg, "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["external_in_clear"], 0);
    assert_eq!(report["external_redacted"], 1);
    assert_eq!(report["requests"][0]["detected_kinds"], "email");
    let (code, out) = tollgate(&["audit", "verify", "--ledger", db_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 rows") && out.contains("chain intact"),
        "{out}"
    );
    let head = out.split("head ").nth(1).unwrap()[..64].to_string();
    gw.kill();

    // An edited row breaks the chain at that row.
    let rw = Connection::open(&db).unwrap();
    rw.execute(
        "UPDATE requests SET attempt_zones = 'local' WHERE id = 2",
        [],
    )
    .unwrap();
    let (code, out) = tollgate(&["audit", "verify", "--ledger", db_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("BROKEN at row 2") && out.contains("changed"),
        "{out}"
    );
    // A deleted row breaks the link of the row after it.
    rw.execute(
        "UPDATE requests SET attempt_zones = 'external/redacted' WHERE id = 2",
        [],
    )
    .unwrap();
    assert_eq!(tollgate(&["audit", "verify", "--ledger", db_arg]).0, 0);
    rw.execute("DELETE FROM requests WHERE id = 2", []).unwrap();
    let (code, out) = tollgate(&["audit", "verify", "--ledger", db_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("BROKEN at row 3") && out.contains("missing"),
        "{out}"
    );
    // Deleting the newest row leaves a valid but shorter chain: the recorded head shows it.
    rw.execute("DELETE FROM requests WHERE id >= 2", [])
        .unwrap();
    assert_eq!(tollgate(&["audit", "verify", "--ledger", db_arg]).0, 0);
    let (code, out) = tollgate(&[
        "audit",
        "verify",
        "--ledger",
        db_arg,
        "--expect-head",
        &head,
    ]);
    assert_eq!(code, 1, "{out}");
}

#[tokio::test]
async fn the_audit_names_requests_sent_out_in_clear() {
    // A deployment that lets confidential data out to the closed API: the audit says so.
    let (_cloud, _local, gw) = start(
        "\n[zones]\nexternal = \"confidential\"\n",
        Behavior::answer("from the cloud"),
    )
    .await;
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", &format!("Reply to {}", EMAILS[1]), false),
        )
        .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
    let db = ledger(&gw);
    wait_rows(&db, 1);
    let (code, out) = tollgate(&["audit", "--ledger", db.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("1 in clear") && out.contains("IN CLEAR"),
        "{out}"
    );
    let (code, out) = tollgate(&[
        "audit",
        "--ledger",
        db.to_str().unwrap(),
        "--min-class",
        "restricted",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 in clear"), "{out}");
}
