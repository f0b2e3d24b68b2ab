//! How a request ended and, when it did not complete, why: one stable, low-cardinality code
//! shared by the error body a client receives, the metrics' labels and the ledger's
//! `error_class`, with where the fault lies and how the request is counted.

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The response was delivered whole.
    Completed,
    /// A stream started and the upstream ended it early (error event sent to the client).
    CutOff,
    /// Every candidate failed before anything was sent.
    Failed,
    /// Policy or budget refused every candidate.
    Refused,
    /// The client went away before the response was complete.
    ClientDisconnected,
    /// The request was malformed or too large.
    RejectedInput,
    /// The server shut down before the request was done.
    Shutdown,
}

impl Outcome {
    /// Every outcome, for label enumeration.
    pub const ALL: [Outcome; 7] = [
        Outcome::Completed,
        Outcome::CutOff,
        Outcome::Failed,
        Outcome::Refused,
        Outcome::ClientDisconnected,
        Outcome::RejectedInput,
        Outcome::Shutdown,
    ];

    /// The stable label used in metrics and the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::CutOff => "cut_off",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::ClientDisconnected => "client_disconnected",
            Outcome::RejectedInput => "rejected_input",
            Outcome::Shutdown => "shutdown",
        }
    }
}

/// Where a fault comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The request itself (malformed, too large, unknown model, wrong key, went away).
    Client,
    /// The gateway's rules or state (policy, budgets, readiness, shutdown, its own bugs).
    Gateway,
    /// The backends (down, busy, timed out, failing mid-stream, refusing the request).
    Upstream,
}

/// A request's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The body is malformed or fails the schema.
    InvalidRequest,
    /// `x-tollgate-data-class` is not a class.
    InvalidDataClass,
    /// The body is larger than `server.max_body_bytes`.
    BodyTooLarge,
    /// The body could not be read.
    BodyReadFailed,
    /// Known path, wrong method (or a method the gateway never serves, like `CONNECT`).
    MethodNotAllowed,
    /// The request head is not HTTP/1.x that reads one way only (bad syntax, a length that is
    /// not a number, two lengths, a length beside chunked).
    MalformedHttp,
    /// The request head has too many fields or bytes.
    HeadersTooLarge,
    /// The request target is too long.
    UriTooLong,
    /// The client sent its head or body too slowly.
    RequestTimeout,
    /// The listener holds as many connections as it may.
    TooManyConnections,
    /// The gateway holds as many requests, or request bytes, as it may.
    GatewayBusy,
    /// Unknown path.
    UnknownUrl,
    /// `model` is neither a route nor a `BACKEND/MODEL`.
    ModelNotFound,
    /// No key, or an unknown key.
    InvalidApiKey,
    /// The tenant may not use this route.
    RouteNotAllowed,
    /// The tenant may not pin this model.
    ModelNotAllowed,
    /// The client closed the connection before the answer.
    ClientClosedRequest,
    /// Rules refuse every candidate.
    PolicyRefused,
    /// Every candidate the rules allow is down.
    NoHealthyBackend,
    /// No allowed candidate can take the request's size or features.
    NoCapableBackend,
    /// A budget is exhausted.
    BudgetExceeded,
    /// A tenant's or route's rate limit (requests, tokens per minute, or concurrent
    /// requests) is reached.
    RateLimited,
    /// The shared state (Redis) that budgets and rate limits are kept in is unreachable and
    /// `[cluster] state_unavailable = "reject"`: the gateway fails closed.
    StateUnavailable,
    /// The listeners are not up yet (or no longer).
    NotReady,
    /// The server shut down before the request was done.
    ServerShuttingDown,
    /// The request's task was dropped half-way for another reason.
    Cancelled,
    /// A fault of the gateway itself.
    InternalError,
    /// Every candidate was busy.
    BackendsBusy,
    /// Every candidate timed out.
    BackendsTimedOut,
    /// Every candidate failed.
    BackendsFailed,
    /// A backend refused the request with a 4xx the client must fix.
    UpstreamRejected,
    /// The last backend failed in a way no other could do better.
    UpstreamError,
    /// A backend failed after the answer had started.
    UpstreamStreamFailed,
    /// A backend refused the request as invalid for it, with its own stable code
    /// (`unsupported_parameter`, `context_length_exceeded`, ...).
    Backend(&'static str),
}

impl ErrorCode {
    /// The stable label, as the client, the metrics and the ledger see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidDataClass => "invalid_data_class",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::BodyReadFailed => "body_read_failed",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::MalformedHttp => "malformed_http",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::UriTooLong => "uri_too_long",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::GatewayBusy => "gateway_busy",
            ErrorCode::UnknownUrl => "unknown_url",
            ErrorCode::ModelNotFound => "model_not_found",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::RouteNotAllowed => "route_not_allowed",
            ErrorCode::ModelNotAllowed => "model_not_allowed",
            ErrorCode::ClientClosedRequest => "client_closed_request",
            ErrorCode::PolicyRefused => "policy_refused",
            ErrorCode::NoHealthyBackend => "no_healthy_backend",
            ErrorCode::NoCapableBackend => "no_capable_backend",
            ErrorCode::BudgetExceeded => "budget_exceeded",
            ErrorCode::RateLimited => "rate_limit_exceeded",
            ErrorCode::StateUnavailable => "state_unavailable",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::ServerShuttingDown => "server_shutting_down",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::BackendsBusy => "backends_busy",
            ErrorCode::BackendsTimedOut => "backends_timed_out",
            ErrorCode::BackendsFailed => "backends_failed",
            ErrorCode::UpstreamRejected => "upstream_rejected",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::UpstreamStreamFailed => "upstream_stream_failed",
            ErrorCode::Backend(code) => code,
        }
    }

    /// Where the fault lies.
    pub fn origin(self) -> Origin {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidDataClass
            | ErrorCode::BodyTooLarge
            | ErrorCode::BodyReadFailed
            | ErrorCode::MethodNotAllowed
            | ErrorCode::MalformedHttp
            | ErrorCode::HeadersTooLarge
            | ErrorCode::UriTooLong
            | ErrorCode::RequestTimeout
            | ErrorCode::UnknownUrl
            | ErrorCode::ModelNotFound
            | ErrorCode::InvalidApiKey
            | ErrorCode::RouteNotAllowed
            | ErrorCode::ModelNotAllowed
            | ErrorCode::ClientClosedRequest => Origin::Client,
            ErrorCode::PolicyRefused
            | ErrorCode::NoHealthyBackend
            | ErrorCode::NoCapableBackend
            | ErrorCode::BudgetExceeded
            | ErrorCode::RateLimited
            | ErrorCode::StateUnavailable
            | ErrorCode::NotReady
            | ErrorCode::ServerShuttingDown
            | ErrorCode::TooManyConnections
            | ErrorCode::GatewayBusy
            | ErrorCode::Cancelled
            | ErrorCode::InternalError => Origin::Gateway,
            ErrorCode::BackendsBusy
            | ErrorCode::BackendsTimedOut
            | ErrorCode::BackendsFailed
            | ErrorCode::UpstreamRejected
            | ErrorCode::UpstreamError
            | ErrorCode::UpstreamStreamFailed
            | ErrorCode::Backend(_) => Origin::Upstream,
        }
    }

    /// OpenAI's error `type` for it.
    pub fn openai_type(self) -> &'static str {
        match self {
            ErrorCode::InvalidApiKey => "authentication_error",
            ErrorCode::RouteNotAllowed | ErrorCode::ModelNotAllowed | ErrorCode::PolicyRefused => {
                "permission_error"
            }
            ErrorCode::BudgetExceeded => "insufficient_quota",
            ErrorCode::BackendsBusy | ErrorCode::RateLimited => "rate_limit_error",
            ErrorCode::InternalError => "server_error",
            ErrorCode::NoHealthyBackend
            | ErrorCode::StateUnavailable
            | ErrorCode::NotReady
            | ErrorCode::ServerShuttingDown
            | ErrorCode::TooManyConnections
            | ErrorCode::GatewayBusy
            | ErrorCode::Cancelled
            | ErrorCode::ClientClosedRequest
            | ErrorCode::BackendsTimedOut
            | ErrorCode::BackendsFailed
            | ErrorCode::UpstreamError
            | ErrorCode::UpstreamStreamFailed => "api_error",
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidDataClass
            | ErrorCode::BodyTooLarge
            | ErrorCode::BodyReadFailed
            | ErrorCode::MethodNotAllowed
            | ErrorCode::MalformedHttp
            | ErrorCode::HeadersTooLarge
            | ErrorCode::UriTooLong
            | ErrorCode::RequestTimeout
            | ErrorCode::UnknownUrl
            | ErrorCode::ModelNotFound
            | ErrorCode::NoCapableBackend
            | ErrorCode::UpstreamRejected
            | ErrorCode::Backend(_) => "invalid_request_error",
        }
    }

    /// How a request that ended with this code is counted: the one place outcomes are decided.
    /// `response_started`: bytes of the answer had reached the client, so the error could only
    /// go in-stream; `attempted`: a backend was tried.
    pub fn outcome(self, response_started: bool, attempted: bool) -> Outcome {
        match self {
            ErrorCode::ClientClosedRequest | ErrorCode::Cancelled => Outcome::ClientDisconnected,
            ErrorCode::ServerShuttingDown => Outcome::Shutdown,
            _ if response_started => Outcome::CutOff,
            // Authorization refusals, like the policy's, are refusals, not bad input.
            ErrorCode::InvalidApiKey | ErrorCode::RouteNotAllowed | ErrorCode::ModelNotAllowed => {
                Outcome::Refused
            }
            ErrorCode::InternalError => Outcome::Failed,
            _ => match self.origin() {
                Origin::Client => Outcome::RejectedInput,
                Origin::Gateway => Outcome::Refused,
                Origin::Upstream => match self {
                    // A backend's verdict on the request itself: the client's to fix.
                    ErrorCode::UpstreamRejected | ErrorCode::Backend(_) => Outcome::RejectedInput,
                    _ if attempted => Outcome::Failed,
                    _ => Outcome::Refused,
                },
            },
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_origin_not_status() {
        use ErrorCode::*;
        assert_eq!(BudgetExceeded.outcome(false, false), Outcome::Refused);
        assert_eq!(PolicyRefused.outcome(false, false), Outcome::Refused);
        assert_eq!(BodyTooLarge.outcome(false, false), Outcome::RejectedInput);
        assert_eq!(InvalidApiKey.outcome(false, false), Outcome::Refused);
        assert_eq!(ModelNotFound.outcome(false, false), Outcome::RejectedInput);
        assert_eq!(BackendsFailed.outcome(false, true), Outcome::Failed);
        assert_eq!(UpstreamStreamFailed.outcome(true, true), Outcome::CutOff);
        assert_eq!(
            ClientClosedRequest.outcome(true, true),
            Outcome::ClientDisconnected
        );
        assert_eq!(ServerShuttingDown.outcome(true, true), Outcome::Shutdown);
        assert_eq!(
            Backend("unsupported_parameter").outcome(false, true),
            Outcome::RejectedInput
        );
        assert_eq!(Backend("x").as_str(), "x");
    }
}
