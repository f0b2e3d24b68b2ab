//! Google's Gemini API as a backend (`generateContent`, `streamGenerateContent?alt=sse`).
//!
//! The client's OpenAI request is translated into Gemini's ([`encode_request`]), and Gemini's
//! answer back into a `chat.completion` ([`decode_answer`]) or OpenAI chunks
//! ([`StreamDecoder`]); error bodies are rewritten into OpenAI's error shape with Google's
//! message. Google answers with
//! the HTTP status its error names (429 for `RESOURCE_EXHAUSTED`, 503 for `UNAVAILABLE`), so
//! failover by status works as for any other backend.

mod answer;
mod config;
mod contents;
mod request;
mod stream;
mod wire;

pub use stream::StreamDecoder;

use crate::error::AttemptError;
use crate::reply::{Complete, Reply, Usage};
use crate::request::ChatRequest;
use crate::upstream::{openai_error_body, parse_url, Upstream, UpstreamConfig};
use tokio::time::Instant;

/// How to reach the Gemini API.
#[derive(Debug, Clone)]
pub struct GeminiConfig {
    /// The API root, e.g. `https://generativelanguage.googleapis.com/v1beta`.
    pub base_url: String,
    /// Credentials (`x-goog-api-key`), headers and timeouts.
    pub upstream: UpstreamConfig,
}

/// A Gemini backend.
#[derive(Debug)]
pub struct Gemini {
    /// The API root, without a trailing slash.
    base: String,
    upstream: Upstream,
}

impl Gemini {
    /// Checks the configuration and builds the backend.
    pub fn new(cfg: GeminiConfig) -> Result<Gemini, String> {
        let base = cfg.base_url.trim_end_matches('/').to_string();
        parse_url(&base, "base_url")?;
        Ok(Gemini {
            base,
            upstream: Upstream::new(cfg.upstream, &[])?,
        })
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.upstream.name
    }

    /// The URL of `model`'s generate (or stream) method.
    fn url(&self, model: &str, stream: bool) -> Result<http::Uri, AttemptError> {
        // A model is one path segment: nothing else of the API is reachable through its name.
        let valid = !model.is_empty()
            && model
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(AttemptError::Unavailable(format!(
                "backend '{}': '{model}' is not a Gemini model name",
                self.name()
            )));
        }
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        parse_url(
            &format!("{}/models/{model}:{method}", self.base),
            "model URL",
        )
        .map_err(AttemptError::Unavailable)
    }

    /// Sends one chat-completion attempt for `model`.
    pub async fn chat(&self, req: &ChatRequest, model: &str) -> Result<Reply, AttemptError> {
        let started = Instant::now();
        let model = model.strip_prefix("models/").unwrap_or(model);
        let stream = req.stream();
        let url = self.url(model, stream)?;
        let body = encode_request(req)?;
        let (response, head_after) = self
            .upstream
            .send(&url, body, stream, started)
            .await
            .map_err(|e| openai_error_body(e, answer::google_message))?;
        if stream {
            return Ok(Reply::Stream(self.upstream.decoded_stream(
                response,
                StreamDecoder::new(model),
                started,
            )));
        }
        let bytes = self.upstream.read_whole(response, started).await?;
        let (body, usage) = decode_answer(&bytes, model)?;
        Ok(Reply::Complete(Complete {
            body,
            usage,
            first_byte: Some(head_after),
        }))
    }
}

/// The `generateContent` body for a chat request (the model is named in the URL, not here).
/// Refuses what cannot be translated.
pub fn encode_request(req: &ChatRequest) -> Result<Vec<u8>, AttemptError> {
    request::encode(&req.body)
}

/// The chat completion, and its usage, for a whole Gemini answer from `model`.
pub fn decode_answer(
    body: &[u8],
    model: &str,
) -> Result<(bytes::Bytes, Option<Usage>), AttemptError> {
    answer::to_completion(body, model)
}

/// The decoder of a Gemini event stream from `model` into OpenAI chunks.
pub fn stream_decoder(model: &str) -> StreamDecoder {
    StreamDecoder::new(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(base: &str) -> Result<Gemini, String> {
        Gemini::new(GeminiConfig {
            base_url: base.into(),
            upstream: UpstreamConfig {
                name: "g".into(),
                credential: Some(crate::upstream::Credential {
                    header: "x-goog-api-key",
                    value: "k".into(),
                }),
                missing_key_env: None,
                headers: vec![],
                timeouts: crate::Timeouts::default(),
            },
        })
    }

    #[test]
    fn urls_per_model_and_method() {
        let g = backend("https://generativelanguage.googleapis.com/v1beta/").unwrap();
        assert_eq!(
            g.url("gemini-2.5-flash", false).unwrap().to_string(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            g.url("gemini-3-pro-preview", true).unwrap().to_string(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
        );
        for bad in ["", "../files", "a/b", "m?x=1", "a b"] {
            assert!(
                matches!(g.url(bad, false), Err(AttemptError::Unavailable(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_bad_base_urls() {
        assert!(backend("ftp://host/v1beta").is_err());
        assert!(backend("not a url").is_err());
    }
}
