//! The tail of an address: flat or floor part, postal code and city in each country's
//! format (DE/AT/CH, FR, ES, IT, NL, PT, UK, US).

use super::names::word_end;
use super::words::in_list;
use super::words::upper_first;
use crate::detect::text::{ends_token, run_end, starts_token};

/// Words of a flat or floor part after the street ("Apt 4B", "3º B", "2° piano", "bus 3").
#[rustfmt::skip]
const UNIT_WORDS: &[&str] = &[
    "apt", "apt.", "apartment", "flat", "unit", "suite", "floor", "piso", "planta", "puerta",
    "pta", "pta.", "esc", "esc.", "escalera", "dcha", "dcha.", "izq", "izq.", "izda", "izda.",
    "dto", "dto.", "esq", "esq.", "andar", "piano", "scala", "int", "int.", "interno", "etage",
    "étage", "stock", "og", "whg", "whg.", "top", "stiege", "bus", "bte", "app", "app.", "bloc",
    "bât", "bâtiment", "porte", "hs", "huis", "bis", "ter", "r/c", "rc", "cave", "º", "ª", "°",
];

/// Extends a street at `s..e` over a flat or floor part, postal code and city on the same
/// line or the next one: `(start, end, whether a postal code was found)`.
pub(super) fn extend(b: &[u8], s: usize, e: usize) -> (usize, usize, bool) {
    let mut end = e;
    let mut j = e;
    let mut lines = 0;
    let limit = (e + 80).min(b.len());
    let mut tokens = 0;
    while j < limit && tokens < 10 {
        let c = b[j];
        if c == b'\n' {
            lines += 1;
            if lines > 1 {
                break;
            }
            j += 1;
            continue;
        }
        if matches!(c, b' ' | b',' | b'\t' | b'\r' | b'-') {
            j += 1;
            continue;
        }
        if let Some(pe) = postcode_at(b, j) {
            return (s, pe, true);
        }
        // A flat or floor part continues the street; anything else ends the search.
        let we = unit_token_end(b, j);
        if we == j {
            break;
        }
        let tok = &b[j..we];
        let unit = in_list(tok, UNIT_WORDS)
            || tok.iter().any(u8::is_ascii_digit) && tok.len() <= 5
            || (tok.len() == 1 && tok[0].is_ascii_uppercase())
            || tok.ends_with("º".as_bytes())
            || tok.ends_with("ª".as_bytes())
            || tok.ends_with("°".as_bytes());
        if lines == 0 && unit && tokens < 5 {
            end = we;
        } else if !upper_first(tok) {
            break;
        }
        tokens += 1;
        j = we;
    }
    (s, end, false)
}

/// The end of a token of a flat part or city line: letters, digits, `.`, `º`, `ª`, `°`, `/`.
fn unit_token_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() {
        let c = b[j];
        if c.is_ascii_alphanumeric() || c == b'/' || (c == b'.' && j > i) {
            j += 1;
        } else if c >= 0x80 {
            let we = word_end(b, j);
            if we > j {
                j = we;
            } else if b[j..].starts_with("º".as_bytes())
                || b[j..].starts_with("ª".as_bytes())
                || b[j..].starts_with("°".as_bytes())
            {
                j += 2;
            } else {
                break;
            }
        } else {
            break;
        }
    }
    j
}

/// A postal code (with its city) starting at `k`: `10435 Berlin`, `D-10435 Berlin`,
/// `1015 CJ Amsterdam`, `1100-053 Lisboa`, `20121 Milano (MI)`, `SW1A 1AA`, `IL 62704`.
pub(super) fn postcode_at(b: &[u8], k: usize) -> Option<usize> {
    if !starts_token(b, k) {
        return None;
    }
    let mut d = k;
    // Country prefix: "D-", "CH-", "NL-", "F-".
    let letters = run_end(b, k, |c| c.is_ascii_uppercase());
    if letters > k && letters - k <= 2 && b.get(letters) == Some(&b'-') {
        d = letters + 1;
    }
    if let Some(e) = uk_postcode(b, k) {
        return Some(e);
    }
    // US state and ZIP: "IL 62704", "CA 94105-1234".
    if letters == k + 2 && b.get(letters) == Some(&b' ') {
        let zs = letters + 1;
        let ze = run_end(b, zs, |c| c.is_ascii_digit());
        if ze - zs == 5 {
            let ze = if b.get(ze) == Some(&b'-')
                && run_end(b, ze + 1, |c| c.is_ascii_digit()) == ze + 5
            {
                ze + 5
            } else {
                ze
            };
            if ends_token(b, ze) {
                return Some(ze);
            }
        }
    }
    let de = run_end(b, d, |c| c.is_ascii_digit());
    let len = de - d;
    if !(len == 4 || len == 5) {
        return None;
    }
    let mut e = de;
    if len == 4 && b.get(e) == Some(&b'-') && run_end(b, e + 1, |c| c.is_ascii_digit()) == e + 4 {
        e += 4; // Portugal
    } else if len == 4 {
        // The Netherlands: "1015 CJ", "1015CJ".
        let ls = if b.get(e) == Some(&b' ') { e + 1 } else { e };
        let le = run_end(b, ls, |c| c.is_ascii_uppercase());
        if le == ls + 2 && ends_token(b, le) {
            e = le;
        }
    }
    if !ends_token(b, e) {
        return None;
    }
    city_end(b, e)
}

/// The end of the city after a postal code ending at `e` ("Berlin", "Frankfurt am Main",
/// "Milano (MI)", "Paris Cedex 08").
fn city_end(b: &[u8], e: usize) -> Option<usize> {
    let mut j = e;
    let mut end = None;
    for _ in 0..4 {
        let mut k = run_end(b, j, |c| c == b' ');
        if k == j || k - j > 2 {
            break;
        }
        // Dutch cities with an elided article: `'s-Hertogenbosch`, `'s-Gravenhage`.
        if end.is_none() && (b[k..].starts_with(b"'s-") || b[k..].starts_with(b"'t ")) {
            k += 3;
        }
        let we = word_end(b, k);
        if we == k {
            // "(MI)" after an Italian city.
            if end.is_some() && b.get(k) == Some(&b'(') && b.get(k + 3) == Some(&b')') {
                end = Some(k + 4);
            }
            break;
        }
        let w = &b[k..we];
        if upper_first(w) {
            end = Some(we);
        } else if !in_list(
            w,
            &[
                "am", "an", "der", "im", "sur", "de", "del", "di", "la", "le", "en", "aan", "den",
                "bei", "ob", "d'",
            ],
        ) {
            break;
        }
        j = we;
    }
    end
}

/// A UK postcode at `k` ("SW1A 1AA", "N1 2AB", "EH1 1YZ").
fn uk_postcode(b: &[u8], k: usize) -> Option<usize> {
    let a = run_end(b, k, |c| c.is_ascii_uppercase());
    if !(1..=2).contains(&(a - k)) {
        return None;
    }
    let d = run_end(b, a, |c| c.is_ascii_digit());
    if !(1..=2).contains(&(d - a)) {
        return None;
    }
    let mut o = d;
    if o < b.len() && b[o].is_ascii_uppercase() && d - a == 1 {
        o += 1;
    }
    if b.get(o) != Some(&b' ') {
        return None;
    }
    let i = o + 1;
    let ok = b.get(i).is_some_and(u8::is_ascii_digit)
        && b.get(i + 1).is_some_and(u8::is_ascii_uppercase)
        && b.get(i + 2).is_some_and(u8::is_ascii_uppercase);
    (ok && ends_token(b, i + 3)).then_some(i + 3)
}
