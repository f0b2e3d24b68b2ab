//! Fixtures shared by the metering tests: a priced config, realistic records, metric readers.
#![allow(dead_code)]

pub mod prometheus;

use std::path::Path;
use std::time::Duration;
use tollgate_metering::{
    busy_share, estimate_tokens, Attempt, ErrorCode, MeteringConfig, Outcome, Record, TokenSource,
    Usage,
};
use tollgate_policies::{DataClass, Zone};

/// 2025-06-15T12:00:00Z.
pub const NOON: i64 = 1_749_988_800_000;

/// A config with a ledger at `db`, token prices for two closed models, compute cost for a local
/// server and the on-device engine, and budgets for tenant `acme` and route `chat`.
pub fn config(db: &Path) -> MeteringConfig {
    let text = format!(
        r#"
[ledger]
path = "{}"

[prices]
version = "test-2025-06"
[prices.models."openai/gpt-4o"]
input_per_mtok = 2.5
output_per_mtok = 10.0
cached_input_per_mtok = 1.25
[prices.models."anthropic/claude-sonnet"]
input_per_mtok = 3.0
output_per_mtok = 15.0
[prices.backends.gpu-box]
cost_per_hour = 3.6
[prices.backends.device]
cost_per_hour = 0.36

[budgets.tenants.acme]
daily_usd = 10.0
monthly_usd = 100.0
[budgets.routes.chat]
monthly_usd = 500.0
on_exhausted = "fall_through"

[metrics]
tenant_label = true
"#,
        db.display()
    );
    toml::from_str(&text).expect("test config parses")
}

fn base(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = Record::new(id, at);
    r.tenant = tenant.into();
    r.route = route.into();
    r.data_class = DataClass::Internal;
    r.decision = "first candidate passing every rule".into();
    r.overhead = Duration::from_micros(80);
    r
}

fn served(r: &mut Record, backend: &str, model: &str, zone: Zone, took: Duration) {
    r.backend = Some(backend.into());
    r.model = Some(model.into());
    r.zone = Some(zone);
    r.duration = took;
    r.attempts.push(Attempt {
        backend: backend.into(),
        model: model.into(),
        zone,
        outcome: "ok",
        duration: took,
        redacted: false,
    });
}

/// Non-streamed gpt-4o: 1200 prompt (200 cached), 300 completion → $0.00575.
pub fn non_streamed(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    served(
        &mut r,
        "openai",
        "gpt-4o",
        Zone::External,
        Duration::from_millis(900),
    );
    r.usage = Usage {
        prompt_tokens: 1200,
        completion_tokens: 300,
        cached_tokens: 200,
        cache_write_tokens: 0,
        source: TokenSource::Provider,
    };
    r
}

/// Streamed claude-sonnet: 2000 prompt, 800 completion → $0.018.
pub fn streamed(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    served(
        &mut r,
        "anthropic",
        "claude-sonnet",
        Zone::External,
        Duration::from_secs(6),
    );
    r.stream = true;
    r.ttft = Some(Duration::from_millis(400));
    r.inter_token = Some(Duration::from_millis(7));
    r.usage = Usage {
        prompt_tokens: 2000,
        completion_tokens: 800,
        cached_tokens: 0,
        cache_write_tokens: 0,
        source: TokenSource::Provider,
    };
    r
}

/// Streamed local llama without usage: tokens estimated from 4000 + 1001 bytes (1000 + 251),
/// 5 s while decoding 2 sequences on average at $3.6/h → $0.0025.
pub fn estimated(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    served(
        &mut r,
        "gpu-box",
        "llama-3-8b",
        Zone::Local,
        Duration::from_secs(5),
    );
    r.stream = true;
    r.ttft = Some(Duration::from_millis(120));
    r.inter_token = Some(Duration::from_millis(20));
    r.usage = Usage {
        prompt_tokens: estimate_tokens(&"p".repeat(4000)),
        completion_tokens: estimate_tokens(&"c".repeat(1001)),
        cached_tokens: 0,
        cache_write_tokens: 0,
        source: TokenSource::Estimate,
    };
    r.busy = Some(busy_share(Duration::from_secs(5), 2.0));
    r.data_class = DataClass::Confidential;
    r.detections = vec!["email", "iban"];
    r.refusals = vec!["sensitive_outside_boundary"];
    r
}

/// gpt-4o stream cut after 150 of its completion tokens, 500 prompt → $0.00275.
pub fn cut_off(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    served(
        &mut r,
        "openai",
        "gpt-4o",
        Zone::External,
        Duration::from_secs(3),
    );
    r.stream = true;
    r.outcome = Outcome::CutOff;
    r.error_class = Some(ErrorCode::UpstreamStreamFailed);
    r.ttft = Some(Duration::from_millis(300));
    r.inter_token = Some(Duration::from_millis(15));
    r.usage = Usage {
        prompt_tokens: 500,
        completion_tokens: 150,
        cached_tokens: 0,
        cache_write_tokens: 0,
        source: TokenSource::Provider,
    };
    if let Some(a) = r.attempts.last_mut() {
        a.outcome = "cut_off";
    }
    r
}

/// The local server timed out after 2 s, then gpt-4o served 100 + 50 tokens → $0.00075 (the
/// local server has no token price: its time is in its busy and idle cost, not charged here).
pub fn fallback(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    r.attempt_prompt_tokens = 100;
    r.attempts.push(Attempt {
        backend: "gpu-box".into(),
        model: "llama-3-8b".into(),
        zone: Zone::Local,
        outcome: "timeout_first_byte",
        duration: Duration::from_secs(2),
        redacted: false,
    });
    served(
        &mut r,
        "openai",
        "gpt-4o",
        Zone::External,
        Duration::from_millis(700),
    );
    r.duration = Duration::from_millis(2700);
    r.usage = Usage {
        prompt_tokens: 100,
        completion_tokens: 50,
        cached_tokens: 0,
        cache_write_tokens: 0,
        source: TokenSource::Provider,
    };
    r
}

/// A model nobody priced: cost unknown.
pub fn unpriced(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    served(
        &mut r,
        "mystery",
        "model-x",
        Zone::External,
        Duration::from_millis(500),
    );
    r.usage = Usage {
        prompt_tokens: 10,
        completion_tokens: 5,
        cached_tokens: 0,
        cache_write_tokens: 0,
        source: TokenSource::Provider,
    };
    r
}

/// On-device generation: 64 + 32 tokens, 1 s busy alone at $0.36/h → $0.0001.
pub fn on_device(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    served(
        &mut r,
        "device",
        "qwen-0.5b",
        Zone::OnDevice,
        Duration::from_secs(1),
    );
    r.usage = Usage {
        prompt_tokens: 64,
        completion_tokens: 32,
        cached_tokens: 0,
        cache_write_tokens: 0,
        source: TokenSource::Provider,
    };
    r.busy = Some(Duration::from_secs(1));
    r.data_class = DataClass::Restricted;
    r
}

/// Refused by policy: nothing dispatched.
pub fn refused(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    r.outcome = Outcome::Refused;
    r.status = 403;
    r.error_class = Some(ErrorCode::PolicyRefused);
    r.data_class = DataClass::Restricted;
    r.refusals = vec!["sensitive_outside_boundary", "licence_use"];
    r.detections = vec!["card"];
    r.duration = Duration::from_micros(300);
    r
}

/// Every backend failed.
pub fn failed(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = base(id, at, tenant, route);
    r.attempts.push(Attempt {
        backend: "gpu-box".into(),
        model: "llama-3-8b".into(),
        zone: Zone::Local,
        outcome: "connect",
        duration: Duration::from_millis(3),
        redacted: false,
    });
    r.backend = Some("gpu-box".into());
    r.model = Some("llama-3-8b".into());
    r.zone = Some(Zone::Local);
    r.outcome = Outcome::Failed;
    r.status = 502;
    r.error_class = Some(ErrorCode::BackendsFailed);
    r.duration = Duration::from_millis(4);
    r
}

/// The builder of each kind of record, by name, with its exact expected cost.
pub type Builder = fn(&str, i64, &str, &str) -> Record;

/// Every kind: (builder, expected cost; `None` = unknown).
pub const KINDS: [(Builder, Option<f64>); 9] = [
    (non_streamed, Some(0.00575)),
    (streamed, Some(0.018)),
    (estimated, Some(0.0025)),
    (cut_off, Some(0.00275)),
    (fallback, Some(0.00075)),
    (unpriced, None),
    (on_device, Some(0.0001)),
    (refused, Some(0.0)),
    (failed, Some(0.0)),
];

/// Sum of every sample of metric `name` (exact name, any labels) in a text exposition.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    samples(text, name).iter().map(|(_, v)| v).sum()
}

/// Samples `(labels, value)` of metric `name` in a text exposition.
pub fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (labels, value) = if let Some(r) = rest.strip_prefix('{') {
                let end = r.rfind('}')?;
                (r[..end].to_string(), r[end + 1..].trim())
            } else if rest.starts_with(' ') {
                (String::new(), rest.trim())
            } else {
                return None;
            };
            Some((labels, value.parse().ok()?))
        })
        .collect()
}

/// Asserts two USD amounts agree to a billionth of a cent.
#[track_caller]
pub fn assert_usd(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-11,
        "expected ${expected}, got ${actual}"
    );
}

/// Records one of each kind for two tenants and two routes, plus a slow non-streamed request, a
/// slow first token, on-device gauges and a budget refusal, so every metric has a series.
pub fn record_mix(m: &tollgate_metering::Metering, batch: usize, at: i64) {
    for (t, tenant) in ["acme", "globex"].iter().enumerate() {
        for (i, (build, _)) in KINDS.iter().enumerate() {
            let route = ["chat", "summarise"][(i + t) % 2];
            m.record(
                build(&format!("mix{batch}-{t}-{i}"), at, tenant, route),
                None,
            );
        }
        let mut slow = on_device(&format!("mix{batch}-{t}-slow"), at, tenant, "chat");
        slow.duration = Duration::from_secs(70);
        m.record(slow, None);
        let mut late = streamed(&format!("mix{batch}-{t}-late"), at, tenant, "chat");
        late.ttft = Some(Duration::from_secs(20));
        m.record(late, None);
    }
    m.metrics().set_ondevice("device", (batch % 4) as i64, 2);
    // One connection held open and one refused, as the connection guard counts them.
    std::mem::forget(m.metrics().connections("api").open());
    m.metrics().connections("api").refused("malformed_http");
    let _ = m.reserve("acme", "chat", Some(1_000.0), at);
}

/// Claude timed out after the request was sent (1000 prompt tokens, charged at $3 per million:
/// $0.003), then gpt-4o served 100 + 50 tokens ($0.00075).
pub fn failed_over(id: &str, at: i64, tenant: &str, route: &str) -> Record {
    let mut r = fallback(id, at, tenant, route);
    r.attempt_prompt_tokens = 1000;
    r.attempts[0] = Attempt {
        backend: "anthropic".into(),
        model: "claude-sonnet".into(),
        zone: Zone::External,
        outcome: "timeout_first_byte",
        duration: Duration::from_secs(2),
        redacted: false,
    };
    r
}

/// The cost of [`failed_over`]: what gpt-4o served and what Claude charged.
pub const FAILED_OVER_USD: (f64, f64) = (0.00075, 0.003);

/// Rewrites the ledger at `db` as a gateway of schema `version` wrote it, keeping the first
/// `keep` hashed columns: each row's hash is recomputed over those alone, chained as that
/// version chained them, and the later columns and the idle and meta tables are dropped.
pub fn downgrade(db: &Path, keep: usize, version: i64) {
    use rusqlite::types::Value;
    use tollgate_metering::audit::{genesis, row_hash, HASHED_COLUMNS};
    let conn = rusqlite::Connection::open(db).unwrap();
    let cols = HASHED_COLUMNS[..keep].join(", ");
    let rows: Vec<(i64, Vec<Value>)> = conn
        .prepare(&format!("SELECT id, {cols} FROM requests ORDER BY id"))
        .unwrap()
        .query_map([], |r| {
            let values = (0..keep).map(|i| r.get(i + 1)).collect::<Result<_, _>>()?;
            Ok((r.get(0)?, values))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = genesis();
    for (id, values) in rows {
        let hash = row_hash(&prev, &values);
        conn.execute(
            "UPDATE requests SET prev_hash = ?1, row_hash = ?2 WHERE id = ?3",
            rusqlite::params![prev, hash, id],
        )
        .unwrap();
        prev = hash;
    }
    for col in HASHED_COLUMNS[keep..].iter().rev() {
        conn.execute_batch(&format!("ALTER TABLE requests DROP COLUMN {col}"))
            .unwrap();
    }
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS idle; DROP TABLE IF EXISTS ledger_meta; \
         PRAGMA user_version = {version};"
    ))
    .unwrap();
}
