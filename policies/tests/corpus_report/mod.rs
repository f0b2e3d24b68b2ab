//! The evaluation behind `independent.rs`: loads a labelled corpus, scans every prompt, and
//! reports recall and false-positive rate overall, per language, per kind and per near-miss
//! tag with Wilson 95% intervals; `gate` fails a set that falls under its floors.

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
pub struct Report {
    all: Cell,
    by_lang: BTreeMap<String, Cell>,
}

pub fn evaluate(name: &str, dir: &Path) -> Report {
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
pub struct Floors {
    pub recall: f64,
    pub fpr: f64,
    pub lang_recall: f64,
    pub lang_fpr: f64,
}

pub fn gate(name: &str, r: &Report, floors: &Floors) {
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

pub fn corpus_dir(set: &str) -> PathBuf {
    match std::env::var_os("TOLLGATE_CORPUS_DIR") {
        Some(d) => PathBuf::from(d).join(set),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus/independent")
            .join(set),
    }
}
