//! Step 3: how sensitive the request is: max(declared class, tenant default, detected class).
//! Detection runs in this process over every text part; nothing is sent anywhere to decide
//! where the prompt may go.

use super::call::Call;
use super::prompt::Prompt;
use crate::errors::{ApiError, ErrorCode};
use crate::gateway::Gateway;
use pingora::http::RequestHeader;
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
    /// UTF-8 bytes of every text part: the basis of token estimates.
    pub prompt_bytes: usize,
    /// The type of each part that could not be scanned (`image_url`, `input_audio`, ...).
    pub opaque: Vec<String>,
    /// The class those parts get (`[detect] unscannable`), when there are any.
    pub opaque_class: Option<DataClass>,
}

/// The request's effective data class. A client can raise its class, never lower it below its
/// tenant's default; an unknown value is a 400.
pub fn classify(
    gw: &Gateway,
    tenant: &TenantProfile,
    declared: Option<&str>,
    call: Call,
) -> Result<Classified, ApiError> {
    let mut prompt = Prompt::of(call.body());
    prompt.opaque.extend(call.unreadable().map(str::to_string));
    let detections = gw.policy.detector.scan(&prompt.texts());
    let opaque_class = prompt.has_opaque().then_some(gw.config.detect.unscannable);
    let detected = detections.class.max(opaque_class);
    let class = effective_class(declared, tenant.default_class, detected)
        .map_err(|_| invalid_class(declared.unwrap_or_default().as_bytes()))?;
    Ok(Classified {
        class,
        detections,
        prompt_bytes: prompt.bytes,
        opaque: prompt.opaque,
        opaque_class,
    })
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
        ErrorCode::InvalidDataClass,
        format!(
            "{DATA_CLASS_HEADER} must be one of public, internal, confidential, restricted; got '{}'",
            String::from_utf8_lossy(value)
        ),
    )
}
