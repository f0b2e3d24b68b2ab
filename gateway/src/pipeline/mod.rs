//! The one path every request takes:
//!
//! ```text
//! accept ─► authenticate ─► read + parse ─► classify ─► decide ─► dispatch ─► stream back ─► record
//! ```
//!
//! Each step is a module with one job. [`serve`] runs them in order for chat completions,
//! answers the small endpoints, turns any error into a response in one place
//! ([`respond::error`]) and records every request in one place ([`trace::record`]).

pub mod authenticate;
pub mod call;
pub mod classify;
pub mod count;
pub mod decide;
pub mod dispatch;
pub mod endpoints;
pub mod prompt;
pub mod protocol;
pub mod read;
pub mod redact;
pub mod respond;
pub mod trace;

use crate::errors::{ApiError, ErrorCode};
use crate::gateway::Gateway;
use call::Call;
use pingora::proxy::Session;
use protocol::{Parsed, Protocol};
use trace::{Outcome, Trace};

/// Serves one HTTP request from start to finish.
pub async fn serve(gw: &Gateway, session: &mut Session) {
    let method = session.req_header().method.clone();
    let path = session.req_header().uri.path().to_string();
    let chat = Protocol::Chat;
    match (method.as_str(), path.as_str()) {
        ("POST", "/v1/chat/completions") => completion(gw, session, Protocol::Chat).await,
        ("POST", "/v1/messages") => completion(gw, session, Protocol::Messages).await,
        ("POST", "/v1/responses") => completion(gw, session, Protocol::Responses).await,
        ("POST", "/v1/embeddings") => completion(gw, session, Protocol::Embeddings).await,
        ("POST", "/v1/messages/count_tokens") => {
            let result = count_tokens(gw, session).await;
            small(session, gw, Protocol::Messages, result).await
        }
        (_, "/v1/chat/completions" | "/v1/responses" | "/v1/embeddings") => {
            small(session, gw, chat, Err(ApiError::method_not_allowed("POST"))).await
        }
        (_, "/v1/messages" | "/v1/messages/count_tokens") => {
            let err = ApiError::method_not_allowed("POST");
            small(session, gw, Protocol::Messages, Err(err)).await
        }
        ("GET", "/v1/models") => {
            let result = authenticate::authenticate(gw, session.req_header())
                .map(|t| endpoints::models(gw, t));
            small(session, gw, chat, result).await
        }
        ("POST", "/v1/tollgate/explain") => {
            let result = explain_request(gw, session).await;
            small(session, gw, chat, result).await
        }
        ("GET" | "HEAD", "/healthz") => small(session, gw, chat, Ok(endpoints::healthz())).await,
        ("GET" | "HEAD", "/readyz") => small(session, gw, chat, endpoints::readyz(gw)).await,
        _ => {
            let err = ApiError::not_found(
                ErrorCode::UnknownUrl,
                format!("unknown path: {method} {path}"),
            );
            small(session, gw, chat, Err(err)).await
        }
    }
}

/// Answers an endpoint whose whole body is known.
async fn small(
    session: &mut Session,
    gw: &Gateway,
    protocol: Protocol,
    result: Result<endpoints::Json, ApiError>,
) {
    let id = gw.next_request_id();
    let written = match result {
        Ok(json) => respond::json(session, json.status, &id, json.body).await,
        Err(err) => respond::error(session, &id, &err, protocol).await,
    };
    if written.is_err() {
        tracing::debug!(request_id = %id, "client went away before the response was written");
    }
}

/// `POST /v1/tollgate/explain`: the decision for a chat body, without calling any backend.
async fn explain_request(gw: &Gateway, session: &mut Session) -> Result<endpoints::Json, ApiError> {
    let tenant = authenticate::authenticate(gw, session.req_header())?;
    let (body, _held) = read::body(session, &gw.config.server, &gw.bodies).await?;
    let req = read::parse(&body)?;
    let declared = classify::declared(session.req_header())?.map(str::to_string);
    endpoints::explain(gw, tenant, declared.as_deref(), &req)
}

/// `POST /v1/messages/count_tokens`: the prompt's tokens by the model the request would go
/// to, counted by its own tokenizer where the gateway has it (on-device) and estimated
/// otherwise; the answer says which.
async fn count_tokens(gw: &Gateway, session: &mut Session) -> Result<endpoints::Json, ApiError> {
    let tenant = authenticate::authenticate(gw, session.req_header())?;
    let (body, _held) = read::body(session, &gw.config.server, &gw.bodies).await?;
    let Parsed::Chat(req, _) =
        Protocol::Messages.parse(&body, "", &session.req_header().headers)?
    else {
        return Err(ApiError::internal(
            "a Messages body parsed as something else",
        ));
    };
    let declared = classify::declared(session.req_header())?;
    endpoints::count_tokens(gw, tenant, declared, &req).await
}

/// Sheds a request past `server.max_in_flight` (this one is counted already).
fn admit_request(gw: &Gateway) -> Result<(), ApiError> {
    if gw.drain.in_flight() > gw.config.server.max_in_flight {
        return Err(ApiError::gateway_busy(
            "the gateway has its limit of requests in flight (server.max_in_flight)",
        ));
    }
    Ok(())
}

/// A completion in any inbound protocol, or embeddings: the whole pipeline.
async fn completion(gw: &Gateway, session: &mut Session, protocol: Protocol) {
    // Recorded by `finish`, or on drop if the server stops this request half-way.
    let mut rec = trace::Recording::start(gw);
    rec.record.endpoint = protocol.endpoint();
    if let Err(err) = run(gw, session, protocol, &mut rec).await {
        rec.fail(&err);
        if !rec.response_started
            && respond::error(session, rec.id(), &err, protocol)
                .await
                .is_err()
        {
            rec.record.outcome = Outcome::ClientDisconnected;
        }
    }
    rec.finish();
}

async fn run(
    gw: &Gateway,
    session: &mut Session,
    protocol: Protocol,
    rec: &mut Trace,
) -> Result<(), ApiError> {
    admit_request(gw)?;
    let tenant = authenticate::authenticate(gw, session.req_header())?;
    rec.record.tenant = tenant.name(gw).to_string();
    // Held to the end of the request: the parsed body lives as long.
    let (body, _held) = read::body(session, &gw.config.server, &gw.bodies).await?;
    match protocol.parse(&body, rec.id(), &session.req_header().headers)? {
        Parsed::Chat(req, inbound) => {
            let call = Call::Chat(&req);
            let (decision, served) = decide_and_dispatch(gw, session, tenant, call, rec).await?;
            let answer = respond::Answer {
                wants_usage: req.include_usage(),
                decision: &decision,
                inbound: inbound.as_ref(),
                request: Some(&req),
            };
            respond::served(session, gw, answer, served, rec).await
        }
        Parsed::Embed(req) => {
            let call = Call::Embed(&req);
            let (decision, served) = decide_and_dispatch(gw, session, tenant, call, rec).await?;
            let answer = respond::Answer {
                wants_usage: false,
                decision: &decision,
                inbound: None,
                request: None,
            };
            respond::served(session, gw, answer, served, rec).await
        }
    }
}

/// Classify, decide and dispatch: the steps every kind of request shares.
async fn decide_and_dispatch(
    gw: &Gateway,
    session: &mut Session,
    tenant: authenticate::TenantRef,
    call: Call<'_>,
    rec: &mut Trace,
) -> Result<(decide::Decision, dispatch::Served), ApiError> {
    rec.record.stream = call.stream();
    let declared = classify::declared(session.req_header())?;
    let classified = classify::classify(gw, tenant.profile(gw), declared, call)?;
    rec.record.data_class = classified.class;
    rec.metered.prompt_bytes = Some(classified.prompt_bytes as u64);
    rec.record.detections = classified
        .detections
        .findings
        .iter()
        .map(|f| f.kind.as_str())
        .collect();
    let target = decide::resolve(gw, tenant, call.model())?;
    // Only resolved names are recorded: unknown ones would give metrics unbounded labels.
    rec.record.route = decide::target_name(gw, target).to_string();
    let policy = decide::judge(gw, tenant, target, call, &classified);
    rec.record.refusals = policy.refused.iter().map(|r| r.rule.as_str()).collect();
    rec.record.decision = decide::summary(gw, &policy);
    let decision = decide::conclude(gw, call, target, policy)?;
    dispatch::limit(gw, call, rec).await?;
    let served = dispatch::dispatch(gw, call, &decision, &classified, session, rec).await?;
    Ok((decision, served))
}
