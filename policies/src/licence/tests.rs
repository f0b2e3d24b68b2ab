use super::*;

fn tenant(use_: Use) -> TenantProfile {
    TenantProfile::new(use_)
}

fn allowed(id: &str, t: &TenantProfile, multimodal: bool) -> bool {
    let facts = ModelFacts {
        multimodal,
        ..ModelFacts::default()
    };
    check(Some(lookup(id).unwrap()), &facts, t).is_ok()
}

/// Which uses each licence permits for a small, non-EU tenant that does not train models.
fn uses_of(id: &str) -> Vec<Use> {
    Use::ALL
        .into_iter()
        .filter(|u| allowed(id, &tenant(*u), false))
        .collect()
}

#[test]
fn lookup_is_exact_and_ids_are_unique() {
    assert!(lookup("llama3.1").is_ok());
    assert!(lookup("Llama3.1").is_err());
    assert!(lookup("apache-2.0").is_err());
    assert!(lookup(" MIT").is_err());
    for (i, l) in CATALOGUE.iter().enumerate() {
        assert!(CATALOGUE[i + 1..].iter().all(|o| o.id != l.id), "{}", l.id);
    }
}

#[test]
fn headers_are_ascii_one_line_and_name_the_licence() {
    for l in &CATALOGUE {
        assert!(l.header.is_ascii(), "{}", l.id);
        assert!(!l.header.contains(['\r', '\n']), "{}", l.id);
        if let Some(h) = l.notice_header() {
            assert!(h.starts_with(l.id), "{}", l.id);
        }
    }
}

#[test]
fn missing_licence_refuses_every_use() {
    for u in Use::ALL {
        let r = check(None, &ModelFacts::default(), &tenant(u));
        assert_eq!(r, Err(LicenceRefusal::Missing));
        assert!(r.unwrap_err().to_string().contains("no licence"));
    }
}

use Use::{Commercial as C, Evaluation as E, Internal as I, Personal as P, Research as R};

#[test]
fn permissive_licences_allow_everything() {
    for id in [
        "Apache-2.0",
        "MIT",
        "llama2",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "gemma",
        "qwen",
        "tongyi-qianwen",
        "deepseek-license-1.0",
        "nvidia-open-model",
        "bigscience-openrail-m",
        "bigcode-openrail-m",
        "openai-terms",
        "anthropic-terms",
        "gemini-api-terms",
        "gemini-api-free-terms",
        "mistral-terms",
    ] {
        assert_eq!(uses_of(id), Use::ALL.to_vec(), "{id}");
    }
}

#[test]
fn restrictive_licences_limit_uses() {
    assert_eq!(uses_of("CC-BY-NC-4.0"), vec![R, P]);
    assert_eq!(uses_of("qwen-research"), vec![R, E]);
    assert_eq!(uses_of("mrl-0.1"), vec![R]);
    assert_eq!(uses_of("mnpl-0.1"), vec![R, E, P]);
    assert_eq!(uses_of("falcon-180b-tii-1.0"), vec![I, R, E, P]);
    let r = check(
        Some(lookup("falcon-180b-tii-1.0").unwrap()),
        &ModelFacts::default(),
        &tenant(C),
    );
    assert!(matches!(r, Err(LicenceRefusal::UseUnverified(_, C))));
}

#[test]
fn mau_caps() {
    let mut big = tenant(C);
    big.monthly_active_users = Some(800_000_000);
    let mut mid = tenant(C);
    mid.monthly_active_users = Some(200_000_000);
    for id in [
        "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4",
    ] {
        assert!(!allowed(id, &big, false), "{id}");
        assert!(allowed(id, &mid, false), "{id}");
        let mut research = big.clone();
        research.use_ = R;
        assert!(!allowed(id, &research, false), "{id} caps every use");
    }
    for id in ["qwen", "tongyi-qianwen"] {
        assert!(!allowed(id, &mid, false), "{id}");
        let mut research = mid.clone();
        research.use_ = R;
        assert!(
            allowed(id, &research, false),
            "{id} caps commercial use only"
        );
    }
    for id in ["Apache-2.0", "gemma", "deepseek-license-1.0"] {
        assert!(allowed(id, &big, false), "{id}");
    }
}

#[test]
fn training_on_outputs() {
    let mut t = tenant(R);
    t.trains_models = true;
    let yes = [
        "Apache-2.0",
        "MIT",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "gemma",
        "qwen",
        "qwen-research",
        "mrl-0.1",
        "deepseek-license-1.0",
        "nvidia-open-model",
    ];
    for l in &CATALOGUE {
        assert_eq!(allowed(l.id, &t, false), yes.contains(&l.id), "{}", l.id);
    }
}

#[test]
fn eu_multimodal_clause() {
    let mut eu = tenant(C);
    eu.region = Some("DE".into());
    for id in ["llama3.2", "llama3.3", "llama4"] {
        assert!(!allowed(id, &eu, true), "{id}");
        assert!(allowed(id, &eu, false), "{id} text models are fine");
    }
    for id in ["llama3.1", "gemma", "Apache-2.0"] {
        assert!(allowed(id, &eu, true), "{id}");
    }
    let mut us = eu.clone();
    us.region = Some("US".into());
    assert!(allowed("llama4", &us, true));
}

#[test]
fn gemini_free_tier_excludes_eea_ch_uk() {
    for region in ["FR", "NO", "CH", "GB"] {
        let mut t = tenant(C);
        t.region = Some(region.into());
        assert!(!allowed("gemini-api-free-terms", &t, false), "{region}");
        assert!(allowed("gemini-api-terms", &t, false), "{region}");
    }
}

#[test]
fn refusals_read_well() {
    let l = lookup("CC-BY-NC-4.0").unwrap();
    let r = check(Some(l), &ModelFacts::default(), &tenant(C)).unwrap_err();
    assert_eq!(
        r.to_string(),
        "licence CC-BY-NC-4.0 does not permit commercial use"
    );
}
