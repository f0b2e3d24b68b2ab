//! Street addresses in each country's format, found from their house number: a street type
//! glued to the name before it ("Kastanienallee 42", "Keizersgracht 123"), a street type
//! leading the name before it ("Calle Mayor 5", "Via Roma 21", "Rua Augusta, 100"), or the
//! number first ("12 rue des Lilas", "221B Baker Street"). The finding covers the whole
//! address: flat or floor, postal code and city, on the same line or the next. Landmarks,
//! institutions and businesses (PUBLIC_ADDRESS) are left alone.

use super::name_tables::{key, HashSet64};
use super::names::{word_end, Name, Strength};
use super::postcode::{extend, postcode_at};
use super::public_place::{address_word_near, private_name_before, public};
use super::words::{
    eq_fold, in_list, upper_first, STREET_PREFIXES, STREET_SUFFIXES, STREET_TYPES_EN,
    STREET_WORDS_AFTER_NAME,
};
use super::{floor_char, Sink};
use crate::detect::text::{ends_token, is_letter, run_end, skip_to, starts_token};
use crate::detect::Kind;
use std::sync::OnceLock;

/// Glued street types that are also the end of everyday words, so they count only with a
/// postal code or an address word nearby.
const WEAK_SUFFIXES: &[&str] = &[
    "ring", "damm", "ufer", "steig", "pfad", "stieg", "zeile", "graben", "markt", "dreef", "hof",
    "park", "kai", "dijk", "singel",
];

/// Leading street types that are also everyday words in another language ("via", "place").
const WEAK_PREFIXES: &[&str] = &[
    "via", "place", "route", "square", "passage", "largo", "cours", "r.", "av.", "bd", "bd.",
    "strada", "borgo", "camino", "ronda", "beco", "tv.",
];

/// The street-word tables as hash sets: a digit-dense text asks for many words.
struct StreetSets {
    prefixes: HashSet64,
    particles: HashSet64,
    types_en: HashSet64,
}

fn sets() -> &'static StreetSets {
    static SETS: OnceLock<StreetSets> = OnceLock::new();
    SETS.get_or_init(|| {
        let set = |l: &[&str]| l.iter().map(|w| key(w.as_bytes())).collect();
        StreetSets {
            prefixes: set(STREET_PREFIXES),
            particles: set(STREET_PARTICLES),
            types_en: set(STREET_TYPES_EN),
        }
    })
}

/// Whether word `w` is in `set` (case folded as the name lists are).
fn is_in(set: &HashSet64, w: &[u8]) -> bool {
    w.len() <= 16 && set.contains(&key(w))
}

/// Articles, which start a sentence rather than a street name.
const ARTICLES: &[&str] = &[
    "der", "die", "das", "de", "het", "the", "la", "le", "el", "il", "lo", "o", "a", "een", "ein",
    "eine", "une", "un", "una", "uno",
];

/// Particles inside street names ("Calle de Alcalá", "Rua das Flores", "rue de la Paix").
const STREET_PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "el", "di", "della", "delle", "dei", "degli", "da", "das",
    "dos", "do", "du", "des", "le", "les", "l'", "d'", "van", "der", "den", "het", "am", "an",
    "zum", "zur", "of", "the", "e", "y", "i", "sant", "san", "santa", "são", "saint", "st",
];

/// Scans `b` for street addresses.
pub(super) fn scan(b: &[u8], names: &[Name], sink: &mut Sink) {
    let mut i = 0;
    loop {
        i = skip_to(b, i, |c| c.wrapping_sub(b'0') < 10);
        if i >= b.len() {
            break;
        }
        let ds = i;
        let de = run_end(b, i, |c| c.is_ascii_digit());
        i = de;
        if let Some([street, number]) = super::fields::field_address(b, ds, de) {
            if !public(b, street.0, street.1, names) {
                sink.push(Kind::StreetAddress, street.0, street.1);
                sink.push(Kind::StreetAddress, number.0, number.1);
            }
            continue;
        }
        // Part of a date, a version or a phone number ("11.05.1970"), not a house number.
        let inside =
            ds >= 2 && matches!(b[ds - 1], b'.' | b'/' | b'-' | b':') && b[ds - 2].is_ascii_digit();
        // A house number has a word beside it: a space or comma, then a letter, on one side
        // (logs are full of numbers that have neither).
        let word_before = ds >= 2
            && matches!(b[ds - 1], b' ' | b',' | b'\t')
            && (is_letter(b[ds - 2]) || matches!(b[ds - 2], b'.' | b' ' | b',' | b'/'));
        let word_after = matches!(b.get(de), Some(b' ' | b',' | b'-' | b'/'))
            || b.get(de).is_some_and(u8::is_ascii_alphabetic);
        if de - ds > 4 || !starts_token(b, ds) || inside || !(word_before || word_after) {
            continue;
        }
        let Some(he) = house_number_end(b, ds, de) else {
            continue;
        };
        let found = street_after(b, ds, he)
            .or_else(|| street_before(b, ds, he))
            .or_else(|| street_by_postcode(b, ds, he));
        let Some((s, e, strong)) = found else {
            continue;
        };
        let (s, e, post) = extend(b, s, e);
        let named = names.iter().any(|n| {
            matches!(n.strength, Strength::Strong | Strength::Weak) && private_name_before(b, n, s)
        });
        if !(strong || post || address_word_near(b, s)) || (!named && public(b, s, e, names)) {
            continue;
        }
        // The sentence's full stop after a postcode or city is not the address's.
        let mut end = floor_char(b, e);
        if end > s && b[end - 1] == b'.' && b.get(end).is_none_or(u8::is_ascii_whitespace) {
            end -= 1;
        }
        sink.push(Kind::StreetAddress, s, end);
        i = i.max(e);
    }
}

/// The end of a house number starting at `ds` whose digits end at `de`: "12", "12a", "221B",
/// "12-14", "21/3", "5 bis".
fn house_number_end(b: &[u8], ds: usize, de: usize) -> Option<usize> {
    let n = crate::detect::text::number(&b[ds..de]);
    if n == 0 {
        return None;
    }
    let mut e = de;
    let letters = run_end(b, e, |c| c.is_ascii_lowercase() || c.is_ascii_uppercase());
    // "de 8 h à 18 h,", "ab 18h": an hour, as French and German write it, after a word of
    // time ("Hauptstraße 18 h" keeps its letter).
    let suffix = if b.get(e) == Some(&b' ') { e + 1 } else { e };
    if n <= 24
        && b.get(suffix) == Some(&b'h')
        && ends_token(b, suffix + 1)
        && hour_word_before(b, ds)
    {
        return None;
    }
    if letters == e + 1 && ends_token(b, letters) {
        e += 1;
    } else if b.get(e) == Some(&b' ')
        && b.get(e + 1).is_some_and(u8::is_ascii_lowercase)
        && matches!(b.get(e + 2), Some(b',' | b'\n'))
    {
        e += 2; // "Rheinallee 56 a,"
    } else if letters > e
        && ends_token(b, letters)
        && in_list(&b[e..letters], &["bis", "ter", "quater", "bs", "a", "b"])
    {
        e = letters; // "60bis"
    } else if matches!(b.get(e), Some(b'-' | b'/')) && b.get(e + 1).is_some_and(u8::is_ascii_digit)
    {
        let e2 = run_end(b, e + 1, |c| c.is_ascii_digit());
        if e2 - e <= 4 {
            e = e2;
        }
    }
    // "5 Uhr", "12 km": a number followed by a unit or a decimal is not a house number.
    if !ends_token(b, e)
        || matches!(b.get(e), Some(b'.' | b',' | b':'))
            && b.get(e + 1).is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    Some(e)
}

/// Whether the word before the number at `ds` says a time follows ("à 18 h", "ab 18h").
fn hour_word_before(b: &[u8], ds: usize) -> bool {
    const WORDS: &[&str] = &[
        "à", "a", "de", "dès", "vers", "après", "avant", "et", "ab", "um", "bis", "von", "from",
        "at", "until", "till", "entre", "desde", "hasta", "dalle", "alle", "vanaf", "tot",
    ];
    let we = crate::detect::text::run_start(b, ds, |c| c == b' ');
    let ws = crate::detect::text::run_start(b, we, is_letter);
    we < ds && ws < we && in_list(&b[ws..we], WORDS)
}

/// Signs for "number" written before a house number (`nº` is `no` once NFKC-folded).
const NUMBER_SIGNS: &[&str] = &[
    "n.º", "nº", "n.o", "no", "n°", "n.°", "nr.", "no.", "núm.", "num.", "n.",
];

/// The street that a house number at `ds` follows: `(start, end, strong)`, where a weak
/// one needs a postal code or an address word to count.
fn street_after(b: &[u8], ds: usize, he: usize) -> Option<(usize, usize, bool)> {
    let mut j = ds;
    // "Rua Augusta, 100", "Calle Mayor, 5", "Hauptstr. 5".
    while j > 0 && b[j - 1] == b' ' {
        j -= 1;
    }
    // "Rua Frederico Arouca, n.º 14", "Calle Mayor, núm. 5": a number sign before the number.
    if j < ds {
        if let Some(sign) = NUMBER_SIGNS.iter().find(|m| {
            let m = m.as_bytes();
            j > m.len()
                && eq_fold(&b[j - m.len()..j], m)
                && matches!(b[j - m.len() - 1], b' ' | b',')
        }) {
            j -= sign.len();
            while j > 0 && b[j - 1] == b' ' {
                j -= 1;
            }
        }
    }
    if j > 0 && b[j - 1] == b',' {
        j -= 1;
        while j > 0 && b[j - 1] == b' ' {
            j -= 1;
        }
    }
    if j == ds && !(j > 0 && b[j - 1] == b',') {
        // Glued to the word before ("Str.5") is not an address.
        return None;
    }
    let (ws, we) = word_before(b, j)?;
    let w = &b[ws..we];
    // A street type glued to its name, or standing after an adjective ("Berliner Straße").
    // Either way the word is capitalised or short.
    let suffixes = if upper_first(w) || w.len() <= 9 {
        STREET_SUFFIXES
    } else {
        &[]
    };
    for suffix in suffixes {
        let sfx = suffix.as_bytes();
        if w.len() < sfx.len() || !eq_fold(&w[w.len() - sfx.len()..], sfx) {
            continue;
        }
        let glued = w.len() > sfx.len() + 2 && upper_first(w);
        let alone = w.len() == sfx.len() && in_list(w, STREET_WORDS_AFTER_NAME);
        if glued {
            return Some((ws, he, !in_list(sfx, WEAK_SUFFIXES)));
        }
        if alone {
            let (ps, pe) = word_before(b, ws)?;
            // "Berliner Straße 12", but not "Die Laan 5".
            if !upper_first(&b[ps..pe]) || in_list(&b[ps..pe], ARTICLES) {
                return None;
            }
            return Some((ps, he, true));
        }
    }
    // A leading street type, then name words: "Via Roma", "Calle de Alcalá", "Rua das Flores".
    let (mut start, mut end) = (ws, we);
    let mut named = false;
    for _ in 0..6 {
        let word = &b[start..end];
        if is_in(&sets().prefixes, word) && named {
            return Some((
                start,
                he,
                !in_list(word, WEAK_PREFIXES) || upper_first(word),
            ));
        }
        let digits = word.iter().filter(|c| c.is_ascii_digit()).count();
        if digits > 0 && digits < word.len() {
            // "DE89", "v2": codes, not street names.
            return None;
        }
        if upper_first(word) || digits > 0 {
            named |= upper_first(word);
        } else if !is_in(&sets().particles, word) {
            return None;
        }
        (start, end) = word_before(b, start)?;
    }
    None
}

/// Whether `w` ends with a street type glued to a name, and whether that type is a weak one.
fn glued_suffix(w: &[u8]) -> Option<bool> {
    STREET_SUFFIXES.iter().find_map(|suffix| {
        let sfx = suffix.as_bytes();
        (w.len() > sfx.len() + 2 && eq_fold(&w[w.len() - sfx.len()..], sfx))
            .then(|| in_list(sfx, WEAK_SUFFIXES))
    })
}

/// The end of the word at `i` with one trailing period ("Str.", "Avda.").
fn word_end_dot(b: &[u8], i: usize) -> usize {
    let e = word_end(b, i);
    if b.get(e) == Some(&b'.') || (b.get(e) == Some(&b'/') && e == i + 1) {
        e + 1
    } else {
        e
    }
}

/// The word (with a trailing period) ending at `j`, separated from what follows by at most
/// one space, on the same line.
fn word_before(b: &[u8], j: usize) -> Option<(usize, usize)> {
    let mut e = j;
    while e > 0 && b[e - 1] == b' ' {
        e -= 1;
    }
    if j - e > 2 {
        return None;
    }
    let we = e;
    if e > 0 && matches!(b[e - 1], b'.' | b'/' | b'\'') {
        e -= 1;
    }
    let mut s = e;
    // Dots inside an abbreviation belong to it ("P.zza", "V.le").
    while s > 0
        && (is_letter(b[s - 1])
            || b[s - 1].is_ascii_digit()
            || b[s - 1] == b'-'
            || (b[s - 1] == b'.' && s >= 2 && b[s - 2].is_ascii_alphabetic() && s < e))
    {
        s -= 1;
    }
    // Quotes and dashes are not letters: „Mozartstraße, «Rua.
    while s < e && b[s] >= 0x80 && word_end(b, s) == s {
        s += 1;
        while s < e && (b[s] & 0xc0) == 0x80 {
            s += 1;
        }
    }
    (s < e).then_some((s, we))
}

/// A street without a street type, known by the postal code after it ("An der Kirche 17c,
/// 01067 Dresden", "Im Winkel 22a, 20357 Hamburg"): one to four capitalised words or particles
/// starting a line or a clause or after an address word, a house number, and a postal code
/// with its city.
fn street_by_postcode(b: &[u8], ds: usize, he: usize) -> Option<(usize, usize, bool)> {
    let j = run_end(b, he, |c| c == b' ');
    if b.get(j) != Some(&b',') {
        return None;
    }
    let mut k = run_end(b, j + 1, |c| c == b' ');
    if postcode_at(b, k).is_none() {
        // One short unit part between the number and the postal code ("Am Mühlbach 30,
        // Hinterhaus, 53220 Bonn", "… 163, portal 2, 08020 …").
        let limit = (k + 24).min(b.len());
        let comma = b[k..limit]
            .iter()
            .position(|c| matches!(c, b',' | b'\n'))
            .map(|p| k + p)
            .filter(|p| b[*p] == b',')?;
        k = run_end(b, comma + 1, |c| c == b' ');
        postcode_at(b, k)?;
    }
    // The street must stand at the start of its line, clause or field, or right after an
    // address word; the longest such name of up to four words wins.
    let stands = |start: usize| {
        let before = b[..start].iter().rev().find(|c| **c != b' ');
        before.is_none_or(|c| matches!(c, b'\n' | b',' | b':' | b';' | b'(' | b'"'))
            || address_word_near(b, start)
    };
    let mut start = ds;
    let mut named = false;
    let mut found = None;
    for _ in 0..4 {
        let Some((ws, we)) = word_before(b, start) else {
            break;
        };
        let w = &b[ws..we];
        if upper_first(w) {
            named = true;
        } else if !is_in(&sets().particles, w) {
            break;
        }
        start = ws;
        if named && stands(start) {
            found = Some((start, he, true));
        }
    }
    found
}

/// French street types that follow the number ("12 rue des Lilas", "3, avenue Foch").
#[rustfmt::skip]
const FR_LEADING: &[&str] = &[
    "rue", "avenue", "av.", "boulevard", "bd", "bd.", "chemin", "allée", "allee", "impasse",
    "place", "quai", "cours", "route", "square", "faubourg", "passage", "résidence", "rua",
    // Welsh streets put their type first too: "42 Heol y Parc".
    "heol", "ffordd", "stryd",
];

/// For a number first ("12 rue des Lilas", "221B Baker Street"): `(start, end, strong)`.
fn street_before(b: &[u8], ds: usize, he: usize) -> Option<(usize, usize, bool)> {
    let mut j = he;
    if b.get(j) == Some(&b',') {
        j += 1;
    }
    let k = run_end(b, j, |c| c == b' ');
    if k == j || k - j > 2 {
        return None;
    }
    j = k;
    for extra in [&b"bis "[..], b"ter "] {
        if b[j..].starts_with(extra) {
            j += extra.len();
        }
    }
    let we = word_end_dot(b, j);
    if we == j {
        return None;
    }
    let w = &b[j..we];
    if in_list(w, FR_LEADING) {
        let end = name_end(b, we)?;
        return Some((unit_before(b, ds), end, !in_list(w, WEAK_PREFIXES)));
    }
    // German and Dutch, number first: "42 Kastanienallee".
    if upper_first(w) && b[he] == b' ' && glued_suffix(w).is_some_and(|weak| !weak) {
        return Some((unit_before(b, ds), we, true));
    }
    // English: one to four capitalised words, then a capitalised street type.
    let mut k = j;
    for words in 0..5 {
        let we = word_end_dot(b, k);
        if we == k {
            return None;
        }
        let w = &b[k..we];
        if words >= 1 && upper_first(w) && is_in(&sets().types_en, w) {
            let mut end = we;
            let after = run_end(b, end, |c| c == b' ');
            let de = word_end(b, after);
            if after == end + 1
                && in_list(&b[after..de], &["NW", "NE", "SW", "SE", "N", "S", "E", "W"])
                && de > after
            {
                end = de;
            }
            return Some((unit_before(b, ds), end, true));
        }
        let ordinal = w.first().is_some_and(u8::is_ascii_digit)
            && [&b"st"[..], b"nd", b"rd", b"th"]
                .iter()
                .any(|s| w.ends_with(s));
        if !(upper_first(w) || ordinal) {
            return None;
        }
        let next = run_end(b, we, |c| c == b' ');
        if next != we + 1 {
            return None;
        }
        k = next;
    }
    None
}

/// The end of a street name after a French street type: particles and capitalised words.
fn name_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut end = None;
    for _ in 0..6 {
        let k = run_end(b, i, |c| c == b' ');
        if k == i && !(i > 0 && b[i - 1] == b'\'') {
            break;
        }
        let we = word_end(b, k);
        if we == k {
            break;
        }
        let w = &b[k..we];
        // "l'Église", "d'Alsace": the elided article glued to the name.
        let elided =
            w.len() > 2 && matches!(w[1], b'\'') && matches!(w[0], b'l' | b'd' | b'L' | b'D');
        if upper_first(w) || elided || w.first().is_some_and(u8::is_ascii_digit) {
            end = Some(we);
        } else if !is_in(&sets().particles, w) {
            break;
        }
        i = we;
    }
    end
}

/// The start of a flat part before a house number ("Flat 3, 14 Acacia Avenue").
fn unit_before(b: &[u8], ds: usize) -> usize {
    let lo = ds.saturating_sub(24);
    let line = b[lo..ds]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(lo, |p| lo + p + 1);
    for unit in ["flat ", "apartment ", "apt ", "apt. ", "unit "] {
        if let Some(p) = find_fold(&b[line..ds], unit) {
            return line + p;
        }
    }
    ds
}

fn find_fold(hay: &[u8], needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    (n.len() <= hay.len())
        .then(|| hay.windows(n.len()).position(|w| eq_fold(w, n)))
        .flatten()
}
