//! Prompt-level recall and false-positive rate of the detector on the independently written
//! corpus (`tests/corpus/independent/`), labelled from the sensitivity policy alone by writers
//! who never read the detector. Each set was kept unseen until measured once, after which it
//! joined what the detector may be tuned against: `dev/`, then `holdout/` to `holdout16/`.
//! Each set is reported overall, per language, per kind and per near-miss tag, with Wilson
//! 95% intervals, and gated just under what it measured.
//!
//! `TOLLGATE_CORPUS_DIR=DIR` evaluates the `*.jsonl` files of another folder instead;
//! `TOLLGATE_CORPUS_MISSES=1` lists every miss, false positive and missed kind by id.

// Test fixtures: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tollgate_policies::{Detector, DetectorConfig, Kind};

#[derive(Deserialize)]
struct Row {
    id: String,
    lang: String,
    text: String,
    sensitive: bool,
    kinds: Vec<String>,
    near_miss: Option<String>,
    #[serde(default)]
    obfuscated: bool,
}

/// The detector kinds that satisfy a policy kind.
fn detector_kinds(policy_kind: &str) -> &'static [Kind] {
    match policy_kind {
        "EMAIL" => &[Kind::Email],
        "PHONE" => &[Kind::Phone],
        "US_SSN" => &[Kind::UsSsn, Kind::NationalId],
        "CREDIT_CARD" => &[Kind::PaymentCard],
        "IBAN" => &[Kind::Iban],
        "IPV4" | "IPV6" => &[Kind::IpAddress],
        "STREET_ADDRESS" => &[Kind::StreetAddress],
        "DATE_OF_BIRTH" => &[Kind::DateOfBirth],
        "PASSPORT" => &[Kind::Passport, Kind::NationalId],
        "NATIONAL_ID" => &[Kind::NationalId, Kind::UkNino, Kind::UsSsn],
        "MEDICAL_ID" => &[Kind::MedicalId, Kind::NationalId],
        "HEALTH" => &[Kind::Health],
        "PERSON" => &[Kind::Person],
        "AWS_KEY" => &[Kind::AwsAccessKey, Kind::AwsSecretKey],
        "GITHUB_TOKEN" => &[Kind::GithubToken],
        "OPENAI_KEY" => &[Kind::OpenaiKey, Kind::AnthropicKey],
        "SLACK_TOKEN" => &[Kind::SlackToken],
        "GOOGLE_API_KEY" => &[Kind::GoogleApiKey],
        "STRIPE_KEY" => &[Kind::StripeKey],
        "JWT" => &[Kind::Jwt],
        "PRIVATE_KEY" => &[Kind::PrivateKey],
        "PASSWORD" => &[Kind::Password],
        "SECRET_OTHER" => &[Kind::GenericSecret],
        _ => &[],
    }
}

/// Counts of one cell: sensitive prompts found / missed, benign prompts flagged / clean.
#[derive(Default, Clone, Copy)]
struct Cell {
    tp: u32,
    fn_: u32,
    fp: u32,
    tn: u32,
}

impl Cell {
    fn add(&mut self, sensitive: bool, flagged: bool) {
        match (sensitive, flagged) {
            (true, true) => self.tp += 1,
            (true, false) => self.fn_ += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
    }
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    fn fpr(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }
}

fn ratio(a: u32, n: u32) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        f64::from(a) / f64::from(n)
    }
}

/// Wilson score interval at 95%, as percentages.
fn wilson(k: u32, n: u32) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (k, n, z) = (f64::from(k), f64::from(n), 1.96_f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()) / denom;
    // Rounding can take the bounds a hair past 0 or 100 (printed as `-0.0`).
    let pct = |x: f64| (x * 100.0).clamp(0.0, 100.0);
    (pct(centre - half), pct(centre + half))
}

fn fmt_rate(k: u32, n: u32) -> String {
    let (lo, hi) = wilson(k, n);
    format!("{:5.1}% [{lo:5.1}, {hi:5.1}] of {n}", ratio(k, n) * 100.0)
}

fn load(dir: &Path) -> Vec<Row> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for f in files {
        let raw = std::fs::read_to_string(&f).unwrap();
        for (n, line) in raw.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: Row = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", f.display(), n + 1));
            rows.push(row);
        }
    }
    rows
}

/// What one corpus measured.
struct Report {
    all: Cell,
    by_lang: BTreeMap<String, Cell>,
}

fn evaluate(name: &str, dir: &Path) -> Report {
    let rows = load(dir);
    assert!(!rows.is_empty(), "no prompts in {}", dir.display());
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let list_misses = std::env::var_os("TOLLGATE_CORPUS_MISSES").is_some();
    let mut all = Cell::default();
    let mut by_lang: BTreeMap<String, Cell> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut by_near_miss: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut obfuscated = Cell::default();
    let mut bytes = 0usize;
    // Where each sensitive prompt would go on a closed-first route that redacts confidential
    // data (the example config's `smart`): undetected ones reach the closed API in clear.
    let (mut in_clear, mut redacted, mut kept_inside) = (0u32, 0u32, 0u32);
    // Of those that leave, the ones with a labelled kind the detector did not find: a value
    // of that kind passes unredacted (a lower bound: the labels name kinds, not values).
    let mut leaked = 0u32;
    for row in &rows {
        bytes += row.text.len();
        let found = detector.scan(&[row.text.as_str()]);
        let flagged = found.findings.iter().any(|f| f.kind != Kind::Person);
        all.add(row.sensitive, flagged);
        by_lang
            .entry(row.lang.clone())
            .or_default()
            .add(row.sensitive, flagged);
        if row.obfuscated {
            obfuscated.add(row.sensitive, flagged);
        }
        if row.sensitive {
            let inside = found.class == Some(tollgate_policies::DataClass::Restricted);
            match found.class {
                _ if !flagged => in_clear += 1,
                _ if inside => kept_inside += 1,
                _ => redacted += 1,
            }
            let mut missed_kind = false;
            for k in &row.kinds {
                if k == "PERSON" {
                    continue;
                }
                let hit = found
                    .findings
                    .iter()
                    .any(|f| detector_kinds(k).contains(&f.kind));
                missed_kind |= !hit;
                if list_misses && !hit && flagged {
                    println!("{name} missed kind {} in {}", k, row.id);
                }
                let e = by_kind.entry(k.clone()).or_default();
                e.0 += u32::from(hit);
                e.1 += 1;
            }
            leaked += u32::from(!inside && missed_kind);
        } else {
            let tag = row.near_miss.clone().unwrap_or_else(|| "none".into());
            let e = by_near_miss.entry(tag).or_default();
            e.0 += u32::from(flagged);
            e.1 += 1;
        }
        if list_misses && row.sensitive != flagged {
            let kinds: Vec<&str> = found.findings.iter().map(|f| f.kind.as_str()).collect();
            if row.sensitive {
                println!("{name} missed {}: expected {:?}", row.id, row.kinds);
            } else {
                println!(
                    "{name} false positive {} ({}): found {kinds:?}",
                    row.id,
                    row.near_miss.as_deref().unwrap_or("-")
                );
            }
        }
    }
    println!(
        "== {name}: {} prompts ({} sensitive, {} benign, {:.1} MB) from {}",
        rows.len(),
        all.tp + all.fn_,
        all.fp + all.tn,
        bytes as f64 / 1e6,
        dir.display()
    );
    println!("recall              {}", fmt_rate(all.tp, all.tp + all.fn_));
    println!("false-positive rate {}", fmt_rate(all.fp, all.fp + all.tn));
    println!(
        "obfuscated recall   {}",
        fmt_rate(obfuscated.tp, obfuscated.tp + obfuscated.fn_)
    );
    let sensitive = all.tp + all.fn_;
    println!(
        "closed-first redacting route: of {sensitive} sensitive prompts {} reach the closed API \
         in clear, {} go redacted (only what was detected is replaced), {} stay inside",
        fmt_rate(in_clear, sensitive),
        fmt_rate(redacted, sensitive),
        fmt_rate(kept_inside, sensitive)
    );
    println!(
        "closed-first redacting route, a labelled kind left undetected (in clear or beside \
         what was redacted): {}",
        fmt_rate(leaked, sensitive)
    );
    for (lang, c) in &by_lang {
        println!(
            "  {lang}: recall {}  fpr {}",
            fmt_rate(c.tp, c.tp + c.fn_),
            fmt_rate(c.fp, c.fp + c.tn)
        );
    }
    println!("  recall per kind (kind found in prompts that contain it):");
    for (kind, (hit, n)) in &by_kind {
        println!("    {kind:<15} {}", fmt_rate(*hit, *n));
    }
    println!("  false positives per near-miss tag:");
    for (tag, (fp, n)) in &by_near_miss {
        println!("    {tag:<22} {}", fmt_rate(*fp, *n));
    }
    Report { all, by_lang }
}

/// Floors a corpus must stay above, overall and in every language. The product's targets are
/// recall ≥ 97% and false-positive rate ≤ 3% everywhere; the gates below are set just under
/// what this detector measured, so that a change that loses ground fails, and the report says
/// where the targets are met.
struct Floors {
    recall: f64,
    fpr: f64,
    lang_recall: f64,
    lang_fpr: f64,
}

fn gate(name: &str, r: &Report, floors: &Floors) {
    let mut failures = Vec::new();
    let mut short = Vec::new();
    let mut check = |what: &str, c: &Cell, recall: f64, fpr: f64| {
        if c.recall() < recall {
            failures.push(format!(
                "{what} recall {:.1}% < {:.1}%",
                c.recall() * 100.0,
                recall * 100.0
            ));
        }
        if c.fpr() > fpr {
            failures.push(format!(
                "{what} fpr {:.1}% > {:.1}%",
                c.fpr() * 100.0,
                fpr * 100.0
            ));
        }
        if c.recall() < 0.97 || c.fpr() > 0.03 {
            short.push(what.to_string());
        }
    };
    check("overall", &r.all, floors.recall, floors.fpr);
    for (lang, c) in &r.by_lang {
        check(lang, c, floors.lang_recall, floors.lang_fpr);
    }
    if short.is_empty() {
        println!("{name}: the targets (recall >= 97%, fpr <= 3%) hold overall and per language");
    } else {
        println!(
            "{name}: the targets (recall >= 97%, fpr <= 3%) are NOT met for: {}",
            short.join(", ")
        );
    }
    assert!(failures.is_empty(), "{name}: {}", failures.join("; "));
}

fn corpus_dir(set: &str) -> PathBuf {
    match std::env::var_os("TOLLGATE_CORPUS_DIR") {
        Some(d) => PathBuf::from(d).join(set),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus/independent")
            .join(set),
    }
}

#[test]
fn independent_dev_corpus() {
    let report = evaluate("dev", &corpus_dir("dev"));
    // Measured: 98.8% / 0.1% overall, every language >= 96.3% / <= 1.0% (tuned against).
    let floors = Floors {
        recall: 0.975,
        fpr: 0.01,
        lang_recall: 0.95,
        lang_fpr: 0.02,
    };
    gate("dev", &report, &floors);
}

#[test]
fn independent_holdout_corpus() {
    let report = evaluate("holdout", &corpus_dir("holdout"));
    // Measured once, after the detector was frozen: 96.2% / 2.1% overall. Since tuned
    // against: 97.8% / 0.2%.
    let floors = Floors {
        recall: 0.97,
        fpr: 0.01,
        lang_recall: 0.93,
        lang_fpr: 0.02,
    };
    gate("holdout", &report, &floors);
}

#[test]
fn independent_second_holdout_corpus() {
    let report = evaluate("holdout2", &corpus_dir("holdout2"));
    // A second holdout of 1,600 prompts by two more writers, measured once (96.7% / 2.4%),
    // then tuned against: 99.7% / 0.2%.
    let floors = Floors {
        recall: 0.99,
        fpr: 0.01,
        lang_recall: 0.97,
        lang_fpr: 0.02,
    };
    gate("holdout2", &report, &floors);
}

#[test]
fn independent_third_holdout_corpus() {
    let report = evaluate("holdout3", &corpus_dir("holdout3"));
    // 1,259 prompts by two more writers who read only the policy, written while the detector
    // was being tuned against `holdout2/`, and measured once with it frozen, aggregates only:
    // 93.7% / 3.2% overall (the detector before that tuning: 92.3% / 3.8%); languages
    // 91.4-97.1% recall, 1.3-5.2% fpr. Since tuned against: 95.8% / 2.0%.
    let floors = Floors {
        recall: 0.955,
        fpr: 0.025,
        lang_recall: 0.93,
        lang_fpr: 0.035,
    };
    gate("holdout3", &report, &floors);
}

#[test]
fn independent_fourth_holdout_corpus() {
    let report = evaluate("holdout4", &corpus_dir("holdout4"));
    // 643 prompts by two more writers who read only the policy, written while the detector
    // was being tuned against `holdout3/`, measured once with it frozen, aggregates only:
    // 95.0% / 2.9% overall (the detector before that round and the one before it: 94.4% /
    // 4.4%); languages 92.5-97.9% recall, 0.0-7.5% fpr (from 40 to 60 prompts each). Then
    // tuned against: 100% / 0.0%.
    let floors = Floors {
        recall: 0.99,
        fpr: 0.01,
        lang_recall: 0.97,
        lang_fpr: 0.03,
    };
    gate("holdout4", &report, &floors);
}

#[test]
fn independent_fifth_holdout_corpus() {
    let report = evaluate("holdout5", &corpus_dir("holdout5"));
    // 759 prompts (346 sensitive, 413 benign, 45 obfuscated) by two more writers who read
    // only the policy, written while the detector was being tuned against `holdout4/`,
    // measured once with it frozen, aggregates only: 97.1% / 3.4% overall (the detector
    // before that round: 96.5% / 3.6%); languages 92.9-100% recall, 1.0-5.8% fpr (from 38
    // to 101 prompts each). Then tuned against: 98.8% / 0.5%.
    let floors = Floors {
        recall: 0.975,
        fpr: 0.012,
        lang_recall: 0.92,
        lang_fpr: 0.04,
    };
    gate("holdout5", &report, &floors);
}

#[test]
fn independent_sixth_holdout_corpus() {
    let report = evaluate("holdout6", &corpus_dir("holdout6"));
    // 651 prompts (312 sensitive, 339 benign, 35 obfuscated) by two more writers who read
    // only the policy, measured once with the detector of the previous round frozen,
    // aggregates only: 97.1% / 3.2% overall; languages 91.5-100% recall, 0.0-9.8% fpr (from
    // 39 to 57 prompts each). Then tuned against: 99.0% / 0.6%.
    let floors = Floors {
        recall: 0.985,
        fpr: 0.012,
        lang_recall: 0.97,
        lang_fpr: 0.04,
    };
    gate("holdout6", &report, &floors);
}

#[test]
fn independent_seventh_holdout_corpus() {
    let report = evaluate("holdout7", &corpus_dir("holdout7"));
    // 650 prompts (310 sensitive, 340 benign, 34 obfuscated) by two more writers who read
    // only the policy, written while the detector was being tuned against `holdout6/`, and
    // measured once with it frozen, aggregates only: 95.8% / 3.8% overall; languages
    // 91.7-100% recall, 1.9-7.1% fpr (from 38 to 58 prompts each). Then tuned against:
    // 96.8% / 0.9%.
    let floors = Floors {
        recall: 0.965,
        fpr: 0.012,
        lang_recall: 0.91,
        lang_fpr: 0.04,
    };
    gate("holdout7", &report, &floors);
}

#[test]
fn independent_eighth_holdout_corpus() {
    let report = evaluate("holdout8", &corpus_dir("holdout8"));
    // 610 prompts (282 sensitive, 328 benign, 28 obfuscated) by two more writers who read
    // only the policy, written while the detector was being tuned against `holdout6/` and
    // `holdout7/`, and measured once with it frozen, aggregates only: 97.2% / 2.7% overall
    // (the detector before those two rounds: 96.1% / 3.0%); languages 94.3-100% recall,
    // 0.0-5.9% fpr (from 35 to 54 prompts each). Then tuned against: 99.3% / 1.5%.
    let floors = Floors {
        recall: 0.99,
        fpr: 0.018,
        lang_recall: 0.97,
        lang_fpr: 0.045,
    };
    gate("holdout8", &report, &floors);
}

#[test]
fn independent_ninth_holdout_corpus() {
    let report = evaluate("holdout9", &corpus_dir("holdout9"));
    // 865 prompts (396 sensitive, 469 benign, 44 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout8/`, and
    // measured once with it frozen, aggregates only: 97.5% / 1.7% overall (the detector
    // before that round: the same); languages 96.0-98.1% recall, 0.0-4.8% fpr (from 50 to
    // 109 prompts each). Then tuned against: 98.7% / 0.2%.
    let floors = Floors {
        recall: 0.985,
        fpr: 0.006,
        lang_recall: 0.96,
        lang_fpr: 0.02,
    };
    gate("holdout9", &report, &floors);
}

#[test]
fn independent_tenth_holdout_corpus() {
    let report = evaluate("holdout10", &corpus_dir("holdout10"));
    // 874 prompts (393 sensitive, 481 benign, 43 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout9/`, and
    // measured once with it frozen, aggregates only: 97.5% / 1.9% overall (the detector
    // before the eighth and ninth rounds: 96.2% / 2.1%); languages 94.4-100% recall,
    // 0.0-4.9% fpr (from 50 to 112 prompts each). Then tuned against: 98.7% / 0.0%.
    let floors = Floors {
        recall: 0.985,
        fpr: 0.005,
        lang_recall: 0.97,
        lang_fpr: 0.01,
    };
    gate("holdout10", &report, &floors);
}

#[test]
fn independent_eleventh_holdout_corpus() {
    let report = evaluate("holdout11", &corpus_dir("holdout11"));
    // 876 prompts (397 sensitive, 479 benign, 40 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout10/`, and
    // measured once with it frozen, aggregates only: 96.7% / 0.2% overall (the detector
    // before the eighth to tenth rounds: 95.7% / 0.4%); languages 94.6-100% recall, 0.0-1.6%
    // fpr (from 50 to 110 prompts each). Then tuned against: 99.2% / 0.0%.
    let floors = Floors {
        recall: 0.985,
        fpr: 0.005,
        lang_recall: 0.955,
        lang_fpr: 0.01,
    };
    gate("holdout11", &report, &floors);
}

#[test]
fn independent_twelfth_holdout_corpus() {
    let report = evaluate("holdout12", &corpus_dir("holdout12"));
    // 870 prompts (396 sensitive, 474 benign, 47 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout11/`, and
    // measured once with it frozen, aggregates only: 96.5% / 1.3% overall (the detector
    // before the eighth to eleventh rounds: 94.9% / 1.5%); languages 92.0-100% recall,
    // 0.0-2.7% fpr (from 50 to 111 prompts each). Then tuned against: 98.7% / 0.0%.
    let floors = Floors {
        recall: 0.985,
        fpr: 0.005,
        lang_recall: 0.95,
        lang_fpr: 0.01,
    };
    gate("holdout12", &report, &floors);
}

#[test]
fn independent_thirteenth_holdout_corpus() {
    let report = evaluate("holdout13", &corpus_dir("holdout13"));
    // 870 prompts (394 sensitive, 476 benign, 41 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout12/`, and
    // measured once with it frozen, aggregates only: 97.2% / 1.9% overall (the detector
    // before the eighth to twelfth rounds: 95.9% / 2.9%); languages 94.0-100% recall,
    // 0.0-5.0% fpr (from 50 to 111 prompts each). Then tuned against: 99.2% / 0.4%.
    let floors = Floors {
        recall: 0.985,
        fpr: 0.008,
        lang_recall: 0.96,
        lang_fpr: 0.02,
    };
    gate("holdout13", &report, &floors);
}

#[test]
fn independent_fourteenth_holdout_corpus() {
    let report = evaluate("holdout14", &corpus_dir("holdout14"));
    // 866 prompts (392 sensitive, 474 benign, 43 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout13/`, and
    // measured once with it frozen, aggregates only: 98.2% / 2.1% overall (the detector
    // before the eighth to thirteenth rounds: 96.7% / 2.5%); languages 94.0-100% recall,
    // 0.0-4.9% fpr (from 50 to 110 prompts each). Then tuned against: 99.7% / 0.0%.
    let floors = Floors {
        recall: 0.99,
        fpr: 0.005,
        lang_recall: 0.98,
        lang_fpr: 0.01,
    };
    gate("holdout14", &report, &floors);
}

#[test]
fn independent_fifteenth_holdout_corpus() {
    let report = evaluate("holdout15", &corpus_dir("holdout15"));
    // 860 prompts (390 sensitive, 470 benign, 44 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout14/`, and
    // measured once with it frozen, aggregates only: 97.4% / 2.1% overall (the detector
    // before the eighth to fourteenth rounds: 96.7% / 2.6%); languages 92.7-100% recall,
    // 0.0-3.3% fpr (from 50 to 105 prompts each). Then tuned against: 99.7% / 0.2%.
    let floors = Floors {
        recall: 0.99,
        fpr: 0.005,
        lang_recall: 0.975,
        lang_fpr: 0.02,
    };
    gate("holdout15", &report, &floors);
}

#[test]
fn independent_sixteenth_holdout_corpus() {
    let report = evaluate("holdout16", &corpus_dir("holdout16"));
    // 860 prompts (390 sensitive, 470 benign, 46 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout15/`, and
    // measured once with it frozen, aggregates only: 97.7% / 3.2% overall (the detector
    // before the eighth to fifteenth rounds: 95.4% / 3.8%); languages 94.0-100% recall,
    // 0.0-8.3% fpr (from 50 to 105 prompts each). Then tuned against: 99.0% / 1.1%.
    let floors = Floors {
        recall: 0.985,
        fpr: 0.015,
        lang_recall: 0.96,
        lang_fpr: 0.035,
    };
    gate("holdout16", &report, &floors);
}
