//! Properties of what parses bytes from outside: the SSE parser and the chat-request parser
//! never panic on any input, and the SSE parser finds the same events however the bytes are
//! cut. Bounded by proptest's case count, so they run in every test run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use tollgate_adapters::sse::SseParser;
use tollgate_adapters::{ChatRequest, Event};

/// SSE text made of the lines upstreams send, including comments, other fields, both line
/// endings and stray carriage returns.
fn sse_text() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        "data: \\{\"choices\":\\[\\{\"delta\":\\{\"content\":\"[a-z ]{0,8}\"\\}\\}\\]\\}"
            .prop_map(String::from),
        Just("data: [DONE]".to_string()),
        Just("data:".to_string()),
        ": keep-alive".prop_map(String::from),
        "event: [a-z]{1,6}".prop_map(String::from),
        "id: [0-9]{1,3}".prop_map(String::from),
        Just(String::new()),
        "[ -~]{0,12}".prop_map(String::from),
    ];
    let eol = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    prop::collection::vec((line, eol), 0..24).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(l, e)| format!("{l}{e}").into_bytes())
            .collect()
    })
}

fn events_of(chunks: &[&[u8]]) -> (Vec<Event>, bool) {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for c in chunks {
        parser.push(c, &mut out);
    }
    (out, parser.has_partial_event())
}

proptest! {
    #[test]
    fn sse_events_do_not_depend_on_where_the_bytes_are_cut(
        text in sse_text(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let whole = events_of(&[&text]);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(text.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for c in at {
            pieces.push(&text[start..c]);
            start = c;
        }
        pieces.push(&text[start..]);
        prop_assert_eq!(events_of(&pieces), whole);
    }

    #[test]
    fn the_sse_parser_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = events_of(&[&bytes]);
    }

    #[test]
    fn the_request_parser_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = ChatRequest::parse(&bytes);
    }

    #[test]
    fn the_request_parser_takes_any_json_shape(
        model in prop_oneof![Just(serde_json::json!("auto")), Just(serde_json::json!(3)), Just(serde_json::Value::Null)],
        content in prop_oneof![
            Just(serde_json::json!("hi")),
            Just(serde_json::json!([{"type": "text", "text": "hi"}])),
            Just(serde_json::json!([{"type": "image_url", "image_url": {"url": "data:x"}}])),
            Just(serde_json::json!({"nested": [1, 2]})),
            Just(serde_json::Value::Null),
        ],
        role in prop_oneof![Just("user"), Just("system"), Just("tool"), Just("nobody")],
        stream in prop_oneof![Just(serde_json::json!(true)), Just(serde_json::json!("yes"))],
        extra in prop::collection::btree_map("[a-z_]{1,12}", prop_oneof![
            Just(serde_json::json!(1)), Just(serde_json::json!(-1.5)), Just(serde_json::json!("x")),
            Just(serde_json::json!([])), Just(serde_json::json!({}))
        ], 0..4),
    ) {
        let mut body = serde_json::json!({
            "model": model,
            "messages": [{"role": role, "content": content}],
            "stream": stream,
        });
        for (k, v) in extra {
            body[k] = v;
        }
        let _ = ChatRequest::parse(body.to_string().as_bytes());
    }
}
