//! The backend kinds under test, each with what it takes to build it against its faithful fake
//! (or, on-device, a generated tiny model) and to make it misbehave.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tollgate_adapters::anthropic::{Anthropic, AnthropicConfig};
use tollgate_adapters::gemini::{Gemini, GeminiConfig};
use tollgate_adapters::on_device::{OnDevice, OnDeviceConfig};
use tollgate_adapters::openai_compat::{AzureConfig, OpenAiCompat, OpenAiCompatConfig};
use tollgate_adapters::synth::{synth, Preset, WeightType};
use tollgate_adapters::upstream::{Credential, UpstreamConfig};
use tollgate_adapters::{Backend, ChatRequest, Timeouts};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};

/// A vendor wire format an HTTP kit speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Azure,
    Anthropic,
    Gemini,
}

/// A backend kind under test.
pub enum Kit {
    Http(Wire, FakeOpenAi),
    OnDevice,
}

/// Every kind, each with its own fake answering `Hello from the fake upstream`.
pub async fn kits() -> Vec<Kit> {
    let mut kits = Vec::new();
    for wire in [Wire::OpenAi, Wire::Azure, Wire::Anthropic, Wire::Gemini] {
        let fake = FakeOpenAi::start(Behavior::answer("Hello from the fake upstream")).await;
        kits.push(Kit::Http(wire, fake));
    }
    kits.push(Kit::OnDevice);
    kits
}

/// The HTTP kinds only: what needs a misbehaving upstream.
pub async fn http_kits() -> Vec<Kit> {
    kits()
        .await
        .into_iter()
        .filter(|k| k.fake().is_some())
        .collect()
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect_ms: 500,
        first_byte_ms: 400,
        idle_ms: 400,
        total_ms: 5000,
    }
}

fn upstream(header: &'static str, value: &str) -> UpstreamConfig {
    UpstreamConfig {
        name: "fake".into(),
        credential: Some(Credential {
            header,
            value: value.into(),
        }),
        missing_key_env: None,
        headers: Vec::new(),
        timeouts: timeouts(),
    }
}

impl Kit {
    pub fn name(&self) -> &'static str {
        match self {
            Kit::Http(Wire::OpenAi, _) => "openai_compat",
            Kit::Http(Wire::Azure, _) => "azure_openai",
            Kit::Http(Wire::Anthropic, _) => "anthropic",
            Kit::Http(Wire::Gemini, _) => "gemini",
            Kit::OnDevice => "on_device",
        }
    }

    pub fn fake(&self) -> Option<&FakeOpenAi> {
        match self {
            Kit::Http(_, fake) => Some(fake),
            Kit::OnDevice => None,
        }
    }

    /// The backend, with short timeouts where it has them.
    pub fn backend(&self) -> Backend {
        match self {
            Kit::Http(Wire::OpenAi, fake) => Backend::OpenAiCompat(
                OpenAiCompat::new(OpenAiCompatConfig {
                    base_url: fake.base_url(),
                    azure: None,
                    upstream: upstream("authorization", "Bearer sk-test"),
                })
                .unwrap(),
            ),
            Kit::Http(Wire::Azure, fake) => Backend::OpenAiCompat(
                OpenAiCompat::new(OpenAiCompatConfig {
                    base_url: fake.root_url(),
                    azure: Some(AzureConfig {
                        api_version: "2024-10-21".into(),
                        deployments: vec![("m".into(), "dep-m".into())],
                    }),
                    upstream: upstream("api-key", "az-test"),
                })
                .unwrap(),
            ),
            Kit::Http(Wire::Anthropic, fake) => Backend::Anthropic(
                Anthropic::new(AnthropicConfig {
                    base_url: fake.base_url(),
                    version: "2023-06-01".into(),
                    beta: vec![],
                    default_max_tokens: 1024,
                    upstream: upstream("x-api-key", "sk-ant-test"),
                })
                .unwrap(),
            ),
            Kit::Http(Wire::Gemini, fake) => Backend::Gemini(
                Gemini::new(GeminiConfig {
                    base_url: format!("{}/v1beta", fake.root_url()),
                    upstream: upstream("x-goog-api-key", "g-test"),
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

    /// The model name the backend is asked for.
    pub fn model(&self) -> &'static str {
        match self {
            Kit::Http(..) => "m",
            Kit::OnDevice => "tiny",
        }
    }

    /// A request this kind refuses without failing over.
    pub fn refused_request(&self) -> ChatRequest {
        match self {
            // The upstream is the judge: the fake answers it with a 400 error body.
            Kit::Http(_, fake) => {
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
    pub fn stall(&self) -> bool {
        match self {
            Kit::Http(_, fake) => {
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
    pub fn slow_stream(&self) -> ChatRequest {
        if let Kit::Http(_, fake) = self {
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
    pub async fn saw_cancellation(&self, backend: &Backend) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let done = match (self, backend) {
                (Kit::Http(_, fake), _) => fake.cancelled() > 0,
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

/// A chat request: one user message, 8 tokens at most, with `extra` fields.
pub fn chat(extra: Value) -> ChatRequest {
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
