//! Values spelled out character by character (`0 1 5 1 …`, `I-T-4-4-…`, `8 . 8 . 4 . 4`)
//! and labels spaced out by OCR (`B S N :`), which the spelling layer joins.

use super::text::{run_end, skip_to};

/// Whether `b` has a value spelled out character by character (`0 1 5 1 ...`,
/// `I-T-4-4-...`, `+.3.9.3...`), which the spelling layer joins.
pub(crate) fn has_spaced_value(b: &[u8]) -> bool {
    if memchr::memmem::find_iter(b, b" . ").any(|p| p > 0 && spaced_quad_at(b, p)) {
        return true;
    }
    let mut i = 0;
    while i + 6 < b.len() {
        // Jump to the next digit: prose has few.
        i = skip_to(b, i, |c| c.wrapping_sub(b'0') < 10);
        if i + 6 >= b.len() {
            return false;
        }
        // A spelled-out value starts with a lone character: `0 1 5 1`, `8  6  0` (as OCR
        // spaces them), not `2024-05`.
        let q = run_end(b, i + 1, |c| SPACERS.contains(&c));
        let lone = (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && (1..=3).contains(&(q - i - 1))
            && b.get(q).is_some_and(u8::is_ascii_alphanumeric)
            && b.get(q + 1).is_some_and(|c| SPACERS.contains(c));
        if !lone {
            // No position inside this word is preceded by a space: a log's digits are
            // passed a word at a time.
            i = run_end(b, i + 1, |c| c.is_ascii_alphanumeric());
            continue;
        }
        // Six single characters in a row with one separator: an IP address or a date has
        // at most four.
        if SPACERS.contains(&b[i + 1]) {
            // Single characters, each followed by one to three separators.
            let mut p = i;
            let mut singles = 0;
            while singles < 6 && b.get(p).is_some_and(u8::is_ascii_alphanumeric) {
                singles += 1;
                let q = run_end(b, p + 1, |c| SPACERS.contains(&c));
                if q - p - 1 == 0 || q - p - 1 > 3 {
                    break;
                }
                p = q;
            }
            if singles >= 6 {
                return true;
            }
        }
        i += 1;
    }
    false
}

const SPACERS: [u8; 4] = [b' ', b'.', b'-', b'/'];

/// Whether the ` . ` at `p` sits inside a dotted quad written with spaces (`86 . 142 . 77 .
/// 203`, to keep a chat from linking it).
fn spaced_quad_at(b: &[u8], p: usize) -> bool {
    let s = super::text::run_start(b, p, |c| c.is_ascii_digit() || c == b' ' || c == b'.');
    let s = run_end(b, s, |c| !c.is_ascii_digit());
    spaced_quad(b, s).is_some_and(|(e, _)| e > p)
}

/// A dotted quad written with ` . ` between its groups at `i`: its end and its plain form.
pub(crate) fn spaced_quad(b: &[u8], i: usize) -> Option<(usize, String)> {
    if i > 0 && b[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    let mut out = String::new();
    let mut j = i;
    for k in 0..4 {
        let e = run_end(b, j, |c| c.is_ascii_digit());
        if !(1..=3).contains(&(e - j)) {
            return None;
        }
        out.push_str(std::str::from_utf8(&b[j..e]).ok()?);
        if k == 3 {
            let ends = b.get(e).is_none_or(|c| !c.is_ascii_alphanumeric());
            return ends.then_some((e, out));
        }
        if !b[e..].starts_with(b" . ") {
            return None;
        }
        out.push('.');
        j = e + 3;
    }
    None
}

/// A value spelled out one character at a time starting at `i`: at least eight single
/// letters or digits (six of them digits), an optional leading `+`, one separator between
/// each; a different separator (`8 1 7 - 7 8 - ...`) marks a group and becomes `-`.
/// Returns the end and the joined value.
pub(crate) fn spaced_value(b: &[u8], i: usize) -> Option<(usize, String)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'+') {
        return None;
    }
    let single = |k: usize| {
        b.get(k).is_some_and(u8::is_ascii_alphanumeric)
            && !b.get(k + 1).is_some_and(u8::is_ascii_alphanumeric)
    };
    let mut j = i;
    let mut out = String::new();
    if b[j] == b'+' {
        out.push('+');
        j += 1;
        if b.get(j).is_some_and(|c| SPACERS.contains(c)) {
            j += 1;
        }
    }
    if !single(j) {
        return None;
    }
    // The run's own separator: one to three marks (`0 1 5`, `8  6  0`).
    let sep_end = run_end(b, j + 1, |c| SPACERS.contains(&c));
    if !(1..=3).contains(&(sep_end - j - 1)) {
        return None;
    }
    let sep = &b[j + 1..sep_end];
    let (mut chars, mut digits) = (0, 0);
    let mut end = j;
    loop {
        // A lone lowercase letter between a spelled number and a word is a word itself
        // ("para o 9 1 5 … 2 2 e pergunte"), unlike a code's letters ("d e 4 4 7 0 …").
        let own_sep = |k: usize| b[k..].starts_with(sep) && single(k + sep.len());
        let last = !own_sep(j + 1);
        if b[j].is_ascii_lowercase() {
            if chars == 0 && b.get(j + 2).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            if chars > 0 && last && out.ends_with(|c: char| c.is_ascii_digit()) {
                break;
            }
        }
        out.push(b[j] as char);
        chars += 1;
        digits += usize::from(b[j].is_ascii_digit());
        end = j + 1;
        // The next separator: the run's own, or a group mark such as ` - `.
        let k = j + 1;
        if own_sep(k) {
            j = k + sep.len();
        } else if let Some(m) = (1..=3).find(|m| {
            let g = &b[k..(k + m).min(b.len())];
            g.len() == *m && g.iter().all(|c| SPACERS.contains(c)) && g != sep && single(k + m)
        }) {
            out.push('-');
            j = k + m;
        } else {
            break;
        }
    }
    (chars >= 8 && digits >= 6).then_some((end, out))
}

/// The end of a label spelled out in capitals by OCR (`B S N :`, `I B A N:`) at `i`: two to
/// five more single capitals, each after one space, then a colon.
pub(crate) fn spaced_label(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && b[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    let mut e = i + 1;
    let mut letters = 1;
    while b.get(e) == Some(&b' ')
        && b.get(e + 1).is_some_and(u8::is_ascii_uppercase)
        && !b.get(e + 2).is_some_and(u8::is_ascii_alphanumeric)
    {
        e += 2;
        letters += 1;
    }
    let colon = run_end(b, e, |c| c == b' ');
    ((3..=6).contains(&letters) && b.get(colon) == Some(&b':')).then_some(e)
}

/// An e-mail address spelled out one character at a time around the ` @ ` at `at`
/// (`m a r i a . l o p e z @ h o t m a i l . e s`, as copied off a paper form): its start
/// (not before `floor`), end and plain form.
pub(crate) fn spaced_email(b: &[u8], at: usize, floor: usize) -> Option<(usize, usize, String)> {
    if b.get(at) != Some(&b'@')
        || at < floor + 2
        || b[at - 1] != b' '
        || b.get(at + 1) != Some(&b' ')
    {
        return None;
    }
    let part = |c: u8| c.is_ascii_alphanumeric() || b"._-+".contains(&c);
    // Backwards: single characters, each after one space; a character touching a word
    // belongs to that word.
    let mut local: Vec<(u8, usize)> = Vec::new();
    let mut p = at - 2;
    while p >= floor && part(b[p]) {
        let before = p.checked_sub(1).map(|k| b[k]);
        if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        local.push((b[p], p));
        if before != Some(b' ') || p < floor + 2 {
            break;
        }
        p -= 2;
    }
    local.reverse();
    // Forwards, the same way.
    let mut domain: Vec<(u8, usize)> = Vec::new();
    let mut q = at + 2;
    while let Some(&c) = b.get(q).filter(|c| part(**c)) {
        let after = b.get(q + 1).copied();
        if after.is_some_and(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        domain.push((c, q));
        if after != Some(b' ') {
            break;
        }
        q += 2;
    }
    // A sentence's full stop after the last letter is no part of the address.
    while domain.last().is_some_and(|(c, _)| *c == b'.') {
        domain.pop();
    }
    let (&(first, start), &(last, _)) = (local.first()?, local.last()?);
    let &(_, end) = domain.last()?;
    let domain: Vec<u8> = domain.iter().map(|(c, _)| *c).collect();
    let labels: Vec<&[u8]> = domain.split(|c| *c == b'.').collect();
    let tld = labels.last()?;
    let shaped = local.len() >= 2
        && first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty())
        && (2..=24).contains(&tld.len())
        && tld.iter().all(u8::is_ascii_alphabetic);
    if !shaped {
        return None;
    }
    let local: String = local.iter().map(|(c, _)| char::from(*c)).collect();
    let domain = String::from_utf8(domain).ok()?;
    Some((start, end + 1, format!("{local}@{domain}")))
}
