//! The small endpoints: model list and health.

use super::authenticate::TenantRef;
use super::decide::visible_models;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use bytes::Bytes;
use serde_json::json;

/// A JSON answer.
#[derive(Debug)]
pub struct Json {
    /// HTTP status.
    pub status: u16,
    /// Serialized body.
    pub body: Bytes,
}

/// `GET /v1/models`: the routes and `BACKEND/MODEL`s this tenant may use, in OpenAI's format.
pub fn models(gw: &Gateway, tenant: TenantRef) -> Json {
    let data: Vec<_> = visible_models(gw, tenant)
        .into_iter()
        .map(|id| {
            let owned_by = match id.split_once('/') {
                Some((backend, _)) => backend.to_string(),
                None => "tollgate".to_string(),
            };
            json!({"id": id, "object": "model", "created": 0, "owned_by": owned_by})
        })
        .collect();
    Json {
        status: 200,
        body: Bytes::from(json!({"object": "list", "data": data}).to_string()),
    }
}

/// `GET /healthz`: the process is alive.
pub fn healthz() -> Json {
    Json {
        status: 200,
        body: Bytes::from_static(br#"{"status":"ok"}"#),
    }
}

/// `GET /readyz`: config loaded and listeners accepting.
pub fn readyz(gw: &Gateway) -> Result<Json, ApiError> {
    if gw.is_ready() {
        Ok(Json {
            status: 200,
            body: Bytes::from_static(br#"{"status":"ready"}"#),
        })
    } else {
        let mut err = ApiError::internal("listeners are not up yet");
        err.status = 503;
        err.code = "not_ready";
        Err(err)
    }
}
