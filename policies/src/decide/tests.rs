use super::*;
use crate::catalog::{ModelSpec, Price, RouteSpec};
use crate::licence::Openness;
use crate::tenant::Use;

fn model(name: &str, zone: Zone, licence: Option<&str>, input_price: f64) -> ModelSpec {
    let (backend, model) = name.split_once('/').unwrap();
    ModelSpec {
        backend: backend.into(),
        model: model.into(),
        zone,
        licence: licence.map(Into::into),
        multimodal: false,
        open: Openness::default(),
        context_window: 8192,
        streaming: true,
        tools: true,
        embeddings: false,
        structured: Default::default(),
        price: Price {
            input_per_mtok: input_price,
            output_per_mtok: input_price * 4.0,
        },
    }
}

fn setup(strategy: Strategy) -> (Catalog, Route) {
    let c = Catalog::from_specs([
        model("openai/gpt-4o", Zone::External, Some("openai-terms"), 2.5),
        model("vllm/llama", Zone::Local, Some("llama3.1"), 0.2),
        model("device/qwen", Zone::OnDevice, Some("Apache-2.0"), 0.1),
        model("vllm/command-r", Zone::Local, Some("CC-BY-NC-4.0"), 0.3),
        model("ollama/unknown", Zone::Local, None, 0.0),
    ])
    .unwrap();
    let spec = RouteSpec {
        name: "chat".into(),
        candidates: c
            .iter()
            .map(|(_, m)| format!("{}/{}", m.backend, m.model))
            .collect(),
        strategy,
        on_class: [(DataClass::Confidential, ClassAction::Redact)].into(),
    };
    let r = Route::build(&spec, &c).unwrap();
    (c, r)
}

fn facts<'a>(
    c: &'a Catalog,
    r: &'a Route,
    live: &'a [Live],
    t: &'a TenantProfile,
    class: DataClass,
) -> Facts<'a> {
    static CEILINGS: ZoneCeilings = ZoneCeilings {
        on_device: DataClass::Restricted,
        local: DataClass::Restricted,
        external: DataClass::Internal,
    };
    Facts {
        catalog: c,
        route: r,
        live,
        pinned: None,
        class,
        tenant: t,
        ceilings: &CEILINGS,
        needs: Needs {
            prompt_tokens: 100,
            max_output_tokens: 100,
            stream: true,
            tools: false,
            multimodal: false,
            embeddings: false,
            opaque_class: None,
            output: Default::default(),
        },
    }
}

fn order(d: &Decision) -> Vec<usize> {
    d.candidates.iter().map(|c| c.index).collect()
}

fn rules(d: &Decision) -> Vec<(usize, &'static str)> {
    d.refused
        .iter()
        .map(|r| (r.index, r.rule.as_str()))
        .collect()
}

#[test]
fn embeddings_go_only_to_embedding_models_and_never_out_redacted() {
    let mut embed = model("openai/embed", Zone::External, Some("openai-terms"), 0.02);
    embed.embeddings = true;
    let mut local_embed = model("vllm/embed", Zone::Local, Some("Apache-2.0"), 0.01);
    local_embed.embeddings = true;
    let c = Catalog::from_specs([
        embed,
        model("openai/gpt-4o", Zone::External, Some("openai-terms"), 2.5),
        local_embed,
    ])
    .unwrap();
    let spec = RouteSpec {
        name: "embed".into(),
        candidates: c
            .iter()
            .map(|(_, m)| format!("{}/{}", m.backend, m.model))
            .collect(),
        strategy: Strategy::Priority,
        on_class: [(DataClass::Confidential, ClassAction::Redact)].into(),
    };
    let r = Route::build(&spec, &c).unwrap();
    let t = TenantProfile::new(Use::Commercial);
    let mut f = facts(&c, &r, &[], &t, DataClass::Internal);
    f.needs.embeddings = true;
    let d = decide(&f);
    assert_eq!(order(&d), vec![0, 2]);
    assert_eq!(rules(&d), vec![(1, "capability_missing")]);
    // A confidential document: the route would redact for the closed API, but a redacted
    // document embeds placeholders, so only the local embedding model may serve it.
    f.class = DataClass::Confidential;
    let d = decide(&f);
    assert_eq!(order(&d), vec![2]);
    assert!(d.candidates.iter().all(|c| !c.redact));
    assert_eq!(rules(&d)[0], (0, "data_class_above_zone"));
    // And a completion never goes to an embedding model.
    f.needs.embeddings = false;
    f.class = DataClass::Internal;
    let d = decide(&f);
    assert_eq!(order(&d), vec![1]);
}

#[test]
fn strategies_order_allowed_candidates() {
    let t = TenantProfile::new(Use::Commercial);
    for (s, want) in [
        (Strategy::Priority, vec![0, 1, 2]),
        (Strategy::LocalFirst, vec![2, 1, 0]),
        (Strategy::Cheapest, vec![2, 1, 0]),
    ] {
        let (c, r) = setup(s);
        let d = decide(&facts(&c, &r, &[], &t, DataClass::Internal));
        assert_eq!(order(&d), want, "{s:?}");
        assert_eq!(
            rules(&d),
            vec![(3, "licence_forbids_use"), (4, "licence_missing")]
        );
    }
    let (c, r) = setup(Strategy::LowestLatency);
    let live = [
        Live {
            healthy: true,
            latency_ms: Some(300.0),
        },
        Live {
            healthy: true,
            latency_ms: None,
        },
        Live {
            healthy: true,
            latency_ms: Some(40.0),
        },
    ];
    let d = decide(&facts(&c, &r, &live, &t, DataClass::Internal));
    assert_eq!(order(&d), vec![2, 0, 1]);
}

#[test]
fn class_routes_or_redacts() {
    let t = TenantProfile::new(Use::Research);
    let (c, r) = setup(Strategy::Priority);
    let d = decide(&facts(&c, &r, &[], &t, DataClass::Confidential));
    assert_eq!(order(&d), vec![0, 1, 2, 3]);
    assert!(d.candidates[0].redact && !d.candidates[1].redact);
    let d = decide(&facts(&c, &r, &[], &t, DataClass::Restricted));
    assert_eq!(order(&d), vec![1, 2, 3]);
    assert_eq!(rules(&d)[0], (0, "data_class_above_zone"));
    assert!(d.refused[0].reason.to_string().contains("restricted data"));
}

#[test]
fn outcomes_fail_closed() {
    let t = TenantProfile::new(Use::Commercial);
    let (c, r) = setup(Strategy::Priority);
    let down = [Live {
        healthy: false,
        latency_ms: None,
    }; 5];
    let d = decide(&facts(&c, &r, &down, &t, DataClass::Internal));
    assert_eq!(d.outcome(), Outcome::Unavailable);
    assert_eq!(d.outcome().status(), 503);
    let mut f = facts(&c, &r, &[], &t, DataClass::Restricted);
    f.pinned = c.find_pinned("openai/gpt-4o");
    let d = decide(&f);
    assert_eq!(d.outcome(), Outcome::Forbidden);
    assert_eq!(rules(&d)[0], (0, "data_class_above_zone"));
    assert_eq!(rules(&d)[1], (1, "pinned_mismatch"));
    let mut f = facts(&c, &r, &[], &t, DataClass::Internal);
    f.needs.prompt_tokens = 100_000;
    assert_eq!(decide(&f).outcome(), Outcome::Unsupported);
    f.needs.prompt_tokens = 10;
    f.needs.tools = true;
    f.pinned = c.find_pinned("vllm/llama");
    assert_eq!(decide(&f).outcome(), Outcome::Candidates);
}

#[test]
fn decision_serializes_with_rule_names_and_messages() {
    let t = TenantProfile::new(Use::Commercial);
    let (c, r) = setup(Strategy::Priority);
    let d = decide(&facts(&c, &r, &[], &t, DataClass::Internal));
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["refused"][1]["rule"], "licence_missing");
    assert!(json["refused"][1]["message"]
        .as_str()
        .unwrap()
        .contains("no licence"));
    assert!(d
        .summary()
        .contains("licence CC-BY-NC-4.0 does not permit commercial use"));
}
