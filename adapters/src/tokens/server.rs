//! Counting with a local server's own tokenizer, through its tokenize endpoint. Which one a
//! server has is found on first use and remembered:
//! - vLLM: `POST /tokenize` takes the conversation itself (`messages`) and applies the
//!   model's chat template, answering `{"count": n, "tokens": […]}`;
//! - llama.cpp's server: `POST /tokenize` takes `content`, and `POST /apply-template` renders
//!   a conversation with the model's template;
//! - llama-cpp-python's server: `POST /extras/tokenize` takes `input` (it always adds the
//!   beginning-of-sequence token, as its completions do); it cannot render a template, so the
//!   model's `chat_template` must be configured for exact prompt counts.

use super::template::{Template, Turn};
use crate::http_client::{self, HttpClient};
use crate::upstream::Credential;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long one tokenize call may take before the count falls back to an estimate.
const TOKENIZE_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest tokenize answer read (a token array of a long prompt).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The tokenize dialect a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// vLLM's `/tokenize`, which also applies the chat template.
    Vllm,
    /// llama.cpp's `/tokenize` and `/apply-template`.
    LlamaCpp,
    /// llama-cpp-python's `/extras/tokenize`.
    LlamaCppPython,
}

/// A server's tokenizer, reached over HTTP.
#[derive(Debug)]
pub struct ServerTokenizer {
    root: String,
    model: String,
    credential: Option<Credential>,
    client: HttpClient,
    api: OnceCell<Option<Api>>,
}

impl ServerTokenizer {
    /// The tokenizer of `model` on the server whose OpenAI API is at `base_url` (its
    /// tokenize endpoints sit at the server's root, beside `/v1`).
    pub fn new(base_url: &str, model: &str, credential: Option<Credential>) -> ServerTokenizer {
        let base = base_url.trim_end_matches('/');
        let root = base.strip_suffix("/v1").unwrap_or(base).to_string();
        ServerTokenizer {
            root,
            model: model.to_string(),
            credential,
            client: http_client::build(TOKENIZE_TIMEOUT),
            api: OnceCell::new(),
        }
    }

    /// The server's tokenize dialect, probed on first use; `None` when it has none.
    pub async fn api(&self) -> Option<Api> {
        *self
            .api
            .get_or_init(|| async {
                let found = self.probe().await;
                match found {
                    Some(api) => {
                        tracing::info!(server = %self.root, ?api, "tokenize endpoint found")
                    }
                    None => tracing::info!(
                        server = %self.root,
                        "no tokenize endpoint; token counts without usage are estimated"
                    ),
                }
                found
            })
            .await
    }

    async fn probe(&self) -> Option<Api> {
        let probe = [json!({"role": "user", "content": "a"})];
        let vllm = json!({"model": self.model, "messages": probe, "add_generation_prompt": true});
        if let Some(v) = self.post("/tokenize", &vllm).await {
            if v.get("count").and_then(Value::as_u64).is_some() {
                return Some(Api::Vllm);
            }
        }
        let llama = json!({"content": "a b", "add_special": false});
        if let Some(v) = self.post("/tokenize", &llama).await {
            if token_count(&v).is_some_and(|n| n > 0) {
                return Some(Api::LlamaCpp);
            }
        }
        let python = json!({"input": "a b", "model": self.model});
        if let Some(v) = self.post("/extras/tokenize", &python).await {
            if token_count(&v).is_some() {
                return Some(Api::LlamaCppPython);
            }
        }
        None
    }

    /// Prompt tokens of `turns` as the server counts them, and whether the count is exact
    /// (false when only the messages' text could be counted, without the template's tokens).
    pub async fn prompt(&self, turns: &[Turn], template: Option<&Template>) -> Option<(u64, bool)> {
        let api = self.api().await?;
        if api == Api::Vllm {
            let body =
                json!({"model": self.model, "messages": turns, "add_generation_prompt": true});
            let v = self.post("/tokenize", &body).await?;
            return v.get("count").and_then(Value::as_u64).map(|n| (n, true));
        }
        let rendered = match (template, api) {
            (Some(t), _) => t.render(turns).ok(),
            (None, Api::LlamaCpp) => self
                .post("/apply-template", &json!({"messages": turns}))
                .await
                .and_then(|v| v.get("prompt").and_then(Value::as_str).map(str::to_string)),
            _ => None,
        };
        match rendered {
            Some(prompt) => self.text(api, &prompt, true).await.map(|n| (n, true)),
            None => {
                let joined: Vec<&str> = turns.iter().map(|t| t.content.as_str()).collect();
                let n = self.text(api, &joined.join("\n"), false).await?;
                Some((n, false))
            }
        }
    }

    /// Tokens of generated text (no beginning-of-sequence token).
    pub async fn completion(&self, text: &str) -> Option<u64> {
        let api = self.api().await?;
        self.text(api, text, false).await
    }

    /// Tokens of `text`, with the beginning-of-sequence token when `bos` (a prompt) and
    /// special tokens written in it parsed as such, as servers do with prompts.
    async fn text(&self, api: Api, text: &str, bos: bool) -> Option<u64> {
        if text.is_empty() {
            return Some(u64::from(bos));
        }
        match api {
            Api::Vllm => {
                let body = json!({"model": self.model, "prompt": text, "add_special_tokens": bos});
                let v = self.post("/tokenize", &body).await?;
                v.get("count").and_then(Value::as_u64)
            }
            Api::LlamaCpp => {
                let body = json!({"content": text, "add_special": bos, "parse_special": true});
                token_count(&self.post("/tokenize", &body).await?)
            }
            Api::LlamaCppPython => {
                // It always adds the beginning-of-sequence token: a completion has none.
                let body = json!({"input": text, "model": self.model});
                let n = token_count(&self.post("/extras/tokenize", &body).await?)?;
                Some(if bos { n } else { n.saturating_sub(1) })
            }
        }
    }

    /// POSTs `body` to `path` and reads a JSON answer; `None` on any failure.
    async fn post(&self, path: &str, body: &Value) -> Option<Value> {
        let uri: http::Uri = format!("{}{path}", self.root).parse().ok()?;
        let mut req =
            http::Request::post(uri).header(http::header::CONTENT_TYPE, "application/json");
        if let Some(c) = &self.credential {
            req = req.header(c.header, c.value.as_str());
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).ok()?;
        let call = async {
            let resp = self.client.request(req).await.ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .ok()?
                .to_bytes();
            serde_json::from_slice::<Value>(&body).ok()
        };
        tokio::time::timeout(TOKENIZE_TIMEOUT, call)
            .await
            .ok()
            .flatten()
    }
}

/// The length of a tokenize answer's `tokens` array (llama.cpp, llama-cpp-python).
fn token_count(v: &Value) -> Option<u64> {
    v.get("tokens")
        .and_then(Value::as_array)
        .map(|t| t.len() as u64)
}
