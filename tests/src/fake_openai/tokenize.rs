//! The tokenize endpoints of local servers, as their documentation gives them, counting the
//! fake's "tokens" (whitespace-separated words) the way its usage does:
//! - llama.cpp's server: `POST /tokenize` `{"content", "add_special"}` → `{"tokens": […]}`
//!   (a body without `content` gets no tokens) and `POST /apply-template` `{"messages"}` →
//!   `{"prompt"}`;
//! - llama-cpp-python's server: `POST /extras/tokenize` `{"input", "model"}` →
//!   `{"tokens": […]}`, always with the beginning-of-sequence token;
//! - vLLM: `POST /tokenize` with `messages` (the chat template applied) or `prompt` →
//!   `{"count", "tokens", "max_model_len"}`.
//!
//! The servers that add a beginning-of-sequence token to prompts count it in their usage
//! too, so with one of those dialects on, the fake's `prompt_tokens` is one more.

use super::wire::{full, Body};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// Which server's tokenize endpoints the fake has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizeApi {
    /// llama.cpp's server.
    LlamaCpp,
    /// llama-cpp-python's server.
    LlamaCppPython,
    /// vLLM.
    Vllm,
}

impl TokenizeApi {
    /// The beginning-of-sequence tokens this server adds to a prompt's count.
    pub(super) fn bos(api: Option<TokenizeApi>) -> u64 {
        u64::from(matches!(
            api,
            Some(TokenizeApi::LlamaCpp | TokenizeApi::LlamaCppPython)
        ))
    }
}

const BOS: u64 = 2;

fn words(text: &str) -> Vec<u64> {
    text.split_whitespace()
        .map(|w| 100 + w.len() as u64)
        .collect()
}

fn joined_contents(messages: &Value) -> String {
    messages
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| super::text_of(&m["content"]))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The answer to a tokenize path, or `None` when `path` is not one this dialect has.
pub(super) fn respond(path: &str, body: &[u8], api: Option<TokenizeApi>) -> Option<Response<Body>> {
    let api = api?;
    let ok = |v: Value| Some(full(StatusCode::OK, v));
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Some(full(StatusCode::BAD_REQUEST, json!({"error": "bad json"})));
    };
    match (api, path) {
        (TokenizeApi::LlamaCpp, "/tokenize") => {
            let Some(content) = body["content"].as_str() else {
                return ok(json!({"tokens": []}));
            };
            let mut tokens = words(content);
            if body["add_special"].as_bool() == Some(true) {
                tokens.insert(0, BOS);
            }
            ok(json!({"tokens": tokens}))
        }
        (TokenizeApi::LlamaCpp, "/apply-template") => {
            ok(json!({"prompt": joined_contents(&body["messages"])}))
        }
        (TokenizeApi::LlamaCppPython, "/extras/tokenize") => {
            let mut tokens = words(body["input"].as_str().unwrap_or_default());
            tokens.insert(0, BOS);
            ok(json!({"tokens": tokens}))
        }
        (TokenizeApi::Vllm, "/tokenize") => {
            let tokens = if body.get("messages").is_some() {
                words(&joined_contents(&body["messages"]))
            } else if let Some(prompt) = body["prompt"].as_str() {
                words(prompt)
            } else {
                return Some(full(
                    StatusCode::BAD_REQUEST,
                    json!({"object": "error", "message": "prompt or messages required", "code": 400}),
                ));
            };
            ok(json!({"count": tokens.len(), "tokens": tokens, "max_model_len": 4096}))
        }
        _ => None,
    }
}
