//! Azure OpenAI: `POST /openai/deployments/{deployment}/chat/completions?api-version=…` and
//! `…/embeddings?api-version=…`. The body is OpenAI's (its `model` may be absent: the
//! deployment names the model) and the answers are the OpenAI fake's, with `model` set to the
//! deployment. Azure's own are its gate errors (from its REST reference and the bodies its
//! users report): 404 `Resource not found` without `api-version`, 401 without `api-key`, and
//! the 400 `content_filter` error with which it refuses a prompt.

use super::wire::{full, Body};
use super::{openai, Behavior, Shared};
use http::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// What the path, query and headers asked.
pub(super) struct Ask<'a> {
    pub deployment: &'a str,
    pub embeddings: bool,
    pub api_version: Option<&'a str>,
    /// An `api-key` header came.
    pub keyed: bool,
}

/// `YYYY-MM-DD` or `YYYY-MM-DD-preview`.
fn valid_version(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let b = date.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

pub(super) async fn respond(
    body: &Value,
    ask: Ask<'_>,
    behavior: Behavior,
    state: Arc<Shared>,
) -> Response<Body> {
    let Some(version) = ask.api_version.filter(|v| !v.is_empty()) else {
        return full(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "404", "message": "Resource not found"}}),
        );
    };
    if !valid_version(version) {
        return full(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "BadRequest", "message": "API version not supported"}}),
        );
    }
    if !ask.keyed {
        return full(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}),
        );
    }
    let mut body = body.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("model".into(), ask.deployment.into());
    }
    if ask.embeddings {
        return openai::embeddings(&body, behavior);
    }
    if let Behavior::Blocked = behavior {
        return full(StatusCode::BAD_REQUEST, content_filter());
    }
    openai::respond(&body, behavior, state).await
}

/// Azure's refusal of a prompt its content filter flags.
fn content_filter() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        "type": null, "param": "prompt", "code": "content_filter", "status": 400,
        "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
            "hate": safe, "self_harm": safe, "sexual": safe,
            "violence": {"filtered": true, "severity": "high"},
            "jailbreak": {"filtered": false, "detected": false},
        }},
    }})
}
