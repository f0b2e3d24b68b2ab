//! The ledger: one durable SQLite row per request, written off the response path.
//!
//! `enqueue` puts a row on a bounded in-memory queue; one writer thread drains it in batches,
//! one transaction per batch. Durability: WAL journal with `synchronous=FULL`, so a committed
//! batch survives a process crash *and* a power loss (the WAL is fsynced at each commit; with
//! batching that is one fsync per batch, not per row). `synchronous=NORMAL` would survive a
//! process crash only.
//!
//! When the queue is full, `enqueue` waits up to `full_wait_ms` for room (counted in
//! `tollgate_ledger_blocked_writes_total`); a row still without room is dropped, counted in
//! `tollgate_ledger_dropped_rows_total` and logged at error level with its fields, so it can be
//! recovered from the logs. A full queue means the disk has stalled for seconds: waiting longer
//! would stall every request of the worker thread instead.

use super::metrics::LedgerMetrics;
use super::MeteringError;
use parking_lot::{Condvar, Mutex};
use rusqlite::{params, Connection, OpenFlags};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The schema version this code writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id                INTEGER PRIMARY KEY,
    request_id        TEXT    NOT NULL UNIQUE,
    ts_ms             INTEGER NOT NULL,
    tenant            TEXT    NOT NULL,
    route             TEXT    NOT NULL,
    backend           TEXT,
    model             TEXT,
    zone              TEXT,
    data_class        TEXT    NOT NULL,
    decision          TEXT    NOT NULL,
    stream            INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    estimated         INTEGER NOT NULL,
    cost_usd          REAL,
    compute_usd       REAL,
    currency          TEXT    NOT NULL,
    price_version     TEXT    NOT NULL,
    duration_ms       REAL    NOT NULL,
    ttft_ms           REAL,
    status            INTEGER NOT NULL,
    outcome           TEXT    NOT NULL,
    error_class       TEXT,
    attempts          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts_ms);
";

/// One ledger row (column meanings in `dashboards/README.md`, section Ledger).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Gateway request id.
    pub request_id: String,
    /// Accept time, unix ms.
    pub ts_ms: i64,
    /// Tenant.
    pub tenant: String,
    /// Route.
    pub route: String,
    /// Serving (or last tried) backend.
    pub backend: Option<String>,
    /// Serving (or last tried) model.
    pub model: Option<String>,
    /// Zone of the backend.
    pub zone: Option<&'static str>,
    /// Effective data class.
    pub data_class: &'static str,
    /// Decision summary.
    pub decision: String,
    /// Streamed response.
    pub stream: bool,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Token counts were estimated.
    pub estimated: bool,
    /// Total cost; `None` (NULL) when unknown.
    pub cost_usd: Option<f64>,
    /// Local compute part of the cost, when the backend has a `cost_per_hour`.
    pub compute_usd: Option<f64>,
    /// Currency of the costs.
    pub currency: String,
    /// Price table version used.
    pub price_version: String,
    /// Duration, ms.
    pub duration_ms: f64,
    /// Time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// HTTP status.
    pub status: u16,
    /// Outcome label.
    pub outcome: &'static str,
    /// Error class label.
    pub error_class: Option<&'static str>,
    /// Number of attempts.
    pub attempts: u32,
}

struct Queue {
    rows: VecDeque<Row>,
    enqueued: u64,
    done: u64,
    shutdown: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    not_empty: Condvar,
    space: Condvar,
    progress: Condvar,
    capacity: usize,
    full_wait: Duration,
    metrics: LedgerMetrics,
}

/// Handle to the ledger database and its writer thread.
pub struct Ledger {
    path: PathBuf,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

/// Opens (creating when absent) the ledger at `path` with the durability pragmas and the
/// current schema.
pub fn open_db(path: &Path) -> Result<Connection, MeteringError> {
    let ctx = |e| MeteringError::ledger(path, e);
    let conn = Connection::open(path).map_err(ctx)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(ctx)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(ctx)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(ctx)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(ctx)?;
    match version {
        0 => {
            conn.execute_batch(SCHEMA).map_err(ctx)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(ctx)?;
        }
        SCHEMA_VERSION => {}
        v => {
            return Err(MeteringError::Schema {
                path: path.to_path_buf(),
                found: v,
                supported: SCHEMA_VERSION,
            })
        }
    }
    Ok(conn)
}

/// Opens an existing ledger for reading only (reports, budget rebuild).
pub fn open_read_only(path: &Path) -> Result<Connection, MeteringError> {
    let ctx = |e| MeteringError::ledger(path, e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(ctx)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(ctx)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(ctx)?;
    if version != SCHEMA_VERSION {
        return Err(MeteringError::Schema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(conn)
}

/// Known spend of one tenant or route in the current UTC day and month.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeriodSpend {
    /// USD spent today.
    pub day_usd: f64,
    /// USD spent this month.
    pub month_usd: f64,
}

/// Spend per tenant and per route since the starts of the current day and month.
#[derive(Debug, Clone, Default)]
pub struct SpendSoFar {
    /// By tenant name.
    pub tenants: HashMap<String, PeriodSpend>,
    /// By route name.
    pub routes: HashMap<String, PeriodSpend>,
}

/// Sums known cost per tenant and route for the UTC day and month starting at the given
/// instants (rows from `month_start_ms` on).
pub fn spend_so_far(
    conn: &Connection,
    day_start_ms: i64,
    month_start_ms: i64,
) -> Result<SpendSoFar, rusqlite::Error> {
    let mut out = SpendSoFar::default();
    for (column, map) in [("tenant", &mut out.tenants), ("route", &mut out.routes)] {
        let sql = format!(
            "SELECT {column}, \
                    COALESCE(SUM(CASE WHEN ts_ms >= ?1 THEN cost_usd END), 0), \
                    COALESCE(SUM(cost_usd), 0) \
             FROM requests WHERE ts_ms >= ?2 AND cost_usd IS NOT NULL GROUP BY {column}"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params![day_start_ms, month_start_ms], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })?;
        for row in rows {
            let (name, day_usd, month_usd) = row?;
            map.insert(name, PeriodSpend { day_usd, month_usd });
        }
    }
    Ok(out)
}

impl Ledger {
    /// Opens the database (creating it and its schema when absent) and starts the writer.
    pub fn open(
        cfg: &super::config::LedgerConfig,
        metrics: LedgerMetrics,
    ) -> Result<Ledger, MeteringError> {
        let conn = open_db(&cfg.path)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                rows: VecDeque::new(),
                enqueued: 0,
                done: 0,
                shutdown: false,
            }),
            not_empty: Condvar::new(),
            space: Condvar::new(),
            progress: Condvar::new(),
            capacity: cfg.queue_capacity.max(1),
            full_wait: Duration::from_millis(cfg.full_wait_ms),
            metrics,
        });
        let batch_max = cfg.batch_max.max(1);
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("tollgate-ledger".into())
            .spawn(move || write_loop(conn, &writer_shared, batch_max))
            .map_err(MeteringError::Thread)?;
        Ok(Ledger {
            path: cfg.path.clone(),
            shared,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a row for the writer; never fails (see the module docs for a full queue).
    pub fn enqueue(&self, row: Row) {
        let s = &*self.shared;
        let mut q = s.queue.lock();
        if q.shutdown {
            drop(q);
            s.metrics.dropped_rows.inc();
            tracing::error!(row = ?row, "ledger closed: row dropped");
            return;
        }
        if q.rows.len() >= s.capacity {
            s.metrics.blocked_writes.inc();
            let deadline = Instant::now() + s.full_wait;
            while q.rows.len() >= s.capacity && !q.shutdown {
                if s.space.wait_until(&mut q, deadline).timed_out() {
                    break;
                }
            }
            if q.rows.len() >= s.capacity {
                drop(q);
                s.metrics.dropped_rows.inc();
                tracing::error!(row = ?row, "ledger queue full: row dropped");
                return;
            }
        }
        q.rows.push_back(row);
        q.enqueued += 1;
        s.metrics.queue_depth.set(q.rows.len() as i64);
        drop(q);
        s.not_empty.notify_one();
    }

    /// Waits until every row queued before this call is committed (or dropped and counted).
    pub fn flush(&self) -> Result<(), MeteringError> {
        let s = &*self.shared;
        let mut q = s.queue.lock();
        let target = q.enqueued;
        while q.done < target {
            s.progress.wait_for(&mut q, Duration::from_millis(200));
            if q.done < target && self.writer_gone() {
                return Err(MeteringError::WriterStopped);
            }
        }
        Ok(())
    }

    /// Commits pending rows and stops the writer; later rows are dropped and counted.
    pub fn close(&self) -> Result<(), MeteringError> {
        {
            let mut q = self.shared.queue.lock();
            q.shutdown = true;
        }
        self.shared.not_empty.notify_all();
        self.shared.space.notify_all();
        let handle = self.writer.lock().take();
        match handle {
            Some(h) => h.join().map_err(|_| MeteringError::WriterStopped),
            None => Ok(()),
        }
    }

    fn writer_gone(&self) -> bool {
        self.writer.lock().as_ref().is_none_or(|h| h.is_finished())
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "ledger writer did not stop cleanly");
        }
    }
}

fn write_loop(mut conn: Connection, s: &Shared, batch_max: usize) {
    loop {
        let batch: Vec<Row> = {
            let mut q = s.queue.lock();
            while q.rows.is_empty() && !q.shutdown {
                s.not_empty.wait(&mut q);
            }
            if q.rows.is_empty() {
                return;
            }
            let n = q.rows.len().min(batch_max);
            let batch = q.rows.drain(..n).collect();
            s.metrics.queue_depth.set(q.rows.len() as i64);
            batch
        };
        s.space.notify_all();
        let n = batch.len() as u64;
        write_with_retries(&mut conn, s, &batch);
        let mut q = s.queue.lock();
        q.done += n;
        drop(q);
        s.progress.notify_all();
    }
}

fn write_with_retries(conn: &mut Connection, s: &Shared, batch: &[Row]) {
    const BACKOFF_MS: [u64; 4] = [10, 100, 500, 2000];
    for (i, pause) in BACKOFF_MS.iter().enumerate() {
        let started = Instant::now();
        match write_batch(conn, batch) {
            Ok(inserted) => {
                s.metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                s.metrics.rows_written.inc_by(inserted);
                s.metrics
                    .duplicate_rows
                    .inc_by(batch.len() as u64 - inserted);
                return;
            }
            Err(e) => {
                s.metrics.write_errors.inc();
                tracing::warn!(error = %e, attempt = i + 1, rows = batch.len(), "ledger write failed");
                std::thread::sleep(Duration::from_millis(*pause));
            }
        }
    }
    s.metrics.dropped_rows.inc_by(batch.len() as u64);
    for row in batch {
        tracing::error!(row = ?row, "ledger write failed repeatedly: row dropped");
    }
}

fn write_batch(conn: &mut Connection, batch: &[Row]) -> Result<u64, rusqlite::Error> {
    let tx = conn.transaction()?;
    let mut inserted = 0;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO requests (request_id, ts_ms, tenant, route, backend, model, zone, \
             data_class, decision, stream, prompt_tokens, completion_tokens, cached_tokens, \
             estimated, cost_usd, compute_usd, currency, price_version, duration_ms, ttft_ms, \
             status, outcome, error_class, attempts) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
             ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24) \
             ON CONFLICT(request_id) DO NOTHING",
        )?;
        for r in batch {
            inserted += stmt.execute(params![
                r.request_id,
                r.ts_ms,
                r.tenant,
                r.route,
                r.backend,
                r.model,
                r.zone,
                r.data_class,
                r.decision,
                r.stream,
                sql_int(r.prompt_tokens),
                sql_int(r.completion_tokens),
                sql_int(r.cached_tokens),
                r.estimated,
                r.cost_usd,
                r.compute_usd,
                r.currency,
                r.price_version,
                r.duration_ms,
                r.ttft_ms,
                r.status,
                r.outcome,
                r.error_class,
                r.attempts,
            ])? as u64;
        }
    }
    tx.commit()?;
    Ok(inserted)
}

fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
