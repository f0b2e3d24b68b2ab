//! Step 3: how sensitive the request is: max(declared class, tenant default, detected class).

use super::authenticate::TenantRef;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use pingora::http::RequestHeader;
use tollgate_adapters::ChatRequest;
use tollgate_policies::DataClass;

/// The header a client declares its request's data class in.
pub const DATA_CLASS_HEADER: &str = "x-tollgate-data-class";

/// The request's effective data class. A client can raise its class, never lower it below its
/// tenant's default; an unknown value is a 400.
pub fn classify(
    gw: &Gateway,
    tenant: TenantRef,
    headers: &RequestHeader,
    _req: &ChatRequest,
) -> Result<DataClass, ApiError> {
    let declared = match headers.headers.get(DATA_CLASS_HEADER) {
        None => DataClass::Public,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<DataClass>().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_data_class",
                    format!(
                        "{DATA_CLASS_HEADER} must be one of public, internal, confidential, restricted; got '{}'",
                        String::from_utf8_lossy(v.as_bytes())
                    ),
                )
            })?,
    };
    let tenant_default = match tenant {
        TenantRef::Tenant(i) => gw.config.tenants[i].default_class,
        TenantRef::Anonymous => DataClass::Public,
    };
    Ok(declared.max(tenant_default))
}
