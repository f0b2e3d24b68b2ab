//! Dates of birth: a date in any of the seven languages' formats next to a birth label
//! ("DOB:", "Geburtsdatum", "date de naissance") or a birth word ("born", "geboren",
//! "nata il") when a private person is named nearby, in a table column headed by a birth
//! label, or right after a person's name in a record ("Ortiz Pérez (07/07/1985)"). Public
//! figures' birth dates and dates up to 1900 are history, not personal data.

use super::names::word_end;
use super::words::contains_whole_word_fold;
use super::words::{in_list, month, PUBLIC_CONTEXT};
use super::{Ctx, Cue, Sink};
use crate::detect::text::{ends_token, number, run_end, starts_token};
use crate::detect::Kind;

/// Filler words allowed between a birth cue and its date ("born on", "geboren am").
const FILLERS: &[&str] = &[
    "on", "the", "in", "at", "is", "was", "am", "den", "ist", "le", "el", "il", "op", "em", "a",
    "de", "da", "di", "del", "du", "on:", "date", "datum", "data", "fecha", "is:", "ist:", "of",
    "he", "she", "was", "wurde", "est", "es", "è", "é", "nel", "en", "no", "dia", "día", "giorno",
    "jour", "tag", "e", "y", "und", "and", "et",
];

/// Birthday words: a date after one is a birth date only with a birth year.
const BIRTHDAY_WORDS: &[&str] = &[
    "birthday",
    "geburtstag",
    "anniversaire",
    "cumpleaños",
    "compleanno",
    "verjaardag",
    "jarig",
    "aniversário",
    "aniversario",
];

/// Handles a birth cue at `s..e`.
pub(super) fn at(ctx: &Ctx, cue: Cue, s: usize, e: usize, sink: &mut Sink) {
    let b = ctx.b;
    if !starts_token(b, s) || (b[e - 1].is_ascii_alphanumeric() && !ends_token(b, e)) {
        return;
    }
    // In a chat the next speaker may answer a label ("pouvez-vous me confirmer votre date de
    // naissance ?", then "[10:03] Client : 12/08/1983, Jérôme Vasseur").
    let answered = || {
        let nl = memchr::memchr(b'\n', &b[e..]).map_or(b.len(), |p| e + p);
        crate::detect::chat::answer_after(b, s, nl).and_then(|cs| date_after(b, cs))
    };
    // The degree sign marks a birth only right before the date and after a word, not after a
    // measure ("flessione 95° 12/03/2024").
    let degree = &b[s..e] == "°".as_bytes();
    if degree && (s == 0 || b[s - 1].is_ascii_digit() || !b.get(e).is_some_and(u8::is_ascii_digit))
    {
        return;
    }
    let found = date_after(b, e)
        .or_else(|| (cue == Cue::Birth).then(|| date_before(b, s)).flatten())
        .or_else(|| (cue != Cue::Birth).then(answered).flatten());
    let Some((ds, de, year)) = found else {
        table_column(ctx, s, e, sink);
        return;
    };
    // 1900 itself is the placeholder year of fixtures and forms (`1900-01-01`), and the Unix
    // epoch the placeholder date of code (`"dob": "1970-01-01"`).
    if year <= 1900 || epoch(&b[ds..de]) || ctx.public_near(s.min(ds), e.max(de), 160, 60) {
        return;
    }
    // "Anna's birthday party on 12 March 2025": a birthday with a recent year is an event.
    let birthday = in_list(&b[s..e], BIRTHDAY_WORDS);
    if birthday && year >= 2020 {
        return;
    }
    if cue == Cue::Birth
        && (!ctx.person_near(s.min(ds), e.max(de), 220, 120)
            || (public_context(ctx, s) && !own_person_before(b, s)))
    {
        return;
    }
    sink.push(Kind::DateOfBirth, ds, de);
}

/// Whether a date is 1 January 1970 written with digits (`1970-01-01`, `01.01.1970`).
fn epoch(date: &[u8]) -> bool {
    let digits: Vec<u8> = date.iter().copied().filter(u8::is_ascii_digit).collect();
    digits == b"19700101" || digits == b"01011970"
}

/// A date within a few words after `i` on the same line: `(start, end, year)`.
fn date_after(b: &[u8], i: usize) -> Option<(usize, usize, u32)> {
    let limit = (i + 64).min(b.len());
    let mut j = i;
    let mut words = 0;
    let mut broke = false;
    while j < limit {
        let c = b[j];
        if c == b'\n' {
            // "DOB:\n1985-07-23" carries on to the next line; a table header does not.
            if broke
                || b[i..j]
                    .iter()
                    .any(|c| !matches!(c, b' ' | b':' | b'\t' | b'\r'))
            {
                return None;
            }
            broke = true;
        }
        if c.is_ascii_digit() {
            return date_at(b, j);
        }
        if c.is_ascii_alphabetic() || c >= 0xc0 {
            if let Some(d) = date_at(b, j) {
                return Some(d);
            }
            let we = word_end(b, j).max(j + 1);
            if !in_list(&b[j..we], FILLERS) {
                words += 1;
                if words > 3 || broke {
                    return None;
                }
            }
            j = we;
            continue;
        }
        j += 1;
    }
    None
}

/// A date ending within a few words before `i` on the same line ("am 3. März 1987 geboren").
fn date_before(b: &[u8], i: usize) -> Option<(usize, usize, u32)> {
    let lo = i.saturating_sub(40);
    let mut j = lo;
    let mut best = None;
    while j < i {
        if b[j] == b'\n' {
            best = None;
        } else if starts_token(b, j) && (b[j].is_ascii_alphanumeric() || b[j] >= 0xc0) {
            if let Some(d) = date_at(b, j) {
                if d.1 <= i {
                    best = Some(d);
                    j = d.1;
                    continue;
                }
            }
        }
        j += 1;
    }
    best
}

/// The date starting at `i`, in any supported format: `(start, end, year)`.
pub(super) fn date_at(b: &[u8], i: usize) -> Option<(usize, usize, u32)> {
    if !starts_token(b, i) {
        return None;
    }
    if b[i].is_ascii_digit() {
        numeric(b, i).or_else(|| day_month_year(b, i))
    } else {
        month_day_year(b, i)
    }
}

fn plausible(day: u64, mon: u64, year: u64) -> bool {
    (1..=31).contains(&day) && (1..=12).contains(&mon) && (1800..=2030).contains(&year)
}

/// A two-digit year as a birth year: 00..=29 in this century, the rest in the last.
fn full_year(y: u64, len: usize) -> u64 {
    match len {
        2 if y < 30 => 2000 + y,
        2 => 1900 + y,
        _ => y,
    }
}

/// `dd.mm.yyyy`, `dd/mm/yyyy`, `mm/dd/yyyy`, `dd-mm-yy`, `yyyy-mm-dd`, `yyyy/mm/dd`.
fn numeric(b: &[u8], d: usize) -> Option<(usize, usize, u32)> {
    let e1 = run_end(b, d, |c| c.is_ascii_digit());
    let sep = *b.get(e1)?;
    if !matches!(sep, b'.' | b'/' | b'-') {
        return None;
    }
    let s2 = if b.get(e1 + 1) == Some(&b' ') && sep == b'.' {
        e1 + 2
    } else {
        e1 + 1
    };
    let e2 = run_end(b, s2, |c| c.is_ascii_digit());
    if e2 == s2 || b.get(e2) != Some(&sep) {
        return None;
    }
    let s3 = if b.get(e2 + 1) == Some(&b' ') && sep == b'.' {
        e2 + 2
    } else {
        e2 + 1
    };
    let e3 = run_end(b, s3, |c| c.is_ascii_digit());
    let (l1, l2, l3) = (e1 - d, e2 - s2, e3 - s3);
    let (a, m, c) = (number(&b[d..e1]), number(&b[s2..e2]), number(&b[s3..e3]));
    // A further digit group makes it an IP address or version, not a date.
    // An ISO timestamp carries on after the date ("1976-02-16T00:00:00Z").
    let timestamp =
        l1 == 4 && b.get(e3) == Some(&b'T') && b.get(e3 + 1).is_some_and(u8::is_ascii_digit);
    if !(ends_token(b, e3) || timestamp)
        || (b.get(e3) == Some(&sep) && b.get(e3 + 1).is_some_and(u8::is_ascii_digit))
    {
        return None;
    }
    let year = if l1 == 4 {
        (l2 <= 2 && l3 <= 2 && plausible(c, m, a)).then_some(a)?
    } else {
        if l1 > 2 || l2 > 2 || !(l3 == 4 || l3 == 2) {
            return None;
        }
        let y = full_year(c, l3);
        (plausible(a, m, y) || plausible(m, a, y)).then_some(y)?
    };
    Some((d, e3, u32::try_from(year).ok()?))
}

/// Skips spaces, `,` and `.` and the Spanish/Portuguese "de" between date parts.
fn skip_sep(b: &[u8], mut j: usize) -> usize {
    loop {
        let k = run_end(b, j, |c| matches!(c, b' ' | b',' | b'.' | b'-'));
        let de = b.get(k..k + 3);
        if matches!(de, Some(b"de ") | Some(b"of ")) && k > j {
            j = k + 3;
            continue;
        }
        if matches!(b.get(k..k + 4), Some(b"del ")) && k > j {
            j = k + 4;
            continue;
        }
        return k;
    }
}

/// "3. März 1987", "12 avril 1990", "12 de abril de 1990", "1er mai 1980", "12th April 1990".
fn day_month_year(b: &[u8], d: usize) -> Option<(usize, usize, u32)> {
    let de = run_end(b, d, |c| c.is_ascii_digit());
    if de - d > 2 {
        return None;
    }
    let day = number(&b[d..de]);
    let mut j = de;
    for suffix in [
        &b"st"[..],
        b"nd",
        b"rd",
        b"th",
        b"er",
        b"\xc2\xba",
        b"\xc2\xb0",
        b"o",
    ] {
        if b[j..].starts_with(suffix) {
            j += suffix.len();
            break;
        }
    }
    let ms = skip_sep(b, j);
    if ms == j && b.get(j).is_none_or(|c| *c != b'.') {
        // "12avril" is not a date; a separator is required.
        if ms >= b.len() || b[ms].is_ascii_alphanumeric() {
            return None;
        }
    }
    let me = word_end(b, ms);
    let mon = month(&b[ms..me.min(b.len())]).or_else(|| {
        (b.get(me) == Some(&b'.'))
            .then(|| month(&b[ms..me]))
            .flatten()
    })?;
    let ys = skip_sep(b, if b.get(me) == Some(&b'.') { me + 1 } else { me });
    let ye = run_end(b, ys, |c| c.is_ascii_digit());
    if ye - ys != 4 || !ends_token(b, ye) {
        return short_year(b, (d, day, u64::from(mon)), ys, ye);
    }
    let year = number(&b[ys..ye]);
    plausible(day, u64::from(mon), year).then_some((d, ye, u32::try_from(year).ok()?))
}

/// Spanish shortens the year after "del" ("12 de diciembre del 54"), Dutch and English
/// with an apostrophe ("2 mei '88"). Out of line: the common path above stays small for
/// the callers that inline it.
#[cold]
#[inline(never)]
fn short_year(
    b: &[u8],
    (d, day, mon): (usize, u64, u64),
    ys: usize,
    ye: usize,
) -> Option<(usize, usize, u32)> {
    let apostrophe = ["'", "’"]
        .iter()
        .find(|a| b[ys..].starts_with(a.as_bytes()))
        .map(|a| a.len());
    let (ys, ye) = match apostrophe {
        Some(n) => (ys + n, run_end(b, ys + n, |c| c.is_ascii_digit())),
        None if b[..ys].ends_with(b"del ") => (ys, ye),
        None => return None,
    };
    if ye - ys != 2 || !ends_token(b, ye) {
        return None;
    }
    let year = full_year(number(&b[ys..ye]), 2);
    plausible(day, mon, year).then_some((d, ye, u32::try_from(year).ok()?))
}

/// "April 12, 1990", "March 3rd 1987".
fn month_day_year(b: &[u8], m: usize) -> Option<(usize, usize, u32)> {
    let me = word_end(b, m);
    let mon = month(&b[m..me])?;
    let ds = skip_sep(b, if b.get(me) == Some(&b'.') { me + 1 } else { me });
    let de = run_end(b, ds, |c| c.is_ascii_digit());
    if de == ds || de - ds > 2 {
        return None;
    }
    let day = number(&b[ds..de]);
    let mut j = de;
    for suffix in [&b"st"[..], b"nd", b"rd", b"th"] {
        if b[j..].starts_with(suffix) {
            j += suffix.len();
            break;
        }
    }
    let ys = skip_sep(b, j);
    let ye = run_end(b, ys, |c| c.is_ascii_digit());
    if ye - ys != 4 || !ends_token(b, ye) {
        return None;
    }
    let year = number(&b[ys..ye]);
    plausible(day, u64::from(mon), year).then_some((m, ye, u32::try_from(year).ok()?))
}

/// Whether the paragraph around `i` reads as being about a public figure (a biography, a
/// career, a reign).
fn public_context(ctx: &Ctx, i: usize) -> bool {
    let b = ctx.b;
    let lo = super::paragraph_start(b, i, 400);
    let hi = super::paragraph_end(b, i, 400);
    let lo = super::floor_char(b, lo);
    let hi = super::floor_char(b, hi);
    // A private person's surname is no reign ("Óscar Villalobos Rey").
    let text = super::public_place::without_names(b, lo, hi, &ctx.names);
    PUBLIC_CONTEXT
        .iter()
        .any(|w| contains_whole_word_fold(&text, w))
}

/// Whether the writer names someone of their own just before `i` ("my husband Ravi … he was
/// born", "la nonna Assunta"): a possessive and a family or role word make a private person,
/// whatever the paragraph's other words ("give me a timeline").
fn own_person_before(b: &[u8], i: usize) -> bool {
    #[rustfmt::skip]
    const OWN: &[&str] = &[
        "my", "mein", "meine", "meinem", "meiner", "mon", "ma", "mes", "mi", "mis", "mio", "mia",
        "mijn", "meu", "minha", "our", "unsere", "unser", "notre", "nos", "nuestra", "nuestro",
        "nostra", "nostro", "onze", "ons", "nossa", "nosso",
    ];
    // With an article, only the words a family or a file uses of its own ("la nonna", "die
    // Oma", "the patient"): "the son of Henry VIII" and "la madre de Napoleón" are history.
    const ARTICLES: &[&str] = &[
        "the", "la", "il", "lo", "el", "die", "der", "de", "het", "a", "o",
    ];
    #[rustfmt::skip]
    const ARTICLE_ROLES: &[&str] = &[
        "patient", "patientin", "patiente", "paciente", "paziente", "patiënt", "patiënte",
        "client", "cliente", "customer", "kunde", "kundin", "klant", "tenant", "mieter",
        "mieterin", "locataire", "inquilino", "inquilina", "huurder", "grandma", "grandpa",
        "oma", "opa", "mamie", "papy", "abuela", "abuelo", "nonna", "nonno", "avó", "avô",
    ];
    let lo = super::floor_char(b, i.saturating_sub(120));
    let words: Vec<&[u8]> = b[lo..i]
        .split(|c| !(c.is_ascii_alphabetic() || *c >= 0x80))
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).any(|p| {
        (in_list(p[0], OWN) && in_list(p[1], super::words::ROLE_WORDS))
            || (in_list(p[0], ARTICLES) && in_list(p[1], ARTICLE_ROLES))
    }) || party_label(&b[lo..i], &words, ARTICLE_ROLES)
}

/// Whether one of `words` of `text` is a role written as a label ("9.2 Huurder: mevrouw
/// Eline Hoekstra"): a contract's or a record's private party, whatever "Artikel 9" above
/// it reads like.
fn party_label(text: &[u8], words: &[&[u8]], roles: &[&str]) -> bool {
    words.iter().any(|w| {
        in_list(w, roles)
            && text
                .windows(w.len() + 1)
                .any(|x| x[..w.len()].eq_ignore_ascii_case(w) && x[w.len()] == b':')
    })
}

fn line_bounds(b: &[u8], s: usize, e: usize) -> (usize, usize) {
    let ls = b[..s]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |p| p + 1);
    let le = b[e..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |p| e + p);
    (ls, le)
}

/// For a birth label heading a column of a table (CSV, TSV, Markdown): the dates in that
/// column of the rows below.
fn table_column(ctx: &Ctx, s: usize, e: usize, sink: &mut Sink) {
    let b = ctx.b;
    let (ls, le) = line_bounds(b, s, e);
    let header = &b[ls..le];
    let Some(sep) = [b',', b';', b'\t', b'|']
        .into_iter()
        .find(|c| header.contains(c))
    else {
        return;
    };
    // A table of famous people's birth dates ("sort these footballers by age") is not
    // personal data.
    if public_context(ctx, ls) || public_context(ctx, ls.saturating_sub(2)) {
        return;
    }
    let col = b[ls..s].iter().filter(|c| **c == sep).count();
    let mut pos = le + 1;
    let mut rows = 0;
    while pos < b.len() && rows < 100_000 {
        let re = b[pos..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |p| pos + p);
        if re == pos || !b[pos..re].contains(&sep) {
            break;
        }
        let mut field = pos;
        for _ in 0..col {
            match b[field..re].iter().position(|c| *c == sep) {
                Some(p) => field += p + 1,
                None => {
                    field = re;
                    break;
                }
            }
        }
        let f = run_end(b, field, |c| matches!(c, b' ' | b'"' | b'\''));
        if f < re {
            if let Some((ds, de, year)) = date_at(b, f) {
                let famous = ctx.public.iter().any(|p| p.start >= pos && p.end <= re);
                if year >= 1900 && de <= re && !famous {
                    sink.push(Kind::DateOfBirth, ds, de);
                }
            }
        }
        pos = re + 1;
        rows += 1;
    }
}

/// A date in parentheses right after a person's name ("Daniela Ortiz (07/07/1985)") or after
/// a genealogical star ("Anna Weber, * 12.03.1985") is that person's birth date.
///
/// Where the text speaks of birth dates (`birth_cue`), so is a date right after a name and a
/// comma ("Femke Claes, 01-12-2003").
pub(super) fn after_name(ctx: &Ctx, name_end: usize, birth_cue: bool, sink: &mut Sink) {
    let b = ctx.b;
    let mut j = run_end(b, name_end, |c| c == b' ' || c == b',');
    if j - name_end > 2 || j >= b.len() {
        return;
    }
    let paren = b[j] == b'(';
    let comma = b[name_end] == b',' && b[j].is_ascii_digit();
    if !(paren || b[j] == b'*' || comma) {
        return;
    }
    if !comma {
        j = run_end(b, j + 1, |c| c == b' ');
    }
    if j >= b.len() {
        return;
    }
    let Some((ds, de, year)) = date_at(b, j) else {
        return;
    };
    let closed = !paren || matches!(b.get(de), Some(b')' | b',' | b';'));
    // After a comma, a date is a birth date where the text speaks of births, or where its
    // year is one of an adult's birth ("Ayşe Schulz, 16.03.1979, wohnhaft …").
    let birth_year = !comma || birth_cue || year < 2005;
    if closed && birth_year && year >= 1900 && !ctx.public_near(name_end, de, 80, 0) {
        sink.push(Kind::DateOfBirth, ds, de);
    }
}
