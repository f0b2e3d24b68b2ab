//! One contract, every backend kind. Each kind joins the battery with a [`Kit`] that builds it
//! (the OpenAI-compatible client against the faithful fake upstream, the on-device engine on a
//! generated tiny model); every test below then runs against each kit, so a new kind only has
//! to add its kit:
//! - a non-streamed answer is a `chat.completion` with a finish reason and exact usage;
//! - a stream starts with the assistant's role, carries one finish chunk, ends with the usage
//!   chunk and `[DONE]`, and counts the same prompt tokens as the non-streamed answer;
//! - a request the backend cannot serve is refused with a 4xx that does not fail over;
//! - a backend that stalls fails with a labelled timeout (kinds that can stall);
//! - a stream whose reader goes away is cancelled at the backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tollgate_adapters::on_device::{OnDevice, OnDeviceConfig};
use tollgate_adapters::openai_compat::{OpenAiCompat, OpenAiCompatConfig};
use tollgate_adapters::synth::{synth, Preset, WeightType};
use tollgate_adapters::{AttemptError, Backend, ChatRequest, Event, Reply, Timeouts, Usage};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};

/// A backend kind under test, and what it takes to make it misbehave.
enum Kit {
    Http(FakeOpenAi),
    OnDevice,
}

impl Kit {
    fn name(&self) -> &'static str {
        match self {
            Kit::Http(_) => "openai_compat",
            Kit::OnDevice => "on_device",
        }
    }

    /// The backend, with short timeouts where it has them.
    fn backend(&self) -> Backend {
        match self {
            Kit::Http(fake) => Backend::OpenAiCompat(
                OpenAiCompat::new(OpenAiCompatConfig {
                    name: "fake".into(),
                    base_url: fake.base_url(),
                    api_key: Some("sk-test".into()),
                    missing_key_env: None,
                    headers: Vec::new(),
                    timeouts: Timeouts {
                        connect_ms: 500,
                        first_byte_ms: 400,
                        idle_ms: 400,
                        total_ms: 5000,
                    },
                })
                .unwrap(),
            ),
            Kit::OnDevice => {
                let mut cfg = OnDeviceConfig::new(tiny_model());
                cfg.n_ctx = 512;
                cfg.n_threads = 1;
                cfg.n_parallel = 2;
                cfg.queue = 4;
                Backend::OnDevice(OnDevice::load("tiny", &cfg).unwrap())
            }
        }
    }

    /// A request this kind refuses without failing over.
    fn refused_request(&self) -> ChatRequest {
        match self {
            // The upstream is the judge: the fake answers it with a 400 error body.
            Kit::Http(fake) => {
                fake.set_behavior(Behavior::Status {
                    status: 400,
                    retry_after: None,
                });
                chat(json!({}))
            }
            // The engine cannot return several choices.
            Kit::OnDevice => chat(json!({"n": 2})),
        }
    }

    /// Makes the next attempt stall before its first byte, where this kind can stall.
    fn stall(&self) -> bool {
        match self {
            Kit::Http(fake) => {
                fake.set_behavior(Behavior::Answer {
                    reply: "late".into(),
                    stream_usage: true,
                    head_delay: Duration::from_secs(3),
                    event_gap: Duration::ZERO,
                });
                true
            }
            // In-process: nothing between the gateway and the model can hang.
            Kit::OnDevice => false,
        }
    }

    /// A stream long enough to abandon half-way.
    fn slow_stream(&self) -> ChatRequest {
        if let Kit::Http(fake) = self {
            fake.set_behavior(Behavior::Answer {
                reply: "one two three four five six seven eight nine ten".into(),
                stream_usage: true,
                head_delay: Duration::ZERO,
                event_gap: Duration::from_millis(100),
            });
        }
        chat(json!({"stream": true, "max_tokens": 200}))
    }

    /// Waits until the backend has noticed that a stream's reader went away.
    async fn saw_cancellation(&self, backend: &Backend) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let done = match (self, backend) {
                (Kit::Http(fake), _) => fake.cancelled() > 0,
                (Kit::OnDevice, Backend::OnDevice(e)) => {
                    let s = e.stats();
                    s.active_sequences == 0 && s.queued == 0
                }
                _ => false,
            };
            if done {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

fn tiny_model() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance");
        let path = dir.join("tiny-q8_0-seed1.gguf");
        synth(Preset::Tiny, WeightType::Q8_0, 1, &path).unwrap();
        path
    })
}

async fn kits() -> Vec<Kit> {
    vec![
        Kit::Http(FakeOpenAi::start(Behavior::answer("Hello from the fake upstream")).await),
        Kit::OnDevice,
    ]
}

fn chat(extra: Value) -> ChatRequest {
    let mut body = json!({
        "model": "m",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "Say hello to the world."}]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    ChatRequest::parse(&serde_json::to_vec(&body).unwrap()).unwrap()
}

fn model(kit: &Kit) -> &'static str {
    match kit {
        Kit::Http(_) => "m",
        Kit::OnDevice => "tiny",
    }
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
