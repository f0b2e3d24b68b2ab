//! The anchor table and the context matchers: identity-document numbers, SSNs and phone
//! numbers after a keyword. (People cues are matched in `people`.)

use super::secrets;
use super::text::{ends_token, is_alnum, line_after, number, run_end, starts_token};
use super::validate::{dni_letter, is_placeholder, ssn_valid};
use super::{Anchor, Kind, Sink};

/// Every anchor the automaton looks for (ASCII case-insensitive, leftmost-longest).
pub(crate) fn anchor_table() -> Vec<(&'static str, Anchor)> {
    use Anchor::*;
    let mut t = Vec::new();
    let mut add = |words: &[&'static str], a: Anchor| t.extend(words.iter().map(|w| (*w, a)));
    add(
        &[
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "sk-",
            "xoxb-",
            "xoxp-",
            "xoxa-",
            "xoxr-",
            "xoxs-",
            "xoxe-",
            "AIza",
            "sk_live_",
            "sk_test_",
            "rk_live_",
            "rk_test_",
            "eyJ",
            "-----BEGIN",
        ],
        Prefix,
    );
    add(&["://"], Url);
    add(
        &[
            "password",
            "passwd",
            "pwd",
            "pass",
            "passwort",
            "kennwort",
            "contraseña",
            "contrasena",
            "mot de passe",
            "mdp",
        ],
        PasswordName,
    );
    add(
        &[
            "secret",
            "token",
            "api_key",
            "apikey",
            "api-key",
            "key",
            "auth",
            "credential",
            "bearer",
            "passphrase",
        ],
        SecretName,
    );
    add(
        &[
            "passport",
            "reisepass",
            "passnummer",
            "passeport",
            "pasaporte",
            "personalausweis",
            "ausweisnummer",
            "id card",
            "identity card",
            "carte d'identité",
            "dni",
            "nie",
            "nif",
            "steuer-id",
            "steueridentifikationsnummer",
            "tax id",
            "national id",
            "driver's license",
            "driver's licence",
            "driving licence",
            "führerschein",
            "permis de conduire",
            "sécurité sociale",
            "sozialversicherungsnummer",
            "seguridad social",
        ],
        IdDocument,
    );
    add(&["ssn", "social security"], Ssn);
    add(
        &[
            "phone",
            "tel",
            "tel.",
            "telephone",
            "mobile",
            "cell",
            "handy",
            "telefon",
            "mobil",
            "téléphone",
            "tél",
            "tél.",
            "portable",
            "teléfono",
            "móvil",
            "movil",
            "whatsapp",
            "fax",
            "call me",
            "rufnummer",
        ],
        PhoneWord,
    );
    t
}

/// Runs the matcher for an anchor found at `s..e`.
pub(crate) fn on_anchor(b: &[u8], s: usize, e: usize, anchor: Anchor, sink: &mut Sink) {
    let word = starts_token(b, s) && (ends_token(b, e) || !is_alnum(b[e - 1]));
    match anchor {
        Anchor::Prefix => secrets::prefixed(b, s, sink),
        Anchor::Url => secrets::url_password(b, s, sink),
        Anchor::PasswordName => secrets::assignment(b, s, e, true, sink),
        Anchor::SecretName => secrets::assignment(b, s, e, false, sink),
        _ if !word => {}
        Anchor::IdDocument => id_number(b, e, sink),
        Anchor::Ssn => ssn_after(b, e, sink),
        Anchor::PhoneWord => phone_after(b, e, sink),
        Anchor::People(_) => {}
    }
}

/// `dd.mm.yyyy`, `dd/mm/yyyy`, `mm/dd/yyyy`, `yyyy-mm-dd`; returns the end.
fn numeric_date(b: &[u8], d: usize) -> Option<usize> {
    let e1 = run_end(b, d, |c| c.is_ascii_digit());
    let sep = *b.get(e1)?;
    if !matches!(sep, b'.' | b'/' | b'-') {
        return None;
    }
    let e2 = run_end(b, e1 + 1, |c| c.is_ascii_digit());
    if b.get(e2) != Some(&sep) {
        return None;
    }
    let e3 = run_end(b, e2 + 1, |c| c.is_ascii_digit());
    let (a, m, c) = (
        number(&b[d..e1]),
        number(&b[e1 + 1..e2]),
        number(&b[e2 + 1..e3]),
    );
    let (l1, l2, l3) = (e1 - d, e2 - e1 - 1, e3 - e2 - 1);
    let year = |y: u64, len: usize| (len == 4 && (1900..=2030).contains(&y)) || len == 2;
    let ok = if l1 == 4 {
        year(a, 4) && (1..=12).contains(&m) && (1..=31).contains(&c) && l2 <= 2 && l3 <= 2
    } else {
        l1 <= 2
            && l2 <= 2
            && year(c, l3)
            && (1..=31).contains(&a)
            && (1..=31).contains(&m)
            && (a <= 12 || m <= 12)
    };
    (ok && ends_token(b, e3)).then_some(e3)
}

fn id_number(b: &[u8], e: usize, sink: &mut Sink) {
    let limit = line_after(b, e, 40);
    let mut j = e;
    while j < limit {
        if !is_alnum(b[j]) {
            j += 1;
            continue;
        }
        let te = run_end(b, j, is_alnum);
        let tok = &b[j..te];
        let digits = tok.iter().filter(|c| c.is_ascii_digit()).count();
        let upper_or_digit = tok
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if upper_or_digit && digits >= 2 && (6..=14).contains(&tok.len()) {
            let dni_shaped = tok.len() == 9 && digits == 8 && tok[8].is_ascii_uppercase();
            let dni_ok = !dni_shaped || tok[8] == dni_letter(number(&tok[..8]));
            let glued_to_letter = te < b.len() && b[te] >= 0x80;
            let fake = is_placeholder(tok) || sequential(tok) || glued_to_letter;
            if dni_ok && !fake {
                sink.push(Kind::NationalId, j, te);
            }
            return;
        }
        if digits > 0 {
            return;
        }
        j = te;
    }
}

/// `123456789`, `987654321`: the digits people type when they mean "some number".
fn sequential(tok: &[u8]) -> bool {
    tok.windows(2).all(|w| w[1] == w[0] + 1) || tok.windows(2).all(|w| w[0] == w[1] + 1)
}

fn ssn_after(b: &[u8], e: usize, sink: &mut Sink) {
    let limit = line_after(b, e, 32);
    let Some(d) = b[e..limit]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| e + p)
    else {
        return;
    };
    let mut digits = [0u8; 9];
    let mut n = 0;
    let mut j = d;
    while j < limit && n < 9 {
        match b[j] {
            c @ b'0'..=b'9' => {
                digits[n] = c;
                n += 1;
            }
            b' ' | b'-' if n == 3 || n == 5 => {}
            _ => break,
        }
        j += 1;
    }
    if n == 9 && ends_token(b, j) && starts_token(b, d) {
        let (a, g, s) = (
            number(&digits[..3]),
            number(&digits[3..5]),
            number(&digits[5..]),
        );
        if ssn_valid(a, g, s) {
            sink.push(Kind::UsSsn, d, j);
        }
    }
}

fn phone_after(b: &[u8], e: usize, sink: &mut Sink) {
    let limit = line_after(b, e, 40);
    let Some(d) = b[e..limit]
        .iter()
        .position(|c| c.is_ascii_digit() || *c == b'+' || *c == b'(')
        .map(|p| e + p)
    else {
        return;
    };
    if !starts_token(b, d) {
        return;
    }
    let mut end = run_end(b, d, |c| {
        c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+')
    });
    while end > d && !b[end - 1].is_ascii_digit() {
        end -= 1;
    }
    let span = &b[d..end];
    let n = span.iter().filter(|c| c.is_ascii_digit()).count();
    if !(7..=15).contains(&n) || !ends_token(b, end) || numeric_date(b, d).is_some() {
        return;
    }
    if span.windows(2).any(|w| w[0] == b' ' && w[1] == b' ') {
        return;
    }
    sink.push(Kind::Phone, d, end);
}
