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
//!
//! The idle lines of backends priced by the hour ([`IdleRow`]) go through the same queue and
//! writer, into their own table; they are not chained (no request is hidden in them, and a
//! period written again replaces its line, under a new id so that shipping sees it).
//!
//! With `postgres_url`, the ledger also owns its [`Shipper`](crate::ship::Shipper), which copies
//! committed rows to PostgreSQL behind the writer; [`Ledger::close`] stops it after the
//! writer's last commit.

mod row;
// Shipping reads the file through it, not through the ledger (which owns the shipper).
pub(crate) mod schema;

pub use row::{attempt_log, IdleRow, Row};
pub use schema::{
    ledger_id, open_db, open_db_with, open_read_only, open_scratch, schema_version, SCHEMA_VERSION,
};

use super::audit::{self, HASHED_COLUMNS};
use super::metrics::LedgerMetrics;
use super::ship::{Shipper, FINAL_ATTEMPT};
use super::MeteringError;
use parking_lot::{Condvar, Mutex};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the writer commits: a request's row, or a backend's idle line.
// Nearly every entry is a request row: boxing it to shrink the rare idle line's slot would
// cost an allocation per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// One request.
    Request(Row),
    /// One backend's idle period.
    Idle(IdleRow),
}

struct Queue {
    rows: VecDeque<Entry>,
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
    /// Ships committed rows to PostgreSQL, with `postgres_url`.
    shipper: Mutex<Option<Shipper>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
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
        // Started before the writer: if it cannot start, no writer thread is left behind.
        let shipper = Shipper::start(&cfg.path, cfg, metrics.ship.clone())?;
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
            shipper: Mutex::new(shipper),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a row for the writer and returns its ticket for [`Ledger::ticket`]; never
    /// fails (see the module docs for a full queue).
    pub fn enqueue(&self, row: Row) -> u64 {
        self.enqueue_entry(Entry::Request(row))
    }

    /// Queues an idle line, as [`Ledger::enqueue`] does a row.
    pub fn enqueue_idle(&self, line: IdleRow) -> u64 {
        self.enqueue_entry(Entry::Idle(line))
    }

    fn enqueue_entry(&self, row: Entry) -> u64 {
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

    /// Commits pending rows and stops the writer; later rows are dropped and counted. Then,
    /// with shipping, gives it one last attempt of at most 2 s to ship what is committed.
    pub fn close(&self) -> Result<(), MeteringError> {
        {
            let mut q = self.shared.queue.lock();
            q.shutdown = true;
        }
        self.shared.not_empty.notify_all();
        self.shared.space.notify_all();
        let handle = self.writer.lock().take();
        let written = match handle {
            Some(h) => h.join().map_err(|_| MeteringError::WriterStopped),
            None => Ok(()),
        };
        if let Some(shipper) = self.shipper.lock().take() {
            shipper.close(FINAL_ATTEMPT);
        }
        written
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
        let batch: Vec<Entry> = {
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

fn write_with_retries(conn: &mut Connection, s: &Shared, batch: &[Entry], head: &mut String) {
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

/// Inserts a batch in one transaction, chaining each new request row to `head`; returns the
/// entries inserted (duplicates of an earlier request id are skipped and do not advance the
/// chain; an idle line replaces the one of its period) and the new head. Nothing changes when
/// it fails, so a retry chains from the same head.
fn write_batch(
    conn: &mut Connection,
    batch: &[Entry],
    head: &str,
) -> Result<(u64, String), rusqlite::Error> {
    let tx = conn.transaction()?;
    let mut inserted = 0;
    let mut head = head.to_string();
    for entry in batch {
        inserted += match entry {
            Entry::Request(r) => insert_request(&tx, r, &mut head)?,
            Entry::Idle(line) => upsert_idle(&tx, line)?,
        };
    }
    tx.commit()?;
    Ok((inserted, head))
}

/// Inserts one request row chained to `head` (advanced when inserted); 0 for a duplicate.
fn insert_request(tx: &Transaction, r: &Row, head: &mut String) -> Result<u64, rusqlite::Error> {
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let placeholders: Vec<String> = (1..=HASHED_COLUMNS.len() + 2)
            .map(|i| format!("?{i}"))
            .collect();
        format!(
            "INSERT INTO requests ({}, prev_hash, row_hash) VALUES ({}) \
             ON CONFLICT(request_id) DO NOTHING",
            HASHED_COLUMNS.join(", "),
            placeholders.join(", ")
        )
    });
    let mut stmt = tx.prepare_cached(sql)?;
    let mut values = r.values();
    let hash = audit::row_hash(head, &values);
    values.push(Value::Text(head.clone()));
    values.push(Value::Text(hash.clone()));
    let n = stmt.execute(params_from_iter(values))? as u64;
    if n == 1 {
        *head = hash;
    }
    Ok(n)
}

/// Writes one idle line, replacing an earlier write of the same backend and period (the
/// later one covers at least as much of it). A replaced line takes the next id, as a new line
/// would: shipping, which follows ids, sends it again.
fn upsert_idle(tx: &Transaction, line: &IdleRow) -> Result<u64, rusqlite::Error> {
    let cols = IdleRow::COLUMNS;
    let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = std::iter::once("id = (SELECT MAX(id) + 1 FROM idle)".to_string())
        .chain(cols[2..].iter().map(|c| format!("{c} = excluded.{c}")))
        .collect();
    let sql = format!(
        "INSERT INTO idle ({}) VALUES ({}) ON CONFLICT(backend, period_start_ms) DO UPDATE SET {}",
        cols.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    );
    // Once an hour per backend: not worth caching the text.
    let mut stmt = tx.prepare(&sql)?;
    Ok(stmt.execute(params_from_iter(line.values()))? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(start: i64, idle_s: f64) -> IdleRow {
        IdleRow {
            backend: "gpu".into(),
            period_start_ms: start,
            period_end_ms: start + 1000,
            busy_s: 1.0 - idle_s,
            idle_s,
            cost_usd: idle_s,
            cost_per_hour: 3600.0,
            energy_per_hour: 0.0,
            currency: "USD".into(),
            price_version: "v".into(),
        }
    }

    #[test]
    fn an_idle_line_written_again_takes_the_next_id() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::LedgerConfig {
            path: dir.path().join("ledger.db"),
            ..Default::default()
        };
        let metrics = crate::Metrics::new(false).unwrap();
        let ledger = Ledger::open(&cfg, metrics.ledger().clone()).unwrap();
        ledger.enqueue_idle(line(0, 0.5));
        ledger.enqueue_idle(line(1000, 0.5));
        ledger.flush().unwrap();
        ledger.enqueue_idle(line(0, 0.25));
        ledger.close().unwrap();
        let conn = open_read_only(&cfg.path).unwrap();
        let lines: Vec<(i64, i64, f64)> = conn
            .prepare("SELECT id, period_start_ms, idle_s FROM idle ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(lines, [(2, 1000, 0.5), (3, 0, 0.25)]);
    }
}
