//! Backends that speak OpenAI's HTTP API: closed clouds (OpenAI and compatible ones) and local
//! servers (vLLM, llama.cpp's server, Ollama, TGI, LocalAI).

use crate::embed::EmbedRequest;
use crate::error::AttemptError;
use crate::reply::{Complete, Event, Reply, Usage};
use crate::request::ChatRequest;
use crate::timeouts;
use crate::upstream::{
    parse_url, read_body, sse_events, Upstream, UpstreamConfig, MAX_RESPONSE_BYTES,
};
use futures_util::StreamExt;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

/// How to reach one OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiCompatConfig {
    /// The API root, e.g. `https://api.openai.com/v1`; for Azure OpenAI the resource's
    /// endpoint, e.g. `https://NAME.openai.azure.com`.
    pub base_url: String,
    /// Azure OpenAI's deployment URLs instead of OpenAI's.
    pub azure: Option<AzureConfig>,
    /// Credentials, headers and timeouts.
    pub upstream: UpstreamConfig,
}

/// Azure OpenAI: each model is a deployment with its own URL, versioned by `api-version`.
#[derive(Debug, Clone)]
pub struct AzureConfig {
    /// The `api-version` query parameter, e.g. `2024-10-21`.
    pub api_version: String,
    /// Model name → deployment name, for every model of the backend.
    pub deployments: Vec<(String, String)>,
}

/// Where chat and embeddings requests go.
#[derive(Debug)]
enum Urls {
    /// One URL for every model: the model is named in the body.
    Shared {
        chat: http::Uri,
        embeddings: http::Uri,
    },
    /// A URL pair per model (Azure deployments).
    PerModel(Vec<(String, http::Uri, http::Uri)>),
}

/// An OpenAI-compatible backend.
#[derive(Debug)]
pub struct OpenAiCompat {
    urls: Urls,
    upstream: Upstream,
}

impl OpenAiCompat {
    /// Checks the configuration and builds the backend with its own connection pool.
    pub fn new(cfg: OpenAiCompatConfig) -> Result<Self, String> {
        let base = cfg.base_url.trim_end_matches('/');
        parse_url(base, "base_url")?;
        let urls = match &cfg.azure {
            None => Urls::Shared {
                chat: parse_url(&format!("{base}/chat/completions"), "base_url")?,
                embeddings: parse_url(&format!("{base}/embeddings"), "base_url")?,
            },
            Some(azure) => {
                let mut per_model = Vec::with_capacity(azure.deployments.len());
                for (model, deployment) in &azure.deployments {
                    let at = |op: &str| {
                        parse_url(
                            &format!(
                                "{base}/openai/deployments/{deployment}/{op}?api-version={}",
                                azure.api_version
                            ),
                            "deployment URL",
                        )
                    };
                    per_model.push((model.clone(), at("chat/completions")?, at("embeddings")?));
                }
                Urls::PerModel(per_model)
            }
        };
        Ok(OpenAiCompat {
            urls,
            upstream: Upstream::new(cfg.upstream, &[])?,
        })
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.upstream.name
    }

    fn url(&self, model: &str, embeddings: bool) -> Result<&http::Uri, AttemptError> {
        match &self.urls {
            Urls::Shared {
                chat,
                embeddings: e,
            } => Ok(if embeddings { e } else { chat }),
            Urls::PerModel(list) => list
                .iter()
                .find(|(m, _, _)| m == model)
                .map(|(_, chat, e)| if embeddings { e } else { chat })
                .ok_or_else(|| {
                    AttemptError::Unavailable(format!(
                        "backend '{}' has no deployment for model '{model}'",
                        self.name()
                    ))
                }),
        }
    }

    /// Sends one chat-completion attempt for `model`.
    pub async fn chat(&self, req: &ChatRequest, model: &str) -> Result<Reply, AttemptError> {
        let started = Instant::now();
        let body = encode_request(req, model)?;
        let url = self.url(model, false)?;
        let (response, head_after) = self.upstream.send(url, body, req.stream(), started).await?;
        if req.stream() {
            let events = sse_events(response.into_body()).map(|e| e.and_then(check_event));
            return Ok(Reply::Stream(timeouts::enforce_on_stream(
                events,
                self.upstream.timeouts,
                started,
            )));
        }
        let body = self.upstream.read_whole(response, started).await?;
        // A 200 that is not a completion is the backend's fault, found before the client
        // sees anything, so another candidate can still serve.
        let usage = Usage::from_completion(&body)
            .map_err(|e| AttemptError::Protocol(format!("the backend answered 200, but {e}")))?;
        Ok(Reply::Complete(Complete {
            body,
            usage,
            first_byte: Some(head_after),
        }))
    }

    /// Embeds every input of `req` with `model`, in batches of at most `max_batch` inputs sent
    /// one after another; the answers are merged into one.
    pub async fn embed(
        &self,
        req: &EmbedRequest,
        model: &str,
        max_batch: usize,
    ) -> Result<Complete, AttemptError> {
        let started = Instant::now();
        let url = self.url(model, true)?;
        let mut answers = Vec::new();
        let mut first_byte = None;
        for batch in req.batches(model, max_batch) {
            let body = serde_json::to_vec(&batch).map_err(|e| {
                AttemptError::Protocol(format!("could not encode the request: {e}"))
            })?;
            let (response, head_after) = self.upstream.send(url, body, false, started).await?;
            first_byte.get_or_insert(head_after);
            let body = read_body(
                response.into_body(),
                MAX_RESPONSE_BYTES,
                started,
                &self.upstream.timeouts,
            )
            .await?;
            answers.push(body);
        }
        let (body, usage) = crate::embed::merge(&answers, req.model())
            .map_err(|e| AttemptError::Protocol(format!("the backend answered 200, but {e}")))?;
        Ok(Complete {
            body,
            usage,
            first_byte,
        })
    }
}

/// The request body sent upstream for `req`, with `model` the backend's model name.
pub fn encode_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, AttemptError> {
    serde_json::to_vec(&Outgoing {
        body: &req.body,
        model,
        stream: req.stream(),
    })
    .map_err(|e| AttemptError::Protocol(format!("could not encode the request: {e}")))
}

/// The client's request object with `model` replaced by the backend's model name and, for
/// streams, usage asked for: serialized straight from the client's map, with no copy of it.
struct Outgoing<'a> {
    body: &'a Map<String, Value>,
    model: &'a str,
    stream: bool,
}

impl Serialize for Outgoing<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("model", self.model)?;
        for (k, v) in self.body {
            match k.as_str() {
                "model" | "stream_options" => {}
                _ => map.serialize_entry(k, v)?,
            }
        }
        if self.stream {
            let mut options = match self.body.get("stream_options") {
                Some(Value::Object(o)) => o.clone(),
                _ => Map::new(),
            };
            options.insert("include_usage".into(), Value::Bool(true));
            map.serialize_entry("stream_options", &options)?;
        } else if let Some(v) = self.body.get("stream_options") {
            map.serialize_entry("stream_options", v)?;
        }
        map.end()
    }
}

/// An event's data must be JSON: garbage relayed as a chunk would break the client's parser.
/// An `{"error": …}` event (OpenAI's way of failing a stream it has started) fails the attempt
/// with the error's message, rather than reaching the client as a chunk without choices.
pub fn check_event(event: Event) -> Result<Event, AttemptError> {
    let Event::Data(data) = &event else {
        return Ok(event);
    };
    if memchr::memmem::find(data, b"\"error\"").is_none() {
        serde_json::from_slice::<serde::de::IgnoredAny>(data).map_err(not_json)?;
        return Ok(event);
    }
    #[derive(serde::Deserialize)]
    struct MaybeError {
        #[serde(default)]
        error: Option<Value>,
        #[serde(default)]
        choices: Option<serde::de::IgnoredAny>,
    }
    let parsed: MaybeError = serde_json::from_slice(data).map_err(not_json)?;
    match parsed {
        MaybeError {
            error: Some(error),
            choices: None,
        } if !error.is_null() => {
            let status = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..600).contains(c))
                .unwrap_or(500);
            Err(AttemptError::Status {
                status,
                body: bytes::Bytes::from(serde_json::json!({ "error": error }).to_string()),
                retry_after: None,
            })
        }
        _ => Ok(event),
    }
}

fn not_json(e: serde_json::Error) -> AttemptError {
    AttemptError::Protocol(format!("the backend sent an event that is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_replaces_model_and_asks_usage_for_streams() {
        let body: Map<String, Value> = serde_json::from_str(
            r#"{"model":"auto","messages":[],"stream":true,"stream_options":{"include_usage":false,"x":1},"top_k":3}"#,
        )
        .unwrap();
        let out: Value = serde_json::to_value(Outgoing {
            body: &body,
            model: "gpt-4o-mini",
            stream: true,
        })
        .unwrap();
        assert_eq!(out["model"], "gpt-4o-mini");
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert_eq!(out["stream_options"]["x"], 1);
        assert_eq!(out["top_k"], 3);
        let out: Value = serde_json::to_value(Outgoing {
            body: &body,
            model: "m",
            stream: false,
        })
        .unwrap();
        assert_eq!(out["stream_options"]["include_usage"], false);
    }

    #[test]
    fn refuses_bad_base_urls() {
        let cfg = |url: &str| OpenAiCompatConfig {
            base_url: url.into(),
            azure: None,
            upstream: UpstreamConfig {
                name: "x".into(),
                credential: None,
                missing_key_env: None,
                headers: vec![],
                timeouts: crate::Timeouts::default(),
            },
        };
        assert!(OpenAiCompat::new(cfg("ftp://host/v1")).is_err());
        assert!(OpenAiCompat::new(cfg("not a url")).is_err());
    }

    #[test]
    fn azure_models_go_to_their_deployments() {
        let b = OpenAiCompat::new(OpenAiCompatConfig {
            base_url: "https://res.openai.azure.com/".into(),
            azure: Some(AzureConfig {
                api_version: "2024-10-21".into(),
                deployments: vec![("gpt-4o".into(), "prod-4o".into())],
            }),
            upstream: UpstreamConfig {
                name: "az".into(),
                credential: None,
                missing_key_env: None,
                headers: vec![],
                timeouts: crate::Timeouts::default(),
            },
        })
        .unwrap();
        assert_eq!(
            b.url("gpt-4o", false).unwrap().to_string(),
            "https://res.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"
        );
        assert!(b
            .url("gpt-4o", true)
            .unwrap()
            .path()
            .ends_with("/embeddings"));
        assert!(b.url("other", false).is_err());
    }
}
