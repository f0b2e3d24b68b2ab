//! `[server]`, checked: listeners, limits, and what a client connection may cost.

use super::raw::{RawConfig, RawServer};
use super::Errors;
use std::net::SocketAddr;
use std::time::Duration;

/// `[server]`, checked.
#[derive(Debug, Clone)]
pub struct Server {
    /// API listeners.
    pub listen: Vec<SocketAddr>,
    /// Admin listener.
    pub admin_listen: Option<SocketAddr>,
    /// The environment variable holding the admin token; `None`: the admin listener is open
    /// (`/metrics`) and the spend page refuses to serve.
    pub admin_token_env: Option<String>,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Server worker threads.
    pub threads: usize,
    /// Seconds in-flight requests get on shutdown.
    pub grace_period_seconds: u64,
    /// What a connection may cost before it is refused or closed.
    pub connections: ConnLimits,
    /// Chat requests in flight at once.
    pub max_in_flight: usize,
    /// Bytes of request bodies held at once.
    pub max_body_bytes_in_flight: usize,
}

/// A backend's concurrency limit (see `RawConcurrency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// Answers in flight at once.
    pub max: usize,
    /// Requests that may wait for a slot.
    pub queue: usize,
    /// The longest wait.
    pub queue_timeout: Duration,
}

/// Bounds on each client connection: how many, how slow, how large a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open connections per listener kind (API, admin).
    pub max_connections: usize,
    /// Time to send a whole request head.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may sit idle.
    pub idle_timeout: Duration,
    /// Time a body may take before `body_min_rate` extends it.
    pub body_timeout: Duration,
    /// Bytes per second that earn a body one more second.
    pub body_min_rate: u64,
    /// Largest request head in bytes.
    pub max_header_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
    /// Longest request target in bytes.
    pub max_uri_bytes: usize,
}

/// pingora's own parser refuses heads past these; ours must refuse first, with a clear answer.
const PINGORA_MAX_HEADERS: usize = 256;
const PINGORA_MAX_HEADER_BYTES: usize = 1_048_575;

pub(super) fn check_server(raw: &RawConfig, errors: &mut Errors) -> Server {
    let s = &raw.server;
    let listen: Vec<SocketAddr> = s
        .listen
        .to_vec()
        .iter()
        .enumerate()
        .filter_map(|(i, a)| parse_addr(a, &format!("server.listen[{i}]"), errors))
        .collect();
    if listen.is_empty() && errors.0.is_empty() {
        errors.add("server.listen", "at least one listen address is needed");
    }
    let admin_listen = s
        .admin_listen
        .as_deref()
        .and_then(|a| parse_addr(a, "server.admin_listen", errors));
    let admin_token_env = s.admin_token_env.as_deref().map(str::trim);
    if admin_token_env.is_some_and(|v| v.is_empty() || v.contains(['=', '\0'])) {
        errors.add(
            "server.admin_token_env",
            "must be the name of an environment variable, e.g. TOLLGATE_ADMIN_TOKEN",
        );
    }
    if s.max_body_bytes == 0 {
        errors.add("server.max_body_bytes", "must be greater than 0");
    }
    if s.threads == 0 {
        errors.add("server.threads", "must be at least 1");
    }
    Server {
        listen,
        admin_listen,
        admin_token_env: admin_token_env.map(str::to_string),
        max_body_bytes: s.max_body_bytes,
        threads: s.threads,
        grace_period_seconds: s.grace_period_seconds,
        connections: check_connections(s, errors),
        max_in_flight: s.max_in_flight,
        max_body_bytes_in_flight: s.max_body_bytes_in_flight,
    }
}

fn check_connections(s: &RawServer, errors: &mut Errors) -> ConnLimits {
    let positive = [
        ("server.max_connections", s.max_connections as u64),
        ("server.header_timeout_ms", s.header_timeout_ms),
        ("server.idle_timeout_ms", s.idle_timeout_ms),
        ("server.body_timeout_ms", s.body_timeout_ms),
        ("server.body_min_rate", s.body_min_rate),
        ("server.max_uri_bytes", s.max_uri_bytes as u64),
        ("server.max_in_flight", s.max_in_flight as u64),
    ];
    for (path, value) in positive {
        if value == 0 {
            errors.add(path, "must be greater than 0");
        }
    }
    if s.max_body_bytes_in_flight < s.max_body_bytes {
        errors.add(
            "server.max_body_bytes_in_flight",
            "must be at least server.max_body_bytes, or the largest body could never be read",
        );
    }
    if !(1..=PINGORA_MAX_HEADERS).contains(&s.max_headers) {
        errors.add(
            "server.max_headers",
            format!("must be between 1 and {PINGORA_MAX_HEADERS}"),
        );
    }
    if !(1024..=PINGORA_MAX_HEADER_BYTES).contains(&s.max_header_bytes) {
        errors.add(
            "server.max_header_bytes",
            format!("must be between 1024 and {PINGORA_MAX_HEADER_BYTES}"),
        );
    }
    ConnLimits {
        max_connections: s.max_connections,
        header_timeout: Duration::from_millis(s.header_timeout_ms),
        idle_timeout: Duration::from_millis(s.idle_timeout_ms),
        body_timeout: Duration::from_millis(s.body_timeout_ms),
        body_min_rate: s.body_min_rate,
        max_header_bytes: s.max_header_bytes,
        max_headers: s.max_headers,
        max_uri_bytes: s.max_uri_bytes,
    }
}

fn parse_addr(a: &str, path: &str, errors: &mut Errors) -> Option<SocketAddr> {
    match a.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            errors.add(
                path,
                format!("'{a}' is not a socket address like 127.0.0.1:8000"),
            );
            None
        }
    }
}
