//! The values of secrets: where a value ends, whether it is code rather than a literal, the
//! literal default of a lookup, and passwords written in prose after a password word.

use super::text::{contains_ci, line_after, run_end};
use super::validate::{char_classes, is_placeholder};
use super::vendors::vendor_token;
use super::{Kind, Sink};

/// `f(...)`, `cfg.get(...)`, `env["X"]`: an identifier followed by a call or an index.
fn call_or_index(v: &[u8]) -> bool {
    let id = run_end(v, 0, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.')
    });
    id > 0 && matches!(v.get(id), Some(b'(' | b'['))
}

/// A dotted reference to another value (`var.db_password`, `aws_db.main.password`), not a
/// literal.
fn reference(v: &[u8]) -> bool {
    v.contains(&b'.')
        && v.split(|c| *c == b'.').all(|p| {
            !p.is_empty()
                && p[0].is_ascii_alphabetic()
                && p.iter()
                    .all(|c| c.is_ascii_lowercase() || *c == b'_' || c.is_ascii_digit())
        })
}

/// Whether a value is code (a call, an attribute, an index, an environment lookup) rather
/// than a literal.
pub(super) fn code_like(v: &[u8]) -> bool {
    const PREFIXES: [&str; 12] = [
        "os.",
        "env",
        "process.env",
        "getenv",
        "self.",
        "this.",
        "config.",
        "settings.",
        "request.",
        "args.",
        "params.",
        "vault",
    ];
    PREFIXES
        .iter()
        .any(|p| v.len() >= p.len() && v[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
        || call_or_index(v)
        || reference(v)
}

/// Whether a query parameter (`name=`) starts at `i`.
pub(super) fn query_param_at(b: &[u8], i: usize) -> bool {
    let e = run_end(b, i, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
    });
    e > i && b.get(e) == Some(&b'=')
}

/// The quoted default of an environment or config lookup starting at `j`, on its line:
/// `os.environ.get("X", "lit")`, `os.getenv('X', 'lit')`, `env("X", default="lit")`,
/// `ENV.fetch("X", "lit")`, `process.env.X || "lit"`, `process.env.X ?? 'lit'`.
pub(super) fn default_literal(b: &[u8], j: usize) -> Option<(usize, usize)> {
    let le = line_after(b, j, 240);
    let line = &b[j..le];
    let lookup = ["environ", "getenv", "env", "fetch", "config", "get("]
        .iter()
        .any(|w| contains_ci(line, w));
    if !lookup {
        return None;
    }
    // The literal after the call's first argument (a comma), or after `||` / `??`.
    let after = line
        .windows(2)
        .position(|w| w == b"||" || w == b"??")
        .map(|p| p + 2)
        .or_else(|| memchr::memchr(b',', line).map(|p| p + 1))?;
    let mut k = j + after;
    k = run_end(b, k, |c| c == b' ' || c == b'\t');
    // `default="…"`, `default: '…'`.
    let kw = run_end(b, k, |c| c.is_ascii_alphabetic() || c == b'_');
    if kw > k && matches!(b.get(kw), Some(b'=' | b':')) {
        k = run_end(b, kw + 1, |c| c == b' ');
    }
    let (vs, ve, quoted) = value_at(b, k);
    (quoted && ve > vs && ve < le).then_some((vs, ve))
}

/// In prose, a password word followed within a few words by a value no word looks like:
/// "set my router admin password to IiXoPT4VtdTL", "contraseña iman*6172BNL", also in the
/// next sentence ("… the router's password. Right now it is #CSj7XPKSXRBi2a#m?zI").
pub(super) fn strong_after(b: &[u8], j: usize, sink: &mut Sink) {
    let mut limit = line_after(b, j, 96);
    let mut answered = false;
    let mut k = j;
    // A dozen words or more may stand between ("Passwort für das Vereinsportal hab ich
    // vergessen, aber im Browser gespeichert gesehen: …"); the line bounds the walk.
    for _ in 0..24 {
        k = run_end(b, k, |c| {
            matches!(c, b' ' | b'\t' | b':' | b'.' | b',' | b'?' | b'!' | b';')
        });
        if k >= limit {
            // In a chat the next line may answer: "…braucht ein Passwort fürs Webinterface",
            // then "[08:53] Kai: admin / Druck3r#Lager2026".
            match super::chat::answer_after(b, j, limit).filter(|_| !answered) {
                Some(cs) => {
                    (k, limit, answered) = (cs, line_after(b, cs, 96), true);
                    continue;
                }
                None => return,
            }
        }
        // Read out one character at a time: "t - R - u - F - f - E - 8 - 4 - ! - k - z".
        if let Some(e) = spelled_out(b, k) {
            sink.push(Kind::Password, k, e);
            return;
        }
        // Quoted, or up to the next blank: a password may hold `&`, `,` or `;`.
        let (vs, mut ve, quoted) = value_at(b, k);
        if !quoted {
            ve = run_end(b, vs, |c| !c.is_ascii_whitespace() && c != b'"');
        }
        let trailing = |c: u8| matches!(c, b'.' | b',' | b'!' | b'?' | b';' | b':' | b')' | b'\'');
        while ve > vs && trailing(b[ve - 1]) {
            ve -= 1;
        }
        let v = &b[vs..ve];
        let strong = (8..=64).contains(&v.len())
            && char_classes(v) >= 3
            && v.iter().any(u8::is_ascii_digit)
            && !is_placeholder(v)
            && !code_like(v)
            && !vendor_token(v)
            && !key_material(v)
            && !v.contains(&b'/')
            && !v.contains(&b':')
            && !email_like(v);
        if strong {
            sink.push(Kind::Password, vs, ve);
            return;
        }
        if encoded_password(v) {
            sink.push(Kind::Password, vs, ve);
            return;
        }
        // Words between the password word and its value: "la password del wifi del B&B è",
        // "in base64 per 'sicurezza':".
        // `admin / Vélo2Montagne!73`: a user name and the slash before its password.
        let wordish = v == b"/"
            || v.iter()
                .all(|c| super::text::is_letter(*c) || matches!(c, b'-' | b'\'' | b'&' | b'+'))
            || (v.len() <= 8
                && v.iter().all(u8::is_ascii_alphanumeric)
                && v[0].is_ascii_alphabetic());
        // A quoted aside ("en hexadecimal para que no la lean", "encodé pour la sécurité"):
        // words about the value, which comes after them.
        let aside = quoted
            && v.len() <= 60
            && v.iter()
                .all(|c| super::text::is_letter(*c) || matches!(c, b' ' | b'-' | b'\''));
        if v.is_empty() || (v.len() > 20 || !wordish) && !aside {
            return;
        }
        k = if quoted { ve + 1 } else { ve };
    }
}

/// The end of a password spelled out one character at a time from `k`, each after a space
/// or " - " ("h 7 K q - 2 m P x - 9 w L r"): eight characters or more, of three classes with
/// a digit, as a password is and a spaced-out word or number is not.
fn spelled_out(b: &[u8], k: usize) -> Option<usize> {
    let mut chars = Vec::new();
    let mut j = k;
    let mut end = k;
    while let Some(&c) = b.get(j).filter(|c| c.is_ascii_graphic()) {
        // The last character may close the sentence ("… 9 w L r.").
        let next = b.get(j + 1).copied();
        let last = matches!(next, Some(b'.' | b',' | b'?' | b'!'))
            && b.get(j + 2).is_none_or(u8::is_ascii_whitespace);
        if next.is_some_and(|n| !n.is_ascii_whitespace()) && !last {
            break;
        }
        chars.push(c);
        end = j + 1;
        if last {
            break;
        }
        j = if b[end..].starts_with(b" - ") {
            end + 3
        } else if b.get(end) == Some(&b' ') {
            end + 1
        } else {
            break;
        };
    }
    let strong =
        chars.len() >= 8 && char_classes(&chars) >= 3 && chars.iter().any(u8::is_ascii_digit);
    strong.then_some(end)
}

/// The end of a Google app password starting at `vs`: four groups of four random lower-case
/// letters (`rmiz xfmz jlhr lcbr`), which the account page shows with spaces and mail
/// configurations take as they are.
pub(super) fn app_password_end(b: &[u8], vs: usize) -> Option<usize> {
    let mut k = vs;
    let mut distinct = 0u32;
    for g in 0..4 {
        if g > 0 {
            if b.get(k) != Some(&b' ') {
                return None;
            }
            k += 1;
        }
        let group = b.get(k..k + 4)?;
        if !group.iter().all(u8::is_ascii_lowercase) {
            return None;
        }
        for c in group {
            distinct |= 1 << (c - b'a');
        }
        k += 4;
    }
    let ends = b.get(k).is_none_or(|c| !c.is_ascii_alphanumeric());
    (ends && distinct.count_ones() >= 9).then_some(k)
}

/// A code of four to eight digits within a few words after a PIN word at `e`, given after a
/// label or a linking word (`:`, "is", "c'est", "de code"): `1546`, `4-8-1-9`, `4821B`.
pub(super) fn pin_after(b: &[u8], e: usize, sink: &mut Sink) {
    const LINKS: &[&str] = &[
        "is", "ist", "lautet", "est", "c'est", "es", "è", "é", "era", "was", "code", "código",
        "codice", "pin", "zijn", "são", "sind",
    ];
    let limit = line_after(b, e, 80);
    let mut k = e;
    // The word itself labels what follows it (`Digicode 4821B`).
    let mut linked = true;
    for _ in 0..10 {
        let ws = run_end(b, k, |c| {
            matches!(c, b' ' | b'\t' | b',' | b'(' | b')' | b'-')
        });
        if ws >= limit {
            return;
        }
        if matches!(b[ws], b':' | b'=') {
            linked = true;
            k = ws + 1;
            continue;
        }
        if b[ws].is_ascii_digit() {
            if let Some(ve) = pin_value(b, ws).filter(|_| linked) {
                sink.push(Kind::Password, ws, ve);
            }
            return;
        }
        let we = run_end(b, ws, |c| {
            c.is_ascii_alphabetic() || c == b'\'' || c >= 0x80
        });
        if we == ws {
            return;
        }
        linked = LINKS
            .iter()
            .any(|l| l.as_bytes().eq_ignore_ascii_case(&b[ws..we]));
        k = we;
    }
}

/// The end of a PIN at `s`: four to eight digits, together or one by one with `-`, ` ` or
/// `.` between them, and a door code's letter; none of `0000`, `1234`, `4321`.
fn pin_value(b: &[u8], s: usize) -> Option<usize> {
    let mut digits = [0u8; 8];
    let mut n = 0;
    let mut k = s;
    let run = run_end(b, s, |c| c.is_ascii_digit());
    if run - s >= 4 {
        if run - s > 8 {
            return None;
        }
        digits[..run - s].copy_from_slice(&b[s..run]);
        n = run - s;
        k = run;
    } else {
        while n < 8
            && b.get(k).is_some_and(u8::is_ascii_digit)
            && run_end(b, k, |c| c.is_ascii_digit()) == k + 1
        {
            digits[n] = b[k];
            n += 1;
            k += 1;
            match (b.get(k), b.get(k + 1)) {
                (Some(b'-' | b' ' | b'.'), Some(c)) if c.is_ascii_digit() => k += 1,
                _ => break,
            }
        }
        if n < 4 {
            return None;
        }
    }
    if b.get(k).is_some_and(u8::is_ascii_uppercase) {
        k += 1;
    }
    let d = &digits[..n];
    let counting = d.windows(2).all(|w| w[1] == w[0] + 1) || d.windows(2).all(|w| w[0] == w[1] + 1);
    let repeated = d.windows(2).all(|w| w[0] == w[1]);
    let ends = b.get(k).is_none_or(|c| !c.is_ascii_alphanumeric());
    (ends && !counting && !repeated).then_some(k)
}

/// The literal inside a decoding call at `vs` (`bytes.fromhex("…")`, `base64.b64decode("…")`,
/// `atob('…')`) when it decodes to a strong password.
pub(super) fn decoded_literal(b: &[u8], vs: usize) -> Option<(usize, usize)> {
    const CALLS: [&[u8]; 5] = [
        b"bytes.fromhex(",
        b"base64.b64decode(",
        b"b64decode(",
        b"atob(",
        b"Buffer.from(",
    ];
    // The shell's `$(echo 'QWxt…' | base64 -d)`, decoded by the pipe after the literal.
    const SHELL: [&[u8]; 4] = [b"$(echo ", b"$(echo -n ", b"$(printf ", b"`echo "];
    let (call, shell) = match CALLS.iter().find(|c| b[vs..].starts_with(c)) {
        Some(c) => (c, false),
        None => (SHELL.iter().find(|c| b[vs..].starts_with(c))?, true),
    };
    let q = vs + call.len();
    let quote = *b.get(q)?;
    if !matches!(quote, b'"' | b'\'') {
        return None;
    }
    let ls = q + 1;
    let le = ls + memchr::memchr(quote, &b[ls..line_after(b, ls, 200)])?;
    let lit = &b[ls..le];
    if shell {
        let rest = &b[le..line_after(b, le, 80)];
        if !(super::text::contains_ci(rest, "base64") || super::text::contains_ci(rest, "xxd")) {
            return None;
        }
    }
    let text = if lit.iter().all(u8::is_ascii_hexdigit) && lit.len().is_multiple_of(2) {
        let bytes: Vec<u8> = lit
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap_or("00"), 16).unwrap_or(0))
            .collect();
        String::from_utf8(bytes).ok()?
    } else {
        super::blobs::decode_text(lit)?
    };
    let t = text.as_bytes();
    let strong = (6..=64).contains(&t.len())
        && t.iter().all(u8::is_ascii_graphic)
        && char_classes(t) >= 3
        && !is_placeholder(t);
    strong.then_some((ls, le))
}

/// A password sent base64- or hex-encoded "for safety": a short blob that decodes to one
/// strong word.
fn encoded_password(v: &[u8]) -> bool {
    if !(12..=64).contains(&v.len()) {
        return false;
    }
    super::blobs::decode_text(v)
        .or_else(|| super::blobs::hex_text(v))
        .is_some_and(|t| {
            let t = t.as_bytes();
            (6..=48).contains(&t.len())
                && !t.iter().any(|c| c.is_ascii_whitespace())
                && char_classes(t) >= 3
        })
}

/// `name@host.tld`: an address, not a password that holds an `@`.
fn email_like(v: &[u8]) -> bool {
    memchr::memchr(b'@', v).is_some_and(|p| {
        let host = &v[p + 1..];
        p > 0
            && host.contains(&b'.')
            && host
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
    })
}

/// The key-type word of public key material (`ssh-ed25519 AAAA…`, `ecdsa-sha2-nistp256`) or
/// a publishable key, which a password word nearby does not make a password.
pub(super) fn key_material(v: &[u8]) -> bool {
    [
        "ssh-",
        "ecdsa-",
        "sk-ssh-",
        "sk-ecdsa-",
        "pk_live_",
        "pk_test_",
    ]
    .iter()
    .any(|p| v.starts_with(p.as_bytes()))
}

/// The value starting at `j`: a quoted string or a run up to whitespace or a delimiter.
pub(super) fn value_at(b: &[u8], j: usize) -> (usize, usize, bool) {
    match b.get(j) {
        Some(&q @ (b'"' | b'\'' | b'`')) => {
            let e = run_end(b, j + 1, |c| c != q && c != b'\n');
            (j + 1, e, true)
        }
        _ => {
            let e = run_end(b, j, |c| {
                !(c.is_ascii_whitespace()
                    || matches!(
                        c,
                        b'"' | b'\'' | b'`' | b',' | b';' | b'&' | b')' | b'}' | b'<'
                    ))
            });
            (j, e, false)
        }
    }
}
