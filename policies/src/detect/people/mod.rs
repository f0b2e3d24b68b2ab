//! People and what is said about them: person names, street addresses, dates of birth and
//! health details tied to a person, in English, German, French, Spanish, Italian, Dutch and
//! Portuguese.
//!
//! Birth cues are anchors of the detector's shared automaton, collected during its pass and
//! judged here afterwards, once the names of the text are known. Names are found by a byte
//! loop that looks only at capitalised words (`names`); addresses by one that looks only at
//! numbers, since every address the policy counts has a house number (`address`, `postcode`,
//! `public_place`). Health terms have an automaton of their own, run only around the names of
//! private persons (`health`), so texts naming nobody do not pay for it.

mod address;
mod dob;
mod fields;
mod health;
mod name_tables;
mod names;
mod postcode;
mod public_place;
mod words;

#[cfg(test)]
mod tests_dob_health;
#[cfg(test)]
mod tests_names_address;

use super::{Anchor, Finding, Kind, Sink};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use name_tables::NameTables;
use names::{Name, Public, Strength};
use std::sync::OnceLock;

const HEALTH_TERMS: &str = include_str!("data/health_terms.txt");
const HEALTH_CUES: &str = include_str!("data/health_cues.txt");

/// What a people cue is: a birth anchor of the shared automaton, or a match of the health
/// automaton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cue {
    /// A field label for a birth date ("DOB", "Geburtsdatum").
    BirthLabel,
    /// A word saying someone was born ("born", "geboren", "née le").
    Birth,
    /// A health term, matched as a whole word.
    HealthWord,
    /// The stem of health terms, matched at the start of a word ("diabet").
    HealthStem,
    /// A phrase stating a health fact ("diagnosed with", "leidet an").
    HealthPhrase,
}

/// The people anchors for the detector's automaton: birth labels and words. Health terms
/// have an automaton of their own, run only over texts that name a private person, so that
/// their thousand patterns cost nothing on the many texts that name nobody.
pub(crate) fn anchor_table() -> Vec<(&'static str, Anchor)> {
    let mut t: Vec<(&'static str, Anchor)> = Vec::new();
    t.extend(
        words::BIRTH_LABELS
            .iter()
            .map(|w| (*w, Anchor::People(Cue::BirthLabel))),
    );
    t.extend(
        words::BIRTH_WORDS
            .iter()
            .map(|w| (*w, Anchor::People(Cue::Birth))),
    );
    t
}

/// The health terms and phrases, with the cue each is.
fn health_table() -> Vec<(&'static str, Cue)> {
    let mut t = Vec::new();
    for line in data_lines(HEALTH_TERMS) {
        match line.strip_suffix('*') {
            Some(stem) => t.push((stem, Cue::HealthStem)),
            None => t.push((line, Cue::HealthWord)),
        }
    }
    t.extend(data_lines(HEALTH_CUES).map(|w| (w.trim_end_matches('*'), Cue::HealthPhrase)));
    t
}

/// The compiled health automaton, or `None` if it could not be built (then health details are
/// not looked for; the word lists are fixed, so this does not happen in practice).
struct HealthMatcher {
    automaton: Option<AhoCorasick>,
    cues: Vec<Cue>,
}

fn health_matcher() -> &'static HealthMatcher {
    static MATCHER: OnceLock<HealthMatcher> = OnceLock::new();
    MATCHER.get_or_init(|| {
        let table = health_table();
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(table.iter().map(|(p, _)| p))
            .ok();
        HealthMatcher {
            automaton,
            cues: table.iter().map(|(_, c)| *c).collect(),
        }
    })
}

fn data_lines(data: &'static str) -> impl Iterator<Item = &'static str> {
    data.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// People anchors found during the automaton's pass, judged by [`scan`].
#[derive(Debug, Default)]
pub(crate) struct Hits(Vec<(Cue, usize, usize)>);

impl Hits {
    /// Records cue `cue` at `start..end`.
    pub(crate) fn push(&mut self, cue: Cue, start: usize, end: usize) {
        self.0.push((cue, start, end));
    }
}

fn tables() -> &'static NameTables {
    static TABLES: OnceLock<NameTables> = OnceLock::new();
    TABLES.get_or_init(NameTables::new)
}

/// What the matchers know of one text part: its bytes and the names in it.
pub(super) struct Ctx<'a> {
    b: &'a [u8],
    names: Vec<Name>,
    public: Vec<Public>,
}

impl Ctx<'_> {
    /// Whether a private person's name (not a clinician's or an addressee's) lies within
    /// `before` bytes before `s` or `after` bytes after `e`, in the same paragraph, or heads
    /// the record the text is ("Patient: Henrik Steiner").
    fn person_near(&self, s: usize, e: usize, before: usize, after: usize) -> bool {
        let lo = paragraph_start(self.b, s, before);
        let hi = paragraph_end(self.b, e, after);
        // A "name" overlapping the detail itself ("Long Covid") is no person; nor is the
        // addressee of "Hi Anna, I was diagnosed with …", where the writer speaks of themself.
        let writer_speaks = self.first_person_before(s);
        self.names.iter().any(|n| {
            (n.subject || (n.end > lo && n.start < hi))
                && !(n.start < e && n.end > s)
                && !(n.addressee && writer_speaks)
                && matches!(n.strength, Strength::Strong | Strength::Weak)
        })
    }

    /// Whether a first-person word stands within 60 bytes before `s`, in the same sentence.
    fn first_person_before(&self, s: usize) -> bool {
        let lo = floor_char(self.b, s.saturating_sub(60));
        let lo = self.b[lo..s]
            .iter()
            .rposition(|c| matches!(c, b'.' | b'!' | b'?' | b'\n'))
            .map_or(lo, |p| lo + p + 1);
        self.b[lo..s]
            .split(|c| !(c.is_ascii_alphabetic() || *c == b'\'' || *c >= 0x80))
            .any(|w| words::in_list(w, words::FIRST_PERSON))
    }

    /// Whether the text names its writer (a `From:` header or a signature) and the writer
    /// speaks of themself within 100 bytes before `s`.
    fn writer_near(&self, s: usize) -> bool {
        if !self.names.iter().any(|n| n.author) {
            return false;
        }
        self.first_person_before(s)
    }

    /// Whether a public figure is named within `before` bytes before `s` or `after` after `e`.
    fn public_near(&self, s: usize, e: usize, before: usize, after: usize) -> bool {
        let lo = paragraph_start(self.b, s, before);
        let hi = paragraph_end(self.b, e, after);
        self.public.iter().any(|p| p.end > lo && p.start < hi)
    }
}

/// The start of the window of `max` bytes before `i`, cut at a blank line.
fn paragraph_start(b: &[u8], i: usize, max: usize) -> usize {
    let lo = i.saturating_sub(max);
    b[lo..i]
        .windows(2)
        .rposition(|w| w == b"\n\n")
        .map_or(lo, |p| lo + p + 2)
}

/// The end of the window of `max` bytes after `i`, cut at a blank line.
fn paragraph_end(b: &[u8], i: usize, max: usize) -> usize {
    let hi = (i + max).min(b.len());
    b[i..hi]
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(hi, |p| i + p)
}

/// Finds names, addresses, birth dates and health details in `b`, judging the people anchors
/// `hits` that the automaton found there.
pub(crate) fn scan(b: &[u8], hits: &Hits, sink: &mut Sink) {
    let mut ctx = Ctx {
        b,
        names: Vec::new(),
        public: Vec::new(),
    };
    names::find(tables(), b, &mut ctx.names, &mut ctx.public);
    let birth_cue = !hits.0.is_empty();
    for n in &ctx.names {
        sink.push(Kind::Person, n.start, n.end);
        if matches!(n.strength, Strength::Strong | Strength::Weak) {
            dob::after_name(&ctx, n.end, birth_cue, sink);
        }
    }
    for &(cue, s, e) in &hits.0 {
        dob::at(&ctx, cue, s, e, sink);
    }
    health_near_names(&ctx, sink);
    address::scan(b, &ctx.names, sink);
}

/// Runs the health automaton over the windows around private persons' names (the whole
/// text when it names its writer, who may speak of themself anywhere), so a text naming
/// nobody costs nothing and a long one naming a few people costs a few windows.
fn health_near_names(ctx: &Ctx, sink: &mut Sink) {
    let b = ctx.b;
    let Some(ac) = &health_matcher().automaton else {
        return;
    };
    let cues = &health_matcher().cues;
    let mut windows: Vec<(usize, usize)> = Vec::new();
    for n in &ctx.names {
        if !matches!(n.strength, Strength::Strong | Strength::Weak) {
            continue;
        }
        let (lo, hi) = (
            n.start.saturating_sub(health::AFTER + 64),
            (n.end + health::BEFORE + 64).min(b.len()),
        );
        match windows.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => windows.push((lo, hi)),
        }
    }
    if ctx.names.iter().any(|n| n.author || n.subject) {
        windows = vec![(0, b.len())];
    }
    for (lo, hi) in windows {
        let input = aho_corasick::Input::new(b).range(floor_char(b, lo)..floor_char(b, hi));
        for m in ac.find_iter(input) {
            health::at(ctx, cues[m.pattern().as_usize()], m.start(), m.end(), sink);
        }
    }
}

/// Drops every person finding unless the request has a finding of another kind: a name alone
/// is not sensitive, but where a request is, its names are redacted with the rest.
pub(crate) fn retain_persons(findings: &mut Vec<Finding>) {
    if findings.iter().all(|f| f.kind == Kind::Person) {
        findings.clear();
    }
}

/// Floors `i` to a UTF-8 character boundary of `b`.
pub(super) fn floor_char(b: &[u8], mut i: usize) -> usize {
    i = i.min(b.len());
    while i > 0 && i < b.len() && (b[i] & 0xc0) == 0x80 {
        i -= 1;
    }
    i
}
