//! The spelling layer of normalisation: `%XX` escapes of URL punctuation, JSON's `\uXXXX`
//! escapes, labels and values spaced out by OCR, numbers in words, and e-mail
//! addresses written out to dodge filters (`jane dot doe at gmail dot com`,
//! `jane(at)web[dot]de`), rewritten to their plain form so the matchers see them.

use super::normalize::{Edit, Rewriter};
use super::spaced::{has_spaced_value, spaced_email, spaced_label, spaced_quad, spaced_value};

/// Anchors the automaton reports as `Anchor::Spelling`.
pub(crate) const ANCHORS: [&str; 27] = [
    "%",
    // JSON's `\u0040` escapes, in a string encoded twice.
    "\\u",
    // Defanged addresses in security tickets: `88[.]27[.]143[.]60`.
    "[.]",
    "(.)",
    " at ",
    " ät ",
    "[at]",
    "(at)",
    "{at}",
    "<at>",
    " @ ",
    "[@]",
    "(@)",
    " chiocciola ",
    " arroba ",
    " arobase ",
    " klammeraffe ",
    " apenstaartje ",
    "(arroba)",
    "[arroba]",
    "(chiocciola)",
    "[chiocciola]",
    "(arobase)",
    "[arobase]",
    "(klammeraffe)",
    "[klammeraffe]",
    "(apenstaartje)",
];

/// Whether `b[i..]` starts a spelling this layer rewrites: a `%XX` escape or an `at` marker.
/// The anchor pass calls it at `%`, `at` and `@` hits to decide whether the layer is needed.
pub(crate) fn starts_spelling(text: &str, i: usize) -> bool {
    let b = text.as_bytes();
    percent_at(b, i).is_some()
        || json_escape_at(b, i).is_some()
        // The automaton reports `\u` at the second backslash of `\\u`.
        || (i > 0 && json_escape_at(b, i - 1).is_some())
        || defanged_at(b, i).is_some()
        || at_marker(b, i).is_some()
        || (text.is_char_boundary(i) && super::number_words::run_around(text, i, 0).is_some())
}

/// The spelling layer over `text`; `None` when nothing needs rewriting.
pub(crate) fn rewrite(text: &str) -> Option<(String, Vec<Edit>)> {
    let b = text.as_bytes();
    let mut w = Rewriter::new(text);
    let mut done = 0;
    let mut i = 0;
    let mut buf = [0u8; 1];
    let spaced = has_spaced_value(b);
    let chat = super::chat::has_joins(b);
    while i < b.len() {
        if chat && b[i] == b'\n' {
            if let Some((ns, token)) = super::chat::join_at(b, i) {
                w.replace(i, ns, if token { "" } else { "\n" });
                done = ns;
                i = ns;
                continue;
            }
        }
        if spaced && b[i].is_ascii_digit() {
            if let Some((e, joined)) = spaced_quad(b, i) {
                w.replace(i, e, &joined);
                done = e;
                i = e;
                continue;
            }
        }
        if spaced && b[i].is_ascii_uppercase() {
            if let Some(e) = spaced_label(b, i) {
                let joined: String = b[i..e]
                    .iter()
                    .filter(|c| **c != b' ')
                    .map(|c| char::from(*c))
                    .collect();
                w.replace(i, e, &joined);
                done = e;
                i = e;
                continue;
            }
        }
        if spaced && (b[i].is_ascii_alphanumeric() || b[i] == b'+') {
            if let Some((e, joined)) = spaced_value(b, i) {
                w.replace(i, e, &joined);
                done = e;
                i = e;
                continue;
            }
        }
        if let Some(e) = defanged_at(b, i) {
            w.replace(i, e, ".");
            done = e;
            i = e;
            continue;
        }
        if let Some((c, e)) = json_escape_at(b, i) {
            let mut utf8 = [0u8; 4];
            w.replace(i, e, c.encode_utf8(&mut utf8));
            done = e;
            i = e;
            continue;
        }
        if let Some(c) = percent_at(b, i) {
            buf[0] = c;
            w.replace(i, i + 3, std::str::from_utf8(&buf).unwrap_or("%"));
            done = i + 3;
            i += 3;
            continue;
        }
        let first = b[i] | 0x20;
        // Any word may start a run (`three eight one dash …`, `seis uno siete`); the anchor
        // pass decided that one is worth looking for.
        if first.is_ascii_lowercase() && text.is_char_boundary(i) {
            if let Some((s, e, mut digits)) = super::number_words::run_around(text, i, done) {
                let e = spelled_letter(b, e, &mut digits).unwrap_or(e);
                w.replace(s, e, &digits);
                done = e;
                i = e;
                continue;
            }
        }
        // The first bytes of the `at` words, case-folded: `@`, "at", "chiocciola",
        // "klammeraffe", and "ät" (UTF-8 `C3 A4`).
        if b[i] == b'@' {
            if let Some((s, e, plain)) = spaced_email(b, i, done) {
                w.replace(s, e, &plain);
                done = e;
                i = e;
                continue;
            }
        }
        if matches!(first, b'a' | b'c' | b'k' | b'`' | 0xE3) && at_marker(b, i).is_some() {
            if let Some((s, e, plain)) = spelled_email(b, i, done) {
                w.replace(s, e, &plain);
                done = e;
                i = e;
                continue;
            }
        }
        i += 1;
    }
    w.finish()
}

/// A DNI's letter dictated after its digits ("… nueve tres letra S"): appends it to
/// `digits` and returns the end of the letter.
fn spelled_letter(b: &[u8], e: usize, digits: &mut String) -> Option<usize> {
    if !(7..=8).contains(&digits.len()) {
        return None;
    }
    let rest = &b[e..];
    let word = ["letra ", "letter ", "lettre ", "lettera "]
        .iter()
        .find(|w| {
            rest.len() > w.len() + 1 && rest[1..].starts_with(w.as_bytes()) && rest[0] == b' '
        })?;
    let at = e + 1 + word.len();
    let c = *b.get(at)?;
    if !c.is_ascii_alphabetic() || b.get(at + 1).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    digits.push(char::from(c.to_ascii_uppercase()));
    Some(at + 1)
}

/// The end of a defanged dot (`[.]`, `(.)`) at `i` between two letters or digits.
fn defanged_at(b: &[u8], i: usize) -> Option<usize> {
    let marker = b[i..].starts_with(b"[.]") || b[i..].starts_with(b"(.)");
    let between = i > 0
        && b[i - 1].is_ascii_alphanumeric()
        && b.get(i + 3).is_some_and(u8::is_ascii_alphanumeric);
    (marker && between).then_some(i + 3)
}

/// The character a JSON `\uXXXX` escape at `i` stands for (`marco.villa\u0040web.it`), when
/// it is printable, and where the escape ends: a control character or half a surrogate pair
/// stays escaped. In a JSON document pasted inside a JSON string the escape is escaped once
/// more (`brun\\u0040gmail.com`); that one is read between letters or digits only, since
/// elsewhere `\\u` is as likely a backslash and the letter u (`C:\\users`).
fn json_escape_at(b: &[u8], i: usize) -> Option<(char, usize)> {
    if b.get(i) != Some(&b'\\') {
        return None;
    }
    let twice = b.get(i + 1) == Some(&b'\\')
        && i > 0
        && b[i - 1].is_ascii_alphanumeric()
        && b.get(i + 7).is_some_and(u8::is_ascii_alphanumeric);
    let i = if twice { i + 1 } else { i };
    if b.get(i + 1) != Some(&b'u') || i + 6 > b.len() {
        return None;
    }
    let digits = &b[i + 2..i + 6];
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let v = u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
    // An escaped backslash before (`\\u0040`) is a backslash and the letter u.
    if !twice && i > 0 && b[i - 1] == b'\\' {
        return None;
    }
    ((0x20..0x7f).contains(&v) || (0xa0..0xd800).contains(&v))
        .then(|| char::from_u32(v))
        .flatten()
        .map(|c| (c, i + 6))
}

/// The byte a `%XX` escape at `i` stands for, when it is URL punctuation that a matcher
/// needs to see (`%40` in an address, `%2F` in a key).
fn percent_at(b: &[u8], i: usize) -> Option<u8> {
    if b.get(i) != Some(&b'%') || i + 2 >= b.len() {
        return None;
    }
    let hex = |c: u8| (c as char).to_digit(16);
    let v = hex(b[i + 1])? * 16 + hex(b[i + 2])?;
    let c = u8::try_from(v).ok()?;
    // Punctuation alone, or anything printable inside a run of escapes (an address encoded
    // whole: `%6A%6F%72...`).
    let escape_at =
        |k: usize| b.get(k) == Some(&b'%') && b.get(k + 1).is_some_and(u8::is_ascii_hexdigit);
    let in_run = escape_at(i + 3) || (i >= 3 && escape_at(i - 3));
    // A `/` escaped in a URL's password (`user:K%C3%A4se%2Fx@db`) stays escaped: decoded, it
    // would end the URL's authority there and hide the password.
    if c == b'/' && in_userinfo(b, i) {
        return None;
    }
    (b"@:/+=?&#%!$'()*,;~ ".contains(&c) || (in_run && (0x21..0x7f).contains(&c))).then_some(c)
}

/// Whether `i` sits between a URL's `://` and the `@` ending its user info, in one token.
fn in_userinfo(b: &[u8], i: usize) -> bool {
    let token_end = |c: &u8| c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b'<' | b'>');
    let start = b[..i].iter().rposition(token_end).map_or(0, |p| p + 1);
    let end = b[i..].iter().position(token_end).map_or(b.len(), |p| i + p);
    let Some(scheme) = memchr::memmem::find(&b[start..i], b"://").map(|p| start + p + 3) else {
        return false;
    };
    !b[scheme..i].contains(&b'/') && b[i..end].contains(&b'@')
}

/// `(marker start, marker end)` of an `at` spelling whose `a`/`@` is at `i`:
/// `[at]`, `(at)`, `{at}`, `<at>`, ` at `, ` @ `, with any spaces around the brackets.
/// The flag says whether it is the bare word ` at `, which prose uses all the time.
fn at_marker(b: &[u8], i: usize) -> Option<(usize, usize, bool)> {
    AT_WORDS
        .iter()
        .find_map(|w| marker(b, i, w.as_bytes(), b'@'))
}

/// How `@` is spelled out in the languages served.
const AT_WORDS: [&str; 7] = [
    "at",
    // German says "ät".
    "ät",
    "chiocciola",
    "arroba",
    "arobase",
    "klammeraffe",
    "apenstaartje",
];

/// How `.` is spelled out in the languages served.
const DOT_WORDS: [&str; 6] = ["dot", "punto", "point", "punkt", "ponto", "punt"];

fn marker(b: &[u8], i: usize, word: &[u8], sym: u8) -> Option<(usize, usize, bool)> {
    let n = if b.get(i) == Some(&sym) {
        1
    } else if b.len() >= i + word.len() && b[i..i + word.len()].eq_ignore_ascii_case(word) {
        word.len()
    } else {
        return None;
    };
    if i == 0 || i + n >= b.len() {
        return None;
    }
    let (before, after) = (b[i - 1], b[i + n]);
    let spaces_back = |k: usize| {
        let mut k = k;
        while k > 0 && b[k - 1] == b' ' {
            k -= 1;
        }
        k
    };
    let spaces_on = |k: usize| {
        let mut k = k;
        while k < b.len() && b[k] == b' ' {
            k += 1;
        }
        k
    };
    let close = match before {
        b'[' => b']',
        b'(' => b')',
        b'{' => b'}',
        b'<' => b'>',
        _ => 0,
    };
    if close != 0 && after == close {
        return Some((spaces_back(i - 1), spaces_on(i + n + 1), false));
    }
    if before == b' ' && after == b' ' {
        return Some((spaces_back(i), spaces_on(i + n), n > 1));
    }
    None
}

/// The end of a dot marker (` dot `, `[dot]`, `(.)`) that starts right at `s`.
fn dot_after(b: &[u8], s: usize) -> Option<usize> {
    (s..(s + 4).min(b.len())).find_map(|k| {
        DOT_WORDS
            .iter()
            .find_map(|w| marker(b, k, w.as_bytes(), b'.'))
            .filter(|m| m.0 == s)
            .map(|m| m.1)
    })
}

fn label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// The address whose `at` marker starts at `i`, as `(start, end, plain form)`, not starting
/// before `floor`.
fn spelled_email(b: &[u8], i: usize, floor: usize) -> Option<(usize, usize, String)> {
    let (ms, me, bare) = at_marker(b, i)?;
    let mut dots = 0;
    // The local part, backwards: labels joined by `.`, `+` or a dot marker.
    let mut labels: Vec<(usize, usize)> = Vec::new();
    let mut j = ms;
    loop {
        let mut s = j;
        while s > floor && (label_char(b[s - 1]) || matches!(b[s - 1], b'.' | b'+' | b'%')) {
            s -= 1;
        }
        if s == j {
            break;
        }
        labels.push((s, j));
        // A dot marker right before the label: ` dot `, `[dot]`, `(.)`.
        let Some(t) = dot_marker_ending(b, s, floor) else {
            break;
        };
        dots += 1;
        j = t;
    }
    let (start, _) = *labels.last()?;
    let mut local = String::new();
    for (k, (s, e)) in labels.iter().rev().enumerate() {
        if k > 0 {
            local.push('.');
        }
        local.push_str(std::str::from_utf8(&b[*s..*e]).ok()?);
    }
    // The domain, forwards: at least two labels joined by `.` or a dot marker.
    let mut domain = String::new();
    let mut j = me;
    let mut parts = 0;
    let mut end = me;
    let mut last_label = (0, 0);
    loop {
        let e = super::text::run_end(b, j, |c| c.is_ascii_alphanumeric() || c == b'-');
        if e == j {
            break;
        }
        if parts > 0 {
            domain.push('.');
        }
        domain.push_str(std::str::from_utf8(&b[j..e]).ok()?);
        parts += 1;
        end = e;
        last_label = (j, e);
        if b.get(e) == Some(&b'.') && b.get(e + 1).is_some_and(u8::is_ascii_alphanumeric) {
            j = e + 1;
        } else if let Some(de) = dot_after(b, e) {
            dots += 1;
            j = de;
        } else {
            break;
        }
    }
    let tld = &b[last_label.0..last_label.1];
    if parts < 2 || !(2..=24).contains(&tld.len()) || !tld.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    // Prose says "look at docs.rs" all the time; the bare word counts only with a spelled
    // dot or a local part shaped like a mailbox (`jane.doe`, `j_doe`, `jdoe85`).
    let mailbox = local
        .bytes()
        .any(|c| c.is_ascii_digit() || b"._+".contains(&c));
    if bare && dots == 0 && !mailbox {
        return None;
    }
    // "spiked at some point in": with bare words both ways, only a common top-level domain
    // after a name that is no filler word counts.
    if bare {
        const TLDS: [&str; 32] = [
            "com", "net", "org", "de", "fr", "es", "it", "nl", "pt", "be", "at", "ch", "uk", "co",
            "io", "eu", "br", "info", "me", "us", "ca", "ie", "lu", "dk", "dev", "app", "ai", "se",
            "pl", "cat", "biz", "edu",
        ];
        const FILLER: [&str; 12] = [
            "some", "the", "a", "this", "that", "all", "any", "least", "first", "last", "most",
            "one",
        ];
        let first = domain.split('.').next().unwrap_or("");
        if !TLDS.iter().any(|t| t.as_bytes().eq_ignore_ascii_case(tld))
            || FILLER.iter().any(|w| w.eq_ignore_ascii_case(first))
        {
            return None;
        }
    }
    Some((start, end, format!("{local}@{domain}")))
}

/// The start of a dot marker that ends right at `e` (before a label), if any.
fn dot_marker_ending(b: &[u8], e: usize, floor: usize) -> Option<usize> {
    // The marker's word or bracket sits a few bytes back.
    (e.saturating_sub(12).max(floor + 1)..e).find_map(|k| {
        DOT_WORDS
            .iter()
            .find_map(|w| marker(b, k, w.as_bytes(), b'.'))
            .filter(|m| m.1 == e && m.0 >= floor)
            .map(|m| m.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(s: &str) -> String {
        rewrite(s).map_or_else(|| s.to_string(), |(t, _)| t)
    }

    #[test]
    fn rewrites_spelled_addresses() {
        assert_eq!(
            spelled("mail jane dot doe at gmail dot com now"),
            "mail jane.doe@gmail.com now"
        );
        assert_eq!(spelled("jane(at)web[dot]de"), "jane@web.de");
        assert_eq!(spelled("j.doe [at] posteo.de"), "j.doe@posteo.de");
        assert_eq!(spelled("JOHN AT GMAIL DOT COM"), "JOHN@GMAIL.COM");
        assert_eq!(spelled("write to a.b at web.de"), "write to a.b@web.de");
    }

    #[test]
    fn leaves_prose_alone() {
        for s in [
            "look at docs.rs for details",
            "meet at 10.30 at the station",
            "we are at home",
            "the file at config.yaml",
        ] {
            assert_eq!(spelled(s), s);
        }
    }

    #[test]
    fn joins_spelled_out_values() {
        assert_eq!(
            spelled("IBAN: d e 4 4 7 0 1 5 0 0 0 0 3 9 ."),
            "IBAN: de447015000039 ."
        );
        assert_eq!(
            spelled("SSN 8 1 7 - 7 8 - 6 7 6 4 ok"),
            "SSN 817-78-6764 ok"
        );
        assert_eq!(spelled("tel +.3.9.3.2.9.5.8.0.0.9"), "tel +3932958009");
        assert_eq!(spelled("I-T-4-4-R-0-2-0-0-8"), "IT44R02008");
        assert_eq!(spelled("a b c d e f g h i"), "a b c d e f g h i");
    }

    #[test]
    fn decodes_url_punctuation() {
        assert_eq!(spelled("to=jane%40web.de&k=a%2Fb"), "to=jane@web.de&k=a/b");
        assert_eq!(spelled("50% off, %zz"), "50% off, %zz");
    }
}
