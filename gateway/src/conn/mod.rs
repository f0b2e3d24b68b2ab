//! The door every client connection comes through, in front of pingora.
//!
//! pingora keeps a connection as long as its client does: silent connections, heads sent a byte
//! every few seconds and idle keep-alives all stay open, and nothing caps how many there are.
//! The door bounds each of these:
//! - at most `server.max_connections` are open; past it a new one gets a 503 and is closed;
//! - a head must arrive whole within `header_timeout` (counted from the connection, or from the
//!   first byte of a later request), and a kept-alive connection idles for `idle_timeout`;
//! - every head is checked ([`head::scan`]) before pingora reads it, so bad framing gets a JSON
//!   error, a short HTTP/1.0 request is not mistaken for the start of HTTP/2, and pipelined
//!   requests are answered in order.

pub mod guarded;
pub mod head;

use crate::config::ConnLimits;
use crate::errors::ApiError;
use async_trait::async_trait;
use guarded::Guarded;
use head::{Body, Scan};
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::{timeout, timeout_at, Instant};
use tollgate_metering::metrics::ConnTally;

/// How long a refusal may take to write, and to drain what the client still sends after it
/// (closing with unread bytes would reset the connection before the client reads the answer).
const LINGER: Duration = Duration::from_millis(500);

/// The connection guard around a pingora HTTP app.
pub struct Door<A> {
    app: Arc<A>,
    limits: ConnLimits,
    open: Arc<Semaphore>,
    h2c: bool,
    tally: ConnTally,
}

/// What the next request on a connection turned out to be.
enum Next {
    /// A whole HTTP/1.x head; pingora may read this many bytes for its request (`None`: a
    /// chunked body, whose end only pingora's parser knows).
    Http1(Option<u64>),
    /// The HTTP/2 preface.
    H2,
    /// Nothing to answer: the client closed, idled out, or the server is stopping.
    Quiet,
    /// A head to refuse, with this answer.
    Refuse(ApiError),
}

impl<A: HttpServerApp + Send + Sync + 'static> Door<A> {
    /// Guards `app`; `h2c`: whether HTTP/2 with prior knowledge is served; `tally`: where
    /// open and refused connections are counted.
    pub fn new(app: A, limits: ConnLimits, h2c: bool, tally: ConnTally) -> Self {
        Door {
            app: Arc::new(app),
            limits,
            open: Arc::new(Semaphore::new(limits.max_connections)),
            h2c,
            tally,
        }
    }

    /// Serves one connection's requests in turn, each head checked before pingora reads it.
    async fn serve(&self, mut conn: Guarded, shutdown: &ShutdownWatch) {
        let mut fresh = true;
        loop {
            match self.next_head(&mut conn, fresh, shutdown).await {
                Next::Http1(allowance) => conn.allow(allowance),
                Next::H2 => {
                    conn.allow(None);
                    self.app.process_new(Box::new(conn), shutdown).await;
                    return;
                }
                Next::Quiet => return,
                Next::Refuse(err) => return self.refuse(conn, &err).await,
            }
            let mut session = ServerSession::new_http1(Box::new(conn));
            let keepalive =
                (!*shutdown.borrow()).then(|| self.limits.idle_timeout.as_secs().max(1));
            session.set_keepalive(keepalive);
            let Some(reused) = self.app.process_new_http(session, shutdown).await else {
                return;
            };
            let (stream, _) = reused.consume();
            match recover(stream) {
                Some(next) => conn = next,
                None => return,
            }
            fresh = false;
        }
    }

    /// Reads until a whole head is in, within its deadline.
    async fn next_head(&self, conn: &mut Guarded, fresh: bool, shutdown: &ShutdownWatch) -> Next {
        let limits = &self.limits;
        // A fresh connection's head has `header_timeout` from the connection on; a reused
        // one may idle first, and its head's time starts with its first byte.
        let mut deadline = Instant::now()
            + if fresh {
                limits.header_timeout
            } else {
                limits.idle_timeout
            };
        let mut started = fresh;
        let mut shutdown = shutdown.clone();
        loop {
            if !conn.ahead().is_empty() {
                if !started {
                    started = true;
                    deadline = Instant::now() + limits.header_timeout;
                }
                match head::scan(conn.ahead(), limits, self.h2c && fresh) {
                    Ok(Scan::Partial) => {}
                    Ok(Scan::H2) => return Next::H2,
                    Ok(Scan::Http1 { len, body }) => {
                        let len = len as u64;
                        return Next::Http1(match body {
                            Body::Empty => Some(len),
                            Body::Length(n) => Some(len + n),
                            // If the client sent more behind a chunked body, pingora reads
                            // it too and does not reuse the connection: an honest close.
                            Body::Chunked => None,
                        });
                    }
                    Err(err) => return Next::Refuse(err),
                }
            }
            let idle = conn.ahead().is_empty();
            tokio::select! {
                read = timeout_at(deadline, conn.fill()) => match read {
                    Err(_) if idle => return Next::Quiet,
                    Err(_) => return Next::Refuse(ApiError::request_timeout("head")),
                    Ok(Ok(0)) | Ok(Err(_)) => return Next::Quiet,
                    Ok(Ok(_)) => {}
                },
                _ = shutdown.wait_for(|stopping| *stopping), if idle => return Next::Quiet,
            }
        }
    }
}

impl<A> Door<A> {
    /// Answers `err` on a connection pingora never saw, then closes it.
    async fn refuse(&self, mut conn: Guarded, err: &ApiError) {
        tracing::debug!(code = %err.code, "connection refused: {}", err.message);
        self.tally.refused(err.code.as_str());
        let socket = conn.socket();
        let wrote = timeout(LINGER, socket.write_all(&err.raw_response())).await;
        if !matches!(wrote, Ok(Ok(()))) {
            return;
        }
        let _ = timeout(LINGER, AsyncWriteExt::shutdown(socket)).await;
        let mut sink = [0u8; 8192];
        let _ = timeout(LINGER, async {
            while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

/// The connection pingora hands back after a response it may reuse.
fn recover(stream: Stream) -> Option<Guarded> {
    stream.into_any().downcast::<Guarded>().ok().map(|b| *b)
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> ServerApp for Door<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        match self.open.clone().try_acquire_owned() {
            Ok(_slot) => {
                let _open = self.tally.open();
                self.serve(Guarded::new(stream), shutdown).await
            }
            Err(_) => {
                let err = ApiError::too_many_connections(self.limits.max_connections);
                self.refuse(Guarded::new(stream), &err).await
            }
        }
        None
    }

    async fn cleanup(&self) {
        self.app.http_cleanup().await
    }
}
