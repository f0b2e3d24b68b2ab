//! Step 5: try the decision's candidates in order until one answers.
//!
//! Failover happens only while nothing has reached the client: for streams, the first event is
//! awaited here, before any header is written, so a backend that accepts the request and then
//! fails before its first event is failed over like one that refused the connection.

use super::decide::Decision;
use super::record::{Attempt, RequestRecord};
use crate::config::Candidate;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use futures_util::StreamExt;
use pingora::proxy::Session;
use std::time::Instant;
use tollgate_adapters::{AttemptError, Backend, ChatRequest, Complete, Event, EventStream, Reply};

/// A successful attempt, ready to be streamed back.
pub enum Served {
    /// A whole answer.
    Complete {
        /// Who answered.
        candidate: Candidate,
        /// The answer.
        complete: Complete,
    },
    /// A stream whose first event has arrived.
    Stream {
        /// Who answers.
        candidate: Candidate,
        /// The first event.
        first: Event,
        /// The rest of the stream.
        rest: EventStream,
    },
}

/// Tries each candidate of the decision in order.
pub async fn dispatch(
    gw: &Gateway,
    req: &ChatRequest,
    decision: &Decision,
    session: &mut Session,
    rec: &mut RequestRecord,
) -> Result<Served, ApiError> {
    let mut failures: Vec<(String, AttemptError)> = Vec::new();
    for &candidate in &decision.candidates {
        if !super::meter::admit(gw, req, decision, candidate, rec)? {
            continue;
        }
        let model = gw.config.model(candidate);
        let backend = &gw.backends[candidate.backend];
        let started = Instant::now();
        let result = tokio::select! {
            r = attempt(backend, req, &model.name, candidate) => r,
            () = client_gone(session) => return Err(ApiError::client_closed()),
        };
        let elapsed = started.elapsed();
        rec.backend_wait += elapsed;
        match result {
            Ok(served) => {
                rec.attempts.push(Attempt {
                    candidate,
                    error: None,
                    duration: elapsed,
                });
                rec.served_by = Some(candidate);
                return Ok(served);
            }
            Err(err) => {
                tracing::debug!(request_id = %rec.id, candidate = %model.key, error = %err, "attempt failed");
                rec.attempts.push(Attempt {
                    candidate,
                    error: Some(err.label()),
                    duration: elapsed,
                });
                if !err.may_fail_over() {
                    return Err(ApiError::from_final_attempt(&err));
                }
                failures.push((model.key.clone(), err));
            }
        }
    }
    Err(ApiError::all_attempts_failed(&failures))
}

async fn attempt(
    backend: &Backend,
    req: &ChatRequest,
    model: &str,
    candidate: Candidate,
) -> Result<Served, AttemptError> {
    match backend.chat(req, model).await? {
        Reply::Complete(complete) => Ok(Served::Complete {
            candidate,
            complete,
        }),
        Reply::Stream(mut rest) => match rest.next().await {
            Some(Ok(first)) => Ok(Served::Stream {
                candidate,
                first,
                rest,
            }),
            Some(Err(e)) => Err(e),
            None => Err(AttemptError::Protocol(
                "upstream stream ended before its first event".into(),
            )),
        },
    }
}

/// Resolves when the client closes its connection (or resets its HTTP/2 stream). Reading for
/// it is cancel-safe, so it can race any other future.
pub async fn client_gone(session: &mut Session) {
    loop {
        match session.read_body_or_idle(true).await {
            Err(_) => return,
            // Pipelined bytes are not a disconnect; keep waiting on something else.
            Ok(_) => std::future::pending::<()>().await,
        }
    }
}
