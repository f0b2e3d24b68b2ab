//! Step 5: try the decision's candidates in order until one answers.
//!
//! Failover happens only while nothing has reached the client: for streams, the first event is
//! awaited here, before any header is written, so a backend that accepts the request and then
//! fails before its first event is failed over like one that refused the connection.

use super::call::Call;
use super::classify::Classified;
use super::decide::{Decision, Target};
use super::redact::Redaction;
use super::trace::{Trace, OK};
use crate::backends::BackendSlot;
use crate::config::Candidate;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use crate::meter::now_ms;
use futures_util::StreamExt;
use pingora::proxy::Session;
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;
use tollgate_adapters::{AttemptError, Complete, Event, EventStream, Reply};
use tollgate_metering::{estimate_tokens_from_bytes, OnExhausted, Refusal};

/// A successful attempt, ready to be streamed back.
pub struct Served {
    /// Who answered.
    pub candidate: Candidate,
    /// The answer.
    pub reply: ServedReply,
    /// Set when the request was sent redacted: the answer's placeholders are restored with it.
    pub redaction: Option<Redaction>,
    /// The backend's concurrency slot, held until the answer has been sent.
    pub slot: Option<OwnedSemaphorePermit>,
}

/// The answer of a successful attempt.
pub enum ServedReply {
    /// A whole answer.
    Complete(Complete),
    /// A stream whose first event has arrived.
    Stream {
        /// The first event.
        first: Event,
        /// The rest of the stream.
        rest: EventStream,
    },
}

/// Takes the request's rate limits (one request, its worst-case tokens, a concurrency slot)
/// before its first attempt; they are given back when it is recorded.
pub async fn limit(gw: &Gateway, call: Call<'_>, rec: &mut Trace) -> Result<(), ApiError> {
    let m = gw.meter.metering();
    if !m.has_rate_limits() {
        return Ok(());
    }
    let tokens = estimate_tokens_from_bytes(rec.metered.prompt_bytes.unwrap_or(0))
        + call
            .max_output_tokens()
            .map_or(m.default_max_tokens(), u64::from);
    let (tenant, route) = (&rec.record.tenant, &rec.record.route);
    match m.admit_rate(tenant, route, tokens, now_ms()).await {
        Ok(Some((ticket, headroom))) => {
            rec.metered.held.lock().rate = Some(ticket);
            rec.headroom = Some(headroom);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(refusal) => Err(ApiError::refused(&refusal)),
    }
}

/// Tries each candidate of the decision in order, and nothing else: retries and fallbacks
/// cannot widen what the policy allowed. Candidates marked for redaction get the redacted copy.
pub async fn dispatch(
    gw: &Gateway,
    call: Call<'_>,
    decision: &Decision,
    classified: &Classified,
    session: &mut Session,
    rec: &mut Trace,
) -> Result<Served, ApiError> {
    let mut failures: Vec<(String, AttemptError)> = Vec::new();
    let mut redaction: Option<Redaction> = None;
    for &(candidate, redact) in &decision.candidates {
        if !admit(gw, call, decision, candidate, rec).await? {
            continue;
        }
        if redact && redaction.is_none() {
            let Call::Chat(req) = call else {
                // The rules never let embeddings out redacted (a redacted document would be
                // embedded as placeholders); reaching here would be a bug, and fails closed.
                return Err(ApiError::internal(
                    "an embeddings request was marked for redaction",
                ));
            };
            redaction = Some(Redaction::build(req, &classified.detections)?);
        }
        let outgoing = match (&redaction, redact) {
            (Some(r), true) => Call::Chat(&r.req),
            _ => call,
        };
        let model = gw.config.model(candidate);
        let slot = &gw.backends[candidate.backend];
        let started = Instant::now();
        let result = tokio::select! {
            r = attempt(slot, outgoing, model) => r,
            () = client_gone(session) => return Err(ApiError::client_closed()),
            () = gw.drain.cut() => return Err(ApiError::shutting_down()),
        };
        let elapsed = started.elapsed();
        rec.backend_wait += elapsed;
        let health = &slot.health;
        match result {
            Ok((reply, held)) => {
                // Ranked on time to first byte, streamed or not: a long whole answer is not
                // a slow backend.
                health.success(first_byte(&reply).unwrap_or(elapsed));
                rec.attempted(&gw.config, candidate, OK, elapsed, redact);
                let redaction = if redact { redaction } else { None };
                return Ok(Served {
                    candidate,
                    reply,
                    redaction,
                    slot: held,
                });
            }
            Err(err) => {
                tracing::debug!(request_id = %rec.id(), candidate = %model.key, error = %err, "attempt failed");
                if says_backend_is_unwell(&err) {
                    health.failure(gw.epoch);
                }
                rec.attempted(&gw.config, candidate, err.label(), elapsed, redact);
                note_failed_prompt(gw, outgoing, candidate, rec);
                if !may_fail_over(gw, decision, &err) {
                    return Err(ApiError::from_final_attempt(&err));
                }
                failures.push((model.key.clone(), err));
            }
        }
    }
    Err(ApiError::all_attempts_failed(&failures))
}

/// Counts, once, the prompt tokens a failed attempt was sent, with its model's tokenizer
/// when one answers without I/O (OpenAI's encodings, a `tokenizer.json`): what a provider
/// that received the attempt bills for it.
fn note_failed_prompt(gw: &Gateway, sent: Call<'_>, candidate: Candidate, rec: &mut Trace) {
    if rec.metered.attempt_prompt_tokens.is_some() {
        return;
    }
    if let Call::Chat(req) = sent {
        rec.metered.attempt_prompt_tokens = gw
            .counters
            .get(candidate)
            .prompt_local(req)
            .map(|c| c.tokens);
    }
}

/// Whether the next candidate may be tried after `err`: a vendor's safety block only when the
/// route asks for it.
fn may_fail_over(gw: &Gateway, decision: &Decision, err: &AttemptError) -> bool {
    match (err, &decision.target) {
        (AttemptError::Blocked { .. }, Target::Route(r)) => gw.config.routes[*r].fail_over_on_block,
        _ => err.may_fail_over(),
    }
}

/// Connection failures, timeouts, 5xx, a refused credential (401/403: the gateway's own key
/// for that backend is wrong or revoked, and every request will fail alike) and garbled
/// answers count against a backend's health; being busy (429), a missing key, or a refused
/// request do not.
fn says_backend_is_unwell(err: &AttemptError) -> bool {
    match err {
        AttemptError::Connect(_) | AttemptError::Timeout(..) | AttemptError::Protocol(_) => true,
        AttemptError::Status { status, .. } => *status >= 500 || matches!(*status, 401 | 403),
        _ => false,
    }
}

/// When a whole answer's head arrived, if its backend says; a stream's attempt ends at its
/// first event, so its whole duration is its first byte.
fn first_byte(reply: &ServedReply) -> Option<std::time::Duration> {
    match reply {
        ServedReply::Complete(c) => c.first_byte,
        ServedReply::Stream { .. } => None,
    }
}

/// One attempt: a concurrency slot on the backend first (when it has a limit), then the
/// request, up to the first event of a stream.
async fn attempt(
    slot: &BackendSlot,
    call: Call<'_>,
    model: &crate::config::Model,
) -> Result<(ServedReply, Option<OwnedSemaphorePermit>), AttemptError> {
    let Some(backend) = slot.live.as_ref() else {
        return Err(AttemptError::Unavailable(
            "the gateway runs offline: no backend is built".into(),
        ));
    };
    let held = match &slot.limit {
        Some(limit) => Some(limit.admit().await?),
        None => None,
    };
    let req = match call {
        Call::Chat(req) => req,
        Call::Embed(req) => {
            let answer = backend.embed(req, &model.name, model.max_batch).await?;
            return Ok((ServedReply::Complete(answer), held));
        }
    };
    match backend.chat(req, &model.name).await? {
        Reply::Complete(complete) => Ok((ServedReply::Complete(complete), held)),
        Reply::Stream(mut rest) => match rest.next().await {
            Some(Ok(first)) => Ok((ServedReply::Stream { first, rest }, held)),
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

/// The budget check before an attempt on `candidate`: reserves the attempt's worst-case cost
/// (estimated prompt tokens plus `max_completion_tokens`, or `[budgets] default_max_tokens`,
/// at the candidate's price) against the tenant's and the route's budgets.
///
/// `Ok(true)`: go ahead (the reservation is held by `rec` until it is recorded). `Ok(false)`:
/// a budget with `on_exhausted = "fall_through"` refused this candidate and a later one may
/// serve. `Err`: a 429 naming the budget, its limit, what is spent and when it resets.
pub async fn admit(
    gw: &Gateway,
    call: Call<'_>,
    decision: &Decision,
    candidate: Candidate,
    rec: &mut Trace,
) -> Result<bool, ApiError> {
    let meter = &gw.meter;
    let prompt_bytes = rec.metered.prompt_bytes.unwrap_or(0);
    let backend = &gw.config.backends[candidate.backend];
    {
        // The previous attempt failed: give back what it held before taking anything new.
        let mut held = rec.metered.held.lock();
        held.reservation = None;
        if let Some(p) = held.busy.take() {
            gw.backends[p.backend].abandon_busy();
        }
    }
    if meter.has_budgets() {
        let m = meter.metering();
        let model = gw.config.model(candidate);
        let max_tokens = call
            .max_output_tokens()
            .map_or(m.default_max_tokens(), u64::from);
        let worst = m.prices().worst_case_usd(
            &backend.name,
            &model.name,
            estimate_tokens_from_bytes(prompt_bytes),
            max_tokens,
        );
        let (tenant, route) = (&rec.record.tenant, &rec.record.route);
        match m.reserve_budget(tenant, route, worst, now_ms()).await {
            Ok(r) => rec.metered.held.lock().reservation = Some(r),
            Err(Refusal::Budget(refusal)) => {
                let last = decision.candidates.last().map(|(c, _)| *c) == Some(candidate);
                if refusal.on_exhausted == OnExhausted::FallThrough && !last {
                    tracing::debug!(request_id = %rec.id(), candidate = %model.key, %refusal, "budget refused a candidate; trying the next");
                    rec.record.refusals.push("budget");
                    return Ok(false);
                }
                return Err(ApiError::budget_exceeded(&refusal));
            }
            Err(other) => return Err(ApiError::refused(&other)),
        }
    }
    let mut held = rec.metered.held.lock();
    if meter
        .metering()
        .prices()
        .cost_per_hour(&backend.name)
        .is_some()
    {
        held.busy = Some(gw.backends[candidate.backend].begin_busy(candidate.backend));
    }
    Ok(true)
}
