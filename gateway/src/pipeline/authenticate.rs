//! Step 1: who is calling. The tenant comes from its API key.

use crate::errors::ApiError;
use crate::gateway::Gateway;
use pingora::http::RequestHeader;
use tollgate_policies::TenantProfile;

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantRef {
    /// A configured tenant, by index.
    Tenant(usize),
    /// No tenants are configured (loopback-only serving): every caller is anonymous.
    Anonymous,
}

impl TenantRef {
    /// The tenant's name for records.
    pub fn name<'a>(&self, gw: &'a Gateway) -> &'a str {
        match self {
            TenantRef::Tenant(i) => &gw.config.tenants[*i].name,
            TenantRef::Anonymous => "anonymous",
        }
    }

    /// The tenant's licence profile and default class.
    pub fn profile<'a>(&self, gw: &'a Gateway) -> &'a TenantProfile {
        match self {
            TenantRef::Tenant(i) => &gw.config.tenants[*i].profile,
            TenantRef::Anonymous => &gw.config.anonymous,
        }
    }
}

/// Reads `Authorization: Bearer KEY` (or `x-api-key: KEY`, as Anthropic clients send, or
/// `api-key: KEY`, as Azure-style clients do) and finds its tenant. With no tenants configured
/// every request is anonymous.
pub fn authenticate(gw: &Gateway, req: &RequestHeader) -> Result<TenantRef, ApiError> {
    if !gw.auth_enabled() {
        return Ok(TenantRef::Anonymous);
    }
    let key = bearer_key(req).ok_or_else(|| {
        ApiError::unauthorized(
            "missing API key: send it as 'Authorization: Bearer YOUR_KEY' or 'x-api-key: YOUR_KEY'",
        )
    })?;
    gw.tenant_for_key(key)
        .map(TenantRef::Tenant)
        .ok_or_else(|| ApiError::unauthorized("invalid API key"))
}

fn bearer_key(req: &RequestHeader) -> Option<&[u8]> {
    if let Some(v) = req.headers.get(http::header::AUTHORIZATION) {
        let v = v.as_bytes();
        let key = v
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case(b"bearer "))
            .map(|_| &v[7..])?;
        let key = key.trim_ascii();
        return (!key.is_empty()).then_some(key);
    }
    ["x-api-key", "api-key"].iter().find_map(|name| {
        req.headers
            .get(*name)
            .map(|v| v.as_bytes().trim_ascii())
            .filter(|k| !k.is_empty())
    })
}
