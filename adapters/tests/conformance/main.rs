//! One contract, every backend kind. Each kind joins the battery with a [`Kit`] that builds it
//! (the OpenAI-compatible client against the faithful fake upstream, the on-device engine on a
//! generated tiny model); every test below then runs against each kit, so a new kind only has
//! to add its kit:
//! - a non-streamed answer is a `chat.completion` with a finish reason and exact usage;
//! - a stream starts with the assistant's role, carries one finish chunk, ends with the usage
//!   chunk and `[DONE]`, and counts the same prompt tokens as the non-streamed answer;
//! - a request the backend cannot serve is refused with a 4xx that does not fail over;
//! - a backend that stalls fails with a labelled timeout (kinds that can stall);
//! - a stream whose reader goes away is cancelled at the backend;
//! - tool calls round-tripped whole and streamed;
//! - and, for the kinds behind an HTTP upstream (OpenAI-compatible, Azure OpenAI, Anthropic,
//!   Gemini): usage counted exactly as the vendor reported it, cache reads and writes included;
//!   `max_tokens` ending with `length`; overload,
//!   rate limits, garbage and mid-stream errors before any content failing over; a failure
//!   after content ending the stream with an error and no `[DONE]`; vendor error bodies in
//!   OpenAI's shape; and each vendor's own credentials, headers and URLs on the wire.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kits;

use futures_util::StreamExt;
use kits::{chat, http_kits, kits, Kit, Wire};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tollgate_adapters::{AttemptError, Backend, Event, Reply, Usage};
use tollgate_e2e::fake_openai::Behavior;

fn model(kit: &Kit) -> &'static str {
    kit.model()
}

#[tokio::test]
async fn a_whole_answer_is_a_chat_completion_with_exact_usage() {
    for kit in kits().await {
        let b = kit.backend();
        let Reply::Complete(c) = b.chat(&chat(json!({})), model(&kit)).await.unwrap() else {
            panic!("{}: expected a whole answer", kit.name());
        };
        let v: Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(v["object"], "chat.completion", "{}", kit.name());
        assert!(
            v["choices"][0]["message"]["content"].is_string(),
            "{}",
            kit.name()
        );
        let finish = v["choices"][0]["finish_reason"].as_str().unwrap();
        assert!(
            ["stop", "length"].contains(&finish),
            "{}: {finish}",
            kit.name()
        );
        let usage = c.usage.expect("usage");
        assert!(
            usage.prompt_tokens > 0 && usage.completion_tokens > 0,
            "{}",
            kit.name()
        );
        assert_eq!(
            v["usage"]["prompt_tokens"],
            usage.prompt_tokens,
            "{}",
            kit.name()
        );
        assert_eq!(v["usage"]["completion_tokens"], usage.completion_tokens);
    }
}

/// Every event of a stream, checked for framing: role first, one finish, usage, `[DONE]`.
async fn stream_usage(kit: &Kit, b: &Backend) -> Usage {
    let req = chat(json!({"stream": true, "stream_options": {"include_usage": true}}));
    let Reply::Stream(mut s) = b.chat(&req, model(kit)).await.unwrap() else {
        panic!("{}: expected a stream", kit.name());
    };
    let mut chunks: Vec<Value> = Vec::new();
    let mut done = false;
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            Event::Data(d) => {
                assert!(!done, "{}: data after [DONE]", kit.name());
                chunks.push(serde_json::from_slice(&d).unwrap());
            }
            Event::Done => done = true,
        }
    }
    let k = kit.name();
    assert!(done, "{k}: no [DONE]");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"),
        "{k}"
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant", "{k}");
    let finishes = chunks
        .iter()
        .filter(|c| c["choices"][0]["finish_reason"].is_string())
        .count();
    assert_eq!(finishes, 1, "{k}: one finish chunk");
    let last = chunks.last().unwrap();
    assert_eq!(
        last["choices"],
        json!([]),
        "{k}: the usage chunk comes last"
    );
    Usage::from_openai_json(&serde_json::to_vec(last).unwrap()).unwrap()
}

#[tokio::test]
async fn a_stream_is_framed_like_openai_and_counts_like_the_whole_answer() {
    for kit in kits().await {
        let b = kit.backend();
        let streamed = stream_usage(&kit, &b).await;
        let Reply::Complete(c) = b.chat(&chat(json!({})), model(&kit)).await.unwrap() else {
            panic!("expected a whole answer");
        };
        assert_eq!(
            streamed.prompt_tokens,
            c.usage.unwrap().prompt_tokens,
            "{}: the same prompt counts the same",
            kit.name()
        );
        assert!(streamed.completion_tokens > 0);
    }
}

#[tokio::test]
async fn what_a_backend_cannot_serve_is_refused_without_failover() {
    for kit in kits().await {
        let b = kit.backend();
        let req = kit.refused_request();
        let err = b.chat(&req, model(&kit)).await.unwrap_err();
        assert!(!err.may_fail_over(), "{}: {err:?}", kit.name());
        let status = match &err {
            AttemptError::Status { status, .. } | AttemptError::Rejected { status, .. } => *status,
            other => panic!("{}: expected a refusal, got {other:?}", kit.name()),
        };
        assert!((400..500).contains(&status), "{}: {status}", kit.name());
    }
}

#[tokio::test]
async fn a_stalled_backend_fails_with_a_labelled_timeout() {
    let mut checked = 0;
    for kit in kits().await {
        if !kit.stall() {
            continue;
        }
        let b = kit.backend();
        let started = Instant::now();
        let err = b.chat(&chat(json!({})), model(&kit)).await.unwrap_err();
        assert_eq!(err.label(), "timeout_first_byte", "{}: {err:?}", kit.name());
        assert!(err.may_fail_over());
        assert!(started.elapsed() < Duration::from_secs(2), "{}", kit.name());
        checked += 1;
    }
    assert!(checked > 0, "at least one kind can stall");
}

#[tokio::test]
async fn a_stream_whose_reader_leaves_is_cancelled_at_the_backend() {
    for kit in kits().await {
        let b = kit.backend();
        let Reply::Stream(mut s) = b.chat(&kit.slow_stream(), model(&kit)).await.unwrap() else {
            panic!("expected a stream");
        };
        assert!(
            matches!(s.next().await, Some(Ok(Event::Data(_)))),
            "{}",
            kit.name()
        );
        drop(s);
        assert!(
            kit.saw_cancellation(&b).await,
            "{}: the backend kept generating for nobody",
            kit.name()
        );
    }
}

/// A whole answer, or panics naming the kit.
async fn whole(kit: &Kit, b: &Backend, req: &tollgate_adapters::ChatRequest) -> (Value, Usage) {
    match b.chat(req, kit.model()).await {
        Ok(Reply::Complete(c)) => (
            serde_json::from_slice(&c.body).unwrap(),
            c.usage.unwrap_or_default(),
        ),
        Ok(Reply::Stream(_)) => panic!("{}: a stream for a whole answer", kit.name()),
        Err(e) => panic!("{}: {e:?}", kit.name()),
    }
}

/// A stream's chunks, whether it ended with `[DONE]`, and the error it ended with.
async fn drain(
    kit: &Kit,
    b: &Backend,
    req: &tollgate_adapters::ChatRequest,
) -> (Vec<Value>, bool, Option<AttemptError>) {
    let mut s = match b.chat(req, kit.model()).await {
        Ok(Reply::Stream(s)) => s,
        Ok(Reply::Complete(_)) => panic!("{}: a whole answer for a stream", kit.name()),
        Err(e) => return (vec![], false, Some(e)),
    };
    let (mut chunks, mut done) = (Vec::new(), false);
    while let Some(ev) = s.next().await {
        match ev {
            Ok(Event::Data(d)) => chunks.push(serde_json::from_slice(&d).unwrap()),
            Ok(Event::Done) => done = true,
            Err(e) => return (chunks, done, Some(e)),
        }
    }
    (chunks, done, None)
}

fn streamed_usage(chunks: &[Value]) -> Usage {
    let last = chunks.last().expect("chunks");
    Usage::from_openai_json(last.to_string().as_bytes()).expect("a usage chunk")
}

#[tokio::test]
async fn usage_is_exactly_what_the_vendor_counted_cache_included() {
    for kit in http_kits().await {
        let (fake, k) = (kit.fake().unwrap(), kit.name());
        let b = kit.backend();
        // "Say hello to the world." and "Hello from the fake upstream": five words each.
        let (v, u) = whole(&kit, &b, &chat(json!({}))).await;
        assert_eq!((u.prompt_tokens, u.completion_tokens), (5, 5), "{k}");
        assert_eq!(v["usage"]["total_tokens"], 10, "{k}");
        let (chunks, done, err) = drain(&kit, &b, &chat(json!({"stream": true}))).await;
        assert!(done && err.is_none(), "{k}: {err:?}");
        let su = streamed_usage(&chunks);
        assert_eq!((su.prompt_tokens, su.completion_tokens), (5, 5), "{k}");
        // A prompt partly read from and written to the vendor's cache: the prompt still counts
        // every input token; the cached ones are said apart.
        fake.set_cache_tokens(2, 1);
        let (v, u) = whole(&kit, &b, &chat(json!({}))).await;
        assert_eq!((u.prompt_tokens, u.cached_tokens), (5, 1), "{k}");
        assert_eq!(
            v["usage"]["prompt_tokens_details"]["cached_tokens"], 1,
            "{k}"
        );
        let writes = if matches!(kit, Kit::Http(Wire::Anthropic, _)) {
            2
        } else {
            0
        };
        assert_eq!(u.cache_write_tokens, writes, "{k}: cache writes");
        let (chunks, _, _) = drain(&kit, &b, &chat(json!({"stream": true}))).await;
        assert_eq!(streamed_usage(&chunks), u, "{k}: streamed as whole");
    }
}

#[tokio::test]
async fn gemini_thinking_tokens_are_completion_tokens() {
    let kit = http_kits()
        .await
        .into_iter()
        .find(|k| matches!(k, Kit::Http(Wire::Gemini, _)))
        .unwrap();
    kit.fake().unwrap().set_thoughts_tokens(7);
    let b = kit.backend();
    let (v, u) = whole(&kit, &b, &chat(json!({}))).await;
    assert_eq!(u.completion_tokens, 12);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        7
    );
}

/// A request that must call `get_weather`, whose one argument is an enum: a vendor's fake is
/// told to call it, and the on-device engine, whose random-weight model cannot be told what to
/// say, is held to that form by its grammar.
fn tools_request(extra: Value) -> tollgate_adapters::ChatRequest {
    let mut body = json!({
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "The weather.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string",
                "enum": ["Oslo", "Bergen"]}}, "required": ["city"],
                "additionalProperties": false}}}],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "max_tokens": 400,
        "temperature": 0,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    chat(body)
}

#[tokio::test]
async fn tool_calls_round_trip_whole_and_streamed() {
    for kit in kits().await {
        let k = kit.name();
        if let Some(fake) = kit.fake() {
            fake.set_behavior(Behavior::Tools {
                name: "get_weather".into(),
                arguments: r#"{"city":"Oslo"}"#.into(),
                reply: "Done".into(),
            });
        }
        let oslo_or_bergen = |args: &Value| {
            assert!(
                args == &json!({"city": "Oslo"}) || args == &json!({"city": "Bergen"}),
                "{k}: {args}"
            )
        };
        let b = kit.backend();
        let (v, _) = whole(&kit, &b, &tools_request(json!({}))).await;
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "{k}");
        let call = choice["message"]["tool_calls"][0].clone();
        assert_eq!(call["type"], "function", "{k}");
        assert_eq!(call["function"]["name"], "get_weather", "{k}");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        oslo_or_bergen(&args);
        // The tool's result goes back, and the model answers from it.
        let follow = tools_request(json!({"tool_choice": "auto", "max_tokens": 8, "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "12C"}]}));
        let (v, _) = whole(&kit, &b, &follow).await;
        if kit.fake().is_some() {
            assert_eq!(
                v["choices"][0]["message"]["content"], "Done tool said: 12C",
                "{k}"
            );
            assert_eq!(v["choices"][0]["finish_reason"], "stop", "{k}");
        } else {
            // Random weights: a reply or another call, by the grammar, cut at 8 tokens or not.
            let finish = v["choices"][0]["finish_reason"].as_str().unwrap();
            assert!(["stop", "length", "tool_calls"].contains(&finish), "{v}");
        }
        // Streamed: the call's pieces carry its index; joined, they are the same call.
        let (chunks, done, err) = drain(&kit, &b, &tools_request(json!({"stream": true}))).await;
        assert!(done && err.is_none(), "{k}: {err:?}");
        let (mut name, mut arguments, mut finish) = (String::new(), String::new(), None);
        for c in &chunks {
            for tc in c["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert_eq!(tc["index"], 0, "{k}");
                name.push_str(tc["function"]["name"].as_str().unwrap_or(""));
                arguments.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
            }
            if let Some(f) = c["choices"][0]["finish_reason"].as_str() {
                finish = Some(f.to_string());
            }
        }
        assert_eq!(name, "get_weather", "{k}");
        let args: Value = serde_json::from_str(&arguments).unwrap();
        oslo_or_bergen(&args);
        assert_eq!(finish.as_deref(), Some("tool_calls"), "{k}");
    }
}

#[tokio::test]
async fn max_tokens_ends_with_length() {
    for kit in kits().await {
        let k = kit.name();
        let b = kit.backend();
        let Some(fake) = kit.fake() else {
            // A random-weight model may end on its own before the limit; it never passes it,
            // and reaching it is `length`.
            let (v, u) = whole(&kit, &b, &chat(json!({"max_tokens": 2}))).await;
            assert!(u.completion_tokens <= 2, "{k}");
            if u.completion_tokens == 2 {
                assert_eq!(v["choices"][0]["finish_reason"], "length", "{k}");
            }
            continue;
        };
        fake.set_honor_max_tokens(true);
        let (v, u) = whole(&kit, &b, &chat(json!({"max_tokens": 2}))).await;
        assert_eq!(v["choices"][0]["finish_reason"], "length", "{k}");
        assert_eq!(u.completion_tokens, 2, "{k}");
        let (chunks, done, _) =
            drain(&kit, &b, &chat(json!({"max_tokens": 2, "stream": true}))).await;
        assert!(done, "{k}");
        let finish: Vec<_> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
            .collect();
        assert_eq!(finish, ["length"], "{k}");
    }
}

#[tokio::test]
async fn overload_and_garbage_before_content_fail_over() {
    for kit in http_kits().await {
        let (fake, k) = (kit.fake().unwrap(), kit.name());
        let b = kit.backend();
        let overload = if matches!(kit, Kit::Http(Wire::Anthropic, _)) {
            529
        } else {
            503
        };
        for (behavior, label) in [
            (
                Behavior::Status {
                    status: 429,
                    retry_after: Some(7),
                },
                "upstream_429",
            ),
            (
                Behavior::Status {
                    status: overload,
                    retry_after: None,
                },
                "upstream_5xx",
            ),
            (
                Behavior::Garbage {
                    content_type: "text/html",
                    body: "<html>bad gateway</html>",
                },
                "protocol",
            ),
        ] {
            fake.set_behavior(behavior);
            for stream in [false, true] {
                let err = match b.chat(&chat(json!({"stream": stream})), kit.model()).await {
                    Err(e) => e,
                    Ok(Reply::Stream(mut s)) => match s.next().await {
                        Some(Err(e)) => e,
                        other => panic!("{k}: {label} streamed as {other:?}"),
                    },
                    Ok(Reply::Complete(c)) => panic!("{k}: {label} answered {:?}", c.body),
                };
                assert!(err.may_fail_over(), "{k} {label} stream={stream}: {err:?}");
                assert_eq!(err.label(), label, "{k} stream={stream}: {err:?}");
            }
        }
        // A rate limit's Retry-After reaches the gateway where the vendor sends the header.
        fake.set_behavior(Behavior::Status {
            status: 429,
            retry_after: Some(7),
        });
        if let Err(AttemptError::Status { retry_after, .. }) =
            b.chat(&chat(json!({})), kit.model()).await
        {
            if !matches!(kit, Kit::Http(Wire::Gemini, _)) {
                assert_eq!(retry_after, Some(7), "{k}");
            }
        }
        // An error event before any content: nothing reached the client, so it fails over.
        fake.set_behavior(Behavior::StreamError { events: 0 });
        let (chunks, done, err) = drain(&kit, &b, &chat(json!({"stream": true}))).await;
        let content: Vec<_> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .filter(|t| !t.is_empty())
            .collect();
        assert!(content.is_empty() && !done, "{k}");
        let err = err.unwrap_or_else(|| panic!("{k}: no error"));
        assert!(err.may_fail_over(), "{k}: {err:?}");
    }
}

#[tokio::test]
async fn a_failure_after_content_ends_the_stream_with_an_error() {
    for kit in http_kits().await {
        let (fake, k) = (kit.fake().unwrap(), kit.name());
        let b = kit.backend();
        for behavior in [
            Behavior::StreamError { events: 2 },
            Behavior::CutAfter { events: 2 },
            Behavior::EndWithoutDone { events: 2 },
        ] {
            fake.set_behavior(behavior.clone());
            let (chunks, done, err) = drain(&kit, &b, &chat(json!({"stream": true}))).await;
            assert!(!chunks.is_empty(), "{k} {behavior:?}: content came first");
            assert!(!done, "{k} {behavior:?}: a failed stream never says [DONE]");
            // OpenAI's own stream just stops at a clean end without [DONE]; the pipeline
            // reads that as a cut. The translating kinds know their end marker and say so.
            let plain_end = matches!(behavior, Behavior::EndWithoutDone { .. })
                && matches!(kit, Kit::Http(Wire::OpenAi | Wire::Azure, _));
            assert!(plain_end || err.is_some(), "{k} {behavior:?}");
        }
    }
}

#[tokio::test]
async fn vendor_errors_reach_the_client_in_openai_shape() {
    for kit in http_kits().await {
        let k = kit.name();
        let b = kit.backend();
        let err = b
            .chat(&kit.refused_request(), kit.model())
            .await
            .unwrap_err();
        let AttemptError::Status { status, body, .. } = &err else {
            panic!("{k}: {err:?}")
        };
        assert_eq!(*status, 400, "{k}");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{k}: {v}"
        );
    }
}

#[tokio::test]
async fn each_vendor_gets_its_own_credentials_and_urls() {
    for kit in http_kits().await {
        let (fake, k) = (kit.fake().unwrap(), kit.name());
        let b = kit.backend();
        whole(&kit, &b, &chat(json!({}))).await;
        drain(&kit, &b, &chat(json!({"stream": true}))).await;
        let got = fake.received();
        assert_eq!(got.len(), 2, "{k}");
        let (whole_req, stream_req) = (&got[0], &got[1]);
        match kit {
            Kit::Http(Wire::OpenAi, _) => {
                assert_eq!(whole_req.uri, "/v1/chat/completions");
                assert_eq!(whole_req.authorization.as_deref(), Some("Bearer sk-test"));
            }
            Kit::Http(Wire::Azure, _) => {
                assert_eq!(
                    whole_req.uri,
                    "/openai/deployments/dep-m/chat/completions?api-version=2024-10-21"
                );
                assert_eq!(whole_req.header("api-key"), Some("az-test"));
                assert_eq!(whole_req.authorization, None);
            }
            Kit::Http(Wire::Anthropic, _) => {
                assert_eq!(whole_req.uri, "/v1/messages");
                assert_eq!(whole_req.header("x-api-key"), Some("sk-ant-test"));
                assert_eq!(whole_req.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(whole_req.body["max_tokens"], 8);
                assert_eq!(stream_req.body["stream"], true);
            }
            Kit::Http(Wire::Gemini, _) => {
                assert_eq!(whole_req.uri, "/v1beta/models/m:generateContent");
                assert_eq!(
                    stream_req.uri,
                    "/v1beta/models/m:streamGenerateContent?alt=sse"
                );
                assert_eq!(whole_req.header("x-goog-api-key"), Some("g-test"));
                assert_eq!(whole_req.body["generationConfig"]["maxOutputTokens"], 8);
            }
            Kit::OnDevice => unreachable!(),
        }
    }
}
