//! The pooled keep-alive HTTP client every HTTP backend uses.

use crate::error::{AttemptError, TimeoutKind};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A pooled HTTP/1.1 and HTTP/2 (over TLS, by ALPN) client.
pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds a client whose connections are kept alive and reused across requests.
pub fn build(connect_timeout: Duration) -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(60)));
    http.enforce_http(false);
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| {
        b.with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth()
    });
    let connector = match tls {
        Ok(tls) => hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http),
        // ring's default provider supports the default protocol versions; this arm is only
        // reached if that ever stops being true, and plain HTTP still works.
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http),
    };
    // Idle connections keep their buffers: a burst of a thousand streams left ~150 MB resident
    // for the 90 s they used to be kept. 20 s still carries a busy backend from one request to
    // the next without a new handshake.
    // The timer is what reaps expired idle connections; without one they linger until the
    // next checkout.
    Client::builder(TokioExecutor::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(64)
        .build(connector)
}

/// Classifies a client error: a timed-out connect is a connect timeout, anything else before
/// the response head is a connect failure.
pub fn classify(
    err: &hyper_util::client::legacy::Error,
    connect_timeout: Duration,
) -> AttemptError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return AttemptError::Timeout(TimeoutKind::Connect, connect_timeout);
            }
        }
        source = e.source();
    }
    if err.is_connect() {
        AttemptError::Connect(error_chain(err))
    } else {
        AttemptError::Protocol(error_chain(err))
    }
}

/// The error and its causes on one line.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
