//! Step 4: which backend models may serve this request, in which order, and why every other
//! candidate was refused. The rules themselves live in the pure `tollgate_policies::decide`;
//! this step gathers its facts (route, tenant, class, health, needs) and fails closed.

use super::authenticate::TenantRef;
use super::call::Call;
use super::classify::Classified;
use crate::config::Candidate;
use crate::errors::{ApiError, ErrorCode};
use crate::gateway::Gateway;
use serde_json::{json, Value};
use tollgate_adapters::on_device::OutputForm as Form;
use tollgate_policies::{
    self as policies, Facts, Live, ModelId, Needs, Outcome, OutputForm, Route,
};

/// What the request's `model` names.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// A configured route, by index.
    Route(usize),
    /// One pinned backend model.
    Pinned(ModelId),
}

/// The candidates a request may be dispatched to, in order. Dispatch never tries anything else.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The route name, or `BACKEND/MODEL` for a pinned model.
    pub route_name: String,
    /// What was resolved.
    pub target: Target,
    /// Candidates in the order they are tried, each with whether it must get a redacted copy.
    pub candidates: Vec<(Candidate, bool)>,
    /// The full decision, refusals included.
    pub policy: policies::Decision,
}

/// Resolves the request's `model` (a route, `BACKEND/MODEL`, or a name a route's alias
/// matches) for this tenant.
pub fn resolve(gw: &Gateway, tenant: TenantRef, name: &str) -> Result<Target, ApiError> {
    let route = gw.config.route_index(name).or_else(|| {
        (!name.contains('/'))
            .then(|| gw.config.route_by_alias(name))
            .flatten()
    });
    if let Some(r) = route {
        if !may_use_route(gw, tenant, r) {
            let route = &gw.config.routes[r].name;
            let alias = if route == name {
                String::new()
            } else {
                format!(" (asked for as '{name}')")
            };
            return Err(ApiError::forbidden(
                ErrorCode::RouteNotAllowed,
                format!("this API key may not use route '{route}'{alias}"),
            ));
        }
        return Ok(Target::Route(r));
    }
    if let Some(c) = gw.config.candidate(name) {
        if !may_use_model(gw, tenant, c) {
            return Err(ApiError::forbidden(
                ErrorCode::ModelNotAllowed,
                format!("this API key may not use model '{name}': it is in none of its routes"),
            ));
        }
        return Ok(Target::Pinned(gw.policy.id(c)));
    }
    let known = visible_models(gw, tenant);
    Err(ApiError::not_found(
        ErrorCode::ModelNotFound,
        format!(
            "model '{name}' is neither a route nor a BACKEND/MODEL; available: {}",
            known.join(", ")
        ),
    )
    .with_details("available", known.into()))
}

/// The route's name, or `BACKEND/MODEL` for a pinned model: what records and metrics name.
pub fn target_name(gw: &Gateway, target: Target) -> &str {
    match target {
        Target::Route(r) => &gw.config.routes[r].name,
        Target::Pinned(id) => key(gw, id),
    }
}

/// Runs the policy rules over the target's candidates.
pub fn judge(
    gw: &Gateway,
    tenant: TenantRef,
    target: Target,
    call: Call,
    classified: &Classified,
) -> policies::Decision {
    let (route, pinned): (&Route, Option<ModelId>) = match target {
        Target::Route(r) => (&gw.policy.routes[r], None),
        Target::Pinned(id) => (&gw.policy.pinned[id.index()], Some(id)),
    };
    let live: Vec<Live> = gw
        .policy
        .catalog
        .iter()
        .map(|(id, _)| {
            gw.backends[gw.policy.candidate(id).backend]
                .health
                .live(gw.epoch)
        })
        .collect();
    let facts = Facts {
        catalog: &gw.policy.catalog,
        route,
        live: &live,
        pinned,
        class: classified.class,
        tenant: tenant.profile(gw),
        ceilings: &gw.config.zones,
        needs: needs(call, classified),
    };
    policies::decide(&facts)
}

/// Fails closed when nothing may serve the request: 403 when rules refuse every candidate,
/// 503 when the allowed ones are all down, 400 when none can take the request's size or
/// features; the body lists every candidate's reason.
pub fn conclude(
    gw: &Gateway,
    call: Call,
    target: Target,
    policy: policies::Decision,
) -> Result<Decision, ApiError> {
    let outcome = policy.outcome();
    if outcome != Outcome::Candidates {
        let (code, what) = match outcome {
            Outcome::Unavailable => (
                ErrorCode::NoHealthyBackend,
                "every backend the rules allow is down",
            ),
            Outcome::Unsupported => (
                ErrorCode::NoCapableBackend,
                "no allowed backend can take this request's size or features",
            ),
            _ => (ErrorCode::PolicyRefused, "the rules refuse every candidate"),
        };
        let err = ApiError::new(
            outcome.status(),
            code,
            format!(
                "{what} for '{}': {}",
                call.model(),
                refusal_summary(gw, &policy)
            ),
        )
        .with_details("refusals", refusals_json(gw, &policy));
        return Err(err);
    }
    let candidates = policy
        .candidates
        .iter()
        .map(|c| (gw.policy.candidate(c.model), c.redact))
        .collect();
    Ok(Decision {
        route_name: target_name(gw, target).to_string(),
        target,
        candidates,
        policy,
    })
}

/// One line for the record: the chosen order, then each refusal's rule.
pub fn summary(gw: &Gateway, d: &policies::Decision) -> String {
    let chosen: Vec<&str> = d.candidates.iter().map(|c| key(gw, c.model)).collect();
    let mut s = format!("try [{}]", chosen.join(", "));
    for r in &d.refused {
        s.push_str(&format!(
            "; {} refused: {}",
            key(gw, r.model),
            r.rule.as_str()
        ));
    }
    s
}

/// What the request needs of a model. Prompt tokens are estimated from its text (≈4 bytes a
/// token) so that a context-window check never needs a tokenizer here.
fn needs(call: Call, classified: &Classified) -> Needs {
    let bytes = classified.prompt_bytes;
    let tools = ["tools", "functions"].iter().any(|k| {
        call.body()
            .get(*k)
            .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    });
    Needs {
        prompt_tokens: u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX),
        max_output_tokens: call.max_output_tokens().unwrap_or(0),
        stream: call.stream(),
        tools,
        // Token-id inputs cannot be scanned, but they are text: no image is needed for them.
        multimodal: classified
            .opaque
            .iter()
            .any(|t| Some(t.as_str()) != call.unreadable()),
        embeddings: matches!(call, Call::Embed(_)),
        opaque_class: classified.opaque_class,
        output: output_form(call.body().get("response_format")),
    }
}

/// The form the answer must take, with a schema judged by what a grammar can enforce.
fn output_form(response_format: Option<&Value>) -> OutputForm {
    match tollgate_adapters::on_device::output_form(response_format) {
        Form::Text => OutputForm::Text,
        Form::JsonObject => OutputForm::Json,
        Form::JsonSchema => OutputForm::Schema,
        Form::Unenforceable(_) => OutputForm::SchemaBeyondGrammar,
    }
}

/// `BACKEND/MODEL` of a catalogue id.
pub fn key(gw: &Gateway, id: ModelId) -> &str {
    &gw.config.model(gw.policy.candidate(id)).key
}

/// Each refused candidate with its rule, for error bodies and the explain endpoint.
pub fn refusals_json(gw: &Gateway, d: &policies::Decision) -> Value {
    d.refused
        .iter()
        .map(|r| {
            json!({
                "candidate": key(gw, r.model),
                "zone": gw.policy.catalog.get(r.model).zone,
                "rule": r.rule.as_str(),
                "message": r.reason.to_string(),
            })
        })
        .collect()
}

fn refusal_summary(gw: &Gateway, d: &policies::Decision) -> String {
    d.refused
        .iter()
        .map(|r| format!("{}: {} ({})", key(gw, r.model), r.rule.as_str(), r.reason))
        .collect::<Vec<_>>()
        .join("; ")
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
