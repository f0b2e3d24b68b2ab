//! Anthropic's Messages API as a backend (`POST /v1/messages`): chat requests are translated
//! to Messages requests, and Messages answers (whole or streamed) back to chat answers, so the
//! gateway's pipeline reads every backend's answer alike.

mod answer;
mod request;
mod stream;

pub use stream::StreamDecoder;

use crate::error::AttemptError;
use crate::reply::{Complete, Reply};
use crate::request::ChatRequest;
use crate::upstream::{self, Upstream, UpstreamConfig};
use tokio::time::Instant;

/// The `anthropic-version` sent unless configured: the API's current stable version.
pub const DEFAULT_VERSION: &str = "2023-06-01";
/// The output limit sent when the client sets none: Anthropic requires one.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// How to reach the Messages API.
#[derive(Debug, Clone)]
pub struct AnthropicConfig {
    /// The API root, e.g. `https://api.anthropic.com/v1`.
    pub base_url: String,
    /// The `anthropic-version` header.
    pub version: String,
    /// `anthropic-beta` features, sent as one comma-separated header when any.
    pub beta: Vec<String>,
    /// `max_tokens` for requests that set no limit.
    pub default_max_tokens: u32,
    /// Credentials (`x-api-key`), headers and timeouts.
    pub upstream: UpstreamConfig,
}

/// An Anthropic backend.
#[derive(Debug)]
pub struct Anthropic {
    url: http::Uri,
    default_max_tokens: u32,
    beta: Vec<String>,
    upstream: Upstream,
}

impl Anthropic {
    /// Checks the configuration and builds the backend with its own connection pool.
    pub fn new(cfg: AnthropicConfig) -> Result<Anthropic, String> {
        let base = cfg.base_url.trim_end_matches('/');
        let url = upstream::parse_url(&format!("{base}/messages"), "base_url")?;
        let mut headers = vec![("anthropic-version", cfg.version)];
        if !cfg.beta.is_empty() {
            headers.push(("anthropic-beta", cfg.beta.join(",")));
        }
        Ok(Anthropic {
            url,
            default_max_tokens: cfg.default_max_tokens,
            beta: cfg.beta.clone(),
            upstream: Upstream::new(cfg.upstream, &headers)?,
        })
    }

    /// The headers a Messages client sent, for this request: its `anthropic-version`, and its
    /// `anthropic-beta` features joined to the configured ones.
    fn passed_on(&self, req: &ChatRequest) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (name, value) in &req.vendor_headers {
            match *name {
                "anthropic-version" => out.push((*name, value.clone())),
                "anthropic-beta" => {
                    let mut features = self.beta.clone();
                    for f in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                        if !features.iter().any(|g| g == f) {
                            features.push(f.to_string());
                        }
                    }
                    out.push((*name, features.join(",")));
                }
                _ => {}
            }
        }
        out
    }

    /// Sends one chat-completion attempt for `model`.
    pub async fn chat(&self, req: &ChatRequest, model: &str) -> Result<Reply, AttemptError> {
        let started = Instant::now();
        let (body, json_tool) = encode_request(req, model, self.default_max_tokens)?;
        let (response, head_after) = self
            .upstream
            .send_with(&self.url, body, req.stream(), started, &self.passed_on(req))
            .await
            .map_err(|e| upstream::openai_error_body(e, answer::error_message))?;
        let created = crate::reply::unix_now();
        if req.stream() {
            let decoder = StreamDecoder::new(model, json_tool, created);
            return Ok(Reply::Stream(
                self.upstream.decoded_stream(response, decoder, started),
            ));
        }
        let body = self.upstream.read_whole(response, started).await?;
        let (body, usage) = answer::complete(&body, model, json_tool, created)?;
        Ok(Reply::Complete(Complete {
            body,
            usage,
            first_byte: Some(head_after),
        }))
    }
}

/// The Messages request body for a chat request, and whether its answer is the input of the
/// forced JSON tool (a JSON `response_format`). Refuses what cannot be translated.
pub fn encode_request(
    req: &ChatRequest,
    model: &str,
    default_max_tokens: u32,
) -> Result<(Vec<u8>, bool), AttemptError> {
    let t = request::translate(req, model, default_max_tokens)?;
    let body = serde_json::to_vec(&t.body)
        .map_err(|e| AttemptError::Protocol(format!("could not encode the request: {e}")))?;
    Ok((body, t.json_tool))
}

/// The chat completion, and its usage, for a whole Messages answer.
pub fn decode_answer(
    body: &[u8],
    model: &str,
    json_tool: bool,
) -> Result<(bytes::Bytes, Option<crate::reply::Usage>), AttemptError> {
    answer::complete(body, model, json_tool, crate::reply::unix_now())
}
