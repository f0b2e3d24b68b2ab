//! Scan throughput on ordinary prose, a pasted log/CSV, and a prompt dense with findings.

// Test and bench fixtures: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use tollgate_policies::{Detector, DetectorConfig};

const SIZE: usize = 64 * 1024;

fn repeat_to(unit: &str, size: usize) -> String {
    let mut s = String::with_capacity(size + unit.len());
    while s.len() < size {
        s.push_str(unit);
    }
    s
}

fn prose() -> String {
    repeat_to(
        "Please review the quarterly planning document and suggest how the team could reduce \
         the time it takes to onboard a new customer. We currently spend about two weeks on \
         configuration, and the key problem seems to be the handover between sales and support. \
         Der Bericht sollte auch die Kosten für das nächste Jahr berücksichtigen, und la réunion \
         de jeudi doit préparer une proposition claire; el equipo necesita una decisión pronto. \
         Think about tokens, passwords policy and the password reset flow in general terms.\n",
        SIZE,
    )
}

fn log_csv() -> String {
    let mut s = String::with_capacity(SIZE + 256);
    let mut i = 0u64;
    while s.len() < SIZE {
        i += 1;
        s.push_str(&format!(
            "2024-05-{:02} 10:{:02}:{:02}.{:03} INFO [worker-{}] 10.0.{}.{} GET /api/v2/orders/{} 200 {}ms req=3f2a{:04x}-9b1c-4e2d-8f00-{:012x}\n",
            i % 28 + 1, i % 60, (i * 7) % 60, i % 1000, i % 8, i % 10, i % 250 + 1, 100000 + i, i % 900, i % 65536, i
        ));
        if i % 4 == 3 {
            s.push_str(&format!(
                "SKU-{},Widget {},{}.{:02},{},2024-03-{:02}\n",
                1000 + i,
                i,
                i % 500,
                i % 100,
                i % 900,
                i % 28 + 1
            ));
        }
    }
    s
}

fn dense() -> String {
    repeat_to(
        "Mail anna.schmidt@web.de or call +49 30 12345678; card 4532 0151 1283 0366, \
         IBAN DE89 3704 0044 0532 0130 00, from 93.184.216.34, token ghp_R7f2kLq9ZxP4mN8vB3cT6yH1wJ5sD0aEuGi2, \
         password=Winter2024! and order 123456789 on 2024-01-15.\n",
        SIZE,
    )
}

fn bench(c: &mut Criterion) {
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let mut g = c.benchmark_group("scan");
    for (name, text) in [
        ("prose_64k", prose()),
        ("log_csv_64k", log_csv()),
        ("dense_64k", dense()),
    ] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, t| {
            b.iter(|| detector.scan(black_box(&[t.as_str()])))
        });
    }
    // The classify step's cost for a typical prompt: 2 KB of prose in one part.
    let mut prompt = prose();
    prompt.truncate(2048);
    while !prompt.is_char_boundary(prompt.len()) {
        prompt.pop();
    }
    g.throughput(Throughput::Bytes(prompt.len() as u64));
    g.bench_with_input(BenchmarkId::from_parameter("prompt_2k"), &prompt, |b, t| {
        b.iter(|| detector.scan(black_box(&[t.as_str()])))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
