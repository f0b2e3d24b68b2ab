//! Health details tied to a person: a condition, diagnosis, procedure, finding or medicine
//! (with its dose) near the name of a private person. A health topic with nobody named, or a
//! first-person disclosure without a name, is not personal data under the policy; a writer
//! named in a `From:` header or a signature who speaks of themself is identified.

use super::{Ctx, Cue, Sink};
use crate::detect::text::{ends_token, run_end, run_start};
use crate::detect::Kind;

/// How far before a health detail a person's name ties it to them.
pub(super) const BEFORE: usize = 320;
/// How far after a health detail a person's name ties it to them.
pub(super) const AFTER: usize = 200;

/// Long terms that end everyday English words ("keystroke").
const NOT_IN_COMPOUNDS: &[&str] = &["stroke", "seizures", "allergy"];

/// Five-letter terms that end German and Dutch compounds ("Darmkrebs", "Hirntumor").
const SHORT_HEADS: &[&str] = &["krebs", "tumor"];

/// Dose units that may follow a medicine ("metformin 500 mg").
const UNITS: &[&[u8]] = &[
    b"mg",
    b"mcg",
    b"\xc2\xb5g",
    b"g",
    b"ml",
    b"mL",
    b"IE",
    b"IU",
    b"UI",
    b"units",
    b"E",
    b"%",
];

/// Handles a health anchor at `s..e`.
pub(super) fn at(ctx: &Ctx, cue: Cue, s: usize, e: usize, sink: &mut Sink) {
    let b = ctx.b;
    let word_start = run_start(b, s, |c| c.is_ascii_alphabetic() || c >= 0x80);
    let whole = ends_token(b, e) || !b[e - 1].is_ascii_alphanumeric();
    // German and Dutch glue terms into compounds: a long term may start a compound
    // ("borstkanker|operatie") or end one ("Alkohol|abhängigkeit"), with a real word on the
    // other side; "Operador" and "specialistica" are not compounds of "operado" and "cialis".
    let word_end = run_end(b, e, |c| c.is_ascii_alphabetic() || c >= 0x80);
    let long = cue != Cue::HealthPhrase
        && e - s >= 6
        && !NOT_IN_COMPOUNDS
            .iter()
            .any(|w| b[s..e].eq_ignore_ascii_case(w.as_bytes()));
    // Five-letter heads of German compounds ("Hautkrebs", "Hirntumor") count at the end only.
    let short_head = e - s == 5
        && SHORT_HEADS
            .iter()
            .any(|w| b[s..e].eq_ignore_ascii_case(w.as_bytes()));
    let compound = (long
        && ((word_start == s && word_end >= e + 4) || (word_end == e && s >= word_start + 3)))
        || (short_head && word_end == e && s >= word_start + 4);
    if word_start < s && !compound {
        return;
    }
    if cue != Cue::HealthStem && !whole && !compound {
        return;
    }
    let s = word_start;
    let tied = ctx.person_near(s, e, BEFORE, AFTER) || ctx.writer_near(s);
    if !tied || ctx.public_near(s, e, 120, 40) {
        return;
    }
    let end = match cue {
        // "diagnosed with <condition>": the condition is the clause after the cue.
        Cue::HealthPhrase => clause_end(b, e),
        _ => dose_end(
            b,
            run_end(b, e, |c| c.is_ascii_alphabetic() || c >= 0x80 || c == b'-'),
        ),
    };
    sink.push(Kind::Health, s, end);
}

/// The end of the clause after `e` (the next punctuation or line break, at most 60 bytes).
fn clause_end(b: &[u8], e: usize) -> usize {
    let hi = super::floor_char(b, (e + 60).min(b.len()));
    b[e..hi]
        .iter()
        .position(|c| matches!(c, b'.' | b',' | b';' | b'!' | b'?' | b'\n' | b'(' | b')'))
        .map_or(hi, |p| e + p)
}

/// The end of a dose after a medicine ending at `e` ("500 mg", "10mg", "2 x 5 mg").
fn dose_end(b: &[u8], e: usize) -> usize {
    let mut j = run_end(b, e, |c| c == b' ');
    let ds = j;
    j = run_end(b, j, |c| c.is_ascii_digit() || c == b'.' || c == b',');
    if j == ds || !b[ds].is_ascii_digit() {
        return e;
    }
    while j > ds && !b[j - 1].is_ascii_digit() {
        j -= 1;
    }
    let us = run_end(b, j, |c| c == b' ');
    for u in UNITS {
        if b[us..].starts_with(u) && ends_token(b, us + u.len()) {
            return us + u.len();
        }
    }
    e
}
