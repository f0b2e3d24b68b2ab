//! pingora as the server: listeners, HTTP/1.1 and h2c, keep-alive, graceful shutdown.
//!
//! pingora's proxy path can only re-send a body it has read when the body is at most 64 KiB,
//! and routing needs the body. So pingora serves, and Tollgate answers every request inside
//! `request_filter` through its own pipeline and client, returning `Ok(true)`.

use crate::admin::AdminHandler;
use crate::conn::Door;
use crate::gateway::Gateway;
use crate::live::Live;
use crate::pipeline;
use async_trait::async_trait;
use pingora::apps::HttpServerOptions;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use pingora::server::{ListenFds, RunArgs, ShutdownWatch};
use pingora::services::listening::Service;
use pingora::services::{ServiceReadyNotifier, ServiceWithDependents};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{IntoRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

/// Connections the admin listener holds at once (scrapers and probes, not clients).
const ADMIN_MAX_CONNECTIONS: usize = 64;

/// The pingora handler: every request goes through [`pipeline::serve`].
pub struct Handler {
    live: Arc<Live>,
}

#[async_trait]
impl ProxyHttp for Handler {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut Self::CTX) -> Result<bool> {
        // The request keeps this config to its end, whatever a reload does meanwhile.
        let gw = self.live.current();
        pipeline::serve(&gw, session).await;
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        // Never reached: request_filter answers every request.
        Err(Error::explain(
            ErrorType::InternalError,
            "tollgate does not proxy through pingora",
        ))
    }
}

/// Binds every address now, so that port 0 resolves to a real port that can be printed before
/// the server starts, and so a taken port fails start-up with a clear error.
pub fn bind_all(addrs: &[SocketAddr]) -> std::io::Result<Vec<(SocketAddr, TcpListener)>> {
    addrs
        .iter()
        .map(|addr| {
            let l = TcpListener::bind(addr).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
            })?;
            l.set_nonblocking(true)?;
            Ok((l.local_addr()?, l))
        })
        .collect()
}

/// Hands sockets that are already bound to pingora: it looks listeners up by address in its
/// table of inherited descriptors (the graceful-upgrade mechanism) before binding itself.
struct PreBound<S> {
    inner: S,
    sockets: Vec<(String, OwnedFd)>,
    /// Set for the API service only: `/readyz` says ready when the API listeners accept, not
    /// when the admin listener (which serves `/readyz` itself) does.
    readiness: Option<Arc<Live>>,
}

#[async_trait]
impl<S: ServiceWithDependents> ServiceWithDependents for PreBound<S> {
    async fn start_service(
        &mut self,
        fds: Option<ListenFds>,
        shutdown: ShutdownWatch,
        listeners_per_fd: usize,
        ready_notifier: ServiceReadyNotifier,
    ) {
        let fds =
            fds.unwrap_or_else(|| Arc::new(parking_lot::Mutex::new(pingora::server::Fds::new())));
        {
            let mut table = fds.lock();
            for (addr, fd) in self.sockets.drain(..) {
                table.add(addr, fd.into_raw_fd());
            }
        }
        if let Some(live) = &self.readiness {
            let gw = live.current();
            gw.set_ready();
            spawn_idle(gw);
            tokio::spawn(Arc::clone(live).on_hangup());
            let live = Arc::clone(live);
            let mut watch = shutdown.clone();
            tokio::spawn(async move {
                if watch.wait_for(|stopping| *stopping).await.is_ok() {
                    drain_and_exit(&live.current()).await;
                }
            });
        }
        self.inner
            .start_service(Some(fds), shutdown, listeners_per_fd, ready_notifier)
            .await
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn threads(&self) -> Option<usize> {
        self.inner.threads()
    }
}

/// Descriptors kept out of the connection cap: the admin listener's, refusals still lingering,
/// the ledger, model files.
const FD_RESERVE: u64 = 512;

/// Raises the open-file limit to its hard maximum, then lowers `max_connections` if it does
/// not fit: each connection may hold a backend connection too, and at the cap the listener
/// must still have descriptors to accept (and refuse) with. Returns a warning when it lowered.
pub fn fit_connections(limits: &mut crate::config::ConnLimits) -> Option<String> {
    let files = rlimit::increase_nofile_limit(u64::MAX).ok()?;
    let fits = usize::try_from(files.saturating_sub(FD_RESERVE) / 2)
        .unwrap_or(usize::MAX)
        .max(1);
    if limits.max_connections <= fits {
        return None;
    }
    let asked = limits.max_connections;
    limits.max_connections = fits;
    Some(format!(
        "server.max_connections = {asked} does not fit the open-file limit of {files}: \
         serving at most {fits} connections (raise `ulimit -n` for more)"
    ))
}

/// Time the requests cut at the end of the grace period get to write their endings and rows.
const CUT_WAIT: Duration = Duration::from_secs(2);

/// After SIGTERM (the listeners have stopped accepting): waits for the requests in flight,
/// at most the grace period; ends those still running (an error event, or a 503) and waits
/// for their rows; commits the ledger; exits. pingora would sleep out the whole grace
/// period; its own grace is only a backstop here (see [`run`]).
async fn drain_and_exit(gw: &Gateway) {
    gw.begin_shutdown();
    let grace = Duration::from_secs(gw.config.server.grace_period_seconds);
    tracing::info!(
        in_flight = gw.drain.in_flight(),
        "shutting down: waiting up to {grace:?} for requests in flight"
    );
    if !gw.drain.until_idle(grace).await {
        tracing::warn!(
            in_flight = gw.drain.in_flight(),
            "grace period over: ending the requests still in flight"
        );
        gw.drain.cut_now();
        gw.drain.until_idle(CUT_WAIT).await;
    }
    // The idle lines go in before the ledger closes: it drops what comes later.
    gw.idle.flush(&gw.idle_parts(), crate::meter::now_ms());
    gw.meter.close();
    tracing::info!("shut down");
    std::process::exit(0);
}

/// Binds `[server] admin_listen`, when configured (see [`bind_all`]).
pub fn bind_admin(gw: &Gateway) -> std::io::Result<Option<(SocketAddr, TcpListener)>> {
    match gw.config.server.admin_listen {
        Some(addr) => Ok(bind_all(&[addr])?.pop()),
        None => Ok(None),
    }
}

/// Runs the gateway on sockets bound by [`bind_all`] (and the admin listener from
/// [`bind_admin`]) until a shutdown signal; then commits every recorded ledger row.
pub fn run(
    live: Arc<Live>,
    listeners: Vec<(SocketAddr, TcpListener)>,
    admin: Option<(SocketAddr, TcpListener)>,
    run_args: RunArgs,
) {
    let gw = live.current();
    let conf = ServerConf {
        threads: gw.config.server.threads,
        // A backstop only: `drain_and_exit` ends the process once nothing is in flight.
        grace_period_seconds: Some(gw.config.server.grace_period_seconds + CUT_WAIT.as_secs() + 1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    let limits = gw.config.server.connections;
    let mut proxy = pingora::proxy::http_proxy(
        &server.configuration,
        Handler {
            live: Arc::clone(&live),
        },
    );
    let mut options = HttpServerOptions::default();
    options.h2c = true;
    options.h2_idle_timeout = Some(limits.idle_timeout);
    proxy.server_options = Some(options);
    let mut service = Service::new(
        "tollgate".to_string(),
        Door::new(
            proxy,
            limits,
            true,
            gw.meter.metering().metrics().connections("api"),
        ),
    );
    let mut sockets = Vec::new();
    for (addr, listener) in listeners {
        let key = addr.to_string();
        service.add_tcp(&key);
        sockets.push((key, OwnedFd::from(listener)));
    }
    server.add_service(PreBound {
        inner: service,
        sockets,
        readiness: Some(Arc::clone(&live)),
    });
    if let Some((addr, listener)) = admin {
        let proxy =
            pingora::proxy::http_proxy(&server.configuration, AdminHandler::new(Arc::clone(&live)));
        // The admin listener has its own, smaller allowance: a flood of API connections
        // never keeps `/healthz` and `/metrics` from answering.
        let admin_limits = crate::config::ConnLimits {
            max_connections: ADMIN_MAX_CONNECTIONS,
            ..limits
        };
        let mut admin_service = Service::new(
            "tollgate-admin".to_string(),
            Door::new(
                proxy,
                admin_limits,
                false,
                gw.meter.metering().metrics().connections("admin"),
            ),
        );
        admin_service.threads = Some(1);
        let key = addr.to_string();
        admin_service.add_tcp(&key);
        server.add_service(PreBound {
            inner: admin_service,
            sockets: vec![(key, OwnedFd::from(listener))],
            readiness: None,
        });
    }
    // After SIGTERM `drain_and_exit` ends the process; this returns after a fast (SIGINT)
    // shutdown, or if the drain outlived pingora's backstop. Requests still running then were
    // dropped, and recorded as they were.
    server.run(run_args);
    let gw = live.current();
    gw.idle.flush(&gw.idle_parts(), crate::meter::now_ms());
    gw.meter.close();
}

/// Starts the idle accounting of `gw` now and the task that keeps it, on the server's runtime.
/// Without a backend priced by the hour there is nothing to run.
fn spawn_idle(gw: Arc<Gateway>) {
    let now = crate::meter::now_ms();
    gw.idle.start(&gw.idle_parts(), now);
    if !gw.idle.is_running() {
        return;
    }
    // Every backend's idle-cost series exists from the start, at 0.
    gw.idle.tick(&gw.idle_parts(), now);
    tokio::spawn(async move {
        let mut pause = crate::idle::FIRST_LOOK;
        loop {
            tokio::time::sleep(crate::idle::Idle::pause(pause, crate::meter::now_ms())).await;
            if !gw.idle.is_running() {
                return;
            }
            gw.idle.tick(&gw.idle_parts(), crate::meter::now_ms());
            pause = crate::idle::REFRESH;
        }
    });
}
