use super::*;
use crate::config::BackendCost;
use tollgate_policies::Zone;

fn price(input: f64, output: f64) -> ModelPrice {
    ModelPrice {
        input_per_mtok: input,
        output_per_mtok: output,
        cached_input_per_mtok: None,
        cache_write_input_per_mtok: None,
    }
}

fn config() -> PricesConfig {
    let mut cfg = PricesConfig::default();
    cfg.models.insert(
        "openai/gpt-4o".into(),
        ModelPrice {
            cached_input_per_mtok: Some(1.25),
            ..price(2.5, 10.0)
        }
        .into(),
    );
    cfg.models.insert("slow/m".into(), price(10.0, 20.0).into());
    cfg.backends
        .insert("gpu".into(), BackendCost::per_hour(3.6));
    cfg
}

fn table() -> PriceTable {
    PriceTable::new(&config())
}

fn rec(backend: &str, model: &str, prompt: u64, completion: u64) -> Record {
    let mut r = Record::new("r", 0);
    r.backend = Some(backend.into());
    r.model = Some(model.into());
    r.usage.prompt_tokens = prompt;
    r.usage.completion_tokens = completion;
    r
}

fn attempt(backend: &str, model: &str, outcome: &'static str) -> Attempt {
    Attempt {
        backend: backend.into(),
        model: model.into(),
        zone: Zone::External,
        outcome,
        duration: Duration::from_millis(10),
        redacted: false,
    }
}

#[test]
fn token_cost_uses_cached_rate() {
    let t = table();
    let mut r = rec("openai", "gpt-4o", 1000, 500);
    r.usage.cached_tokens = 400;
    let c = t.cost(&r);
    // 600 × 2.5 + 400 × 1.25 + 500 × 10 = 1500 + 500 + 5000 = 7000 per million
    assert_eq!(c.total_usd, Some(0.007));
    assert_eq!(c.compute_usd, None);
}

#[test]
fn cache_writes_and_reads_have_their_own_rates() {
    let p = ModelPrice {
        input_per_mtok: 3.0,
        output_per_mtok: 15.0,
        cached_input_per_mtok: Some(0.3),
        cache_write_input_per_mtok: Some(3.75),
    };
    let u = Usage {
        prompt_tokens: 1000,
        completion_tokens: 100,
        cached_tokens: 500,
        cache_write_tokens: 400,
        ..Usage::default()
    };
    // 100 × 3 + 500 × 0.3 + 400 × 3.75 + 100 × 15 = 300 + 150 + 1500 + 1500 per million
    assert!((token_cost(&p, &u) - 0.00345).abs() < 1e-12);
    // Without a write price, writes cost what input does.
    let p = ModelPrice {
        cache_write_input_per_mtok: None,
        ..p
    };
    assert!((token_cost(&p, &u) - (300.0 + 150.0 + 1200.0 + 1500.0) / 1e6).abs() < 1e-12);
}

#[test]
fn unknown_price_is_none_not_zero() {
    let t = table();
    let c = t.cost(&rec("anthropic", "claude", 10, 10));
    assert!(c.is_unknown());
    // Nothing used: a known zero even on an unpriced model.
    assert_eq!(
        t.cost(&rec("anthropic", "claude", 0, 0)).total_usd,
        Some(0.0)
    );
    assert_eq!(t.worst_case_usd("anthropic", "claude", 10, 10), None);
}

#[test]
fn compute_cost_by_busy_share() {
    let t = table();
    let mut r = rec("gpu", "llama", 100, 100);
    // 10 s of wall time while decoding 4 sequences on average: 2.5 s busy at $3.6/h.
    r.busy = Some(busy_share(Duration::from_secs(10), 4.0));
    let c = t.cost(&r);
    assert!((c.total_usd.unwrap() - 0.0025).abs() < 1e-12);
    assert_eq!(t.worst_case_usd("gpu", "llama", 100, 100), Some(0.0));
}

#[test]
fn energy_adds_to_the_hourly_rate() {
    let mut cfg = config();
    cfg.backends.insert(
        "gpu".into(),
        BackendCost {
            cost_per_hour: 3.6,
            watts: Some(500.0),
            energy_price_per_kwh: Some(0.4),
        },
    );
    let t = PriceTable::new(&cfg);
    let rate = t.rate("gpu").unwrap();
    assert!((rate.energy_per_hour - 0.2).abs() < 1e-12);
    assert!((t.cost_per_hour("gpu").unwrap() - 3.8).abs() < 1e-12);
    let mut r = rec("gpu", "llama", 1, 1);
    r.busy = Some(Duration::from_secs(36));
    assert!((t.cost(&r).compute_usd.unwrap() - 0.038).abs() < 1e-12);
}

#[test]
fn estimate_and_worst_case() {
    assert_eq!(estimate_tokens(""), 0);
    assert_eq!(estimate_tokens("abcd"), 1);
    assert_eq!(estimate_tokens("abcde"), 2);
    let w = table()
        .worst_case_usd("openai", "gpt-4o", 1000, 1000)
        .unwrap();
    assert!((w - 0.0125).abs() < 1e-12);
}

/// A timeout after sending, a refused connection, a 429, then gpt-4o serves.
fn fallback_record() -> Record {
    let mut r = rec("openai", "gpt-4o", 1000, 100);
    r.attempt_prompt_tokens = 900;
    r.attempts = vec![
        attempt("slow", "m", "timeout_first_byte"),
        attempt("slow", "m", "connect"),
        attempt("slow", "m", "upstream_429"),
        attempt("openai", "gpt-4o", "ok"),
    ];
    r
}

#[test]
fn failed_attempts_that_reached_the_provider_are_charged_their_prompt() {
    let t = table();
    let (c, charges) = t.costed(&fallback_record());
    // 900 prompt tokens at $10 per million for the timed-out attempt; nothing for the others.
    assert!((c.failed_usd - 0.009).abs() < 1e-12, "{c:?}");
    let served = (1000.0 * 2.5 + 100.0 * 10.0) / 1e6;
    assert!((c.tokens_usd.unwrap() - served).abs() < 1e-12);
    assert!((c.total_usd.unwrap() - (served + 0.009)).abs() < 1e-12);
    let tokens: Vec<u64> = charges.iter().map(|c| c.prompt_tokens).collect();
    assert_eq!(tokens, [900, 0, 0, 1000]);
    assert_eq!(charges[1].cost_usd, Some(0.0));
    assert!(charges[3].served && !charges[0].served);
    assert_eq!(charges[3].cost_usd, c.tokens_usd);

    // Every label that reached the provider is charged; none of the others.
    for outcome in CHARGED_OUTCOMES {
        let mut r = fallback_record();
        r.attempts[0].outcome = outcome;
        assert!(t.cost(&r).failed_usd > 0.0, "{outcome}");
    }
    for outcome in [
        "connect",
        "timeout_connect",
        "upstream_429",
        "upstream_408",
        "upstream_auth",
        "upstream_4xx",
        "unavailable",
        "overloaded",
        "content_blocked",
        "invalid_request",
        "unsupported_by_backend",
    ] {
        let mut r = fallback_record();
        r.attempts[0].outcome = outcome;
        assert_eq!(t.cost(&r).failed_usd, 0.0, "{outcome}");
    }
}

#[test]
fn a_request_whose_every_attempt_failed_is_charged_too() {
    let t = table();
    let mut r = rec("slow", "m", 0, 0);
    r.attempt_prompt_tokens = 50;
    r.attempts = vec![
        attempt("slow", "m", "upstream_5xx"),
        attempt("slow", "m", "protocol"),
    ];
    let (c, charges) = t.costed(&r);
    assert!((c.total_usd.unwrap() - 2.0 * 50.0 * 10.0 / 1e6).abs() < 1e-12);
    assert!(charges.iter().all(|c| !c.served && c.prompt_tokens == 50));
    // A cut-off stream that served: its usage prices it, its attempt is not charged again.
    let mut r = rec("slow", "m", 40, 5);
    r.attempt_prompt_tokens = 40;
    r.attempts = vec![attempt("slow", "m", "timeout_idle")];
    let (c, charges) = t.costed(&r);
    assert_eq!(c.failed_usd, 0.0);
    assert!(charges[0].served);
    // Turned off: nothing is charged for failures.
    let mut cfg = config();
    cfg.charge_failed_attempts = false;
    assert_eq!(
        PriceTable::new(&cfg).cost(&fallback_record()).failed_usd,
        0.0
    );
}

#[test]
fn a_charged_attempt_on_an_unpriced_model_makes_the_cost_unknown() {
    let t = table();
    let mut r = fallback_record();
    r.attempts[0].backend = "mystery".into();
    let (c, charges) = t.costed(&r);
    assert!(c.is_unknown());
    assert_eq!(charges[0].cost_usd, None);
    // On a backend priced by the hour, its time is in the busy and idle cost instead.
    r.attempts[0].backend = "gpu".into();
    let c = t.cost(&r);
    assert_eq!(c.failed_usd, 0.0);
    assert!(!c.is_unknown());
}

fn versioned() -> PriceTable {
    let mut cfg = config();
    let text = r#"
        [[m]]
        input_per_mtok = 5.0
        output_per_mtok = 15.0
        [[m]]
        from = "2026-06-01"
        input_per_mtok = 2.5
        output_per_mtok = 10.0
        [[m]]
        from = "2026-01-01"
        input_per_mtok = 4.0
        output_per_mtok = 12.0
    "#;
    #[derive(serde::Deserialize)]
    struct One {
        m: ModelPrices,
    }
    let one: One = toml::from_str(text).unwrap();
    cfg.models.insert("openai/gpt-4o".into(), one.m);
    cfg.models.insert(
        "late/m".into(),
        ModelPrices::Versions(vec![PriceVersion {
            from: Some("2026-06-01".parse().unwrap()),
            ..toml::from_str("input_per_mtok = 1.0\noutput_per_mtok = 1.0").unwrap()
        }]),
    );
    PriceTable::new(&cfg)
}

#[test]
fn a_request_is_priced_by_the_version_in_force_when_it_started() {
    let t = versioned();
    let june: Date = "2026-06-01".parse().unwrap();
    let jan: Date = "2026-01-01".parse().unwrap();
    let at = |ms: i64| {
        let mut r = rec("openai", "gpt-4o", 1_000_000, 0);
        r.started_at_ms = ms;
        t.cost(&r)
    };
    // The last millisecond before June is January's price; June's first is June's.
    let before = at(june.start_ms() - 1);
    assert_eq!(
        (before.tokens_usd, before.price_from),
        (Some(4.0), Some(jan))
    );
    let from = at(june.start_ms());
    assert_eq!((from.tokens_usd, from.price_from), (Some(2.5), Some(june)));
    // Before every dated version: the undated one.
    let old = at(jan.start_ms() - 1);
    assert_eq!((old.tokens_usd, old.price_from), (Some(5.0), None));
    assert_eq!(t.version_label(Some(june)), "unversioned@2026-06-01");
    assert_eq!(t.version_label(None), "unversioned");
    // A model whose only version starts later has no price before it: unknown, never $0.
    let mut r = rec("late", "m", 10, 10);
    r.started_at_ms = june.start_ms() - 1;
    assert!(t.cost(&r).is_unknown());
    r.started_at_ms = june.start_ms();
    assert!(!t.cost(&r).is_unknown());
    assert!(t.is_priced("late", "m"));
    assert_eq!(
        t.worst_case_usd_at("openai", "gpt-4o", 1_000_000, 0, june.start_ms()),
        Some(2.5)
    );
}

#[test]
fn the_reference_model_gives_an_api_equivalent() {
    let mut cfg = config();
    cfg.reference_model = Some("openai/gpt-4o".into());
    let t = PriceTable::new(&cfg);
    let mut r = rec("gpu", "llama", 1000, 500);
    r.busy = Some(Duration::from_secs(1));
    let c = t.cost(&r);
    assert!((c.api_equivalent_usd.unwrap() - (2500.0 + 5000.0) / 1e6).abs() < 1e-12);
    assert!((c.total_usd.unwrap() - 0.001).abs() < 1e-12);
    assert_eq!(table().cost(&r).api_equivalent_usd, None);
}

#[test]
fn warnings_list_unpriced_and_unused() {
    let mut cfg = PricesConfig::default();
    cfg.models
        .insert("openai/old".into(), price(1.0, 1.0).into());
    cfg.models
        .insert("openai/ref".into(), price(1.0, 1.0).into());
    cfg.reference_model = Some("openai/ref".into());
    cfg.backends
        .insert("gpu".into(), BackendCost::per_hour(1.0));
    let w = warnings(
        &cfg,
        [("openai", "gpt-5"), ("gpu", "llama"), ("openai", "gpt-5")],
    );
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("\"openai/gpt-5\" has no price"));
    assert!(w[1].contains("openai/old"));
    // Prices that only start in the future leave today unpriced.
    cfg.models.insert(
        "gpu/llama".into(),
        ModelPrices::Versions(vec![PriceVersion {
            from: Some("2999-01-01".parse().unwrap()),
            ..toml::from_str("input_per_mtok = 1.0\noutput_per_mtok = 1.0").unwrap()
        }]),
    );
    let w = warnings(&cfg, [("gpu", "llama")]);
    assert!(
        w.iter().any(|l| l.contains(
            "\"gpu/llama\"] has no version in force today (the first is from 2999-01-01)"
        )),
        "{w:?}"
    );
}
