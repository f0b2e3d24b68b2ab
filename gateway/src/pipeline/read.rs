//! Step 2: read the body, bounded, and parse it against the schema.

use crate::config::Server;
use crate::errors::{ApiError, ErrorCode};
use crate::limits::{BodyBudget, BodyHold};
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};
use tollgate_adapters::ChatRequest;

/// The buffer a body starts in: it grows with what arrives, never with what a client declares,
/// so a `content-length` of 32 MiB with no body behind it costs 64 KiB, not 32 MiB.
const INITIAL_BODY_CAPACITY: usize = 64 * 1024;

/// The capacity to start reading a body into.
fn initial_capacity(declared: Option<usize>, limit: usize) -> usize {
    declared
        .unwrap_or(4096)
        .min(limit)
        .min(INITIAL_BODY_CAPACITY)
}

/// The time a body that has `received` bytes so far may have taken: `body_timeout`, and one
/// more second for every `body_min_rate` bytes (a large body on a slow link is fine; a body
/// trickled in to hold the connection is not).
fn allowed(server: &Server, received: usize) -> Duration {
    let c = &server.connections;
    c.body_timeout + Duration::from_secs(received as u64 / c.body_min_rate)
}

/// Reads the whole request body, refusing with 413 as soon as it passes `max_body_bytes`,
/// with 408 when it arrives slower than its deadline allows, and with 503 when the bodies
/// held at once would pass `max_body_bytes_in_flight`. The hold is kept with the request.
pub async fn body(
    session: &mut Session,
    server: &Server,
    budget: &BodyBudget,
) -> Result<(Bytes, BodyHold), ApiError> {
    let mut hold = BodyHold::default();
    let limit = server.max_body_bytes;
    let started = Instant::now();
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        // A client that waits for `100 Continue` has sent nothing yet: it gets the answer
        // at once and never sends the body.
        if !expects_continue(session) {
            discard_rest(session, server).await;
        }
        return Err(ApiError::body_too_large(limit));
    }
    let mut buf = BytesMut::with_capacity(initial_capacity(declared, limit));
    loop {
        let deadline = started + allowed(server, buf.len());
        let Ok(read) = timeout_at(deadline, session.read_request_body()).await else {
            return Err(ApiError::request_timeout("body"));
        };
        match read {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > limit {
                    discard_rest(session, server).await;
                    return Err(ApiError::body_too_large(limit));
                }
                if !budget.cover(&mut hold, buf.len() + chunk.len()) {
                    drop((buf, hold));
                    discard_rest(session, server).await;
                    return Err(ApiError::gateway_busy(
                        "request bodies held in memory are at their limit \
                         (server.max_body_bytes_in_flight)",
                    ));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok((buf.freeze(), hold)),
            Err(e) => {
                return Err(ApiError::bad_request(
                    ErrorCode::BodyReadFailed,
                    format!("could not read the request body: {e}"),
                ))
            }
        }
    }
}

fn expects_continue(session: &Session) -> bool {
    session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// The most of a refused body read and dropped before its answer, and for how long.
const DISCARD_BYTES: usize = 64 << 20;
const DISCARD_TIME: Duration = Duration::from_secs(2);

/// An answer sent while the client is still sending is often never read: over HTTP/2 the
/// stream is reset, over HTTP/1 closing a socket with unread bytes resets the connection, and
/// clients report the reset instead of the 413 or 503. So the rest of a refused body is read
/// and dropped first, bounded in bytes and time (past either, the reset it is); nothing of it
/// is kept.
async fn discard_rest(session: &mut Session, server: &Server) {
    let mut dropped = 0usize;
    let until = Instant::now() + DISCARD_TIME.min(server.connections.body_timeout);
    while dropped < DISCARD_BYTES {
        match timeout_at(until, session.read_request_body()).await {
            Ok(Ok(Some(chunk))) => dropped += chunk.len(),
            _ => return,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_does_not_trust_a_declared_length() {
        let limit = 32 << 20;
        assert_eq!(initial_capacity(Some(limit), limit), INITIAL_BODY_CAPACITY);
        assert_eq!(initial_capacity(Some(100), limit), 100);
        assert_eq!(initial_capacity(None, limit), 4096);
        assert_eq!(initial_capacity(Some(limit), 1000), 1000);
    }
}
