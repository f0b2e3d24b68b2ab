//! `[cluster]` (state shared by replicas) and `[rate_limits]` (requests, tokens and
//! concurrency per tenant and route).
//!
//! ```toml
//! [cluster]
//! redis_url = "redis://127.0.0.1:6379/"   # Valkey or Redis; absent: one process, in memory
//! state_unavailable = "reject"            # or "local_share"
//! replicas = 3                            # local_share enforces limit ÷ replicas
//! timeout_ms = 100
//! lease_seconds = 600
//!
//! [rate_limits.tenants.acme]
//! requests_per_minute = 600
//! tokens_per_minute = 200000
//! concurrent_requests = 20
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;

/// `[cluster]`: where budgets and rate limits live when several replicas share them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `redis_url`: a Redis or Valkey server (`redis://[user:pass@]host:port/db`,
    /// `rediss://` for TLS is not built in). Absent: budgets and rate limits are this
    /// process's own, in memory.
    pub redis_url: Option<String>,
    /// `state_unavailable`: what a request gets while Redis cannot be reached.
    pub state_unavailable: StateUnavailable,
    /// `replicas`: how many replicas share the limits; with `local_share` each enforces its
    /// share (limit ÷ replicas) while Redis is unreachable. Default 1.
    pub replicas: u32,
    /// `timeout_ms`: the longest a call to Redis may take before it counts as unreachable.
    /// Default 100.
    pub timeout_ms: u64,
    /// `lease_seconds`: how long a reservation (budget, tokens, a concurrency slot) is held
    /// for a request that never settles it, e.g. because its replica died. Default 600.
    pub lease_seconds: u64,
    /// `key_prefix`: the prefix of every key the gateway writes. Default `tollgate`.
    pub key_prefix: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            redis_url: None,
            state_unavailable: StateUnavailable::Reject,
            replicas: 1,
            timeout_ms: 100,
            lease_seconds: 600,
            key_prefix: "tollgate".to_string(),
        }
    }
}

/// What happens to requests while the shared state is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateUnavailable {
    /// Fail closed: a request that a budget or rate limit applies to gets a 503. Default,
    /// since a limit that cannot be checked is not a limit.
    #[default]
    Reject,
    /// Each replica enforces its share of every limit (limit ÷ `replicas`) on its own until
    /// Redis is back.
    LocalShare,
}

impl StateUnavailable {
    /// Label value: `reject` or `local_share`.
    pub fn as_str(self) -> &'static str {
        match self {
            StateUnavailable::Reject => "reject",
            StateUnavailable::LocalShare => "local_share",
        }
    }
}

/// `[rate_limits]`: limits per tenant and route, per UTC minute and at once.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// `[rate_limits.tenants.NAME]`
    pub tenants: BTreeMap<String, RateLimit>,
    /// `[rate_limits.routes.NAME]`
    pub routes: BTreeMap<String, RateLimit>,
}

impl RateLimitsConfig {
    /// Whether any limit is set.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty() && self.routes.is_empty()
    }
}

/// The limits of one tenant or route; an absent key is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// `requests_per_minute`: requests started per UTC minute.
    pub requests_per_minute: Option<u64>,
    /// `tokens_per_minute`: prompt plus completion tokens per UTC minute; a request reserves
    /// its estimated prompt plus its `max_tokens` when it starts and gets back what it did not
    /// use when it ends.
    pub tokens_per_minute: Option<u64>,
    /// `concurrent_requests`: requests in flight at once.
    pub concurrent_requests: Option<u64>,
}

impl RateLimit {
    /// These limits divided among `replicas` (each at least 1).
    pub fn share(self, replicas: u32) -> RateLimit {
        let n = u64::from(replicas.max(1));
        let part = |v: Option<u64>| v.map(|v| (v / n).max(1));
        RateLimit {
            requests_per_minute: part(self.requests_per_minute),
            tokens_per_minute: part(self.tokens_per_minute),
            concurrent_requests: part(self.concurrent_requests),
        }
    }
}

/// Adds the problems of `[cluster]` and `[rate_limits]` to `problems`, each keyed by its path.
pub(crate) fn problems(
    cluster: &ClusterConfig,
    limits: &RateLimitsConfig,
    problems: &mut Vec<String>,
) {
    if let Some(url) = &cluster.redis_url {
        if let Err(e) = redis::Client::open(url.as_str()) {
            problems.push(format!("cluster.redis_url: not a Redis URL ({e})"));
        }
    }
    if cluster.replicas == 0 {
        problems.push("cluster.replicas: must be at least 1".to_string());
    }
    if cluster.timeout_ms == 0 {
        problems.push("cluster.timeout_ms: must be at least 1".to_string());
    }
    if cluster.lease_seconds == 0 {
        problems.push("cluster.lease_seconds: must be at least 1".to_string());
    }
    if cluster.key_prefix.is_empty() || cluster.key_prefix.contains(char::is_whitespace) {
        problems.push("cluster.key_prefix: must be a word without spaces".to_string());
    }
    for (scope, map) in [("tenants", &limits.tenants), ("routes", &limits.routes)] {
        for (name, l) in map {
            for (key, v) in [
                ("requests_per_minute", l.requests_per_minute),
                ("tokens_per_minute", l.tokens_per_minute),
                ("concurrent_requests", l.concurrent_requests),
            ] {
                if v == Some(0) {
                    problems.push(format!(
                        "rate_limits.{scope}.{name}.{key}: must be at least 1 (leave it out for no limit)"
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_never_zero() {
        let l = RateLimit {
            requests_per_minute: Some(10),
            tokens_per_minute: Some(2),
            concurrent_requests: None,
        };
        let s = l.share(3);
        assert_eq!(s.requests_per_minute, Some(3));
        assert_eq!(s.tokens_per_minute, Some(1));
        assert_eq!(s.concurrent_requests, None);
    }

    #[test]
    fn problems_are_keyed_by_path() {
        let cluster = ClusterConfig {
            redis_url: Some("nonsense".into()),
            replicas: 0,
            ..ClusterConfig::default()
        };
        let mut limits = RateLimitsConfig::default();
        limits.tenants.insert(
            "t".into(),
            RateLimit {
                requests_per_minute: Some(0),
                ..RateLimit::default()
            },
        );
        let mut p = Vec::new();
        problems(&cluster, &limits, &mut p);
        assert!(
            p.iter().any(|p| p.starts_with("cluster.redis_url:")),
            "{p:?}"
        );
        assert!(p.iter().any(|p| p.starts_with("cluster.replicas:")));
        assert!(p
            .iter()
            .any(|p| p.starts_with("rate_limits.tenants.t.requests_per_minute:")));
    }
}
