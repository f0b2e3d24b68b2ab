//! Step 4: which backend models may serve this request, in which order.

use super::authenticate::TenantRef;
use crate::config::Candidate;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use tollgate_adapters::ChatRequest;
use tollgate_policies::DataClass;

/// The candidates a request may be dispatched to, in order. Dispatch never tries anything else.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The route name, or `BACKEND/MODEL` for a pinned model.
    pub route_name: String,
    /// Candidates in the order they are tried.
    pub candidates: Vec<Candidate>,
}

/// Resolves the request's `model` (a route, or `BACKEND/MODEL`) for this tenant.
pub fn decide(
    gw: &Gateway,
    tenant: TenantRef,
    req: &ChatRequest,
    _class: DataClass,
) -> Result<Decision, ApiError> {
    let name = req.model();
    if let Some(r) = gw.config.route_index(name) {
        if !may_use_route(gw, tenant, r) {
            return Err(ApiError::forbidden(
                "route_not_allowed",
                format!("this API key may not use route '{name}'"),
            ));
        }
        return Ok(Decision {
            route_name: name.to_string(),
            candidates: gw.config.routes[r].candidates.clone(),
        });
    }
    if let Some(c) = gw.config.candidate(name) {
        if !may_use_model(gw, tenant, c) {
            return Err(ApiError::forbidden(
                "model_not_allowed",
                format!("this API key may not use model '{name}': it is in none of its routes"),
            ));
        }
        return Ok(Decision {
            route_name: name.to_string(),
            candidates: vec![c],
        });
    }
    let known = visible_models(gw, tenant);
    Err(ApiError::not_found(
        "model_not_found",
        format!(
            "model '{name}' is neither a route nor a BACKEND/MODEL; available: {}",
            known.join(", ")
        ),
    )
    .with_details("available", known.into()))
}

/// Whether the tenant may use route `r`.
pub fn may_use_route(gw: &Gateway, tenant: TenantRef, r: usize) -> bool {
    match tenant {
        TenantRef::Anonymous => true,
        TenantRef::Tenant(t) => gw.config.tenants[t]
            .routes
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&r)),
    }
}

/// Whether the tenant may pin model `c`: tenants limited to some routes may pin only those
/// routes' candidates.
pub fn may_use_model(gw: &Gateway, tenant: TenantRef, c: Candidate) -> bool {
    match tenant {
        TenantRef::Anonymous => true,
        TenantRef::Tenant(t) => match &gw.config.tenants[t].routes {
            None => true,
            Some(allowed) => allowed
                .iter()
                .any(|&r| gw.config.routes[r].candidates.contains(&c)),
        },
    }
}

/// Route names, then `BACKEND/MODEL` names, that this tenant may send as `model`.
pub fn visible_models(gw: &Gateway, tenant: TenantRef) -> Vec<String> {
    let routes = gw
        .config
        .routes
        .iter()
        .enumerate()
        .filter(|(i, _)| may_use_route(gw, tenant, *i))
        .map(|(_, r)| r.name.clone());
    let models = gw
        .config
        .backends
        .iter()
        .enumerate()
        .flat_map(|(b, backend)| {
            backend
                .models
                .iter()
                .enumerate()
                .filter(move |(m, _)| {
                    may_use_model(
                        gw,
                        tenant,
                        Candidate {
                            backend: b,
                            model: *m,
                        },
                    )
                })
                .map(|(_, model)| model.key.clone())
        });
    routes.chain(models).collect()
}
