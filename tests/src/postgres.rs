//! A real PostgreSQL server for tests: Debian's `postgresql` package (installed by
//! `scripts/setup.sh`; its programs live in `/usr/lib/postgresql/VERSION/bin`, not on PATH),
//! a fresh cluster in a temporary folder (`initdb --no-sync`, `fsync=off`: fast, and nothing
//! here needs to survive a power loss), on a free loopback port. It can be stopped (an
//! immediate shutdown: to its clients, a crash) and started again on the same data and port,
//! for outage tests. Stopped on drop.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the
//! `postgres` system user that the package creates, and owns the temporary folder.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running (or stopped) PostgreSQL server.
pub struct Postgres {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/*/bin` that has `initdb` and `postgres`.
pub fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/setup.sh installs postgresql)",
                root.display()
            )
        })
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no PostgreSQL server under /usr/lib/postgresql (scripts/setup.sh installs it)")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl Postgres {
    /// Creates a cluster and starts its server on a free port.
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = bin_dir();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(status.success(), "chown of the cluster folder to postgres");
        }
        let mut pg = Postgres {
            child: None,
            port: free_port(),
            bin,
            dir,
        };
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(pg.data())
            .args(["-A", "trust", "-U", "tollgate", "--no-sync", "-E", "UTF8"])
            .args(["--locale", "C"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        pg.resume();
        pg
    }

    /// `postgres://tollgate@127.0.0.1:PORT/postgres`, as `[ledger] postgres_url`.
    pub fn url(&self) -> String {
        format!("postgres://tollgate@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A command running program `name` of the server's bin folder, as `postgres` when root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Starts the server (again, after [`Postgres::stop`]) on the same data and port, and
    /// waits until it accepts connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "postgres is running already");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the postgres log");
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-p",
                &self.port.to_string(),
            ])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=40"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.try_query("SELECT 1") {
                Ok(_) => return,
                Err(e) => {
                    if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                        panic!("postgres exited with {status}:\n{}", self.log());
                    }
                    assert!(
                        Instant::now() < deadline,
                        "postgres did not accept connections in {START_TIMEOUT:?} ({e}):\n{}",
                        self.log()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// The server's process id, from `postmaster.pid` (the child may be `runuser`).
    fn postmaster_pid(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        text.lines().next().map(|l| l.trim().to_string())
    }

    /// Stops the server at once (SIGQUIT, an immediate shutdown: its clients' connections
    /// drop as in a crash) and waits for it to exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = self.postmaster_pid() {
            let _ = Command::new("kill").args(["-QUIT", &pid]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(child.try_wait(), Ok(Some(_))) {
            if Instant::now() > deadline {
                if let Some(pid) = self.postmaster_pid() {
                    let _ = Command::new("kill").args(["-KILL", &pid]).status();
                }
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn try_query(&self, sql: &str) -> Result<Vec<tokio_postgres::Row>, String> {
        // On a thread and runtime of its own: the tests calling it run on a runtime already,
        // where a runtime can neither block nor be dropped.
        std::thread::scope(|s| {
            s.spawn(|| self.query_here(sql))
                .join()
                .unwrap_or_else(|_| Err("query thread panicked".into()))
        })
    }

    fn query_here(&self, sql: &str) -> Result<Vec<tokio_postgres::Row>, String> {
        let url = self.url();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            let conn = tokio::spawn(conn);
            let rows = client
                .query(sql, &[])
                .await
                .map_err(|e| match e.as_db_error() {
                    Some(db) => db.message().to_string(),
                    None => e.to_string(),
                });
            drop(client);
            let _ = conn.await;
            rows
        })
    }

    /// The rows `sql` returns (on a connection of its own).
    pub fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.try_query(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}\n{}", self.log()))
    }

    /// The single `bigint` `sql` returns.
    pub fn count(&self, sql: &str) -> i64 {
        self.query(sql)[0].get(0)
    }

    /// Waits up to `timeout` until the single `bigint` of `sql` is at least `n`; returns it.
    pub fn wait_count(&self, sql: &str, n: i64, timeout: Duration) -> i64 {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.try_query(sql).map_or(-1, |rows| rows[0].get(0));
            if c >= n || Instant::now() > deadline {
                return c;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
