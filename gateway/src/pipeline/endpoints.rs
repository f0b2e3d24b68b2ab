//! The small endpoints: model list and health.

use super::authenticate::TenantRef;
use super::call::Call;
use super::classify;
use super::decide::{self, key, refusals_json, visible_models, Target};
use crate::errors::{ApiError, ErrorCode};
use crate::gateway::Gateway;
use bytes::Bytes;
use serde_json::json;
use tollgate_adapters::tokens::Counted;
use tollgate_adapters::ChatRequest;

/// A JSON answer.
#[derive(Debug)]
pub struct Json {
    /// HTTP status.
    pub status: u16,
    /// Serialized body.
    pub body: Bytes,
}

/// `GET /v1/models`: the routes and `BACKEND/MODEL`s this tenant may use, in OpenAI's list
/// format, each model with its licence, whether it allows commercial use, what it obliges
/// and what of it is open.
pub fn models(gw: &Gateway, tenant: TenantRef) -> Json {
    let data: Vec<_> = visible_models(gw, tenant)
        .into_iter()
        .map(|id| match gw.config.candidate(&id) {
            Some(c) => {
                let backend = &gw.config.backends[c.backend].name;
                json!({
                    "id": id, "object": "model", "created": 0, "owned_by": backend,
                    "tollgate": model_facts(gw, c),
                })
            }
            None => {
                let route = gw.config.route_index(&id).map(|r| &gw.config.routes[r]);
                let candidates: Vec<&str> = route
                    .map(|r| {
                        r.candidates
                            .iter()
                            .map(|c| gw.config.model(*c).key.as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "id": id, "object": "model", "created": 0, "owned_by": "tollgate",
                    "tollgate": {"route": true, "candidates": candidates},
                })
            }
        })
        .collect();
    Json {
        status: 200,
        body: Bytes::from(json!({"object": "list", "data": data}).to_string()),
    }
}

/// A model's licence facts as `/v1/models` and `tollgate models` show them.
pub fn model_facts(gw: &Gateway, c: crate::config::Candidate) -> serde_json::Value {
    let m = gw.policy.catalog.get(gw.policy.id(c));
    let licence = m.licence;
    let spec = gw.config.model(c);
    json!({
        "kind": gw.config.backends[c.backend].kind.as_str(),
        "zone": m.zone,
        "capabilities": {
            "streaming": spec.streaming,
            "tools": spec.tools,
            "multimodal": spec.multimodal,
            "embeddings": spec.embeddings,
            "structured_output": spec.structured,
            "context_window": spec.context_window,
        },
        "licence": licence.map(|l| l.id),
        "licence_name": licence.map(|l| l.name),
        "commercial_use": licence.map(|l| l.permits(tollgate_policies::Use::Commercial)),
        "mau_cap": licence.and_then(|l| l.mau_cap),
        "outputs_may_train": licence.map(|l| l.outputs_may_train),
        "field_of_use": licence.map(|l| l.field_of_use).filter(|f| !f.is_empty()),
        "notice": licence.and_then(|l| l.notice_header()),
        "obligations": licence.map(|l| l.duties).filter(|d| !d.is_empty()),
        "open": m.facts.open,
    })
}

/// `POST /v1/messages/count_tokens`: the request's input tokens by the model it would be
/// sent to first, under the same rules a completion is decided by (a confidential prompt is
/// counted by the local model it would go to). The on-device engine counts with the model's
/// own tokenizer and chat template; for other backends the count is an estimate, and the
/// answer says which (`tollgate.source`: `tokenizer` or `estimate`).
pub async fn count_tokens(
    gw: &Gateway,
    tenant: TenantRef,
    declared: Option<&str>,
    req: &ChatRequest,
) -> Result<Json, ApiError> {
    let classified = classify::classify(gw, tenant.profile(gw), declared, Call::Chat(req))?;
    let target = decide::resolve(gw, tenant, req.model())?;
    let policy = decide::judge(gw, tenant, target, Call::Chat(req), &classified);
    let decision = decide::conclude(gw, Call::Chat(req), target, policy)?;
    let first = decision.candidates.first().map(|(c, _)| *c);
    let prompt_bytes = classified.prompt_bytes as u64;
    let counted = match first {
        Some(c) => match &gw.backends[c.backend].live {
            Some(tollgate_adapters::Backend::OnDevice(engine)) => {
                engine.count_prompt_tokens(req).ok().map(|n| Counted {
                    tokens: n as u64,
                    exact: true,
                })
            }
            _ => Some(gw.counters.get(c).prompt(req, prompt_bytes).await),
        },
        None => None,
    }
    .unwrap_or(Counted::estimate(prompt_bytes));
    let (tokens, source) = (
        counted.tokens,
        if counted.exact {
            "tokenizer"
        } else {
            "estimate"
        },
    );
    let model = first.map(|c| gw.config.model(c).key.as_str());
    Ok(Json {
        status: 200,
        body: Bytes::from(
            json!({
                "input_tokens": tokens,
                "tollgate": {"source": source, "model": model},
            })
            .to_string(),
        ),
    })
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
        let why = if gw.is_shutting_down() {
            "shutting down"
        } else {
            "listeners are not up yet"
        };
        Err(ApiError::new(503, ErrorCode::NotReady, why))
    }
}

/// The whole decision for a request, as JSON: what was detected (kinds and offsets, never the
/// text), the effective class, the candidates in order and every refusal with its rule.
pub fn explain(
    gw: &Gateway,
    tenant: TenantRef,
    declared: Option<&str>,
    req: &ChatRequest,
) -> Result<Json, ApiError> {
    let profile = tenant.profile(gw);
    let classified = classify::classify(gw, profile, declared, Call::Chat(req))?;
    let target = decide::resolve(gw, tenant, req.model())?;
    let d = decide::judge(gw, tenant, target, Call::Chat(req), &classified);
    let fields = super::prompt::pointers(&req.body);
    let field = |part: usize| fields.get(part).map_or("", String::as_str);
    let detector = &gw.policy.detector;
    let detections: Vec<_> = classified
        .detections
        .findings
        .iter()
        .map(|f| {
            json!({
                "kind": f.kind.as_str(), "class": detector.class_of(f.kind),
                "part": f.part, "field": field(f.part), "start": f.start, "end": f.end,
            })
        })
        .collect();
    let why = class_reasons(gw, declared, profile.default_class, &classified, &field);
    let candidates: Vec<_> = d
        .candidates
        .iter()
        .map(|c| {
            let m = gw.policy.catalog.get(c.model);
            json!({
                "candidate": key(gw, c.model),
                "zone": m.zone,
                "licence": m.licence.map(|l| l.id),
                "redact": c.redact,
            })
        })
        .collect();
    let outcome = d.outcome();
    let body = json!({
        "model": req.model(),
        "target": match target { Target::Route(_) => "route", Target::Pinned(_) => "pinned" },
        "tenant": tenant.name(gw),
        "use": profile.use_,
        "declared_class": declared,
        "tenant_default_class": profile.default_class,
        "detected_class": classified.detections.class,
        "effective_class": classified.class,
        "detections": detections,
        "unscannable": classified.opaque.iter().map(|t| json!({
            "type": t, "class": classified.opaque_class,
        })).collect::<Vec<_>>(),
        "why": why.iter().map(|(c, r)| json!({"class": c, "reason": r})).collect::<Vec<_>>(),
        "outcome": outcome,
        "status": outcome.status(),
        "candidates": candidates,
        "refused": refusals_json(gw, &d),
    });
    Ok(Json {
        status: 200,
        body: Bytes::from(body.to_string()),
    })
}

/// Why the request got its class, one sentence per contribution, highest first.
fn class_reasons<'f>(
    gw: &Gateway,
    declared: Option<&str>,
    tenant_default: tollgate_policies::DataClass,
    classified: &classify::Classified,
    field: &dyn Fn(usize) -> &'f str,
) -> Vec<(tollgate_policies::DataClass, String)> {
    let detector = &gw.policy.detector;
    let mut why: Vec<(tollgate_policies::DataClass, String)> = Vec::new();
    if let Some(d) = declared.and_then(|d| d.parse().ok()) {
        why.push((
            d,
            format!(
                "declared {d} by the client ({})",
                classify::DATA_CLASS_HEADER
            ),
        ));
    }
    why.push((
        tenant_default,
        format!("the tenant's default class is {tenant_default}"),
    ));
    for f in &classified.detections.findings {
        let class = detector.class_of(f.kind);
        why.push((
            class,
            format!(
                "{} found in {} (bytes {}..{}): {class}",
                f.kind.as_str(),
                field(f.part),
                f.start,
                f.end
            ),
        ));
    }
    if let Some(class) = classified.opaque_class {
        why.push((
            class,
            format!(
                "{} part(s) that cannot be scanned ({}): treated as {class} ([detect] unscannable)",
                classified.opaque.len(),
                classified.opaque.join(", ")
            ),
        ));
    }
    why.sort_by_key(|w| std::cmp::Reverse(w.0));
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::MapEnv;

    /// A gateway built from its config, whose listeners were never started.
    fn built() -> Gateway {
        let config = crate::config::from_toml_str(
            "[server]\nlisten = \"127.0.0.1:0\"\n[ledger]\nenabled = false\n",
        )
        .unwrap();
        Gateway::build_with(config, &MapEnv::of([])).unwrap()
    }

    #[test]
    fn readyz_is_ready_only_between_the_listeners_starting_and_shutdown() {
        let gw = built();
        // Config loaded, listeners not started: not ready.
        let err = readyz(&gw).unwrap_err();
        assert_eq!((err.status, err.code), (503, ErrorCode::NotReady));
        assert_eq!(err.message, "listeners are not up yet");
        // What the API service does once its sockets are handed to pingora.
        gw.set_ready();
        assert_eq!(readyz(&gw).unwrap().status, 200);
        gw.begin_shutdown();
        let err = readyz(&gw).unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (503, "shutting down"));
    }
}
