//! Prompt-level recall and false-positive rate of the detector on the independently written
//! corpus (`tests/corpus/independent/`), labelled from the sensitivity policy alone by writers
//! who never read the detector. Each set was kept unseen until measured once, after which it
//! joined what the detector may be tuned against: `dev/`, then `holdout/` to `holdout21/`.
//! Each set is reported overall, per language, per kind and per near-miss tag, with Wilson
//! 95% intervals, and gated just under what it measured.
//!
//! `TOLLGATE_CORPUS_DIR=DIR` evaluates the `*.jsonl` files of another folder instead;
//! `TOLLGATE_CORPUS_MISSES=1` lists every miss, false positive and missed kind by id.

// Test fixtures: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod corpus_report;

use corpus_report::{corpus_dir, evaluate, gate, Floors};

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
    // 96.8% / 0.9%; after the holdout17 round 98.1% / 0.6%.
    let floors = Floors {
        recall: 0.975,
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
    // 0.0-8.3% fpr (from 50 to 105 prompts each). Then tuned against: 99.0% / 1.1%; after
    // the holdout17 round 100.0% / 1.1%, every language 100% recall, <= 3.1% fpr.
    let floors = Floors {
        recall: 0.995,
        fpr: 0.015,
        lang_recall: 0.99,
        lang_fpr: 0.035,
    };
    gate("holdout16", &report, &floors);
}

#[test]
fn independent_seventeenth_holdout_corpus() {
    let report = evaluate("holdout17", &corpus_dir("holdout17"));
    // 880 prompts (399 sensitive, 481 benign, 44 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout16/`, and
    // measured once with it frozen, aggregates only: 98.2% / 1.9% overall; languages
    // 96.0-100% recall, 0.0-5.0% fpr (from 50 to 109 prompts each). Then tuned against:
    // 99.7% / 0.6%.
    let floors = Floors {
        recall: 0.99,
        fpr: 0.01,
        lang_recall: 0.975,
        lang_fpr: 0.02,
    };
    gate("holdout17", &report, &floors);
}

#[test]
fn independent_eighteenth_holdout_corpus() {
    let report = evaluate("holdout18", &corpus_dir("holdout18"));
    // 880 prompts (398 sensitive, 482 benign, 46 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout17/`, and
    // measured once with it frozen, aggregates only: 97.2% / 1.7% overall (the same as the
    // detector before the holdout17 round); languages 94.0-100% recall, 0.0-3.0% fpr (from
    // 49 to 103 prompts each). Then tuned against: 99.0% / 1.7%.
    let floors = Floors {
        recall: 0.985,
        fpr: 0.02,
        lang_recall: 0.955,
        lang_fpr: 0.035,
    };
    gate("holdout18", &report, &floors);
}

#[test]
fn independent_nineteenth_holdout_corpus() {
    let report = evaluate("holdout19", &corpus_dir("holdout19"));
    // 880 prompts (408 sensitive, 472 benign, 50 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout18/`, and
    // measured once with it frozen, aggregates only: 96.3% / 1.3% overall; languages
    // 90.2-100% recall, 0.0-1.8% fpr (from 50 to 119 prompts each). Then tuned against:
    // 98.5% / 0.6%; after the holdout20 and holdout21 rounds 99.0% / 0.6%.
    let floors = Floors {
        recall: 0.98,
        fpr: 0.01,
        lang_recall: 0.955,
        lang_fpr: 0.025,
    };
    gate("holdout19", &report, &floors);
}

#[test]
fn independent_twentieth_holdout_corpus() {
    let report = evaluate("holdout20", &corpus_dir("holdout20"));
    // 880 prompts (409 sensitive, 471 benign, 49 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout19/`, and
    // measured once with it frozen, aggregates only: 96.3% / 1.1% overall (the detector
    // before the holdout19 round: 96.1% / 1.1%); languages 89.6-100% recall, 0.0-1.8% fpr
    // (from 48 to 118 prompts each). Then tuned against: 97.8% / 0.2%; after the holdout21
    // round 98.0% / 0.2%.
    let floors = Floors {
        recall: 0.975,
        fpr: 0.01,
        lang_recall: 0.93,
        lang_fpr: 0.025,
    };
    gate("holdout20", &report, &floors);
}

#[test]
fn independent_twenty_first_holdout_corpus() {
    let report = evaluate("holdout21", &corpus_dir("holdout21"));
    // 880 prompts (408 sensitive, 472 benign, 48 obfuscated) by four more writers who read
    // only the policy, written while the detector was being tuned against `holdout20/`, and
    // measured once with it frozen, aggregates only: 95.8% / 0.6% overall (the detector
    // before the holdout19 round: 94.6% / 0.8%); languages 92.2-100% recall, 0.0-1.7% fpr
    // (from 50 to 117 prompts each). Then tuned against: 97.8% / 0.6%.
    let floors = Floors {
        recall: 0.975,
        fpr: 0.01,
        lang_recall: 0.935,
        lang_fpr: 0.025,
    };
    gate("holdout21", &report, &floors);
}
