//! The ledger: one durable SQLite row per request, written off the response path.
//!
//! `enqueue` puts a row on a bounded in-memory queue; one writer thread drains it in batches,
//! one transaction per batch, so rows recorded at the same time share a commit (group commit).
//! `enqueue` returns a ticket, and [`CommitTicket::committed`] resolves once that row is committed:
//! the pipeline does so before a response's last byte, so an answer a client received always
//! has its row, even when the process is killed right after.
//!
//! Durability: WAL journal. With `synchronous = "normal"` (default) a commit writes the WAL
//! without an fsync: it survives a crash or `kill -9` of the process at once, and the writer
//! checkpoints (which fsyncs the WAL) at least every `checkpoint_ms`, bounding what a power
//! loss can take. With `synchronous = "full"` every commit is fsynced: a power loss loses no
//! committed row, at one fsync per batch.
//!
//! When the queue is full, `enqueue` waits up to `full_wait_ms` for room (counted in
//! `tollgate_ledger_blocked_writes_total`); a row still without room is dropped, counted in
//! `tollgate_ledger_dropped_rows_total` and logged at error level with its fields, so it can be
//! recovered from the logs. A full queue means the disk has stalled for seconds: waiting longer
//! would stall every request of the worker thread instead.
//!
//! Rows are hash-chained for the audit trail: the writer, the only one, gives each row
//! `row_hash = SHA-256(prev_hash, the row's values)` with `prev_hash` the previous row's hash, so
//! that `tollgate audit verify` detects an edited or deleted row (see [`super::audit`]).

use super::audit::{self, HASHED_COLUMNS};
use super::metrics::LedgerMetrics;
use super::MeteringError;
use parking_lot::{Condvar, Mutex};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The schema version this code writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 4;

/// Version 1 lacked the audit columns; it is migrated in place when opened for writing and
/// read as it is by reports.
const OLDEST_READABLE_VERSION: i64 = 1;

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
    attempts          INTEGER NOT NULL,
    detected_kinds    TEXT    NOT NULL DEFAULT '',
    refused_rules     TEXT    NOT NULL DEFAULT '',
    attempt_zones     TEXT    NOT NULL DEFAULT '',
    endpoint          TEXT    NOT NULL DEFAULT 'chat_completions',
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    prev_hash         TEXT,
    row_hash          TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts_ms);
";

/// Version 1 → 2: the audit columns. Rows written before have no hash; the chain starts at the
/// first row written after the migration.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE requests ADD COLUMN detected_kinds TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN refused_rules  TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN attempt_zones  TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN prev_hash      TEXT;
ALTER TABLE requests ADD COLUMN row_hash       TEXT;
";

/// Version 2 → 3: the endpoint a request came in on. Rows written before were chat
/// completions, the only endpoint then; their hashes still verify (see `audit::hashed`).
const MIGRATE_2_TO_3: &str = "
ALTER TABLE requests ADD COLUMN endpoint TEXT NOT NULL DEFAULT 'chat_completions';
";

/// Version 3 → 4: prompt tokens written to a provider's cache, billed at their own rate. Rows
/// written before had none; their hashes still verify (see `audit::row_hash`).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
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
    /// Kinds of sensitive data detected, sorted, comma-separated (never the values).
    pub detected_kinds: String,
    /// Rules that refused candidates, sorted, comma-separated.
    pub refused_rules: String,
    /// The zone of every attempt in order, comma-separated, `/redacted` where the attempt was
    /// sent a redacted copy: where the prompt went.
    pub attempt_zones: String,
    /// The inbound endpoint.
    pub endpoint: &'static str,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: u64,
}

impl Row {
    /// The row's values in [`HASHED_COLUMNS`] order, as they are stored.
    pub fn values(&self) -> Vec<Value> {
        let text = |s: &str| Value::Text(s.to_string());
        let opt_text = |s: Option<&str>| s.map_or(Value::Null, text);
        let opt_real = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
        vec![
            text(&self.request_id),
            Value::Integer(self.ts_ms),
            text(&self.tenant),
            text(&self.route),
            opt_text(self.backend.as_deref()),
            opt_text(self.model.as_deref()),
            opt_text(self.zone),
            text(self.data_class),
            text(&self.decision),
            Value::Integer(i64::from(self.stream)),
            Value::Integer(sql_int(self.prompt_tokens)),
            Value::Integer(sql_int(self.completion_tokens)),
            Value::Integer(sql_int(self.cached_tokens)),
            Value::Integer(i64::from(self.estimated)),
            opt_real(self.cost_usd),
            opt_real(self.compute_usd),
            text(&self.currency),
            text(&self.price_version),
            Value::Real(self.duration_ms),
            opt_real(self.ttft_ms),
            Value::Integer(i64::from(self.status)),
            text(self.outcome),
            opt_text(self.error_class),
            Value::Integer(i64::from(self.attempts)),
            text(&self.detected_kinds),
            text(&self.refused_rules),
            text(&self.attempt_zones),
            text(self.endpoint),
            Value::Integer(sql_int(self.cache_write_tokens)),
        ]
    }
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
    /// Rows done (committed, or dropped and counted), for async waiters.
    done_tx: tokio::sync::watch::Sender<u64>,
}

/// A queued row's place in the commit order: await [`CommitTicket::committed`] to know it is
/// committed (or was dropped and counted).
#[derive(Debug)]
pub struct CommitTicket {
    ticket: u64,
    rx: tokio::sync::watch::Receiver<u64>,
}

impl CommitTicket {
    /// Resolves once the row is done, or at once if the writer has stopped.
    pub async fn committed(mut self) {
        let ticket = self.ticket;
        let _ = self.rx.wait_for(|done| *done >= ticket).await;
    }
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
    open_db_with(path, super::config::Synchronous::Full)
}

/// [`open_db`] with the given `synchronous` setting.
pub fn open_db_with(
    path: &Path,
    synchronous: super::config::Synchronous,
) -> Result<Connection, MeteringError> {
    let ctx = |e| MeteringError::ledger(path, e);
    let conn = Connection::open(path).map_err(ctx)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(ctx)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(ctx)?;
    conn.pragma_update(None, "synchronous", synchronous.as_str())
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
        1..=3 => {
            let tx = conn.unchecked_transaction().map_err(ctx)?;
            if version == 1 {
                tx.execute_batch(MIGRATE_1_TO_2).map_err(ctx)?;
            }
            if version <= 2 {
                tx.execute_batch(MIGRATE_2_TO_3).map_err(ctx)?;
            }
            tx.execute_batch(MIGRATE_3_TO_4).map_err(ctx)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(ctx)?;
            tx.commit().map_err(ctx)?;
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
    if !(OLDEST_READABLE_VERSION..=SCHEMA_VERSION).contains(&version) {
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
        let conn = open_db_with(&cfg.path, cfg.synchronous)?;
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
            done_tx: tokio::sync::watch::Sender::new(0),
        });
        let batch_max = cfg.batch_max.max(1);
        let checkpoint = (cfg.synchronous == super::config::Synchronous::Normal)
            .then(|| Duration::from_millis(cfg.checkpoint_ms.max(1)));
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("tollgate-ledger".into())
            .spawn(move || write_loop(conn, &writer_shared, batch_max, checkpoint))
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

    /// Queues a row for the writer and returns its ticket for [`Ledger::wait_committed`];
    /// never fails (see the module docs for a full queue).
    pub fn enqueue(&self, row: Row) -> u64 {
        let s = &*self.shared;
        let mut q = s.queue.lock();
        if q.shutdown {
            drop(q);
            s.metrics.dropped_rows.inc();
            tracing::error!(row = ?row, "ledger closed: row dropped");
            return 0;
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
                return 0;
            }
        }
        q.rows.push_back(row);
        q.enqueued += 1;
        let ticket = q.enqueued;
        s.metrics.queue_depth.set(q.rows.len() as i64);
        drop(q);
        s.not_empty.notify_one();
        ticket
    }

    /// A handle to await the commit of the row `enqueue` gave `ticket` (0: dropped, nothing
    /// to await).
    pub fn ticket(&self, ticket: u64) -> Option<CommitTicket> {
        (ticket > 0).then(|| CommitTicket {
            ticket,
            rx: self.shared.done_tx.subscribe(),
        })
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

/// Makes every committed row survive a power loss: a checkpoint fsyncs the WAL first.
fn sync_wal(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
        tracing::warn!(error = %e, "ledger checkpoint failed; retried at the next interval");
    }
}

/// The hash of the newest chained row, where the chain goes on.
fn chain_head(conn: &Connection) -> Result<String, rusqlite::Error> {
    let head: Option<Option<String>> = conn
        .query_row(
            "SELECT row_hash FROM requests WHERE row_hash IS NOT NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(head.flatten().unwrap_or_else(audit::genesis))
}

fn write_loop(mut conn: Connection, s: &Shared, batch_max: usize, checkpoint: Option<Duration>) {
    let mut last_checkpoint = Instant::now();
    let mut unsynced = false;
    let mut head = match chain_head(&conn) {
        Ok(h) => h,
        Err(e) => {
            // Rows still get written; verify will report where the chain restarted.
            tracing::error!(error = %e, "ledger: cannot read the hash chain's head");
            audit::genesis()
        }
    };
    loop {
        let batch: Vec<Row> = {
            let mut q = s.queue.lock();
            while q.rows.is_empty() && !q.shutdown {
                match checkpoint.filter(|_| unsynced) {
                    // Idle with unsynced commits: sync them when the interval is up.
                    Some(every) => {
                        let due = last_checkpoint + every;
                        if s.not_empty.wait_until(&mut q, due).timed_out() {
                            drop(q);
                            sync_wal(&conn);
                            last_checkpoint = Instant::now();
                            unsynced = false;
                            q = s.queue.lock();
                        }
                    }
                    None => s.not_empty.wait(&mut q),
                }
            }
            if q.rows.is_empty() {
                if unsynced {
                    drop(q);
                    sync_wal(&conn);
                }
                return;
            }
            let n = q.rows.len().min(batch_max);
            let batch = q.rows.drain(..n).collect();
            s.metrics.queue_depth.set(q.rows.len() as i64);
            batch
        };
        s.space.notify_all();
        let n = batch.len() as u64;
        write_with_retries(&mut conn, s, &batch, &mut head);
        let mut q = s.queue.lock();
        q.done += n;
        let done = q.done;
        drop(q);
        s.progress.notify_all();
        s.done_tx.send_replace(done);
        if let Some(every) = checkpoint {
            unsynced = true;
            if last_checkpoint.elapsed() >= every {
                sync_wal(&conn);
                last_checkpoint = Instant::now();
                unsynced = false;
            }
        }
    }
}

fn write_with_retries(conn: &mut Connection, s: &Shared, batch: &[Row], head: &mut String) {
    const BACKOFF_MS: [u64; 4] = [10, 100, 500, 2000];
    for (i, pause) in BACKOFF_MS.iter().enumerate() {
        let started = Instant::now();
        match write_batch(conn, batch, head) {
            Ok((inserted, new_head)) => {
                *head = new_head;
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

/// Inserts a batch in one transaction, chaining each new row to `head`; returns the rows
/// inserted (duplicates of an earlier request id are skipped and do not advance the chain)
/// and the new head. Nothing changes when it fails, so a retry chains from the same head.
fn write_batch(
    conn: &mut Connection,
    batch: &[Row],
    head: &str,
) -> Result<(u64, String), rusqlite::Error> {
    let tx = conn.transaction()?;
    let mut inserted = 0;
    let mut head = head.to_string();
    {
        let placeholders: Vec<String> = (1..=HASHED_COLUMNS.len() + 2)
            .map(|i| format!("?{i}"))
            .collect();
        let sql = format!(
            "INSERT INTO requests ({}, prev_hash, row_hash) VALUES ({}) \
             ON CONFLICT(request_id) DO NOTHING",
            HASHED_COLUMNS.join(", "),
            placeholders.join(", ")
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        for r in batch {
            let mut values = r.values();
            let hash = audit::row_hash(&head, &values);
            values.push(Value::Text(head.clone()));
            values.push(Value::Text(hash.clone()));
            let n = stmt.execute(params_from_iter(values))? as u64;
            if n == 1 {
                head = hash;
            }
            inserted += n;
        }
    }
    tx.commit()?;
    Ok((inserted, head))
}

fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
