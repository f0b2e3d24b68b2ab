//! The admin listener (`[server] admin_listen`): `GET /metrics` in Prometheus' text format,
//! `GET /healthz`, and the spend page under `/ui` (see [`crate::ui`]). It is a separate
//! pingora service on its own socket, so the API listeners never expose metrics and the admin
//! socket can stay on loopback or a private network.
//!
//! With `[server] admin_token_env` set, every path but `/healthz` (a liveness probe carries no
//! credentials) needs the token; without it `/metrics` is open, as it always was, and the
//! spend page refuses to serve.
//!
//! `POST /reload` loads the config file again (see [`crate::live`]): 200 with the changes
//! that need a restart, or 422 with every error of a refused file.

use crate::config::env::ProcessEnv;
use crate::live::{Live, Reloaded};
use crate::ui::auth::{Access, AdminAuth, CHALLENGE};
use crate::ui::{self, Reply};
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use std::sync::Arc;

/// Content type of the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin service's handler.
pub struct AdminHandler {
    live: Arc<Live>,
    auth: AdminAuth,
}

impl AdminHandler {
    /// A handler serving `gw`'s metrics and spend page, with the admin token read from the
    /// variable `[server] admin_token_env` names.
    pub fn new(live: Arc<Live>) -> Self {
        let auth = AdminAuth::from_config(&live.current().config.server, &ProcessEnv);
        AdminHandler { live, auth }
    }

    /// Answers one request (everything but writing it).
    async fn answer(
        &self,
        method: &http::Method,
        path: &str,
        query: &str,
        authz: Option<&[u8]>,
    ) -> Reply {
        let readable = matches!(*method, http::Method::GET | http::Method::HEAD);
        if path == "/healthz" {
            return if readable {
                Reply::text(200, "ok\n")
            } else {
                Reply::text(405, "method not allowed; use GET\n")
            };
        }
        if self.auth.check(authz) == Access::Denied {
            let mut r = Reply::text(
                401,
                "unauthorized: send the admin token as `Authorization: Bearer TOKEN` or as the \
                 password of HTTP Basic\n",
            );
            r.headers.push(("www-authenticate", CHALLENGE.to_string()));
            return r;
        }
        if path == "/reload" {
            return if *method == http::Method::POST {
                self.reload().await
            } else {
                Reply::text(405, "method not allowed; use POST\n")
            };
        }
        let gw = self.live.current();
        let known = path == "/metrics" || ui::owns(path);
        match (readable, known) {
            (true, _) if path == "/metrics" => {
                gw.refresh_engine_gauges();
                Reply {
                    content_type: METRICS_CONTENT_TYPE,
                    ..Reply::text(200, gw.meter.encode_metrics())
                }
            }
            (true, true) => ui::serve(&gw, &self.auth, path, query).await,
            (false, true) => Reply::text(405, "method not allowed; use GET\n"),
            (_, false) => Reply::text(
                404,
                "not found: the admin listener serves /metrics, /healthz, the spend page /ui \
                 and POST /reload\n",
            ),
        }
    }

    async fn reload(&self) -> Reply {
        let live = Arc::clone(&self.live);
        match tokio::task::spawn_blocking(move || live.reload()).await {
            Ok(Reloaded::Applied(warnings)) => {
                let mut text = String::from("reloaded\n");
                for w in warnings {
                    text.push_str(&format!("warning: {w}\n"));
                }
                Reply::text(200, text)
            }
            Ok(Reloaded::Refused(errors)) => Reply::text(422, format!("{errors}\n")),
            Err(e) => Reply::text(500, format!("reload failed: {e}\n")),
        }
    }
}

#[async_trait]
impl ProxyHttp for AdminHandler {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut Self::CTX) -> Result<bool> {
        let req = session.req_header();
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let query = req.uri.query().unwrap_or("").to_string();
        let authz = req
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        let reply = self.answer(&method, &path, &query, authz.as_deref()).await;
        let head_only = method == http::Method::HEAD;
        let mut h = ResponseHeader::build(reply.status, Some(3 + reply.headers.len()))?;
        h.insert_header(http::header::CONTENT_TYPE, reply.content_type)?;
        h.insert_header(http::header::CONTENT_LENGTH, reply.body.len())?;
        for (name, value) in reply.headers {
            h.insert_header(name, value)?;
        }
        session
            .write_response_header(Box::new(h), head_only)
            .await?;
        if !head_only {
            session
                .write_response_body(Some(Bytes::from(reply.body)), true)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::MapEnv;

    const CONFIG: &str = "[server]\nlisten = \"127.0.0.1:0\"\n[ledger]\nenabled = false\n";

    fn handler(token: Option<&str>) -> AdminHandler {
        let mut config = crate::config::from_toml_str(CONFIG).unwrap();
        config.server.admin_token_env = token.map(|_| "ADMIN_TOKEN".to_string());
        let env = MapEnv::of(token.map(|t| ("ADMIN_TOKEN", t)));
        let auth = AdminAuth::from_config(&config.server, &env);
        let gw = Arc::new(crate::gateway::Gateway::build_with(config, &env).unwrap());
        let live = Live::new(gw, std::path::PathBuf::from("tollgate.toml"));
        AdminHandler { live, auth }
    }

    async fn get(h: &AdminHandler, path: &str, authz: Option<&str>) -> Reply {
        h.answer(&http::Method::GET, path, "", authz.map(str::as_bytes))
            .await
    }

    #[tokio::test]
    async fn with_a_token_everything_but_healthz_needs_it() {
        let h = handler(Some("tok"));
        assert_eq!(get(&h, "/healthz", None).await.status, 200);
        for path in ["/metrics", "/ui", "/ui/top.csv", "/nope"] {
            let r = get(&h, path, None).await;
            assert_eq!(r.status, 401, "{path}");
            assert_eq!(
                r.headers,
                vec![("www-authenticate", CHALLENGE.to_string())],
                "{path}"
            );
            assert_eq!(get(&h, path, Some("Bearer nope")).await.status, 401);
        }
        let ok = Some("Bearer tok");
        assert_eq!(get(&h, "/metrics", ok).await.status, 200);
        assert_eq!(get(&h, "/nope", ok).await.status, 404);
        let page = get(&h, "/ui", ok).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("The ledger is disabled"),
            "{}",
            page.body
        );
        assert!(page
            .headers
            .iter()
            .any(|(n, v)| *n == "content-security-policy" && v.starts_with("default-src 'none'")));
        let post = h
            .answer(&http::Method::POST, "/ui", "", ok.map(str::as_bytes))
            .await;
        assert_eq!(post.status, 405);
    }

    #[tokio::test]
    async fn without_a_token_metrics_stay_open_and_the_page_is_off() {
        let h = handler(None);
        assert_eq!(get(&h, "/metrics", None).await.status, 200);
        let r = get(&h, "/ui", None).await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains("server.admin_token_env"), "{}", r.body);
        assert_eq!(get(&h, "/ui/spend.csv", None).await.status, 403);
    }
}
