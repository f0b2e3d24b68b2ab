//! The on-device engine against a generated tiny GGUF model run by the real llama.cpp.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tollgate_adapters::on_device::{LoadError, OnDevice, OnDeviceConfig};
use tollgate_adapters::{AttemptError, Event, Reply, Usage};

#[tokio::test]
async fn answers_in_openai_format_with_exact_usage() {
    let e = engine(|_| {});
    let req = chat(json!({"max_tokens": 9}));
    let (v, usage) = complete(&e, &req).await;
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "tiny");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert!(!choice["message"]["content"].as_str().unwrap().is_empty());
    assert_eq!(choice["finish_reason"], "length");
    assert!(choice["logprobs"].is_null());
    let prompt = e.count_prompt_tokens(&req).unwrap() as u64;
    assert_eq!(usage.prompt_tokens, prompt);
    assert_eq!(usage.completion_tokens, 9);
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": prompt, "completion_tokens": 9, "total_tokens": prompt + 9,
            "prompt_tokens_details": {"cached_tokens": 0}})
    );
    // ChatML: the special tokens count once each, the text by the tokenizer.
    let text_tokens = e.count_tokens("system\nYou are terse.")
        + e.count_tokens("user\nSay hello to the world.")
        + e.count_tokens("assistant\n");
    let specials = 2 * 2 + 1; // <|im_start|> and <|im_end|> per message, then <|im_start|>
    let newlines = 2; // after each <|im_end|>
    assert_eq!(prompt as usize, text_tokens + specials + newlines);
    wait_idle(&e).await;
}

#[tokio::test]
async fn greedy_output_is_the_same_streamed_and_not() {
    let e = engine(|_| {});
    let req = chat(json!({"max_tokens": 24, "temperature": 0}));
    let (v, usage) = complete(&e, &req).await;
    let s = streamed(
        &e,
        &chat(json!({"max_tokens": 24, "temperature": 0, "stream": true})),
    )
    .await;
    assert_eq!(
        s.pieces.concat(),
        v["choices"][0]["message"]["content"].as_str().unwrap()
    );
    assert_eq!(s.finish, "length");
    assert_eq!(
        (s.usage.prompt_tokens, s.usage.completion_tokens),
        (usage.prompt_tokens, usage.completion_tokens)
    );
    // The same prompt again: all of it but the last token comes from the KV cache.
    assert_eq!(s.usage.cached_tokens, usage.prompt_tokens - 1);
    // And again: greedy is deterministic.
    let (again, _) = complete(&e, &req).await;
    assert_eq!(again["choices"], v["choices"]);
}

#[tokio::test]
async fn max_tokens_and_max_completion_tokens_are_exact() {
    let e = engine(|_| {});
    for n in [1u64, 2, 17] {
        let (_, u) = complete(&e, &chat(json!({"max_tokens": n}))).await;
        assert_eq!(u.completion_tokens, n);
        let (_, u) = complete(&e, &chat(json!({"max_completion_tokens": n}))).await;
        assert_eq!(u.completion_tokens, n);
        let s = streamed(&e, &chat(json!({"max_tokens": n, "stream": true}))).await;
        assert_eq!(s.usage.completion_tokens, n);
        assert_eq!(s.finish, "length");
    }
}

#[tokio::test]
async fn seeded_sampling_is_reproducible() {
    let e = engine(|_| {});
    let req =
        chat(json!({"max_tokens": 16, "temperature": 1.0, "top_p": 0.95, "top_k": 50, "seed": 42}));
    let (a, _) = complete(&e, &req).await;
    let (b, _) = complete(&e, &req).await;
    assert_eq!(a["choices"], b["choices"]);
}

#[tokio::test]
async fn stop_strings_end_output_even_across_tokens() {
    let e = engine(|_| {});
    let base = json!({"max_tokens": 40, "temperature": 0, "stream": true});
    let s = streamed(&e, &chat(base.clone())).await;
    let full = s.pieces.concat();
    // A stop string made of the last character of one token's text and the first of the next.
    let i = s.pieces.iter().position(|p| !p.is_empty()).unwrap() + 2;
    let (a, b) = (&s.pieces[i], &s.pieces[i + 1]);
    let stop = format!("{}{}", a.chars().last().unwrap(), b.chars().next().unwrap());
    let expected = &full[..full.find(&stop).unwrap()];

    let mut with_stop = base.clone();
    with_stop["stop"] = json!(["never-appears", stop]);
    let st = streamed(&e, &chat(with_stop.clone())).await;
    assert_eq!(st.pieces.concat(), expected);
    assert_eq!(st.finish, "stop");
    for p in &st.pieces {
        assert!(!p.contains(&stop));
    }
    with_stop["stream"] = json!(false);
    let (v, _) = complete(&e, &chat(with_stop)).await;
    assert_eq!(v["choices"][0]["message"]["content"], expected);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn logit_bias_on_im_end_stops_generation() {
    let e = engine(|_| {});
    let (v, u) = complete(
        &e,
        &chat(json!({"max_tokens": 20, "logit_bias": {"4": 100}})),
    )
    .await;
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["choices"][0]["message"]["content"], "");
    assert_eq!(u.completion_tokens, 1);
    let s = streamed(
        &e,
        &chat(json!({"max_tokens": 20, "logit_bias": {"4": 100}, "stream": true})),
    )
    .await;
    assert_eq!(s.finish, "stop");
}

#[tokio::test]
async fn concurrent_requests_are_decoded_in_shared_batches() {
    let e = engine(|c| c.n_parallel = 4);
    let reqs: Vec<_> = (0..4)
        .map(|i| chat(json!({"max_tokens": 48, "seed": i, "stream": i % 2 == 0})))
        .collect();
    let results = futures_util::future::join_all(reqs.iter().map(|r| async {
        match e.chat(r, "tiny").await.unwrap() {
            Reply::Complete(c) => c.usage.unwrap().completion_tokens,
            Reply::Stream(s) => {
                let events: Vec<_> = s.collect().await;
                let last_data = events
                    .iter()
                    .rev()
                    .find_map(|ev| match ev {
                        Ok(Event::Data(b)) => Some(b.clone()),
                        _ => None,
                    })
                    .unwrap();
                Usage::from_openai_json(&last_data)
                    .unwrap()
                    .completion_tokens
            }
        }
    }))
    .await;
    assert_eq!(results, [48, 48, 48, 48]);
    let stats = e.stats();
    assert!(
        stats.max_batch_seen > 1,
        "no decode step carried more than one sequence: {stats:?}"
    );
    assert!(stats.max_batch_seen <= 4);
    assert!(
        stats.decode_steps < 4 * 49,
        "sequences were decoded one after another: {stats:?}"
    );
    wait_idle(&e).await;
}

#[tokio::test]
async fn a_full_queue_answers_overloaded() {
    let e = engine(|c| {
        c.n_parallel = 1;
        c.queue = 1;
        c.n_ctx = 32_768;
    });
    let long = chat(json!({"max_tokens": 30_000, "stream": true}));
    let Reply::Stream(first) = e.chat(&long, "tiny").await.unwrap() else {
        panic!("expected a stream")
    };
    let waiting = {
        let e = e.clone();
        let req = long.clone();
        tokio::spawn(async move { e.chat(&req, "tiny").await.map(|_| ()) })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while e.stats().queued < 1 {
        assert!(Instant::now() < deadline, "second request never queued");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let err = e.chat(&long, "tiny").await.unwrap_err();
    assert!(
        matches!(err, AttemptError::Overloaded { retry_after: 1 }),
        "{err:?}"
    );
    assert_eq!(e.stats().overloaded, 1);
    // Freeing the slot lets the queued request start.
    drop(first);
    waiting.await.unwrap().unwrap();
    wait_idle(&e).await;
}

#[tokio::test]
async fn dropping_a_stream_or_a_pending_request_frees_its_slot() {
    let e = engine(|c| c.n_ctx = 32_768);
    let long = chat(json!({"max_tokens": 30_000, "stream": true}));
    let Reply::Stream(mut s) = e.chat(&long, "tiny").await.unwrap() else {
        panic!("expected a stream")
    };
    s.next().await.unwrap().unwrap();
    s.next().await.unwrap().unwrap();
    assert_eq!(e.stats().active_sequences, 1);
    drop(s);
    wait_idle(&e).await;

    let blocking = chat(json!({"max_tokens": 30_000}));
    let r = tokio::time::timeout(Duration::from_millis(20), e.chat(&blocking, "tiny")).await;
    assert!(r.is_err(), "30000 tokens cannot be done in 20 ms");
    wait_idle(&e).await;
    // The engine still serves afterwards.
    let (_, u) = complete(&e, &chat(json!({"max_tokens": 3}))).await;
    assert_eq!(u.completion_tokens, 3);
}

#[tokio::test]
async fn streamed_chunks_are_whole_utf8_text() {
    let e = engine(|_| {});
    for seed in 0..4 {
        let s = streamed(
            &e,
            &chat(json!({"max_tokens": 120, "seed": seed, "stream": true})),
        )
        .await;
        for p in &s.pieces {
            assert!(!p.is_empty());
            assert!(!p.contains('\u{fffd}'), "replacement character in {p:?}");
        }
    }
}

#[tokio::test]
async fn a_prompt_over_the_context_is_refused_naming_both_numbers() {
    let e = engine(|c| c.n_ctx = 64);
    let long = "hello world ".repeat(100);
    let req = request(json!({"model": "tiny", "messages": [{"role": "user", "content": long}]}));
    let n = e.count_prompt_tokens(&req).unwrap();
    let (status, message, code) = rejected(e.chat(&req, "tiny").await.unwrap_err());
    assert_eq!(status, 400);
    assert_eq!(code, "context_length_exceeded");
    assert!(message.contains(&format!("{n} tokens")), "{message}");
    assert!(message.contains("64 tokens"), "{message}");
    assert_eq!(e.stats().queued + e.stats().active_sequences, 0);
}

#[tokio::test]
async fn unsupported_requests_are_refused_with_400() {
    let e = engine(|_| {});
    let (status, message, _) = rejected(e.chat(&chat(json!({"n": 2})), "tiny").await.unwrap_err());
    assert_eq!(status, 400);
    assert!(message.contains("n = 2"), "{message}");
    let mut strict = weather_tool();
    strict["function"]["strict"] = json!(true);
    strict["function"]["parameters"]["properties"]["when"] =
        json!({"type": "string", "format": "hostname"});
    let (status, message, code) = rejected(
        e.chat(&chat(json!({"tools": [strict]})), "tiny")
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code), (400, "unsupported_schema"));
    assert!(message.contains("format"), "{message}");
    let req = request(
        json!({"model": "tiny", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        ]}]}),
    );
    let (status, _, code) = rejected(e.chat(&req, "tiny").await.unwrap_err());
    assert_eq!((status, code), (400, "unsupported_content"));
}

fn load_err(cfg: &OnDeviceConfig) -> LoadError {
    OnDevice::load("tiny", cfg).unwrap_err()
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let mut cfg = config();
    cfg.path = PathBuf::from("/nonexistent/dir/model.gguf");
    let e = load_err(&cfg);
    assert!(matches!(e, LoadError::Missing { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("/nonexistent/dir/model.gguf does not exist"),
        "{e}"
    );
}

#[test]
fn a_sha256_mismatch_refuses_to_load_and_shows_both_digests() {
    let bytes = std::fs::read(model_path()).unwrap();
    let actual = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let mut cfg = config();
    cfg.sha256 = Some("0".repeat(64));
    let e = load_err(&cfg);
    assert!(matches!(e, LoadError::Sha256Mismatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&"0".repeat(64)) && msg.contains(&actual),
        "{msg}"
    );
    cfg.sha256 = Some(actual.to_uppercase());
    OnDevice::load("tiny", &cfg).unwrap();
}

#[test]
fn truncated_and_corrupt_files_are_refused_before_llama_cpp_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(model_path()).unwrap();
    let mut cfg = config();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("half.gguf", bytes[..bytes.len() / 2].to_vec(), "truncated"),
        ("header.gguf", bytes[..200].to_vec(), "truncated"),
        ("short.gguf", bytes[..bytes.len() - 1].to_vec(), "1 missing"),
        (
            "junk.gguf",
            b"PK\x03\x04 not a model at all, just some bytes here".to_vec(),
            "bad magic",
        ),
    ];
    for (name, data, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        cfg.path = path;
        let e = load_err(&cfg);
        assert!(matches!(e, LoadError::Gguf { .. }), "{name}: {e:?}");
        assert!(e.to_string().contains(want), "{name}: {e}");
    }
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    cfg.path = empty;
    assert!(load_err(&cfg).to_string().contains("truncated"));
}

#[test]
fn count_tokens_uses_the_models_tokenizer() {
    let e = engine(|_| {});
    assert_eq!(e.count_tokens(""), 0);
    // Whole words of the generated vocabulary are single pieces.
    assert_eq!(e.count_tokens("the"), 1);
    assert_eq!(e.count_tokens("the world"), 2);
    // Special-token text is counted as plain text, never as one control token.
    assert!(e.count_tokens("<|im_end|>") > 1);
}

#[tokio::test]
async fn long_prompts_are_fed_in_chunks_with_the_same_result() {
    let whole = engine(|_| {});
    let chunked = engine(|c| c.n_batch = 16);
    let req = request(
        json!({"model": "tiny", "max_tokens": 12, "temperature": 0, "messages": [
            {"role": "user", "content": "the model and the data, the token and the text ".repeat(4)}
        ]}),
    );
    assert!(whole.count_prompt_tokens(&req).unwrap() > 3 * 16);
    let (a, _) = complete(&whole, &req).await;
    let (b, _) = complete(&chunked, &req).await;
    assert_eq!(a["choices"], b["choices"]);
    assert!(chunked.stats().decode_steps >= 3 + 11);
}

#[tokio::test]
async fn the_backend_enum_dispatches_to_the_engine() {
    let backend = tollgate_adapters::Backend::OnDevice(engine(|_| {}));
    let reply = backend
        .chat(&chat(json!({"max_tokens": 2})), "tiny")
        .await
        .unwrap();
    assert!(matches!(reply, Reply::Complete(_)));
}

/// A tool whose arguments leave the model no free text: a random-weight model held to its
/// grammar writes a whole call in a few dozen tokens.
/// The engine with room for the tools' description in the prompt.
fn tool_engine() -> OnDevice {
    engine(|c| c.n_ctx = 2048)
}

fn weather_tool() -> serde_json::Value {
    json!({"type": "function", "function": {"name": "weather", "description": "The weather now.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "enum": ["Oslo", "Lima"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 3}},
        "required": ["city", "days"], "additionalProperties": false}}})
}

fn clock_tool() -> serde_json::Value {
    json!({"type": "function", "function": {"name": "clock",
        "parameters": {"type": "object", "properties": {"utc": {"type": "boolean"}},
        "required": ["utc"], "additionalProperties": false}}})
}

/// Checks a call's arguments against `weather_tool`'s or `clock_tool`'s schema.
fn check_arguments(name: &str, arguments: &str) {
    let a: serde_json::Value = serde_json::from_str(arguments).unwrap();
    match name {
        "weather" => {
            assert!(
                ["Oslo", "Lima"].contains(&a["city"].as_str().unwrap()),
                "{a}"
            );
            assert!((1..=3).contains(&a["days"].as_i64().unwrap()), "{a}");
            assert_eq!(a.as_object().unwrap().len(), 2, "{a}");
        }
        "clock" => assert!(a["utc"].is_boolean(), "{a}"),
        other => panic!("a call of {other}, which was not offered"),
    }
}

#[tokio::test]
async fn a_required_tool_call_is_a_valid_call_whole_and_streamed() {
    let e = tool_engine();
    for seed in 0..4 {
        let body = json!({"tools": [weather_tool(), clock_tool()], "tool_choice": "required",
            "seed": seed, "max_tokens": 300});
        let (v, usage) = complete(&e, &chat(body.clone())).await;
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "{v}");
        assert!(choice["message"]["content"].is_null(), "{v}");
        let calls = choice["message"]["tool_calls"].as_array().unwrap();
        assert!(!calls.is_empty());
        for c in calls {
            assert!(c["id"].as_str().unwrap().starts_with("call_"), "{c}");
            assert_eq!(c["type"], "function");
            check_arguments(
                c["function"]["name"].as_str().unwrap(),
                c["function"]["arguments"].as_str().unwrap(),
            );
        }
        assert!(usage.completion_tokens > 0);

        let mut body = body;
        body["stream"] = json!(true);
        let s = streamed(&e, &chat(body)).await;
        assert_eq!(s.finish, "tool_calls");
        assert!(s.pieces.concat().is_empty(), "{:?}", s.pieces);
        // The same seed, the same answer: streaming changes only the framing.
        assert_eq!(s.calls.len(), calls.len());
        for (i, (c, whole)) in s.calls.iter().zip(calls).enumerate() {
            assert_eq!(c["index"], i);
            assert_eq!(c["function"], whole["function"]);
        }
    }
    wait_idle(&e).await;
}

#[tokio::test]
async fn a_named_tool_is_the_one_called_and_one_call_when_not_parallel() {
    let e = tool_engine();
    for seed in 0..3 {
        let (v, _) = complete(
            &e,
            &chat(
                json!({"tools": [weather_tool(), clock_tool()], "seed": seed,
                "tool_choice": {"type": "function", "function": {"name": "clock"}},
                "parallel_tool_calls": false, "max_tokens": 300}),
            ),
        )
        .await;
        let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1, "{v}");
        assert_eq!(calls[0]["function"]["name"], "clock");
        check_arguments("clock", calls[0]["function"]["arguments"].as_str().unwrap());
    }
    // The legacy form answers with `function_call`.
    let (v, _) = complete(
        &e,
        &chat(json!({"functions": [weather_tool()["function"]],
            "function_call": {"name": "weather"}, "max_tokens": 300})),
    )
    .await;
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "function_call", "{v}");
    check_arguments(
        "weather",
        choice["message"]["function_call"]["arguments"]
            .as_str()
            .unwrap(),
    );
    wait_idle(&e).await;
}

#[tokio::test]
async fn auto_answers_a_reply_or_a_call_and_a_reply_streams_as_text() {
    let e = tool_engine();
    // The reply's own schema closes it, so either form ends within the limit.
    let reply = json!({"type": "json_schema", "json_schema": {"name": "r", "schema": {
        "type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
        "additionalProperties": false}}});
    let (mut replies, mut calls) = (0, 0);
    for seed in 0..6 {
        let (v, _) = complete(
            &e,
            &chat(json!({"tools": [weather_tool()], "response_format": reply,
                "seed": seed, "max_tokens": 300})),
        )
        .await;
        let choice = &v["choices"][0];
        match choice["finish_reason"].as_str().unwrap() {
            "tool_calls" => {
                calls += 1;
                let c = &choice["message"]["tool_calls"][0]["function"];
                check_arguments("weather", c["arguments"].as_str().unwrap());
            }
            "stop" => {
                replies += 1;
                let content = choice["message"]["content"].as_str().unwrap();
                let r: serde_json::Value = serde_json::from_str(content).unwrap();
                assert!(r["ok"].is_boolean(), "{content}");
                assert!(choice["message"].get("tool_calls").is_none(), "{v}");
            }
            other => panic!("finish {other}: {v}"),
        }
    }
    assert_eq!(replies + calls, 6);
    // A free-text reply is handed out as it is generated, unescaped, and streamed the same
    // as whole: greedy decoding takes the same path both times.
    let body = json!({"tools": [weather_tool()], "temperature": 0, "max_tokens": 40});
    let (v, _) = complete(&e, &chat(body.clone())).await;
    let mut streaming = body;
    streaming["stream"] = json!(true);
    let s = streamed(&e, &chat(streaming)).await;
    let message = &v["choices"][0]["message"];
    match message["content"].as_str() {
        Some(text) => {
            assert_eq!(s.pieces.concat(), text);
            assert!(
                !text.starts_with('{'),
                "the JSON form is not handed out: {text}"
            );
        }
        None => assert_eq!(s.calls[0]["function"], message["tool_calls"][0]["function"]),
    }
    wait_idle(&e).await;
}

#[tokio::test]
async fn a_conversation_with_calls_and_results_is_served_and_tools_are_counted() {
    let e = tool_engine();
    let history = json!([
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\",\"days\":1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "12C and rain"}
    ]);
    let with_tools = request(json!({"model": "tiny", "messages": history,
        "tools": [weather_tool()], "max_tokens": 4}));
    let without = request(json!({"model": "tiny", "messages": history, "max_tokens": 4}));
    let (v, usage) = complete(&e, &with_tools).await;
    assert!(v["choices"][0]["finish_reason"].is_string(), "{v}");
    // The tools' description is part of the prompt, and counted as such.
    let counted = e.count_prompt_tokens(&with_tools).unwrap() as u64;
    assert_eq!(usage.prompt_tokens, counted);
    assert!(counted > e.count_prompt_tokens(&without).unwrap() as u64 + 20);
    // Without tools, the history is still served.
    let (v, _) = complete(&e, &without).await;
    assert!(v["choices"][0]["message"]["content"].is_string(), "{v}");
    wait_idle(&e).await;
}
