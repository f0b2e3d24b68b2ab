//! Runs the real `tollgate` binary with a temporary config and talks to it over real sockets.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The path of the `tollgate` binary built by this workspace (`TOLLGATE_BIN` overrides it).
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOLLGATE_BIN") {
        return PathBuf::from(p);
    }
    // Test executables live in target/<profile>/deps, other binaries in target/<profile>.
    let exe = std::env::current_exe().expect("current executable");
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("tollgate"))
        .collect();
    let bin = candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no tollgate binary in {candidates:?}: build it with `cargo build -p tollgate` \
             (cargo test --workspace does)"
            )
        });
    bin
}

/// A running gateway process. Killed when dropped.
pub struct Gateway {
    child: Child,
    /// The first API listener.
    pub addr: SocketAddr,
    /// Every API listener.
    pub addrs: Vec<SocketAddr>,
    /// The admin listener, when configured.
    pub admin: Option<SocketAddr>,
    /// The temporary folder holding its config (and anything it writes).
    pub dir: tempfile::TempDir,
    stderr: Arc<Mutex<String>>,
    /// Things that must live as long as the gateway (e.g. a [`DeadAddress`] it is configured
    /// with).
    held: Vec<Box<dyn std::any::Any + Send>>,
}

impl Gateway {
    /// Starts the gateway with this config (`listen` should use port 0).
    pub fn start(config: &str) -> Gateway {
        Self::start_with_env(config, &[])
    }

    /// Starts the gateway with this config and extra environment variables.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tollgate.toml");
        std::fs::write(&path, config).expect("write config");
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .arg("--config")
            .arg(&path)
            .current_dir(dir.path())
            .env("TOLLGATE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tollgate");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("tollgate listening on") {
                    let _ = tx.send(line);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let line = loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                break line;
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "tollgate exited with {status} before listening:\n{}",
                    stderr.lock().expect("stderr lock")
                );
            }
            assert!(
                Instant::now() < deadline,
                "tollgate did not print its listening line in 30 s:\n{}",
                stderr.lock().expect("stderr lock")
            );
        };
        let (addrs, admin) = parse_listening_line(&line);
        Gateway {
            child,
            addr: addrs[0],
            addrs,
            admin,
            dir,
            stderr,
            held: Vec::new(),
        }
    }

    /// Keeps `thing` alive as long as the gateway.
    pub fn holding(mut self, thing: impl std::any::Any + Send) -> Gateway {
        self.held.push(Box::new(thing));
        self
    }

    /// `http://ADDR` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends `hi` to `route` and asserts that `backend` answered it, 200, with `text`.
    pub async fn assert_served_by(&self, route: &str, stream: bool, backend: &str, text: &str) {
        let r = crate::client::TestClient::new()
            .post_json(
                &self.url("/v1/chat/completions"),
                &[],
                &crate::client::chat(route, "hi", stream),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("x-tollgate-backend"), Some(backend));
        assert_eq!(r.answer(stream), text);
    }

    /// What the gateway has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to `timeout` for a graceful exit; returns whether it exited.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// CPU seconds (user and system) a process has used, from `/proc`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

/// A process's resident memory in MB, from `/proc`.
pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Parses `tollgate listening on api http://A [http://B ...] [admin http://C]`.
pub fn parse_listening_line(line: &str) -> (Vec<SocketAddr>, Option<SocketAddr>) {
    let mut api = Vec::new();
    let mut admin = None;
    let mut section = "";
    for word in line.split_whitespace() {
        match word {
            "api" | "admin" => section = word,
            w if w.starts_with("http://") => {
                let addr: SocketAddr = w["http://".len()..].parse().expect("listening address");
                if section == "admin" {
                    admin = Some(addr);
                } else {
                    api.push(addr);
                }
            }
            _ => {}
        }
    }
    assert!(!api.is_empty(), "no API address in: {line}");
    (api, admin)
}

/// A loopback address on which nothing listens: connections are refused for as long as the
/// value lives. The port stays bound (never listening), so no server of a parallel test can
/// take it; a port that is bound and released at once can be, which made failover tests flaky.
#[derive(Debug)]
pub struct DeadAddress {
    /// The address.
    pub addr: SocketAddr,
    _socket: tokio::net::TcpSocket,
}

impl DeadAddress {
    /// `http://ADDR/v1`, as a backend's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

impl std::fmt::Display for DeadAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.addr.fmt(f)
    }
}

/// Binds a loopback port that never listens; see [`DeadAddress`].
pub fn dead_address() -> DeadAddress {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let addr = socket.local_addr().expect("addr");
    DeadAddress {
        addr,
        _socket: socket,
    }
}

/// SHA-256 of a string as hex, as `tenants.NAME.api_key_sha256` expects.
pub fn sha256_hex(s: &str) -> String {
    let out = std::process::Command::new(binary())
        .args(["hash-key", s])
        .output()
        .expect("run tollgate hash-key");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `tollgate serve` with a config that must make it refuse to start; returns its exit
/// code and what it printed on stderr.
pub fn start_failure(config: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tollgate.toml");
    std::fs::write(&path, config).expect("write config");
    let out = Command::new(binary())
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run tollgate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
