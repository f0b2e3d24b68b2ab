//! Step 2: read the body, bounded, and parse it against the schema.

use crate::errors::ApiError;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use tollgate_adapters::ChatRequest;

/// Reads the whole request body, refusing with 413 as soon as it passes `limit`.
pub async fn body(session: &mut Session, limit: usize) -> Result<Bytes, ApiError> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::body_too_large(limit));
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(4096).min(limit));
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > limit {
                    return Err(ApiError::body_too_large(limit));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) => {
                return Err(ApiError::bad_request(
                    "body_read_failed",
                    format!("could not read the request body: {e}"),
                ))
            }
        }
    }
}

/// Parses a chat-completion body.
pub fn parse(body: &[u8]) -> Result<ChatRequest, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid_request(
            "request body is empty; send a JSON chat-completion request",
            None,
        ));
    }
    ChatRequest::parse(body).map_err(|e| ApiError::invalid_request(e.message, e.param))
}
