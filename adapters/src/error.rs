//! Why one attempt at one backend failed, and whether the next candidate may be tried.

use bytes::Bytes;
use std::time::Duration;

/// Which of a backend's timeouts expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Establishing the TCP (and TLS) connection.
    Connect,
    /// Waiting for the response head and, for streams, the first event.
    FirstByte,
    /// The gap between two stream events.
    Idle,
    /// The whole attempt.
    Total,
}

impl TimeoutKind {
    /// A stable name for messages and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::FirstByte => "first_byte",
            TimeoutKind::Idle => "idle",
            TimeoutKind::Total => "total",
        }
    }
}

/// One failed attempt.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AttemptError {
    /// The connection could not be established (refused, DNS, TLS).
    #[error("could not connect: {0}")]
    Connect(String),
    /// A timeout expired.
    #[error("{} timeout after {} ms", .0.as_str(), .1.as_millis())]
    Timeout(TimeoutKind, Duration),
    /// The upstream answered with a non-success status.
    #[error("upstream answered HTTP {status}")]
    Status {
        /// HTTP status from the upstream.
        status: u16,
        /// The upstream's error body, passed to the client as is for non-retryable 4xx.
        body: Bytes,
        /// Seconds from the upstream's `Retry-After`, when it sent one.
        retry_after: Option<u64>,
    },
    /// The backend cannot take requests now (missing credentials, engine not loaded).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The backend's own queue is full.
    #[error("queue full")]
    Overloaded {
        /// Seconds after which a retry is reasonable.
        retry_after: u64,
    },
    /// The backend refuses this request as invalid for it; another backend would not do better
    /// with the same input, so there is no failover.
    #[error("{message}")]
    Rejected {
        /// HTTP status to answer with (400 mostly).
        status: u16,
        /// What is wrong, for the client.
        message: String,
        /// A stable code for the client and metrics.
        code: &'static str,
    },
    /// The vendor's own safety filter blocked the prompt. It does not fail over unless the
    /// route says so: a vendor with weaker rules must not get what a stricter one refused.
    #[error("{message}")]
    Blocked {
        /// What the vendor said, for the client.
        message: String,
    },
    /// The upstream's bytes could not be understood or ended early.
    #[error("upstream protocol error: {0}")]
    Protocol(String),
}

impl AttemptError {
    /// A request this backend kind cannot serve as asked (a feature its vendor lacks, which
    /// dropping would change the answer of): a 400, without failover.
    pub fn unsupported(message: impl Into<String>) -> AttemptError {
        AttemptError::Rejected {
            status: 400,
            message: message.into(),
            code: "unsupported_by_backend",
        }
    }

    /// A request that is wrong whatever the backend: a 400, without failover.
    pub fn invalid(message: impl Into<String>) -> AttemptError {
        AttemptError::Rejected {
            status: 400,
            message: message.into(),
            code: "invalid_request",
        }
    }

    /// Whether the next candidate may be tried after this failure (nothing has reached the
    /// client yet). A 4xx other than 401, 403, 408 and 429 is the client's problem, so it is
    /// not. A 401 or 403 answers the gateway's own credential for that backend (the client's
    /// key never leaves the gateway), so it is the backend's fault: another may serve.
    pub fn may_fail_over(&self) -> bool {
        match self {
            AttemptError::Status { status, .. } => {
                *status >= 500 || matches!(*status, 401 | 403 | 408 | 429)
            }
            AttemptError::Rejected { .. } | AttemptError::Blocked { .. } => false,
            _ => true,
        }
    }

    /// A stable, low-cardinality label for metrics and records.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptError::Connect(_) => "connect",
            AttemptError::Timeout(kind, _) => match kind {
                TimeoutKind::Connect => "timeout_connect",
                TimeoutKind::FirstByte => "timeout_first_byte",
                TimeoutKind::Idle => "timeout_idle",
                TimeoutKind::Total => "timeout_total",
            },
            AttemptError::Status { status, .. } => match status {
                429 => "upstream_429",
                408 => "upstream_408",
                401 | 403 => "upstream_auth",
                400..=499 => "upstream_4xx",
                _ => "upstream_5xx",
            },
            AttemptError::Unavailable(_) => "unavailable",
            AttemptError::Overloaded { .. } => "overloaded",
            AttemptError::Rejected { code, .. } => code,
            AttemptError::Blocked { .. } => "content_blocked",
            AttemptError::Protocol(_) => "protocol",
        }
    }
}
