//! Shipping the ledger to PostgreSQL, for deployments of several replicas: each keeps its own
//! SQLite ledger, the record every request waits for (so a `kill -9` loses no answered row,
//! whatever PostgreSQL is doing), and a shipper copies its committed rows to one PostgreSQL
//! database, where `tollgate spend` and `tollgate audit` see every replica's rows (see
//! [`Reader`]).
//!
//! The shipper is one OS thread per ledger with its own current-thread tokio runtime and one
//! long-lived connection (reconnected when lost): the gateway's runtime belongs to the server,
//! and a single sequential writer has nothing to gain from a pool. It reads SQLite through its
//! own read-only connection; in WAL mode the writer and it do not wait for each other.
//!
//! Each round, per table: what PostgreSQL has of this ledger is read from its rows (the largest
//! `source_id` of the ledger's `ledger_id`), the next rows after it are read from SQLite in id
//! order, copied (binary COPY) into a session staging table, and inserted with
//! `ON CONFLICT DO NOTHING`, in one transaction. Nothing records progress apart from the rows,
//! so nothing can disagree with them: a round that committed in PostgreSQL just before a crash
//! is not sent again, and one that did not commit is. No request row is ever updated (an idle
//! line SQLite wrote again replaces its line: once an hour per backend at most), and replicas
//! insert disjoint rows, so they do not contend. The SQLite writer gives ids in commit order
//! and never reuses one, so "every id up to the largest shipped" is exactly what is shipped.
//!
//! A full batch is followed at once by the next (a replica back from an outage ships its
//! backlog at full speed); otherwise the shipper sleeps `ship_interval_ms`. When PostgreSQL is
//! unreachable it logs once (warn), retries with a doubling wait up to 10 s, and logs the
//! recovery (info); rows wait in SQLite meanwhile. [`Shipper::close`], after the writer's last
//! commit, gives shipping one last bounded attempt; whatever is left ships at the next start.

mod copy;
mod pull;
pub mod schema;

pub use pull::{Pulled, Reader};
pub use schema::{migrate, MIGRATIONS};

use crate::config::{postgres_config, LedgerConfig, MAX_SHIP_BATCH_ROWS};
use crate::metrics::ShipMetrics;
use crate::MeteringError;
use parking_lot::Mutex;
use rusqlite::OptionalExtension;
use schema::{IDLE, REQUESTS};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_postgres::{Client, NoTls};

/// The longest wait between attempts while PostgreSQL stays unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The longest a round may take: a server that accepts and then never answers must not stall
/// shipping for good. The round is dropped with its connection, and retried on a new one.
const ROUND_LIMIT: Duration = Duration::from_secs(30);
/// What [`Shipper::close`] gives the last attempt, by default.
pub const FINAL_ATTEMPT: Duration = Duration::from_secs(2);

/// Why a round failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShipError {
    /// PostgreSQL refused, or the connection failed.
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The local ledger could not be read.
    #[error("reading the ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl From<ShipError> for MeteringError {
    fn from(e: ShipError) -> MeteringError {
        MeteringError::Postgres(e.to_string())
    }
}

/// tokio-postgres says only "db error" for an error the server sent; its message is in the
/// source.
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// The shipper of one ledger: a thread shipping its rows until [`Shipper::close`].
pub struct Shipper {
    /// `Some(deadline)`: ship what is committed until then, and stop.
    stop: watch::Sender<Option<Instant>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Shipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shipper").finish_non_exhaustive()
    }
}

impl Shipper {
    /// Starts shipping the ledger at `db` (opened for writing before, so it has its schema and
    /// identity) to `cfg.postgres_url`; without one, there is nothing to start. Never waits for
    /// PostgreSQL: an unreachable server is retried by the thread.
    pub fn start(
        db: &Path,
        cfg: &LedgerConfig,
        metrics: ShipMetrics,
    ) -> Result<Option<Shipper>, MeteringError> {
        let Some(url) = &cfg.postgres_url else {
            return Ok(None);
        };
        let pg = postgres_config(url)
            .map_err(|e| MeteringError::Config(vec![format!("ledger.postgres_url: {e}")]))?;
        let sqlite = crate::ledger::schema::open_read_only(db)?;
        let ctx = |e| MeteringError::Ledger {
            path: db.to_path_buf(),
            source: e,
        };
        let ledger_id = crate::ledger::schema::ledger_id(&sqlite)
            .map_err(ctx)?
            .ok_or_else(|| ctx(rusqlite::Error::QueryReturnedNoRows))?;
        let interval = Duration::from_millis(cfg.ship_interval_ms.max(1));
        let run = Run {
            sqlite,
            ledger_id,
            pg,
            client: None,
            batch: cfg.ship_batch_rows.clamp(1, MAX_SHIP_BATCH_ROWS),
            metrics,
            failing_since: None,
            connected_once: false,
            shipped_to: 0,
        };
        let (stop, stopped) = watch::channel(None);
        let thread = std::thread::Builder::new()
            .name("tollgate-ledger-ship".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "ledger shipping: no runtime; rows stay in the SQLite ledger");
                        return;
                    }
                };
                rt.block_on(run.run(stopped, interval));
            })
            .map_err(MeteringError::Thread)?;
        Ok(Some(Shipper {
            stop,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Ships what is committed for at most `within`, then stops the thread (call after the
    /// ledger writer's last commit). Rows left over ship at the next start.
    pub fn close(&self, within: Duration) {
        self.stop.send_replace(Some(Instant::now() + within));
        let Some(thread) = self.thread.lock().take() else {
            return;
        };
        // The last round is bounded by `within`; a little more for the runtime to wind down.
        let give_up = Instant::now() + within + Duration::from_millis(500);
        while !thread.is_finished() {
            if Instant::now() >= give_up {
                tracing::warn!("ledger shipping did not stop in time; leaving it");
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.join().is_err() {
            tracing::error!("ledger shipping thread panicked");
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        // Without `close`: stop at once, without a last attempt, and without waiting.
        self.stop.send_replace(Some(Instant::now()));
    }
}

/// The shipper thread's state.
struct Run {
    sqlite: rusqlite::Connection,
    ledger_id: String,
    pg: tokio_postgres::Config,
    client: Option<Client>,
    batch: usize,
    metrics: ShipMetrics,
    /// When the failing began, while rounds fail (logged once per outage).
    failing_since: Option<Instant>,
    connected_once: bool,
    /// The largest request row id PostgreSQL had at the last successful round: the backlog
    /// and lag count from it while PostgreSQL is unreachable (from 0 before any contact).
    shipped_to: i64,
}

impl Run {
    async fn run(mut self, mut stop: watch::Receiver<Option<Instant>>, interval: Duration) {
        let mut backoff = interval;
        loop {
            let deadline = *stop.borrow_and_update();
            if let Some(deadline) = deadline {
                self.last(deadline).await;
                return;
            }
            // A stop does not wait for a round: the round is dropped (its transaction rolls
            // back, which loses nothing) and the last attempt starts at once.
            let outcome = tokio::select! {
                outcome = tokio::time::timeout(ROUND_LIMIT, self.round()) => outcome,
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let pause = match outcome {
                Ok(Ok(more)) => {
                    self.succeeded();
                    backoff = interval;
                    if more {
                        self.observe();
                        continue;
                    }
                    interval
                }
                failure => {
                    match failure {
                        Ok(Err(e)) => self.failed(&e),
                        _ => self.failed(&"PostgreSQL did not answer within 30 s"),
                    }
                    let pause = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    pause
                }
            };
            self.observe();
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Ships until caught up or `deadline`, whichever is first.
    async fn last(&mut self, deadline: Instant) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left, self.round()).await {
                Ok(Ok(more)) => {
                    self.succeeded();
                    if !more {
                        break;
                    }
                }
                Ok(Err(e)) => {
                    self.failed(&e);
                    break;
                }
                Err(_) => break,
            }
        }
        let backlog = self.observe();
        if backlog > 0 {
            tracing::info!(
                rows = backlog,
                "ledger shipping stopped with rows not yet in PostgreSQL; they ship at the next start"
            );
        }
    }

    /// One round over both tables; whether either sent a full batch (more may be waiting).
    async fn round(&mut self) -> Result<bool, ShipError> {
        let mut client = match self.client.take() {
            Some(c) if !c.is_closed() => c,
            _ => connect(&self.pg).await?,
        };
        if !self.connected_once {
            self.connected_once = true;
            tracing::info!(ledger_id = %self.ledger_id, "ledger shipping to PostgreSQL");
        }
        // On an error the connection is dropped with `client`: the next round starts afresh.
        let requests = copy::ship(
            &mut client,
            &self.sqlite,
            REQUESTS,
            &self.ledger_id,
            self.batch,
        )
        .await?;
        let idle = copy::ship(&mut client, &self.sqlite, IDLE, &self.ledger_id, self.batch).await?;
        self.client = Some(client);
        self.shipped_to = requests.cursor;
        let m = &self.metrics;
        m.shipped_rows
            .with_label_values(&["requests"])
            .inc_by(requests.inserted);
        m.shipped_rows
            .with_label_values(&["idle"])
            .inc_by(idle.inserted);
        if requests.conflicts > 0 {
            tracing::warn!(
                rows = requests.conflicts,
                "ledger shipping: request ids another ledger had shipped; the rows are kept in \
                 request_id_conflicts"
            );
        }
        Ok(requests.sent == self.batch || idle.sent == self.batch)
    }

    fn succeeded(&mut self) {
        self.metrics.up.set(1);
        if let Some(since) = self.failing_since.take() {
            tracing::info!(
                after_s = since.elapsed().as_secs(),
                "ledger shipping to PostgreSQL recovered; shipping the backlog"
            );
        }
    }

    fn failed(&mut self, e: &dyn std::fmt::Display) {
        self.client = None;
        self.metrics.up.set(0);
        self.metrics.errors.inc();
        if self.failing_since.is_none() {
            self.failing_since = Some(Instant::now());
            tracing::warn!(
                error = %e,
                "ledger shipping to PostgreSQL failed; rows wait in the SQLite ledger and ship \
                 once it is reachable (retrying)"
            );
        } else {
            tracing::debug!(error = %e, "ledger shipping still failing");
        }
    }

    /// Sets the backlog and lag gauges from the ledger; returns the backlog.
    fn observe(&self) -> i64 {
        match backlog(&self.sqlite, self.shipped_to) {
            Ok((rows, oldest_end_ms)) => {
                self.metrics.backlog_rows.set(rows);
                let lag = oldest_end_ms.map_or(0.0, |end| ((now_ms() - end) / 1000.0).max(0.0));
                self.metrics.lag_seconds.set(lag);
                rows
            }
            Err(e) => {
                tracing::debug!(error = %e, "ledger shipping: cannot read the backlog");
                0
            }
        }
    }
}

/// Connects, migrates and prepares the session's staging tables.
async fn connect(pg: &tokio_postgres::Config) -> Result<Client, ShipError> {
    let (mut client, conn) = pg.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "ledger shipping: connection closed");
        }
    });
    let applied = migrate(&mut client).await?;
    if !applied.is_empty() {
        tracing::info!(versions = ?applied, "PostgreSQL ledger schema migrated");
    }
    copy::create_staging(&client).await?;
    Ok(client)
}

/// The request rows after `shipped_to` (ids are dense: the writer never skips nor reuses one),
/// and when the oldest of them was committed, approximately: its request's end, unix ms.
fn backlog(
    conn: &rusqlite::Connection,
    shipped_to: i64,
) -> Result<(i64, Option<f64>), rusqlite::Error> {
    let last: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM requests", [], |r| {
        r.get(0)
    })?;
    let oldest: Option<f64> = conn
        .query_row(
            "SELECT ts_ms + duration_ms FROM requests WHERE id > ?1 ORDER BY id LIMIT 1",
            [shipped_to],
            |r| r.get(0),
        )
        .optional()?;
    Ok(((last - shipped_to).max(0), oldest))
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_counts_from_what_postgres_has() {
        let conn = crate::ledger::open_scratch().unwrap();
        assert_eq!(backlog(&conn, 0).unwrap(), (0, None));
        let cols = crate::audit::HASHED_COLUMNS.join(", ");
        for id in 1..=5_i64 {
            conn.execute(
                &format!(
                    "INSERT INTO requests (id, {cols}) VALUES (?1, 'r' || ?1, ?1 * 1000, 't', 'r', \
                     NULL, NULL, NULL, 'public', 'd', 0, 1, 1, 0, 0, NULL, NULL, 'USD', 'v', 500.0, \
                     NULL, 200, 'ok', NULL, 1, '', '', '', 'chat_completions', 0, 'provider', NULL, \
                     0.0, '[]')"
                ),
                [id],
            )
            .unwrap();
        }
        assert_eq!(backlog(&conn, 0).unwrap(), (5, Some(1500.0)));
        assert_eq!(backlog(&conn, 3).unwrap(), (2, Some(4500.0)));
        assert_eq!(backlog(&conn, 5).unwrap(), (0, None));
    }
}
