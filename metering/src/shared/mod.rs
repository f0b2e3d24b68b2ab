//! Budgets and rate limits shared by every replica, kept in Redis or Valkey.
//!
//! Each check is one server-side script (see [`scripts`]): the check and the reservation it
//! allows happen atomically in Redis, so replicas can never together pass a limit by more
//! than the reservations in flight. Reservations carry a lease: one held by a replica that
//! died is given back when its lease ends. Settling is idempotent by reservation id, so it is
//! retried until Redis takes it.
//!
//! Redis calls run on a runtime of their own (one thread): the connection and its reconnects
//! never depend on which server thread a request runs on. When a call fails or takes longer
//! than `timeout_ms`, the state counts as unreachable: calls fail at once (no request waits on
//! a dead server) while a probe pings until Redis answers again, and the pipeline applies
//! `state_unavailable`.

mod conn;
mod parts;
mod scripts;

use conn::{Inner, Which};
use parts::{ping, uuid_like, windows, StateMetrics};

use crate::config::{BudgetsConfig, ClusterConfig, RateLimitsConfig, StateUnavailable};
use crate::ratelimit::{self, Headroom, Kind, RateExceeded, Used, MINUTE_MS};
use crate::window::BudgetExceeded;
use prometheus::Registry;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Nano-dollars per dollar: amounts are integers in Redis.
const NANOS: f64 = 1e9;
/// How long an id's settled-marker is kept: longer than any retry of its settlement.
const MARKER_TTL_MS: i64 = 2 * 86_400_000;
/// Pause between tries of a settlement that did not reach Redis.
const SETTLE_RETRY: Duration = Duration::from_millis(500);

/// Dollars as the integer nano-dollars the scripts count in.
fn nanos(usd: f64) -> i64 {
    (usd.max(0.0) * NANOS).round() as i64
}

/// The shared state could not be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable(pub String);

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the shared state (Redis) is unreachable: {}", self.0)
    }
}

/// The budgets and rate limits of every replica, in Redis.
#[derive(Clone)]
pub struct SharedState {
    inner: Arc<Inner>,
}

impl fmt::Debug for SharedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedState")
            .field("server", &self.inner.server)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

/// A budget reservation held in Redis; given back when settled or dropped.
pub struct RemoteHold {
    id: String,
    keys: Vec<String>,
    settled: AtomicBool,
    state: SharedState,
}

impl fmt::Debug for RemoteHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHold").field("id", &self.id).finish()
    }
}

impl Drop for RemoteHold {
    fn drop(&mut self) {
        if !self.settled.swap(true, Ordering::AcqRel) {
            self.state.settle_budget_keys(
                self.id.clone(),
                std::mem::take(&mut self.keys),
                Vec::new(),
                0,
            );
        }
    }
}

/// Rate-limit slots and tokens held in Redis; given back when settled or dropped.
pub struct RemoteTicket {
    id: String,
    minute: i64,
    tokens: u64,
    keys: Vec<String>,
    settled: bool,
    state: SharedState,
}

impl fmt::Debug for RemoteTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteTicket")
            .field("id", &self.id)
            .finish()
    }
}

impl RemoteTicket {
    /// Ends the request: frees its slots and settles its tokens at `used_tokens`.
    pub fn settle(mut self, used_tokens: u64, now_ms: i64) {
        self.settled = true;
        // A minute that has passed is not rewritten (as in the local limits).
        let delta = if now_ms.div_euclid(MINUTE_MS) == self.minute {
            i64::try_from(used_tokens).unwrap_or(i64::MAX)
                - i64::try_from(self.tokens).unwrap_or(i64::MAX)
        } else {
            0
        };
        self.state
            .settle_rate(self.id.clone(), std::mem::take(&mut self.keys), delta);
    }
}

impl Drop for RemoteTicket {
    fn drop(&mut self) {
        if !self.settled {
            self.state
                .settle_rate(self.id.clone(), std::mem::take(&mut self.keys), 0);
        }
    }
}

impl SharedState {
    /// Connects to `cfg.redis_url` (waiting at most `timeout_ms` for a first answer; an
    /// unreachable server is not an error: the state starts unreachable and is probed).
    pub fn open(
        cfg: &ClusterConfig,
        url: &str,
        registry: &Registry,
    ) -> Result<SharedState, String> {
        let client = redis::Client::open(url).map_err(|e| format!("cluster.redis_url: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tollgate-state")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the shared-state runtime: {e}"))?;
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let conn_cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = {
            let _entered = runtime.enter();
            ConnectionManager::new_lazy_with_config(client, conn_cfg)
                .map_err(|e| format!("cluster.redis_url: {e}"))?
        };
        let info = url.rsplit('@').next().unwrap_or(url).to_string();
        let inner = Arc::new(Inner {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            conn,
            server: info,
            prefix: cfg.key_prefix.clone(),
            timeout,
            lease_ms: i64::try_from(cfg.lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            mode: cfg.state_unavailable,
            replicas: cfg.replicas,
            up: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            id_prefix: uuid_like(),
            metrics: StateMetrics::new(registry).map_err(|e| format!("metrics: {e}"))?,
            scripts: [
                Script::new(scripts::BUDGET_RESERVE),
                Script::new(scripts::BUDGET_SETTLE),
                Script::new(scripts::RATE_ADMIT),
                Script::new(scripts::RATE_SETTLE),
            ],
        });
        inner.publish(false);
        let first = Arc::clone(&inner);
        let answered = inner
            .handle
            .block_on(async move { ping(&first.conn, first.timeout).await });
        if answered {
            inner.up.store(true, Ordering::Release);
            inner.publish(true);
            tracing::info!(server = %inner.server, "budgets and rate limits are shared through Redis");
        } else {
            tracing::warn!(
                server = %inner.server,
                "shared state unreachable at start: budgets and rate limits follow state_unavailable = {} until it answers",
                inner.mode.as_str()
            );
            inner.probe();
        }
        Ok(SharedState { inner })
    }

    /// Whether Redis answered the last call.
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::Acquire)
    }

    /// What applies while Redis is unreachable.
    pub fn mode(&self) -> StateUnavailable {
        self.inner.mode
    }

    /// How many replicas share the limits.
    pub fn replicas(&self) -> u32 {
        self.inner.replicas
    }

    /// Runs a script on the state's runtime; fails at once while the state is unreachable.
    async fn invoke<T: FromRedisValue + Send + 'static>(
        &self,
        which: Which,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<T, Unreachable> {
        if !self.is_up() {
            return Err(Unreachable("it did not answer the last call".into()));
        }
        let inner = Arc::clone(&self.inner);
        let task = self
            .inner
            .handle
            .spawn(async move { inner.call::<T>(which, &keys, &args).await });
        match task.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let why = e.to_string();
                if e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_unrecoverable_error()
                {
                    self.inner.went_down(&why);
                } else {
                    self.inner.metrics.errors.inc();
                    tracing::error!(error = %why, "shared-state script failed");
                }
                Err(Unreachable(why))
            }
            Err(e) => Err(Unreachable(format!("the call was lost: {e}"))),
        }
    }

    /// Reserves `worst_case_usd` against every budget of `tenant` and `route` in `cfg`, in
    /// every replica's view at once. `Ok(Err)`: a budget refused; `Ok(Ok(None))`: no budget
    /// applies. Same rules as `Budgets::reserve`.
    pub async fn reserve_budget(
        &self,
        cfg: &BudgetsConfig,
        tenant: &str,
        route: &str,
        worst_case_usd: Option<f64>,
        now_ms: i64,
    ) -> Result<Result<Option<RemoteHold>, BudgetExceeded>, Unreachable> {
        let windows = windows(cfg, tenant, route, now_ms);
        if windows.is_empty() {
            return Ok(Ok(None));
        }
        let amount = nanos(worst_case_usd.unwrap_or(0.0));
        let exempt = worst_case_usd == Some(0.0) && !cfg.include_free_models;
        let id = self.inner.new_id();
        let keys: Vec<String> = windows
            .iter()
            .map(|w| self.inner.budget_key(w.scope, &w.name, w.period, w.start))
            .collect();
        let mut args = vec![
            now_ms.to_string(),
            (now_ms + self.inner.lease_ms).to_string(),
            id.clone(),
            amount.to_string(),
            if exempt { "1" } else { "0" }.to_string(),
        ];
        args.extend(windows.iter().map(|w| nanos(w.limit).to_string()));
        args.extend(
            windows
                .iter()
                .map(|w| (w.next - now_ms + 86_400_000).to_string()),
        );
        let reply: Vec<i64> = self
            .invoke(Which::BudgetReserve, keys.clone(), args)
            .await?;
        let refused = reply.first().copied().unwrap_or(0);
        if refused <= 0 {
            return Ok(Ok(Some(RemoteHold {
                id,
                keys,
                settled: AtomicBool::new(false),
                state: self.clone(),
            })));
        }
        let w = &windows[usize::try_from(refused - 1)
            .unwrap_or(0)
            .min(windows.len() - 1)];
        let at = |i: usize| reply.get(i).copied().unwrap_or(0) as f64 / NANOS;
        Ok(Err(BudgetExceeded {
            scope: w.scope,
            name: w.name.clone(),
            period: w.period,
            limit_usd: w.limit,
            spent_usd: at(1),
            reserved_usd: at(2),
            requested_usd: worst_case_usd,
            resets_at_ms: w.next,
            on_exhausted: w.on_exhausted,
        }))
    }

    /// Gives `hold` back (if any) and charges `cost_usd` to the budgets of `tenant` and
    /// `route` for the window containing `started_at_ms`, in the background, retried until
    /// Redis takes it or the lease would have ended.
    pub fn settle_budget(
        &self,
        cfg: &BudgetsConfig,
        hold: Option<&RemoteHold>,
        (tenant, route): (&str, &str),
        cost_usd: f64,
        started_at_ms: i64,
    ) {
        let charge: Vec<String> = windows(cfg, tenant, route, started_at_ms)
            .iter()
            .map(|w| self.inner.budget_key(w.scope, &w.name, w.period, w.start))
            .collect();
        let (id, released) = match hold {
            Some(h) if !h.settled.swap(true, Ordering::AcqRel) => (h.id.clone(), h.keys.clone()),
            Some(_) => return,
            None => (self.inner.new_id(), Vec::new()),
        };
        if charge.is_empty() && released.is_empty() {
            return;
        }
        self.settle_budget_keys(id, released, charge, nanos(cost_usd));
    }

    fn settle_budget_keys(
        &self,
        id: String,
        released: Vec<String>,
        charge: Vec<String>,
        cost: i64,
    ) {
        let mut keys = vec![self.inner.marker("budget", &id)];
        let n = released.len();
        keys.extend(released);
        let charged = charge.len();
        keys.extend(charge);
        let mut args = vec![
            id,
            n.to_string(),
            cost.to_string(),
            MARKER_TTL_MS.to_string(),
        ];
        // Charged windows live two days past a day, 35 past a month's start: long enough for
        // a late settlement, short enough that old windows go.
        args.extend(std::iter::repeat_n(
            (40 * 86_400_000_i64).to_string(),
            charged,
        ));
        self.retry(Which::BudgetSettle, keys, args);
    }

    fn settle_rate(&self, id: String, keys: Vec<String>, delta: i64) {
        if keys.is_empty() {
            return;
        }
        let mut all = vec![self.inner.marker("rate", &id)];
        all.extend(keys);
        self.retry(
            Which::RateSettle,
            all,
            vec![id, delta.to_string(), MARKER_TTL_MS.to_string()],
        );
    }

    /// Runs an idempotent script in the background until Redis takes it, for at most a lease.
    fn retry(&self, which: Which, keys: Vec<String>, args: Vec<String>) {
        let inner = Arc::clone(&self.inner);
        let give_up = Duration::from_millis(u64::try_from(inner.lease_ms).unwrap_or(u64::MAX));
        self.inner.handle.spawn(async move {
            let start = tokio::time::Instant::now();
            loop {
                if inner.up.load(Ordering::Acquire) {
                    match inner.call::<i64>(which, &keys, &args).await {
                        Ok(_) => return,
                        Err(e) => inner.went_down(&e.to_string()),
                    }
                }
                if start.elapsed() > give_up {
                    tracing::warn!(?which, "a settlement did not reach the shared state within a lease; its reservation expires with the lease");
                    return;
                }
                tokio::time::sleep(SETTLE_RETRY).await;
            }
        });
    }

    /// Takes one request, `tokens` tokens and a concurrency slot from every rate limit of
    /// `tenant` and `route` in `cfg`, across replicas. `Ok(Ok(None))`: no limit applies.
    pub async fn admit_rate(
        &self,
        cfg: &RateLimitsConfig,
        tenant: &str,
        route: &str,
        tokens: u64,
        now_ms: i64,
    ) -> Result<Result<Option<(RemoteTicket, Headroom)>, RateExceeded>, Unreachable> {
        let scopes: Vec<_> = ratelimit::applicable(cfg, tenant, route).collect();
        if scopes.is_empty() {
            return Ok(Ok(None));
        }
        let minute = now_ms.div_euclid(MINUTE_MS);
        let id = self.inner.new_id();
        let keys: Vec<String> = scopes
            .iter()
            .flat_map(|(s, n, _)| self.inner.rate_keys(*s, n, minute))
            .collect();
        let mut args = vec![
            now_ms.to_string(),
            (now_ms + self.inner.lease_ms).to_string(),
            id.clone(),
            tokens.to_string(),
            (2 * MINUTE_MS).to_string(),
        ];
        let opt = |v: Option<u64>| v.map_or("-1".to_string(), |v| v.to_string());
        for (_, _, l) in &scopes {
            args.push(opt(l.requests_per_minute));
            args.push(opt(l.tokens_per_minute));
            args.push(opt(l.concurrent_requests));
        }
        let reply: Vec<i64> = self.invoke(Which::RateAdmit, keys.clone(), args).await?;
        let get = |i: usize| u64::try_from(reply.get(i).copied().unwrap_or(0)).unwrap_or(0);
        if reply.first().copied() == Some(0) {
            let i = usize::try_from(get(1)).unwrap_or(1).clamp(1, scopes.len()) - 1;
            let (scope, name, _) = scopes[i];
            let kind = match get(2) {
                1 => Kind::Requests,
                2 => Kind::Tokens,
                _ => Kind::Concurrent,
            };
            let retry_after_ms = if kind == Kind::Concurrent {
                1000
            } else {
                ratelimit::to_minute_end(now_ms)
            };
            return Ok(Err(RateExceeded {
                scope,
                name: name.to_string(),
                kind,
                limit: get(3),
                used: get(4),
                retry_after_ms,
                headroom: Headroom::default(),
            }));
        }
        // The script applied `ratelimit::check`; the same rule on what it saw gives the
        // headroom the client is told.
        let mut headroom = Headroom::default();
        for (i, (_, _, l)) in scopes.iter().enumerate() {
            let used = Used {
                requests: get(1 + 3 * i),
                tokens: get(2 + 3 * i),
                concurrent: get(3 + 3 * i),
            };
            if let Ok(h) = ratelimit::check(l, used, tokens, now_ms) {
                headroom = headroom.tightest(h);
            }
        }
        let ticket = RemoteTicket {
            id,
            minute,
            tokens,
            keys,
            settled: false,
            state: self.clone(),
        };
        Ok(Ok(Some((ticket, headroom))))
    }
}
