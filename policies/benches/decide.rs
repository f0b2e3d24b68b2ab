//! One decision for a five-candidate route.

// Test and bench fixtures: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tollgate_policies::{
    decide, Catalog, ClassAction, DataClass, Facts, Live, ModelSpec, Needs, Openness, Price, Route,
    RouteSpec, Strategy, TenantProfile, Use, Zone, ZoneCeilings,
};

fn spec(name: &str, zone: Zone, licence: &str, price: f64) -> ModelSpec {
    let (backend, model) = name.split_once('/').unwrap();
    ModelSpec {
        backend: backend.into(),
        model: model.into(),
        zone,
        licence: Some(licence.into()),
        multimodal: false,
        open: Openness::default(),
        context_window: 32_768,
        streaming: true,
        tools: true,
        embeddings: false,
        structured: Default::default(),
        price: Price {
            input_per_mtok: price,
            output_per_mtok: price * 4.0,
        },
    }
}

fn bench(c: &mut Criterion) {
    let catalog = Catalog::from_specs([
        spec("openai/gpt-4o", Zone::External, "openai-terms", 2.5),
        spec("anthropic/claude", Zone::External, "anthropic-terms", 3.0),
        spec("vllm/llama-3.1-70b", Zone::Local, "llama3.1", 0.4),
        spec("ollama/command-r", Zone::Local, "CC-BY-NC-4.0", 0.2),
        spec("device/qwen2.5-1.5b", Zone::OnDevice, "Apache-2.0", 0.05),
    ])
    .unwrap();
    let names: Vec<String> = catalog
        .iter()
        .map(|(_, m)| format!("{}/{}", m.backend, m.model))
        .collect();
    let live = [
        Live {
            healthy: true,
            latency_ms: Some(420.0),
        },
        Live {
            healthy: false,
            latency_ms: None,
        },
        Live {
            healthy: true,
            latency_ms: Some(180.0),
        },
        Live {
            healthy: true,
            latency_ms: Some(90.0),
        },
        Live {
            healthy: true,
            latency_ms: Some(60.0),
        },
    ];
    let tenant = TenantProfile::new(Use::Commercial);
    let ceilings = ZoneCeilings::default();
    for strategy in [
        Strategy::Priority,
        Strategy::LocalFirst,
        Strategy::Cheapest,
        Strategy::LowestLatency,
    ] {
        let route = Route::build(
            &RouteSpec {
                name: "chat".into(),
                candidates: names.clone(),
                strategy,
                on_class: [(DataClass::Confidential, ClassAction::Redact)].into(),
            },
            &catalog,
        )
        .unwrap();
        let facts = Facts {
            catalog: &catalog,
            route: &route,
            live: &live,
            pinned: None,
            class: DataClass::Confidential,
            tenant: &tenant,
            ceilings: &ceilings,
            needs: Needs {
                prompt_tokens: 1200,
                max_output_tokens: 512,
                stream: true,
                tools: false,
                multimodal: false,
                embeddings: false,
                opaque_class: None,
                output: Default::default(),
            },
        };
        c.bench_function(&format!("decide_5_candidates_{strategy:?}"), |b| {
            b.iter(|| decide(black_box(&facts)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
