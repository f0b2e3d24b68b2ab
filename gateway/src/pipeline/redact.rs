//! Redaction for routes that choose `redact` for a data class: detected spans are replaced by
//! stable placeholders before the request leaves for an external backend, and put back into
//! the answer, streamed answers included (a placeholder may be split across chunks).

use super::prompt;
use crate::errors::ApiError;
use bytes::Bytes;
use serde_json::Value;
use tollgate_adapters::ChatRequest;
use tollgate_policies::{Detections, Redactor, StreamRestorer};

/// A redacted copy of a request and the map to undo it.
#[derive(Debug)]
pub struct Redaction {
    /// The request with every detected span replaced.
    pub req: ChatRequest,
    redactor: Redactor,
}

impl Redaction {
    /// Redacts every text part of `req` by its findings.
    pub fn build(source: &ChatRequest, detections: &Detections) -> Result<Redaction, ApiError> {
        let mut redactor = Redactor::new();
        let body = prompt::rewrite(&source.body, |part, text| {
            let mut findings = detections.in_part(part).peekable();
            findings.peek()?;
            Some(redactor.redact(text, findings))
        });
        // Checked as the tree it is: no encoding and re-parsing of the whole request.
        let mut req = ChatRequest::from_body(body)
            .map_err(|e| ApiError::internal(format!("the redacted request is invalid: {e}")))?;
        req.vendor_headers.clone_from(&source.vendor_headers);
        Ok(Redaction { req, redactor })
    }

    /// Puts the originals back into a whole `chat.completion` body.
    pub fn restore_complete(&self, body: &Bytes) -> Bytes {
        let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
            return body.clone();
        };
        if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
            for choice in choices {
                if let Some(Value::String(s)) = choice.pointer_mut("/message/content") {
                    *s = self.redactor.restore(s);
                }
            }
        }
        serde_json::to_vec(&v)
            .map(Bytes::from)
            .unwrap_or_else(|_| body.clone())
    }

    /// A restorer for one streamed answer.
    pub fn stream(&self) -> ChunkRestorer<'_> {
        ChunkRestorer {
            inner: self.redactor.stream(),
        }
    }
}

/// Restores placeholders chunk by chunk, holding back a tail that may be half a placeholder.
#[derive(Debug)]
pub struct ChunkRestorer<'r> {
    inner: StreamRestorer<'r>,
}

impl ChunkRestorer<'_> {
    /// Rewrites one `chat.completion.chunk`: its content delta is restored, and whatever was
    /// held back is released on the chunk that carries `finish_reason`.
    pub fn chunk(&mut self, data: &Bytes) -> Bytes {
        let Ok(mut v) = serde_json::from_slice::<Value>(data) else {
            return data.clone();
        };
        let Some(choice) = v.pointer_mut("/choices/0") else {
            return data.clone();
        };
        let finishing = choice.get("finish_reason").is_some_and(|f| !f.is_null());
        let content = choice
            .pointer("/delta/content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut out = self.inner.push(&content);
        if finishing {
            out.push_str(&self.inner.finish());
        }
        if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
            if delta.contains_key("content") || !out.is_empty() {
                delta.insert("content".into(), Value::String(out));
            }
        }
        serde_json::to_vec(&v)
            .map(Bytes::from)
            .unwrap_or_else(|_| data.clone())
    }
}
