//! Rate limits per tenant and route: requests and tokens per UTC minute, and requests in
//! flight, in this process (the shared form, on Redis, is in `shared`; both apply the rules of
//! [`check`]).
//!
//! A request asks once, before its first attempt, for one request, its worst-case tokens
//! (estimated prompt plus `max_tokens`) and one concurrency slot, against every limit of its
//! tenant and its route at once: all or nothing. When it ends, the slot is given back and the
//! tokens it did not use are refunded to the minute they were taken from (a minute that has
//! passed is not rewritten). A request larger than a whole minute's tokens is let through
//! when the minute is otherwise unused, else it could never run: limits hold to within one
//! request.

use crate::config::{RateLimit, RateLimitsConfig};
use crate::window::Scope;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One UTC minute, in milliseconds.
pub const MINUTE_MS: i64 = 60_000;

/// Which limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `requests_per_minute`
    Requests,
    /// `tokens_per_minute`
    Tokens,
    /// `concurrent_requests`
    Concurrent,
}

impl Kind {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Requests => "requests_per_minute",
            Kind::Tokens => "tokens_per_minute",
            Kind::Concurrent => "concurrent_requests",
        }
    }
}

/// What one scope has used in the current minute, and at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Used {
    /// Requests started this minute.
    pub requests: u64,
    /// Tokens taken this minute.
    pub tokens: u64,
    /// Requests in flight.
    pub concurrent: u64,
}

/// The state of one limit after a request was let through, for `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Left {
    /// The limit.
    pub limit: u64,
    /// What is left of it.
    pub remaining: u64,
    /// Milliseconds until it resets.
    pub reset_ms: i64,
}

/// What the client is told about its limits: the tightest of its tenant's and route's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Headroom {
    /// Requests per minute.
    pub requests: Option<Left>,
    /// Tokens per minute.
    pub tokens: Option<Left>,
}

impl Headroom {
    fn tighten(slot: &mut Option<Left>, new: Left) {
        if slot.is_none_or(|s| new.remaining < s.remaining) {
            *slot = Some(new);
        }
    }

    /// The tighter of `self` and `other`, limit by limit.
    pub fn tightest(mut self, other: Headroom) -> Headroom {
        if let Some(l) = other.requests {
            Self::tighten(&mut self.requests, l);
        }
        if let Some(l) = other.tokens {
            Self::tighten(&mut self.tokens, l);
        }
        self
    }
}

/// A refusal: which limit of whom, and when to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateExceeded {
    /// Tenant or route.
    pub scope: Scope,
    /// Its name.
    pub name: String,
    /// The limit that refused.
    pub kind: Kind,
    /// Its value.
    pub limit: u64,
    /// What is used of it.
    pub used: u64,
    /// Milliseconds until a retry can succeed (the minute's end; a second for concurrency).
    pub retry_after_ms: i64,
    /// The client's headroom, for headers.
    pub headroom: Headroom,
}

impl fmt::Display for RateExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rate limit of {} '{}' reached: {} = {}, used {}; retry in {:.1} s",
            self.scope.as_str(),
            self.name,
            self.kind.as_str(),
            self.limit,
            self.used,
            self.retry_after_ms as f64 / 1000.0
        )
    }
}

/// Milliseconds from `now_ms` to the end of its minute.
pub fn to_minute_end(now_ms: i64) -> i64 {
    MINUTE_MS - now_ms.rem_euclid(MINUTE_MS)
}

/// The rule, for one scope: `Err` names the first limit that `tokens` more (and one more
/// request) would pass, `Ok` what is left after taking them.
pub fn check(
    limit: &RateLimit,
    used: Used,
    tokens: u64,
    now_ms: i64,
) -> Result<Headroom, (Kind, u64, u64, i64)> {
    let reset = to_minute_end(now_ms);
    if let Some(l) = limit.requests_per_minute {
        if used.requests + 1 > l {
            return Err((Kind::Requests, l, used.requests, reset));
        }
    }
    if let Some(l) = limit.tokens_per_minute {
        // A request larger than the whole minute runs alone in an unused minute.
        if used.tokens > 0 && used.tokens + tokens > l {
            return Err((Kind::Tokens, l, used.tokens, reset));
        }
    }
    if let Some(l) = limit.concurrent_requests {
        if used.concurrent + 1 > l {
            return Err((Kind::Concurrent, l, used.concurrent, 1000));
        }
    }
    let left = |limit: u64, after: u64| Left {
        limit,
        remaining: limit.saturating_sub(after),
        reset_ms: reset,
    };
    Ok(Headroom {
        requests: limit
            .requests_per_minute
            .map(|l| left(l, used.requests + 1)),
        tokens: limit
            .tokens_per_minute
            .map(|l| left(l, used.tokens + tokens)),
    })
}

/// The limits that apply to a request, with their scope and name.
pub fn applicable<'a>(
    cfg: &'a RateLimitsConfig,
    tenant: &'a str,
    route: &'a str,
) -> impl Iterator<Item = (Scope, &'a str, &'a RateLimit)> {
    let t = cfg.tenants.get(tenant).map(|l| (Scope::Tenant, tenant, l));
    let r = cfg.routes.get(route).map(|l| (Scope::Route, route, l));
    t.into_iter().chain(r)
}

#[derive(Debug, Default)]
struct Window {
    minute: i64,
    used: Used,
}

impl Window {
    fn roll(&mut self, minute: i64) {
        if minute > self.minute {
            self.minute = minute;
            self.used.requests = 0;
            self.used.tokens = 0;
        }
    }
}

#[derive(Debug, Default)]
struct Windows {
    by_key: HashMap<(Scope, String), Window>,
}

/// Rate limits enforced by this process alone.
#[derive(Debug, Clone)]
pub struct RateLimits {
    cfg: Arc<RateLimitsConfig>,
    state: Arc<Mutex<Windows>>,
}

/// What a request took from the local limits; given back by [`RateLimits::settle`] or on drop.
#[derive(Debug)]
pub struct LocalTicket {
    minute: i64,
    tokens: u64,
    keys: Vec<(Scope, String)>,
    state: Arc<Mutex<Windows>>,
    settled: bool,
}

impl LocalTicket {
    fn give_back(&mut self, used_tokens: Option<u64>) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let mut st = self.state.lock();
        for key in &self.keys {
            if let Some(w) = st.by_key.get_mut(key) {
                w.used.concurrent = w.used.concurrent.saturating_sub(1);
                if let (Some(used), true) = (used_tokens, w.minute == self.minute) {
                    w.used.tokens = (w.used.tokens + used).saturating_sub(self.tokens);
                }
            }
        }
    }

    /// Ends the request: frees its slot and settles its tokens at `used_tokens`.
    pub fn settle(mut self, used_tokens: u64) {
        self.give_back(Some(used_tokens));
    }
}

impl Drop for LocalTicket {
    fn drop(&mut self) {
        // Never settled (the request's task ended early): keep the tokens as taken.
        let tokens = self.tokens;
        self.give_back(Some(tokens));
    }
}

impl RateLimits {
    /// The limits of `cfg`.
    pub fn new(cfg: RateLimitsConfig) -> RateLimits {
        RateLimits {
            cfg: Arc::new(cfg),
            state: Arc::default(),
        }
    }

    /// The configured limits.
    pub fn config(&self) -> &RateLimitsConfig {
        &self.cfg
    }

    /// Whether any limit applies to `tenant` or `route`.
    pub fn applies(&self, tenant: &str, route: &str) -> bool {
        applicable(&self.cfg, tenant, route).next().is_some()
    }

    /// Takes one request, `tokens` tokens and one slot from every limit of `tenant` and
    /// `route`, or nothing.
    pub fn admit(
        &self,
        tenant: &str,
        route: &str,
        tokens: u64,
        now_ms: i64,
    ) -> Result<(LocalTicket, Headroom), RateExceeded> {
        let minute = now_ms.div_euclid(MINUTE_MS);
        let mut st = self.state.lock();
        let mut headroom = Headroom::default();
        let mut keys = Vec::new();
        for (scope, name, limit) in applicable(&self.cfg, tenant, route) {
            let w = st.by_key.entry((scope, name.to_string())).or_default();
            w.roll(minute);
            match check(limit, w.used, tokens, now_ms) {
                Ok(h) => {
                    headroom = headroom.tightest(h);
                    keys.push((scope, name.to_string()));
                }
                Err((kind, limit, used, retry_after_ms)) => {
                    return Err(RateExceeded {
                        scope,
                        name: name.to_string(),
                        kind,
                        limit,
                        used,
                        retry_after_ms,
                        headroom,
                    })
                }
            }
        }
        for key in &keys {
            if let Some(w) = st.by_key.get_mut(key) {
                w.used.requests += 1;
                w.used.tokens += tokens;
                w.used.concurrent += 1;
            }
        }
        drop(st);
        let ticket = LocalTicket {
            minute,
            tokens,
            keys,
            state: Arc::clone(&self.state),
            settled: false,
        };
        Ok((ticket, headroom))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rpm: Option<u64>, tpm: Option<u64>, conc: Option<u64>) -> RateLimits {
        let mut cfg = RateLimitsConfig::default();
        cfg.tenants.insert(
            "t".into(),
            RateLimit {
                requests_per_minute: rpm,
                tokens_per_minute: tpm,
                concurrent_requests: conc,
            },
        );
        RateLimits::new(cfg)
    }

    #[test]
    fn requests_per_minute_reset_at_the_minute() {
        let l = limits(Some(2), None, None);
        let a = l.admit("t", "r", 1, 0).unwrap();
        let b = l.admit("t", "r", 1, 10).unwrap();
        assert_eq!(b.1.requests.unwrap().remaining, 0);
        let refused = l.admit("t", "r", 1, 59_000).unwrap_err();
        assert_eq!(refused.kind, Kind::Requests);
        assert_eq!(refused.retry_after_ms, 1000);
        drop((a, b));
        assert!(l.admit("t", "r", 1, 60_000).is_ok());
        assert!(l.admit("other", "r", 1, 0).is_ok(), "no limit, no refusal");
    }

    #[test]
    fn tokens_are_refunded_within_their_minute_only() {
        let l = limits(None, Some(100), None);
        let (a, _) = l.admit("t", "r", 80, 0).unwrap();
        assert_eq!(l.admit("t", "r", 30, 0).unwrap_err().kind, Kind::Tokens);
        a.settle(10);
        let (b, h) = l.admit("t", "r", 30, 0).unwrap();
        assert_eq!(h.tokens.unwrap().remaining, 60);
        // Settled in a later minute: the earlier minute is not rewritten, the new one untouched.
        let (c, _) = l.admit("t", "r", 100, 60_000).unwrap();
        b.settle(0);
        c.settle(100);
        assert_eq!(l.admit("t", "r", 1, 60_001).unwrap_err().kind, Kind::Tokens);
    }

    #[test]
    fn a_request_larger_than_the_minute_runs_alone() {
        let l = limits(None, Some(100), None);
        let (big, _) = l.admit("t", "r", 500, 0).unwrap();
        assert!(l.admit("t", "r", 1, 0).is_err());
        drop(big);
    }

    #[test]
    fn concurrency_slots_come_back_on_settle_and_on_drop() {
        let l = limits(None, None, Some(1));
        let (a, _) = l.admit("t", "r", 0, 0).unwrap();
        let refused = l.admit("t", "r", 0, 0).unwrap_err();
        assert_eq!(
            (refused.kind, refused.retry_after_ms),
            (Kind::Concurrent, 1000)
        );
        a.settle(0);
        let (b, _) = l.admit("t", "r", 0, 0).unwrap();
        drop(b);
        assert!(l.admit("t", "r", 0, 0).is_ok());
    }

    #[test]
    fn all_or_nothing_across_tenant_and_route() {
        let mut cfg = RateLimitsConfig::default();
        let one = RateLimit {
            requests_per_minute: Some(1),
            ..RateLimit::default()
        };
        let many = RateLimit {
            requests_per_minute: Some(10),
            ..RateLimit::default()
        };
        cfg.tenants.insert("t".into(), many);
        cfg.routes.insert("r".into(), one);
        let l = RateLimits::new(cfg);
        let _held = l.admit("t", "r", 0, 0).unwrap();
        let refused = l.admit("t", "r", 0, 0).unwrap_err();
        assert_eq!((refused.scope, refused.name.as_str()), (Scope::Route, "r"));
        // The refused request took nothing from the tenant: 9 more fit on another route.
        for _ in 0..9 {
            std::mem::forget(l.admit("t", "other", 0, 0).unwrap());
        }
        assert!(l.admit("t", "other", 0, 0).is_err());
    }
}
