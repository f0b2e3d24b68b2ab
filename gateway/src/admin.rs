//! The admin listener (`[server] admin_listen`): `GET /metrics` in Prometheus' text format.
//! It is a separate pingora service on its own socket, so the API listeners never expose
//! metrics and the admin socket can stay on loopback or a private network.

use crate::gateway::Gateway;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use std::sync::Arc;

/// Content type of the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin service's handler.
pub struct AdminHandler {
    gw: Arc<Gateway>,
}

impl AdminHandler {
    /// A handler serving `gw`'s metrics.
    pub fn new(gw: Arc<Gateway>) -> Self {
        AdminHandler { gw }
    }
}

#[async_trait]
impl ProxyHttp for AdminHandler {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut Self::CTX) -> Result<bool> {
        let req = session.req_header();
        let (status, content_type, body) = match (req.method.as_str(), req.uri.path()) {
            ("GET" | "HEAD", "/metrics") => {
                self.gw.refresh_engine_gauges();
                (200, METRICS_CONTENT_TYPE, self.gw.meter.encode_metrics())
            }
            ("GET" | "HEAD", "/healthz") => (200, "text/plain; charset=utf-8", "ok\n".to_string()),
            (_, "/metrics" | "/healthz") => (
                405,
                "text/plain; charset=utf-8",
                "method not allowed; use GET\n".to_string(),
            ),
            _ => (
                404,
                "text/plain; charset=utf-8",
                "not found: the admin listener serves /metrics and /healthz\n".to_string(),
            ),
        };
        let head_only = req.method == http::Method::HEAD;
        let mut h = ResponseHeader::build(status, Some(3))?;
        h.insert_header(http::header::CONTENT_TYPE, content_type)?;
        h.insert_header(http::header::CONTENT_LENGTH, body.len())?;
        session
            .write_response_header(Box::new(h), head_only)
            .await?;
        if !head_only {
            session
                .write_response_body(Some(Bytes::from(body)), true)
                .await?;
        }
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        Err(Error::explain(
            ErrorType::InternalError,
            "the admin listener does not proxy",
        ))
    }
}

/// The admin part of the listening line: ` admin http://ADDR`, or nothing.
pub fn listening_suffix(admin: Option<&(std::net::SocketAddr, std::net::TcpListener)>) -> String {
    admin.map_or_else(String::new, |(a, _)| format!(" admin http://{a}"))
}
