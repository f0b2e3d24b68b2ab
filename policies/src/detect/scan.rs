//! The scan pipeline: normalise a part where it needs it, match anchors and digit-led
//! values, decode and scan encoded blobs, map findings back to the original offsets, look at
//! the seams between consecutive parts, and resolve overlaps.

use super::blobs;
use super::normalize::Normalized;
use super::text::{run_end, run_start};
use super::{chat, context, ids, mrz, number_words, numeric, people, secrets, spelled, split};
use super::{Anchor, Detector, Finding, Kind, Sink, Tables};

/// How deep decoded blobs are searched for further blobs.
const MAX_DEPTH: u8 = 2;

/// What the anchor pass saw for the later matchers: people cues and continuation words.
#[derive(Default)]
struct Seen {
    people: people::Hits,
    cues: Vec<(usize, usize)>,
}

/// Bytes before a blob scanned with its decoded text.
const BLOB_CONTEXT: usize = 48;

/// Bytes of each part that a seam scan joins: enough for the longest split value (an IBAN
/// or card number in groups, an e-mail address), small enough to cost nothing.
const SEAM: usize = 72;

impl Detector {
    /// A fresh sink for the findings of `part`, with nothing learnt about its text yet.
    fn sink<'a>(&'a self, part: usize, out: &'a mut Vec<Finding>) -> Sink<'a> {
        Sink {
            part,
            out,
            enabled: &self.enabled,
            plans: &self.plans,
            tables: Tables::new((usize::MAX, 0, 0)),
            versions: &self.versions,
        }
    }

    pub(super) fn scan_all<'t>(
        &self,
        parts: impl IntoIterator<Item = (usize, &'t str)>,
    ) -> Vec<Finding> {
        let mut budget = blobs::DECODE_BUDGET;
        let mut out = Vec::new();
        let mut prev: Option<(usize, &str)> = None;
        for (part, text) in parts {
            self.scan_text(part, text, 0, &mut budget, &mut out);
            if let Some(p) = prev {
                self.scan_seam(p, (part, text), &mut budget, &mut out);
            }
            prev = Some((part, text));
        }
        resolve_overlaps(&mut out);
        // A name alone is not sensitive: names stay only beside another finding.
        people::retain_persons(&mut out);
        out
    }

    /// Scans one text, pushing findings (in its own offsets) tagged with `part`.
    fn scan_text(
        &self,
        part: usize,
        text: &str,
        depth: u8,
        budget: &mut usize,
        out: &mut Vec<Finding>,
    ) {
        let first = out.len();
        let mut norm = Normalized::chars(text);
        let (has_digit, has_run) = shape(norm.text.as_bytes());
        let spaced = (has_digit && super::spaced::has_spaced_value(norm.text.as_bytes()))
            || chat::has_joins(norm.text.as_bytes());
        let mut seen = Seen::default();
        if self.match_anchors(part, &norm.text, true, has_digit, &mut seen, out) || spaced {
            if let Some((t, edits)) = spelled::rewrite(&norm.text) {
                out.truncate(first);
                seen = Seen::default();
                norm.push(t, edits);
                self.match_anchors(part, &norm.text, false, true, &mut seen, out);
            }
        }
        let Seen { people: hits, cues } = seen;
        let mut sink = self.sink(part, out);
        numeric::scan(norm.text.as_bytes(), &mut sink);
        mrz::scan(norm.text.as_bytes(), &mut sink);
        people::scan(norm.text.as_bytes(), &hits, &mut sink);
        if depth < MAX_DEPTH && !cues.is_empty() {
            self.scan_split(part, &norm.text, &cues, first, budget, out);
        }
        if depth < MAX_DEPTH && *budget > 0 && has_run {
            let found = blobs::text_blobs(norm.text.as_bytes(), budget);
            for (s, e, decoded) in found {
                self.scan_blob(part, &norm.text, (s, e, &decoded), depth, budget, out);
            }
        }
        if !norm.is_identity() {
            for f in &mut out[first..] {
                (f.start, f.end) = norm.map(f.start, f.end);
            }
        }
    }

    /// Runs the anchor automaton; returns whether it saw a spelling to rewrite (only
    /// looked for when `spellings` is set).
    fn match_anchors(
        &self,
        part: usize,
        text: &str,
        spellings: bool,
        has_digit: bool,
        seen: &mut Seen,
        out: &mut Vec<Finding>,
    ) -> bool {
        let mut sink = self.sink(part, out);
        let bytes = text.as_bytes();
        let mut spelled_seen = false;
        for m in self.anchors.find_iter(bytes) {
            let anchor = self.anchor_kinds[m.pattern().as_usize()];
            let (s, e) = (m.start(), m.end());
            if m.pattern().as_usize() >= self.spelling_from {
                if spellings && !spelled_seen {
                    // The marker may start with the space before `at`.
                    let at = if bytes[s] == b' ' { s + 1 } else { s };
                    spelled_seen =
                        spelled::starts_spelling(text, at) || spelled::starts_spelling(text, s + 1);
                }
                continue;
            }
            match anchor {
                Anchor::IdDocument | Anchor::Ssn | Anchor::PhoneWord => {
                    if spellings && !spelled_seen {
                        spelled_seen = number_words::run_in(text, e, 80);
                    }
                    ids::on_anchor(bytes, s, e, anchor, &mut sink)
                }
                Anchor::Prefix => secrets::prefixed(bytes, s, &mut sink),
                Anchor::People(cue) => seen.people.push(cue, s, e),
                _ => context::on_anchor(bytes, s, e, anchor, &mut sink),
            }
        }
        if has_digit {
            for m in self.id_anchors.find_iter(bytes) {
                match self.id_anchor_kinds[m.pattern().as_usize()] {
                    // A cue is a word of its own: "o segundo", not "do segundo dígito";
                    // "poi", not "points"; "the rest", not "the restaurant".
                    Anchor::Continuation
                        if (!bytes[m.start()].is_ascii_alphabetic()
                            || super::text::starts_token(bytes, m.start()))
                            && (!bytes[m.end() - 1].is_ascii_alphanumeric()
                                || super::text::ends_token(bytes, m.end())) =>
                    {
                        seen.cues.push((m.start(), m.end()))
                    }
                    Anchor::Continuation => {}
                    anchor => ids::on_anchor(bytes, m.start(), m.end(), anchor, &mut sink),
                }
            }
        }
        spelled_seen
    }

    /// Scans the decoded text of the blob at `s..e` of `text`, alone and after the words
    /// before the blob, which say what it holds ("data di nascita MTIv…", "the password,
    /// base64: …"), and reports each kind found inside over the whole blob: the blob is what
    /// must go.
    fn scan_blob(
        &self,
        part: usize,
        text: &str,
        (s, e, decoded): (usize, usize, &str),
        depth: u8,
        budget: &mut usize,
        out: &mut Vec<Finding>,
    ) {
        let mut inner = Vec::new();
        self.scan_text(part, decoded, depth + 1, budget, &mut inner);
        let alone = inner.len();
        let mut lo = s.saturating_sub(BLOB_CONTEXT);
        while !text.is_char_boundary(lo) {
            lo += 1;
        }
        let context = &text[lo..s];
        if !context.is_empty() {
            self.scan_text(
                part,
                &format!("{context}{decoded}"),
                depth + 1,
                budget,
                &mut inner,
            );
        }
        // A secret whose name is in the context and whose value is all the decoded text
        // (`token: <a JWT's header>`) is one only when that text is one word.
        let word =
            strong_word(decoded.as_bytes()) && !decoded.bytes().any(|c| matches!(c, b'"' | b'{'));
        let keep = |k: usize, f: &Finding| {
            let named_outside = f.start <= context.len()
                && matches!(
                    f.kind,
                    Kind::GenericSecret | Kind::AwsSecretKey | Kind::Password
                );
            f.kind != Kind::Person
                && (k < alone || (f.end > context.len() && (word || !named_outside)))
        };
        let kinds: Vec<Kind> = inner
            .iter()
            .enumerate()
            .filter(|(k, f)| keep(*k, f))
            .map(|(_, f)| f.kind)
            .collect();
        for kind in kinds {
            out.push(Finding {
                kind,
                part,
                start: s,
                end: e,
            });
        }
    }

    /// Finds values given in two pieces around a continuation word in `text` (see `split`),
    /// and reports each over both pieces, unless one of the pieces is that value by itself
    /// (among the findings of this text from `first` on).
    fn scan_split(
        &self,
        part: usize,
        text: &str,
        cues: &[(usize, usize)],
        first: usize,
        budget: &mut usize,
        out: &mut Vec<Finding>,
    ) {
        for j in split::candidates(text, cues) {
            let mut found = Vec::new();
            self.scan_text(part, &j.text, MAX_DEPTH, budget, &mut found);
            let resume = j.text.len() - (j.second.1 - j.second.0);
            // One half may pass for a password by itself; the password is both.
            if j.password && strong_word(&j.text.as_bytes()[j.first_at..]) {
                for (start, end) in [j.first, j.second] {
                    out.push(Finding {
                        kind: Kind::Password,
                        part,
                        start,
                        end,
                    });
                }
                continue;
            }
            for f in found.into_iter().filter(|f| f.kind != Kind::Person) {
                let whole = |(s, e): (usize, usize)| {
                    out[first..]
                        .iter()
                        .any(|g| g.kind == f.kind && g.start < e && s < g.end)
                };
                let spans = f.start < j.join && f.end > resume && f.end > j.first_at;
                if spans && !whole(j.first) && !whole(j.second) {
                    for (start, end) in [j.first, j.second] {
                        out.push(Finding {
                            kind: f.kind,
                            part,
                            start,
                            end,
                        });
                    }
                }
            }
        }
    }

    /// Finds values that start at the end of part `a` and continue at the start of part `b`
    /// (a card number over two messages), joined directly and with a space, and reports
    /// each in both parts.
    fn scan_seam(
        &self,
        (pa, a): (usize, &str),
        (pb, b): (usize, &str),
        budget: &mut usize,
        out: &mut Vec<Finding>,
    ) {
        let mut from = a.len().saturating_sub(SEAM);
        while !a.is_char_boundary(from) {
            from += 1;
        }
        let mut to = SEAM.min(b.len());
        while !b.is_char_boundary(to) {
            to -= 1;
        }
        let (tail, head) = (&a[from..], &b[..to]);
        let touching = |c: Option<char>| c.is_some_and(|c| !c.is_whitespace());
        if !touching(tail.trim_end().chars().last()) || !touching(head.trim_start().chars().next())
        {
            return;
        }
        let mut joined = String::with_capacity(tail.len() + head.len() + 1);
        for sep in ["", " "] {
            joined.clear();
            joined.push_str(tail);
            joined.push_str(sep);
            joined.push_str(head);
            let mut found = Vec::new();
            self.scan_text(pa, &joined, MAX_DEPTH, budget, &mut found);
            let (cut, resume) = (tail.len(), tail.len() + sep.len());
            // A name is not split across messages; a seam only ever glues two words into one.
            for f in found.into_iter().filter(|f| f.kind != Kind::Person) {
                let (start, end) = (from + f.start, f.end.saturating_sub(resume));
                // A value found whole in either part is not split: the seam only glued a
                // neighbouring field onto it (`…@libero.it` + `notify`).
                let whole = |part: usize, s: usize, e: usize| {
                    out.iter()
                        .any(|g| g.part == part && g.kind == f.kind && g.start < e && s < g.end)
                };
                if f.start < cut
                    && f.end > resume
                    && start < a.len()
                    && end > 0
                    && !whole(pa, start, a.len())
                    && !whole(pb, 0, end)
                {
                    out.push(Finding {
                        kind: f.kind,
                        part: pa,
                        start,
                        end: a.len(),
                    });
                    out.push(Finding {
                        kind: f.kind,
                        part: pb,
                        start: 0,
                        end,
                    });
                }
            }
        }
    }
}

/// One word of 8 to 64 characters of at least three classes, with a digit: a password.
fn strong_word(v: &[u8]) -> bool {
    (8..=64).contains(&v.len())
        && !v.iter().any(u8::is_ascii_whitespace)
        && v.iter().any(u8::is_ascii_digit)
        && super::validate::char_classes(v) >= 3
}

/// One pass that tells the later ones what they may skip: whether the text has a digit (no
/// identifier, phone or spelled-out value without one) and a run of base64 characters long
/// enough to be a blob.
///
/// It works on aligned 8-byte blocks, each tested without branches: a run of at least
/// `MIN_RUN` (16) bytes covers at least one whole block, so only blocks made entirely of
/// base64 characters are measured byte by byte.
fn shape(b: &[u8]) -> (bool, bool) {
    const _: () = assert!(blobs::MIN_RUN >= 2 * BLOCK - 1);
    const BLOCK: usize = 8;
    let (mut digit, mut long) = (false, false);
    let blocks = b.chunks_exact(BLOCK);
    digit |= blocks.remainder().iter().any(u8::is_ascii_digit);
    for (k, block) in blocks.enumerate() {
        digit |= block
            .iter()
            .fold(false, |a, c| a | (c.wrapping_sub(b'0') < 10));
        if !long && block.iter().fold(true, |a, &c| a & blobs::run_char(c)) {
            let at = k * BLOCK;
            let run = run_end(b, at + BLOCK, blobs::run_char) - run_start(b, at, blobs::run_char);
            long = run >= blobs::MIN_RUN;
        }
        if digit && long {
            break;
        }
    }
    (digit, long)
}

/// Orders findings by part and offset, and of overlapping findings in a part keeps the most
/// specific (a JWT over a generic secret, a password over the e-mail-like `user:pass@host`),
/// else the first.
fn resolve_overlaps(out: &mut Vec<Finding>) {
    out.sort_unstable_by_key(|f| (f.part, f.start, std::cmp::Reverse(f.end)));
    let mut keep = 0;
    for i in 0..out.len() {
        if keep > 0 && out[i].part == out[keep - 1].part && out[i].start < out[keep - 1].end {
            if out[i].kind.specificity() > out[keep - 1].kind.specificity() {
                out[keep - 1] = out[i];
            }
            continue;
        }
        out[keep] = out[i];
        keep += 1;
    }
    out.truncate(keep);
}

#[cfg(test)]
mod tests {
    use super::{blobs, shape};
    use proptest::prelude::*;

    /// The definition `shape` speeds up: any digit, and any run of `MIN_RUN` base64 bytes.
    fn shape_bytewise(b: &[u8]) -> (bool, bool) {
        let digit = b.iter().any(u8::is_ascii_digit);
        let long = b
            .split(|&c| !blobs::run_char(c))
            .any(|run| run.len() >= blobs::MIN_RUN);
        (digit, long)
    }

    #[test]
    fn a_run_at_every_offset_and_length_is_seen() {
        for lead in 0..20 {
            for len in 10..40 {
                let text = format!("{}{}{}", " ".repeat(lead), "a".repeat(len), " .".repeat(5));
                assert_eq!(shape(text.as_bytes()), (false, len >= 16), "{lead} {len}");
            }
        }
        assert_eq!(shape(b"abc 7"), (true, false));
    }

    proptest! {
        #[test]
        fn shape_matches_the_bytewise_definition(
            b in proptest::collection::vec(prop::sample::select(b"ab9=_ .\xc3".to_vec()), 0..200)
        ) {
            prop_assert_eq!(shape(&b), shape_bytewise(&b));
        }
    }
}
