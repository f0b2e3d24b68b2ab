//! Properties of `decide` over generated catalogues, routes, tenants, health and requests.

// Test and bench fixtures: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::collections::BTreeMap;
use tollgate_policies::licence::{self, CATALOGUE};
use tollgate_policies::{
    decide, Catalog, ClassAction, DataClass, Facts, Live, ModelId, ModelSpec, Needs, Openness,
    Outcome, OutputForm, Price, Route, RouteSpec, Rule, Strategy as RouteStrategy,
    StructuredOutput, TenantProfile, Use, Zone, ZoneCeilings,
};

fn class() -> impl Strategy<Value = DataClass> {
    prop::sample::select(DataClass::ALL.to_vec())
}

fn zone() -> impl Strategy<Value = Zone> {
    prop::sample::select(Zone::ALL.to_vec())
}

fn licence_id() -> impl Strategy<Value = Option<String>> {
    let ids: Vec<Option<String>> = CATALOGUE
        .iter()
        .map(|l| Some(l.id.to_string()))
        .chain([None])
        .collect();
    prop::sample::select(ids)
}

type ModelDraw = (
    Zone,
    Option<String>,
    bool,
    u32,
    bool,
    bool,
    f64,
    StructuredOutput,
);

fn model() -> impl Strategy<Value = ModelDraw> {
    (
        zone(),
        licence_id(),
        any::<bool>(),
        prop::sample::select(vec![2048u32, 8192, 32768, 131072]),
        any::<bool>(),
        any::<bool>(),
        0.0f64..20.0,
        prop::sample::select(vec![
            StructuredOutput::None,
            StructuredOutput::Grammar,
            StructuredOutput::Full,
        ]),
    )
}

fn output_form() -> impl Strategy<Value = OutputForm> {
    prop::sample::select(vec![
        OutputForm::Text,
        OutputForm::Json,
        OutputForm::Schema,
        OutputForm::SchemaBeyondGrammar,
    ])
}

fn tenant() -> impl Strategy<Value = TenantProfile> {
    (
        prop::sample::select(Use::ALL.to_vec()),
        prop::option::of(prop::sample::select(vec![
            1_000u64,
            150_000_000,
            800_000_000,
        ])),
        prop::option::of(prop::sample::select(vec![
            "EU", "DE", "US", "CH", "GB", "NO",
        ])),
        any::<bool>(),
        class(),
    )
        .prop_map(|(u, mau, region, trains, default_class)| TenantProfile {
            use_: u,
            monthly_active_users: mau,
            region: region.map(String::from),
            trains_models: trains,
            default_class,
        })
}

fn strategy() -> impl Strategy<Value = RouteStrategy> {
    prop::sample::select(vec![
        RouteStrategy::Priority,
        RouteStrategy::Cheapest,
        RouteStrategy::LowestLatency,
        RouteStrategy::LocalFirst,
    ])
}

#[derive(Debug)]
struct World {
    catalog: Catalog,
    route: Route,
    live: Vec<Live>,
    tenant: TenantProfile,
    ceilings: ZoneCeilings,
    class: DataClass,
    pinned: Option<ModelId>,
    needs: Needs,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(model(), 1..8),
        strategy(),
        prop::collection::vec((class(), any::<bool>()), 0..4),
        prop::collection::vec((any::<bool>(), prop::option::of(1.0f32..2000.0)), 8),
        tenant(),
        (class(), class(), class()),
        class(),
        prop::option::of(0usize..8),
        (
            0u32..200_000,
            0u32..8192,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(class()),
            output_form(),
        ),
        prop::collection::vec(0usize..8, 0..10),
    )
        .prop_map(
            |(models, strategy, on_class, live, tenant, (d, l, e), class, pinned, needs, picks)| {
                let specs = models.into_iter().enumerate().map(
                    |(
                        i,
                        (zone, licence, multimodal, window, streaming, tools, price, structured),
                    )| ModelSpec {
                        backend: format!("b{i}"),
                        model: format!("m{i}"),
                        zone,
                        licence,
                        multimodal,
                        open: Openness::default(),
                        context_window: window,
                        streaming,
                        tools,
                        embeddings: false,
                        structured,
                        price: Price {
                            input_per_mtok: price,
                            output_per_mtok: price * 3.0,
                        },
                    },
                );
                let catalog = Catalog::from_specs(specs).unwrap();
                let n = catalog.len();
                // Routes may list a subset, in any order, with repeats.
                let mut names: Vec<String> =
                    picks.iter().map(|p| format!("b{0}/m{0}", p % n)).collect();
                if names.is_empty() {
                    names = (0..n).map(|i| format!("b{i}/m{i}")).collect();
                }
                let on_class: BTreeMap<DataClass, ClassAction> = on_class
                    .into_iter()
                    .map(|(c, r)| {
                        (
                            c,
                            if r {
                                ClassAction::Redact
                            } else {
                                ClassAction::Route
                            },
                        )
                    })
                    .collect();
                let route = Route::build(
                    &RouteSpec {
                        name: "r".into(),
                        candidates: names,
                        strategy,
                        on_class,
                    },
                    &catalog,
                )
                .unwrap();
                World {
                    live: live
                        .into_iter()
                        .take(n)
                        .map(|(healthy, latency_ms)| Live {
                            healthy,
                            latency_ms,
                        })
                        .collect(),
                    catalog,
                    route,
                    tenant,
                    ceilings: ZoneCeilings {
                        on_device: d,
                        local: l,
                        external: e,
                    },
                    class,
                    pinned: pinned.map(|p| ModelId((p % n) as u32)),
                    needs: Needs {
                        prompt_tokens: needs.0,
                        max_output_tokens: needs.1,
                        stream: needs.2,
                        tools: needs.3,
                        multimodal: needs.4,
                        embeddings: false,
                        opaque_class: needs.5,
                        output: needs.6,
                    },
                }
            },
        )
}

impl World {
    fn facts(&self) -> Facts<'_> {
        Facts {
            catalog: &self.catalog,
            route: &self.route,
            live: &self.live,
            pinned: self.pinned,
            class: self.class,
            tenant: &self.tenant,
            ceilings: &self.ceilings,
            needs: self.needs,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decisions_respect_every_rule(w in world()) {
        let d = decide(&w.facts());
        let n = w.route.candidates.len();
        // Every route candidate is either chosen or refused, never both, never neither.
        let mut seen = vec![0u8; n];
        for c in &d.candidates {
            prop_assert!(c.index < n);
            prop_assert_eq!(w.route.candidates[c.index], c.model);
            seen[c.index] += 1;
        }
        for r in &d.refused {
            prop_assert!(r.index < n);
            prop_assert_eq!(w.route.candidates[r.index], r.model);
            prop_assert_eq!(r.reason.rule(), r.rule);
            seen[r.index] += 1;
        }
        prop_assert!(seen.iter().all(|s| *s == 1), "{:?}", seen);

        for c in &d.candidates {
            let m = w.catalog.get(c.model);
            // The zone may receive the class, unless redaction is both marked and configured.
            if w.class > w.ceilings.ceiling(m.zone) {
                prop_assert!(c.redact);
                prop_assert_eq!(m.zone, Zone::External);
                prop_assert_eq!(w.route.action(w.class), ClassAction::Redact);
            } else {
                prop_assert!(!c.redact);
            }
            // Parts that cannot be redacted never go above a zone's ceiling, redaction or not.
            prop_assert!(w.needs.opaque_class.is_none_or(|o| o <= w.ceilings.ceiling(m.zone)));
            // An image never goes to a text-only model.
            prop_assert!(!w.needs.multimodal || m.facts.multimodal);
            // JSON is asked only of a model that keeps it; a schema beyond a grammar only of
            // one that enforces schemas itself.
            prop_assert!(m.structured.keeps(w.needs.output));
            prop_assert!(w.needs.output == OutputForm::Text || m.structured != StructuredOutput::None);
            prop_assert!(
                w.needs.output != OutputForm::SchemaBeyondGrammar
                    || m.structured == StructuredOutput::Full
            );
            // The licence permits the tenant's use.
            prop_assert!(licence::check(m.licence, &m.facts, &w.tenant).is_ok());
            // Never unhealthy, never another model than the pinned one.
            prop_assert!(w.live.get(c.model.index()).is_none_or(|l| l.healthy));
            prop_assert!(w.pinned.is_none_or(|p| p == c.model));
        }

        // Refusals name the right rule.
        for r in &d.refused {
            let m = w.catalog.get(r.model);
            match r.rule {
                Rule::LicenceMissing => prop_assert!(m.licence.is_none()),
                Rule::LicenceForbidsUse => {
                    prop_assert!(licence::check(m.licence, &m.facts, &w.tenant).is_err())
                }
                Rule::DataClassAboveZone => {
                    let ceiling = w.ceilings.ceiling(m.zone);
                    prop_assert!(w.class > ceiling || w.needs.opaque_class.is_some_and(|o| o > ceiling))
                }
                Rule::Unhealthy => prop_assert!(!w.live[r.model.index()].healthy),
                Rule::PinnedMismatch => prop_assert!(w.pinned.is_some_and(|p| p != r.model)),
                Rule::ContextTooSmall | Rule::CapabilityMissing => {}
            }
        }

        // Outcomes fail closed.
        match d.outcome() {
            Outcome::Candidates => prop_assert!(!d.candidates.is_empty()),
            Outcome::Unavailable => prop_assert!(d.refused.iter().any(|r| r.rule == Rule::Unhealthy)),
            Outcome::Forbidden | Outcome::Unsupported => prop_assert!(d.candidates.is_empty()),
        }

        // Deterministic.
        prop_assert_eq!(decide(&w.facts()), d);
    }

    #[test]
    fn local_first_orders_by_zone(w in world()) {
        let mut w = w;
        w.route.strategy = RouteStrategy::LocalFirst;
        let d = decide(&w.facts());
        let zones: Vec<Zone> = d.candidates.iter().map(|c| w.catalog.get(c.model).zone).collect();
        prop_assert!(zones.windows(2).all(|p| p[0] <= p[1]));
        // Config order within a zone.
        for p in d.candidates.windows(2) {
            if w.catalog.get(p[0].model).zone == w.catalog.get(p[1].model).zone {
                prop_assert!(p[0].index < p[1].index);
            }
        }
    }
}
