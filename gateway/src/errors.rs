//! Every error a client can receive. [`ApiError`] carries its stable [`ErrorCode`] (shared with
//! the metrics and the ledger), where the fault lies ([`Origin`]), its status and the attempt
//! error it came from; `respond::error` is the one place it becomes a response.

use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use tollgate_adapters::AttemptError;
pub use tollgate_metering::{ErrorCode, Origin};

/// An error answered to the client in OpenAI's shape: `{"error":{"message","type","code"}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The stable, low-cardinality code; the body's `code`, the metrics' and ledger's label.
    pub code: ErrorCode,
    /// A sentence for the client.
    pub message: String,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u64>,
    /// Extra structured detail merged into the `error` object (attempts, refusals, ...).
    pub details: Option<(&'static str, Value)>,
    /// An upstream's own error body, returned to the client as is.
    pub upstream_body: Option<Bytes>,
    /// The client's rate-limit headroom, sent as `x-ratelimit-*` headers.
    pub headroom: Option<Box<tollgate_metering::Headroom>>,
    /// The attempt error this one came from, for logs (`std::error::Error::source`).
    pub source: Option<Arc<AttemptError>>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ApiError {
    /// The 429 a budget refusal is answered with.
    pub fn budget_exceeded(b: &tollgate_metering::BudgetExceeded) -> ApiError {
        let retry_after =
            u64::try_from((b.resets_at_ms - crate::meter::now_ms()).max(0) / 1000 + 1).ok();
        let resets_at = format!(
            "{}T00:00:00Z",
            tollgate_metering::time::Date::from_unix_ms(b.resets_at_ms)
        );
        ApiError {
            status: 429,
            code: ErrorCode::BudgetExceeded,
            message: b.to_string(),
            param: None,
            retry_after,
            details: Some((
                "budget",
                json!({
                    "scope": b.scope.as_str(),
                    "name": b.name,
                    "period": b.period.as_str(),
                    "limit_usd": b.limit_usd,
                    "spent_usd": b.spent_usd,
                    "reserved_usd": b.reserved_usd,
                    "requested_usd": b.requested_usd,
                    "resets_at": resets_at,
                }),
            )),
            upstream_body: None,
            headroom: None,
            source: None,
        }
    }

    /// The 429 a rate limit is answered with; `Retry-After` says when a retry can pass.
    pub fn rate_limited(r: &tollgate_metering::RateExceeded) -> ApiError {
        let retry_after = u64::try_from(((r.retry_after_ms.max(0) + 999) / 1000).max(1)).ok();
        ApiError {
            retry_after,
            headroom: Some(Box::new(r.headroom)),
            details: Some((
                "rate_limit",
                json!({
                    "scope": r.scope.as_str(),
                    "name": r.name,
                    "limit": r.kind.as_str(),
                    "value": r.limit,
                    "used": r.used,
                    "retry_after_ms": r.retry_after_ms,
                }),
            )),
            ..Self::new(429, ErrorCode::RateLimited, r.to_string())
        }
    }

    /// The 503 of a request whose limits cannot be checked: the shared state is unreachable
    /// and `state_unavailable = "reject"`.
    pub fn state_unavailable(message: String) -> ApiError {
        Self::new(503, ErrorCode::StateUnavailable, message).with_retry_after(1)
    }

    /// The error of a refused admission.
    pub fn refused(r: &tollgate_metering::Refusal) -> ApiError {
        use tollgate_metering::Refusal;
        match r {
            Refusal::Budget(b) => Self::budget_exceeded(b),
            Refusal::Rate(rate) => Self::rate_limited(rate),
            Refusal::Unavailable(_) => Self::state_unavailable(r.to_string()),
        }
    }

    /// An error with this status and code.
    pub fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            param: None,
            retry_after: None,
            details: None,
            upstream_body: None,
            headroom: None,
            source: None,
        }
    }

    /// OpenAI's error `type`.
    pub fn kind(&self) -> &'static str {
        self.code.openai_type()
    }

    /// Where the fault lies.
    pub fn origin(&self) -> Origin {
        self.code.origin()
    }

    /// Whether the connection may serve another request after this answer: not when the
    /// request's body was left unread (too large, unreadable), nor while shutting down.
    pub fn keeps_connection(&self) -> bool {
        !matches!(
            self.code,
            ErrorCode::BodyTooLarge
                | ErrorCode::BodyReadFailed
                | ErrorCode::RequestTimeout
                | ErrorCode::ServerShuttingDown
        )
    }

    /// 400: the request body is malformed or fails the schema.
    pub fn invalid_request(message: impl Into<String>, param: Option<String>) -> Self {
        ApiError {
            param,
            ..Self::new(400, ErrorCode::InvalidRequest, message)
        }
    }

    /// 400 with a specific code.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// 401: no key or an unknown key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, ErrorCode::InvalidApiKey, message)
    }

    /// 403: the tenant may not use this route, or rules refuse every backend.
    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    /// 404: unknown path or model.
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    /// 405: known path, wrong method.
    pub fn method_not_allowed(allowed: &str) -> Self {
        Self::new(
            405,
            ErrorCode::MethodNotAllowed,
            format!("method not allowed; use {allowed}"),
        )
    }

    /// 413: the body is larger than the configured limit.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            413,
            ErrorCode::BodyTooLarge,
            format!(
                "request body is larger than the limit of {limit} bytes (server.max_body_bytes)"
            ),
        )
    }

    /// 408: the client sent its head or body too slowly.
    pub fn request_timeout(what: &str) -> Self {
        Self::new(
            408,
            ErrorCode::RequestTimeout,
            format!("the request {what} did not arrive in time; the connection is closed"),
        )
    }

    /// 503: the listener holds `server.max_connections` connections.
    pub fn too_many_connections(max: usize) -> Self {
        Self::new(
            503,
            ErrorCode::TooManyConnections,
            format!("the gateway holds its limit of {max} connections (server.max_connections); retry shortly"),
        )
        .with_retry_after(1)
    }

    /// 503: the server stopped before the request was done (its grace period ran out).
    pub fn shutting_down() -> Self {
        Self::new(
            503,
            ErrorCode::ServerShuttingDown,
            "the gateway is shutting down and its grace period ran out before this request \
             finished; retry on another instance",
        )
        .with_retry_after(1)
    }

    /// 503: the gateway sheds this request to stay within its bounds.
    pub fn gateway_busy(message: impl Into<String>) -> Self {
        Self::new(503, ErrorCode::GatewayBusy, message).with_retry_after(1)
    }

    /// 499: the client closed the connection before the answer (nginx's convention); never
    /// written, only recorded.
    pub fn client_closed() -> Self {
        Self::new(
            499,
            ErrorCode::ClientClosedRequest,
            "the client closed the connection",
        )
    }

    /// An upstream failure after the stream started: sent as the stream's last event.
    pub fn stream_cut(err: &AttemptError) -> Self {
        Self::new(
            502,
            ErrorCode::UpstreamStreamFailed,
            format!("the backend failed mid-stream: {err}"),
        )
        .caused_by(err)
    }

    /// 500: a fault of the gateway itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, ErrorCode::InternalError, message)
    }

    /// Notes the attempt error this one came from.
    pub fn caused_by(mut self, err: &AttemptError) -> Self {
        self.source = Some(Arc::new(err.clone()));
        self
    }

    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds structured detail to the error object.
    pub fn with_details(mut self, key: &'static str, value: Value) -> Self {
        self.details = Some((key, value));
        self
    }

    /// The error for a backend failure that must not fail over (a client error the upstream
    /// reported, or a request the backend can never serve).
    pub fn from_final_attempt(err: &AttemptError) -> Self {
        let e = match err {
            AttemptError::Status {
                status,
                body,
                retry_after,
            } => ApiError {
                retry_after: *retry_after,
                upstream_body: looks_like_openai_error(body).then(|| body.clone()),
                ..Self::new(
                    *status,
                    ErrorCode::UpstreamRejected,
                    format!(
                        "the backend rejected the request (HTTP {status}): {}",
                        String::from_utf8_lossy(&body[..body.len().min(2048)])
                    ),
                )
            },
            AttemptError::Rejected {
                status,
                message,
                code,
            } => Self::new(*status, ErrorCode::Backend(code), message.clone()),
            AttemptError::Blocked { message } => {
                Self::new(400, ErrorCode::Backend("content_blocked"), message.clone())
            }
            other => Self::new(502, ErrorCode::UpstreamError, other.to_string()),
        };
        e.caused_by(err)
    }

    /// The error when every candidate failed with a failover-able error.
    pub fn all_attempts_failed(attempts: &[(String, AttemptError)]) -> Self {
        let all_busy = attempts.iter().all(|(_, e)| {
            matches!(e, AttemptError::Overloaded { .. })
                || matches!(e, AttemptError::Status { status: 429, .. })
        });
        let all_timeouts = attempts
            .iter()
            .all(|(_, e)| matches!(e, AttemptError::Timeout(..)));
        let summary: Vec<String> = attempts
            .iter()
            .map(|(who, e)| format!("{who}: {e}"))
            .collect();
        let details = Value::Array(
            attempts
                .iter()
                .map(|(who, e)| json!({"candidate": who, "error": e.label(), "message": e.to_string()}))
                .collect(),
        );
        let message = format!("every candidate failed: {}", summary.join("; "));
        let err = if all_busy {
            let retry_after = attempts
                .iter()
                .filter_map(|(_, e)| match e {
                    AttemptError::Overloaded { retry_after } => Some(*retry_after),
                    AttemptError::Status { retry_after, .. } => *retry_after,
                    _ => None,
                })
                .min()
                .unwrap_or(1);
            ApiError {
                retry_after: Some(retry_after),
                ..Self::new(429, ErrorCode::BackendsBusy, message)
            }
        } else if all_timeouts {
            Self::new(504, ErrorCode::BackendsTimedOut, message)
        } else {
            Self::new(502, ErrorCode::BackendsFailed, message)
        };
        err.with_details("attempts", details)
    }

    /// The response body.
    pub fn body(&self) -> Bytes {
        if let Some(body) = &self.upstream_body {
            return body.clone();
        }
        let mut error = json!({
            "message": self.message,
            "type": self.kind(),
            "param": self.param,
            "code": self.code.as_str(),
        });
        if let (Some((key, value)), Some(obj)) = (&self.details, error.as_object_mut()) {
            obj.insert((*key).to_string(), value.clone());
        }
        Bytes::from(json!({ "error": error }).to_string())
    }

    /// The whole HTTP/1.1 response, for refusals made before pingora has a session (the
    /// connection's head was refused, or the listener is full). The connection closes after it.
    pub fn raw_response(&self) -> Vec<u8> {
        let body = self.body();
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            self.status,
            body.len()
        );
        if let Some(secs) = self.retry_after {
            out.push_str(&format!("retry-after: {secs}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(&body);
        out
    }

    /// The sentence a client reads: an upstream's own message when its body is relayed.
    pub fn client_message(&self) -> String {
        self.upstream_body
            .as_ref()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_string))
            .unwrap_or_else(|| self.message.clone())
    }

    /// The error as one SSE event, for failures after a stream has started.
    pub fn sse_event(&self) -> Bytes {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&self.body());
        out.extend_from_slice(b"\n\n");
        Bytes::from(out)
    }
}

fn looks_like_openai_error(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .map(|v| v.get("error").is_some_and(|e| e.is_object()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tollgate_adapters::error::TimeoutKind;

    #[test]
    fn body_is_openai_shaped() {
        let e = ApiError::invalid_request("bad", Some("messages".into()));
        let v: Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["message"], "bad");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "invalid_request");
        assert_eq!(e.origin(), Origin::Client);
        assert_eq!(v["error"]["param"], "messages");
    }

    #[test]
    fn upstream_openai_errors_pass_through_as_is() {
        let body = Bytes::from_static(
            br#"{"error":{"message":"nope","type":"invalid_request_error","code":"x"}}"#,
        );
        let e = ApiError::from_final_attempt(&AttemptError::Status {
            status: 400,
            body: body.clone(),
            retry_after: None,
        });
        assert_eq!(e.status, 400);
        assert_eq!(e.body(), body);
    }

    #[test]
    fn all_failed_picks_the_status_that_fits() {
        let busy = vec![
            (
                "a/m".to_string(),
                AttemptError::Overloaded { retry_after: 3 },
            ),
            (
                "b/m".to_string(),
                AttemptError::Status {
                    status: 429,
                    body: Bytes::new(),
                    retry_after: Some(7),
                },
            ),
        ];
        let e = ApiError::all_attempts_failed(&busy);
        assert_eq!((e.status, e.retry_after), (429, Some(3)));
        let slow = vec![(
            "a/m".to_string(),
            AttemptError::Timeout(TimeoutKind::FirstByte, Duration::from_secs(1)),
        )];
        assert_eq!(ApiError::all_attempts_failed(&slow).status, 504);
        let mixed = vec![
            ("a/m".to_string(), AttemptError::Connect("refused".into())),
            (
                "b/m".to_string(),
                AttemptError::Timeout(TimeoutKind::Idle, Duration::from_secs(1)),
            ),
        ];
        let e = ApiError::all_attempts_failed(&mixed);
        assert_eq!(e.status, 502);
        let v: Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["attempts"][0]["error"], "connect");
        assert_eq!(v["error"]["attempts"][1]["error"], "timeout_idle");
    }
}
