//! Person names: capitalised tokens checked against compiled given-name and surname lists,
//! honorifics, role words ("patient", "my colleague"), `Name:` fields and signature lines.
//! Well-known public figures are recognised so that they are neither reported nor taken as
//! the person that a health detail or birth date belongs to.
//!
//! Only capitalised tokens are looked up, and each lookup is one hash of the lower-cased token
//! into a set of hashes, so plain prose costs a byte loop and a few lookups per sentence.

use super::name_tables::{key, NameTables, GIVEN_NAME, NOT_NAME, PUBLIC_PART, STARTER, SURNAME};
use super::words::{contains_fold, in_list, CLOSINGS, FROM_LABELS, GREETINGS, SUBJECT_LABELS};

/// How sure the matcher is that a span names a private person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strength {
    /// A listed given name on its own ("my friend Anna").
    Weak,
    /// A full name, a name after an honorific, role word or label, or a signature.
    Strong,
    /// A doctor or professor by title: a person, but not the one a diagnosis is about.
    Clinician,
}

/// A person's name found in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Name {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// How sure the match is.
    pub strength: Strength,
    /// Whether the name is the writer's: a `From:` header or a signature.
    pub author: bool,
    /// Whether the name is the addressee's, after a greeting ("Hi Anna,").
    pub addressee: bool,
    /// Whether the name heads a record as its subject ("Patient: Henrik Steiner").
    pub subject: bool,
}

/// A public figure's name found in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Public {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

/// Whether the character starting at `b[i]` is an upper-case letter.
fn upper_at(b: &[u8], i: usize) -> bool {
    let c = b[i];
    if c.is_ascii_uppercase() {
        return true;
    }
    c >= 0xc3 && decode(b, i).is_some_and(char::is_uppercase)
}

/// The character starting at `b[i]`, if `i` starts one.
fn decode(b: &[u8], i: usize) -> Option<char> {
    let len = match b[i] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    std::str::from_utf8(b.get(i..i + len)?).ok()?.chars().next()
}

/// The length of the letter starting at `b[i]`, or 0 when there is none.
fn letter_len(b: &[u8], i: usize) -> usize {
    let c = b[i];
    if c.is_ascii_alphabetic() {
        1
    } else if c >= 0xc0 {
        decode(b, i)
            .filter(|ch| ch.is_alphabetic())
            .map_or(0, char::len_utf8)
    } else {
        0
    }
}

/// The end of the word starting at `i`: letters, with inner hyphens and apostrophes
/// ("Jean-Pierre", "O'Brien").
pub(super) fn word_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() {
        let n = letter_len(b, j);
        if n > 0 {
            j += n;
        } else if b[j] == b'\''
            && b.get(j + 1) == Some(&b's')
            && b.get(j + 2)
                .is_none_or(|c| letter_len(b, j + 2) == 0 && !c.is_ascii_alphabetic())
        {
            // A possessive ("Anna's") is not part of the name.
            break;
        } else if matches!(b[j], b'-' | b'\'')
            && j > i
            && j + 1 < b.len()
            && letter_len(b, j + 1) > 0
        {
            j += 1;
        } else {
            break;
        }
    }
    j
}

/// A word of the text.
#[derive(Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
}

/// The word right after `i` on the same line, past one or two spaces.
fn next_word(b: &[u8], mut i: usize) -> Option<Tok> {
    let mut spaces = 0;
    while i < b.len() && b[i] == b' ' {
        i += 1;
        spaces += 1;
    }
    if spaces == 0 || spaces > 2 || i >= b.len() {
        return None;
    }
    let e = word_end(b, i);
    (e > i).then_some(Tok { start: i, end: e })
}

/// The word ending right before `i` (periods inside and at the end kept, as in "sig.ra",
/// "dhr."), and whether a `:` stood between.
fn prev_word(b: &[u8], i: usize) -> Option<(&[u8], bool)> {
    let mut j = i;
    while j > 0 && b[j - 1] == b' ' {
        j -= 1;
    }
    let colon = j > 0 && b[j - 1] == b':';
    if colon {
        j -= 1;
        while j > 0 && b[j - 1] == b' ' {
            j -= 1;
        }
    }
    if j == i && !colon {
        return None;
    }
    let mut s = j;
    while s > 0 && (b[s - 1].is_ascii_alphabetic() || b[s - 1] >= 0x80 || b[s - 1] == b'.') {
        s -= 1;
    }
    (s < j).then(|| (&b[s..j], colon))
}

/// Upper-case first letter; an all-capitals token only from four letters and beside another
/// all-capitals word ("IKER ETXEBERRIA" in a form or on a label, but not "HR", "USA", or
/// "LADA" in a sentence).
fn capitalised(b: &[u8], t: Tok) -> bool {
    if !upper_at(b, t.start) {
        return false;
    }
    let rest = &b[t.start + 1..t.end];
    let caps = |w: &[u8]| w.len() >= 2 && w.iter().all(|c| !c.is_ascii_lowercase());
    rest.iter().any(|c| c.is_ascii_lowercase() || *c >= 0xc3)
        || (t.end - t.start >= 4
            && (next_word(b, t.end).is_some_and(|n| caps(&b[n.start..n.end]))
                || prev_word(b, t.start).is_some_and(|(w, _)| caps(w))))
}

/// What the lists say of a word.
#[derive(Clone, Copy, Default)]
struct Facts {
    given: bool,
    surname: bool,
    stop: bool,
    public_part: bool,
}

impl Facts {
    /// The facts of a word; a hyphenated one not listed whole ("Jana-Marie",
    /// "Schmidt-Kowalski") is a given name when each part is one, a surname when each part is
    /// a name of either sort.
    fn of_word(t: &NameTables, w: &[u8]) -> Facts {
        let whole = Facts::of(t, key(w));
        if whole.given || whole.surname || whole.stop || !w.contains(&b'-') {
            return whole;
        }
        let parts: Vec<Facts> = w
            .split(|c| *c == b'-')
            .map(|p| Facts::of(t, key(p)))
            .collect();
        let named = |f: &Facts| (f.given || f.surname) && !f.stop;
        Facts {
            given: parts.iter().all(|f| f.given && !f.stop),
            surname: parts.iter().all(named) && !parts.iter().all(|f| f.given),
            ..whole
        }
    }

    fn of(t: &NameTables, h: u64) -> Facts {
        let x = t.bits(h);
        Facts {
            given: x & GIVEN_NAME != 0,
            surname: x & SURNAME != 0,
            stop: x & NOT_NAME != 0,
            public_part: x & PUBLIC_PART != 0,
        }
    }
}

/// Whether `i` starts a line that follows a letter's closing.
fn at_signature(b: &[u8], i: usize) -> bool {
    i > 0 && b[i - 1] == b'\n' && after_closing(b, i)
}

/// Whether the line before `line_start` is a letter's closing ("Best regards,").
fn after_closing(b: &[u8], line_start: usize) -> bool {
    if line_start == 0 {
        return false;
    }
    let prev_end = line_start - 1;
    let lo = prev_end.saturating_sub(48);
    let Some(prev_start) = b[lo..prev_end]
        .iter()
        .rposition(|c| *c == b'\n')
        .map(|p| lo + p + 1)
        .or((lo == 0).then_some(0))
    else {
        return false;
    };
    let line = &b[prev_start..prev_end];
    line.len() < 48 && CLOSINGS.iter().any(|c| contains_fold(line, c))
}

/// Finds the names and public figures in `b`.
pub(super) fn find(t: &NameTables, b: &[u8], names: &mut Vec<Name>, public: &mut Vec<Public>) {
    let mut i = 0;
    loop {
        // Prefilter: only a capital at the start of a word is looked at.
        i = crate::detect::text::skip_to(b, i, |c| c.wrapping_sub(b'A') < 26 || c >= 0xc3);
        if i >= b.len() {
            break;
        }
        let c = b[i];
        let lower_latin1 = c == 0xc3 && b.get(i + 1).is_some_and(|n| *n >= 0x9f);
        if lower_latin1
            || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || (b[i - 1] >= 0x80 && c < 0x80)))
            || !upper_at(b, i)
        {
            i += 1;
            continue;
        }
        let e = word_end(b, i);
        if e == i {
            i += 1;
            continue;
        }
        i = group(t, b, Tok { start: i, end: e }, names, public).max(e);
    }
    // "Hospital Universitario La Paz", "Museo Reina Sofía": a place named after someone, who
    // is no one mentioned ("Via Dante Alighieri 63" beside a CV's birth date).
    names.retain(|n| !place_led(b, n.start));
    public.retain(|p| !place_led(b, p.start));
}

/// Whether the word right before `i` is a preposition of place or an article.
fn place_or_article_before(b: &[u8], i: usize) -> bool {
    const WORDS: &[&str] = &[
        // Not "en": Dutch for "and" ("Jan en Anna").
        "in", "the", "nach", "aus", "der", "die", "das", "dem", "den", "des", "naar", "uit", "het",
        "em", "no", "na",
    ];
    prev_word(b, i).is_some_and(|(w, colon)| !colon && in_list(w, WORDS))
}

/// Street types written before the street's name, which is often a person's.
const STREET_LEADS: &[&str] = &[
    "calle",
    "avenida",
    "paseo",
    "plaza",
    "via",
    "viale",
    "corso",
    "piazza",
    "largo",
    "rue",
    "avenue",
    "boulevard",
    "rua",
    "praça",
    "travessa",
    "heol",
];

/// Whether the capitalised words and particles right before `i` on its line include a
/// public place word or a street type.
fn place_led(b: &[u8], i: usize) -> bool {
    let mut j = i;
    for _ in 0..4 {
        if j == 0 || b[j - 1] != b' ' {
            return false;
        }
        let we = j - 1;
        let mut ws = we;
        while ws > 0 && (b[ws - 1].is_ascii_alphabetic() || b[ws - 1] >= 0x80) {
            ws -= 1;
        }
        if ws == we {
            return false;
        }
        let w = &b[ws..we];
        // A place word, or a street's type ("Calle de Ruiz de Alarcón").
        if super::words::PUBLIC_PLACE_WORDS
            .iter()
            .chain(STREET_LEADS)
            .any(|p| super::words::eq_fold(w, p.as_bytes()))
        {
            return true;
        }
        let particle = w.len() <= 3 && w[0].is_ascii_lowercase();
        if !(particle || upper_at(b, ws)) {
            return false;
        }
        j = ws;
    }
    false
}

/// The honorific or role word that `tok` is, with its end ("Dr." and "Sig.ra" included).
fn title_at(t: &NameTables, b: &[u8], tok: Tok) -> Option<(usize, bool)> {
    // Titles and role words are short; most capitalised words are not one.
    if tok.end - tok.start > 13 {
        return None;
    }
    let k0 = key(&b[tok.start..tok.end]);
    if b.get(tok.end) == Some(&b'.') {
        let mut end = tok.end + 1;
        let more = word_end(b, end);
        if more > end && more - end <= 3 {
            end = more;
        }
        let k = key(&b[tok.start..end]);
        if t.honorifics.contains(&k) {
            return Some((end, t.clinicians.contains(&k)));
        }
    }
    if t.honorifics.contains(&k0) {
        return Some((tok.end, t.clinicians.contains(&k0)));
    }
    t.roles.contains(&k0).then_some((tok.end, false))
}

/// Classifies the run of capitalised words starting with `first`; returns where it ends.
fn group(
    t: &NameTables,
    b: &[u8],
    first: Tok,
    names: &mut Vec<Name>,
    public: &mut Vec<Public>,
) -> usize {
    let mut cue = false;
    let mut clinician = false;
    let mut author = false;
    let mut subject = false;
    let mut start = first;
    // A surname in capitals after a title, as French and Italian records write it ("Patiente :
    // Mme PERRIN Josiane").
    let caps =
        |w: Tok| w.end - w.start >= 2 && b[w.start..w.end].iter().all(|c| c.is_ascii_uppercase());
    if let Some((end, clin)) = title_at(t, b, first) {
        match next_word(b, end).filter(|w| capitalised(b, *w) || caps(*w)) {
            Some(w) => {
                cue = true;
                clinician = clin;
                start = w;
                // "Patient: Mr Henrik Steiner": the record's subject, as without the title;
                // "Re: Mrs Eileen Pritchard", the letter's.
                subject = prev_word(b, first.start).is_some_and(|(w, colon)| {
                    colon
                        && w.len() <= 14
                        && (t.roles.contains(&key(w)) || in_list(w, SUBJECT_LABELS))
                });
            }
            None => return end,
        }
    } else if let Some((w, colon)) = prev_word(b, first.start) {
        let k = if w.len() <= 14 { key(w) } else { 0 };
        let hon = t.honorifics.contains(&k);
        author = colon && in_list(w, FROM_LABELS);
        subject = colon && t.roles.contains(&k);
        cue = hon || author || t.roles.contains(&k) || (colon && contains_fold(w, "name"));
        clinician = hon && t.clinicians.contains(&k);
    }
    // An acronym ("LADA", "HR") in a sentence starts no name; after a title it is a surname.
    let surname_in_caps = cue && caps(start);
    if !(capitalised(b, start) || surname_in_caps) {
        return first.end;
    }
    // Fast path: a capitalised word that starts no name, after no title, is skipped.
    if !cue
        && t.bits(key(&b[start.start..start.end])) & STARTER == 0
        && !at_signature(b, start.start)
        && !next_word(b, start.end).is_some_and(|w| capitalised(b, w))
    {
        return first.end;
    }
    // Up to four capitalised words, with particles or initials between them.
    let mut toks = [start; 4];
    let mut n = 1;
    let mut cur = start.end;
    if b.get(cur) == Some(&b'.') && start.end - start.start == 1 {
        cur += 1;
    }
    while n < 4 {
        let Some(w) = next_word(b, cur) else { break };
        let initial = w.end - w.start == 1 && b.get(w.end) == Some(&b'.') && upper_at(b, w.start);
        if initial {
            cur = w.end + 1;
            continue;
        }
        if capitalised(b, w) {
            toks[n] = w;
            n += 1;
            cur = w.end;
            continue;
        }
        let mut k = w;
        let mut hops = 0;
        while hops < 2 && t.particles.contains(&key(&b[k.start..k.end])) {
            let Some(nx) = next_word(b, k.end) else { break };
            k = nx;
            hops += 1;
        }
        if hops > 0 && capitalised(b, k) {
            toks[n] = k;
            n += 1;
            cur = k.end;
            continue;
        }
        break;
    }
    let toks = &toks[..n];
    let run_end = toks[n - 1].end;
    let mut facts = [Facts::default(); 4];
    for (f, w) in facts.iter_mut().zip(toks) {
        *f = Facts::of_word(t, &b[w.start..w.end]);
    }
    // Public figures: any window of the run as a listed full name, or a distinctive surname.
    if facts[..n].iter().any(|f| f.public_part) {
        for s in 0..n {
            for e in s..n {
                let h = key(&b[toks[s].start..toks[e].end]);
                // "Bruno Fernandes Neves" is not the footballer: a name of the run beyond the
                // public one makes it someone else's full name.
                let longer = (0..n)
                    .filter(|k| *k < s || *k > e)
                    .any(|k| (facts[k].surname || facts[k].given) && !facts[k].stop);
                if longer {
                    continue;
                }
                if t.public_full.contains(&h) || (e == s && t.public_single.contains(&h)) {
                    public.push(Public {
                        start: toks[s].start,
                        end: toks[e].end,
                    });
                    return run_end;
                }
            }
        }
    }
    let facts = &facts[..n];
    let signature = n <= 3 && at_signature(b, start.start);
    if cue || signature {
        // After a title, a role word or a closing, any capitalised word but a common one is a
        // name.
        if !facts[0].stop || facts[0].given || facts[0].surname {
            let strength = if clinician {
                Strength::Clinician
            } else {
                Strength::Strong
            };
            names.push(Name {
                start: start.start,
                end: run_end,
                strength,
                author: author || signature,
                addressee: false,
                subject,
            });
        }
        return run_end;
    }
    // A given name, then surnames or other capitalised words: a full name.
    let greeted_run = prev_word(b, toks[0].start).is_some_and(|(w, _)| in_list(w, GREETINGS));
    let mut k = 0;
    while k < n {
        let addressee = if k == 0 {
            greeted_run
        } else {
            in_list(&b[toks[k - 1].start..toks[k - 1].end], GREETINGS)
        };
        let k_key = key(&b[toks[k].start..toks[k].end]);
        if k + 1 < n && t.honorifics.contains(&k_key) && !facts[k + 1].stop {
            // "Dear Mr Smith": a title inside the run.
            let mut e = k + 2;
            while e < n && !facts[e].stop {
                e += 1;
            }
            let clinician = t.clinicians.contains(&k_key);
            names.push(Name {
                start: toks[k + 1].start,
                end: toks[e - 1].end,
                strength: if clinician {
                    Strength::Clinician
                } else {
                    Strength::Strong
                },
                author: false,
                addressee,
                subject: false,
            });
            k = e;
            continue;
        }
        let next_is_surname = facts.get(k + 1).is_some_and(|x| x.surname && !x.stop);
        if facts[k].given && (!facts[k].stop || next_is_surname) {
            let mut e = k + 1;
            while e < n && !facts[e].stop {
                e += 1;
            }
            let full = e > k + 1;
            // "a travel agency in Ireland", "seit dem Winter": a lone given name after a
            // place's preposition or an article is a place or a noun ("to" and "from" are
            // also how people are written to).
            if !full && place_or_article_before(b, toks[k].start) {
                k = e;
                continue;
            }
            names.push(Name {
                start: toks[k].start,
                end: toks[e - 1].end,
                strength: if full {
                    Strength::Strong
                } else {
                    Strength::Weak
                },
                author: false,
                addressee,
                subject: false,
            });
            k = e;
        } else if !facts[k].stop
            && facts.get(k + 1).is_some_and(|x| x.surname && !x.stop)
            && (facts[k].surname || !sentence_start(b, toks[k].start))
        {
            // Two surnames in a row ("Ramírez Pérez"), or an unlisted given name before a
            // surname inside a sentence ("mijn broer Rutger Goossens").
            let mut e = k + 1;
            while e < n && !facts[e].stop {
                e += 1;
            }
            names.push(Name {
                start: toks[k].start,
                end: toks[e - 1].end,
                strength: Strength::Strong,
                author: false,
                addressee,
                subject: false,
            });
            k = e;
        } else {
            k += 1;
        }
    }
    run_end
}

/// Whether the word at `i` starts a sentence (where any word is capitalised).
fn sentence_start(b: &[u8], i: usize) -> bool {
    let mut j = i;
    while j > 0 && matches!(b[j - 1], b' ' | b'"' | b'(' | b'*' | b'-' | b'\t') {
        j -= 1;
    }
    j == 0 || matches!(b[j - 1], b'.' | b'!' | b'?' | b'\n')
}
