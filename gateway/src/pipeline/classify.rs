//! Step 3: how sensitive the request is: max(declared class, tenant default, detected class).
//! Detection runs in this process over every text part; nothing is sent anywhere to decide
//! where the prompt may go.

use super::texts;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use pingora::http::RequestHeader;
use tollgate_adapters::ChatRequest;
use tollgate_policies::{effective_class, DataClass, Detections, TenantProfile};

/// The header a client declares its request's data class in.
pub const DATA_CLASS_HEADER: &str = "x-tollgate-data-class";

/// The request's class and what the detector found.
#[derive(Debug)]
pub struct Classified {
    /// The effective class.
    pub class: DataClass,
    /// What the detector found, with offsets into the request's text parts.
    pub detections: Detections,
}

/// The request's effective data class. A client can raise its class, never lower it below its
/// tenant's default; an unknown value is a 400.
pub fn classify(
    gw: &Gateway,
    tenant: &TenantProfile,
    declared: Option<&str>,
    req: &ChatRequest,
) -> Result<Classified, ApiError> {
    let parts: Vec<&str> = texts::parts(&req.body, false)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let detections = gw.policy.detector.scan(&parts);
    let class = effective_class(declared, tenant.default_class, detections.class)
        .map_err(|_| invalid_class(declared.unwrap_or_default().as_bytes()))?;
    Ok(Classified { class, detections })
}

/// The class the client declared in [`DATA_CLASS_HEADER`], if any.
pub fn declared(headers: &RequestHeader) -> Result<Option<&str>, ApiError> {
    match headers.headers.get(DATA_CLASS_HEADER) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| invalid_class(v.as_bytes())),
    }
}

fn invalid_class(value: &[u8]) -> ApiError {
    ApiError::bad_request(
        "invalid_data_class",
        format!(
            "{DATA_CLASS_HEADER} must be one of public, internal, confidential, restricted; got '{}'",
            String::from_utf8_lossy(value)
        ),
    )
}
