//! Matchers anchored on digits, `@` and `:`: cards, IBANs, SSNs, NINOs, DNIs, IP addresses,
//! phone numbers and e-mail addresses.

use super::text::{ends_token, is_alnum, number, run_end, run_start, starts_token};
use super::validate::{
    card_issuer_ok, dni_letter, iban_len, iban_mod97, ipv4_public, ipv6_public, is_test_card, luhn,
    nino_valid, ssn_valid,
};
use super::{Kind, Sink};

const fn trigger_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = true;
        d += 1;
    }
    t[b'@' as usize] = true;
    t[b':' as usize] = true;
    t
}

static TRIGGER: [bool; 256] = trigger_table();

/// Runs every digit-, `@`- and `:`-anchored matcher over `b`.
pub(crate) fn scan(b: &[u8], sink: &mut Sink) {
    let n = b.len();
    let mut i = 0;
    let mut v6_done = 0;
    while i < n {
        while i < n && !TRIGGER[usize::from(b[i])] {
            i += 1;
        }
        if i >= n {
            break;
        }
        i = match b[i] {
            b'@' => email(b, i, sink),
            b':' => {
                if i >= v6_done {
                    v6_done = ipv6(b, i, sink);
                }
                i + 1
            }
            _ => at_digit(b, i, sink),
        }
        .max(i + 1);
    }
}

/// Digit groups separated by single separators, e.g. `4111 1111 1111 1111` or `10.0.0.1`.
struct Groups {
    span: [(usize, usize); 8],
    sep: [u8; 8],
    count: usize,
}

impl Groups {
    fn parse(b: &[u8], i: usize) -> Groups {
        let mut g = Groups {
            span: [(0, 0); 8],
            sep: [0; 8],
            count: 0,
        };
        let mut j = i;
        loop {
            let e = run_end(b, j, |c| c.is_ascii_digit());
            g.span[g.count] = (j, e);
            g.count += 1;
            if g.count == 8 || e + 1 >= b.len() {
                break;
            }
            if matches!(b[e], b' ' | b'-' | b'.' | b'/') && b[e + 1].is_ascii_digit() {
                g.sep[g.count - 1] = b[e];
                j = e + 1;
            } else {
                break;
            }
        }
        g
    }

    fn len(&self, k: usize) -> usize {
        self.span[k].1 - self.span[k].0
    }

    fn end(&self, k: usize) -> usize {
        self.span[k].1
    }

    fn total(&self, k: usize) -> usize {
        (0..k).map(|x| self.len(x)).sum()
    }

    /// The first `k` groups' digits, if they fit in `buf`.
    fn digits<'a>(&self, b: &[u8], k: usize, buf: &'a mut [u8; 24]) -> Option<&'a [u8]> {
        let mut n = 0;
        for x in 0..k {
            let (s, e) = self.span[x];
            if n + e - s > buf.len() {
                return None;
            }
            buf[n..n + e - s].copy_from_slice(&b[s..e]);
            n += e - s;
        }
        Some(&buf[..n])
    }

    /// Whether the separators between the first `k` groups are all `sep`.
    fn seps_all(&self, k: usize, sep: u8) -> bool {
        self.sep[..k.saturating_sub(1)].iter().all(|s| *s == sep)
    }

    fn lens(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        (0..k).map(|x| self.len(x))
    }
}

fn at_digit(b: &[u8], i: usize, sink: &mut Sink) -> usize {
    let prev = if i > 0 { b[i - 1] } else { b' ' };
    if is_alnum(prev) || prev >= 0x80 {
        if prev.is_ascii_uppercase() {
            if let Some(end) = letter_prefixed(b, i, sink) {
                return end;
            }
        }
        return run_end(b, i, is_alnum);
    }
    if prev == b'.' && i >= 2 && b[i - 2].is_ascii_digit() {
        return run_end(b, i, |c| c.is_ascii_digit());
    }
    if prev == b'+' && starts_token(b, i - 1) {
        if let Some(end) = intl_phone(b, i, sink) {
            return end;
        }
    }
    if prev == b'(' {
        if let Some(end) = us_paren_phone(b, i, sink) {
            return end;
        }
    }
    if prev == b' ' && i >= 3 && b[i - 2].is_ascii_uppercase() && b[i - 3].is_ascii_uppercase() {
        if let Some(end) = nino(b, i - 3, sink) {
            return end;
        }
    }
    let g = Groups::parse(b, i);
    let last = g.end(g.count - 1);
    if let Some(end) = card(b, &g, sink)
        .or_else(|| ssn(b, &g, sink))
        .or_else(|| ipv4(b, i, &g, sink))
        .or_else(|| dni(b, &g, sink))
        .or_else(|| national_phone(b, i, &g, sink))
    {
        return end;
    }
    last
}

fn card(b: &[u8], g: &Groups, sink: &mut Sink) -> Option<usize> {
    let mut buf = [0u8; 24];
    for k in (1..=g.count).rev() {
        let total = g.total(k);
        if !(13..=19).contains(&total) {
            continue;
        }
        let seps_ok = g.seps_all(k, b' ') || g.seps_all(k, b'-');
        let groups_ok = k == 1 || g.lens(k).all(|l| (3..=6).contains(&l));
        if !seps_ok || !groups_ok || !ends_token(b, g.end(k - 1)) {
            continue;
        }
        let d = g.digits(b, k, &mut buf)?;
        if luhn(d) && card_issuer_ok(d) && !is_test_card(d) && d.iter().any(|x| *x != d[0]) {
            sink.push(Kind::PaymentCard, g.span[0].0, g.end(k - 1));
            return Some(g.end(k - 1));
        }
    }
    None
}

fn ssn(b: &[u8], g: &Groups, sink: &mut Sink) -> Option<usize> {
    let shaped =
        g.count == 3 && g.seps_all(3, b'-') && g.lens(3).eq([3, 2, 4]) && ends_token(b, g.end(2));
    if !shaped {
        return None;
    }
    let part = |k: usize| number(&b[g.span[k].0..g.span[k].1]);
    let labelled_otherwise = context_has(b, g.span[0].0, REFERENCE_WORDS);
    if ssn_valid(part(0), part(1), part(2)) && !labelled_otherwise {
        sink.push(Kind::UsSsn, g.span[0].0, g.end(2));
    }
    Some(g.end(2))
}

fn ipv4(b: &[u8], i: usize, g: &Groups, sink: &mut Sink) -> Option<usize> {
    if g.count != 4 || !g.seps_all(4, b'.') || !g.lens(4).all(|l| (1..=3).contains(&l)) {
        return None;
    }
    let mut o = [0u8; 4];
    for (k, octet) in o.iter_mut().enumerate() {
        let (s, e) = g.span[k];
        let v = number(&b[s..e]);
        if v > 255 || (e - s > 1 && b[s] == b'0') {
            return Some(g.end(3));
        }
        *octet = v as u8;
    }
    let end = g.end(3);
    let followed_by_word = end + 1 < b.len() && b[end] == b'.' && is_alnum(b[end + 1]);
    let versioned = context_has(b, i, &["version", "ver.", "upgrade", "release"]);
    if ipv4_public(o) && !followed_by_word && !versioned && ends_token(b, end) {
        sink.push(Kind::IpAddress, i, end);
    }
    Some(end)
}

/// Words that label a number as a reference of some other kind.
const REFERENCE_WORDS: &[&str] = &[
    "error", "code", "ticket", "order", "invoice", "ref", "sku", "part", "serial", "model",
    "build", "version",
];

/// Whether one of `words` occurs in the 40 bytes of the line before `i`.
fn context_has(b: &[u8], i: usize, words: &[&str]) -> bool {
    let mut start = i.saturating_sub(40);
    if let Some(nl) = memchr::memrchr(b'\n', &b[start..i]) {
        start += nl + 1;
    }
    words
        .iter()
        .any(|w| super::text::contains_ci(&b[start..i], w))
}

fn dni(b: &[u8], g: &Groups, sink: &mut Sink) -> Option<usize> {
    let (s, e) = g.span[0];
    if g.count != 1 || e - s != 8 || e >= b.len() || !ends_token(b, e + 1) {
        return None;
    }
    if b[e] == dni_letter(number(&b[s..e])) {
        sink.push(Kind::NationalId, s, e + 1);
        return Some(e + 1);
    }
    None
}

/// Fictional ranges published by regulators for drama and documentation: NANP 555-01xx,
/// Ofcom's 020 7946 0xxx and 07700 900xxx.
fn fictional_phone(national: &[u8]) -> bool {
    let n = national.len();
    (n == 10 && &national[3..6] == b"555" && &national[6..8] == b"01")
        || (n == 11 && national.starts_with(b"0207946") && national[7] == b'0')
        || (n == 11 && national.starts_with(b"07700900"))
}

fn national_phone(b: &[u8], i: usize, g: &Groups, sink: &mut Sink) -> Option<usize> {
    let k = g.count;
    let end = g.end(k - 1);
    if k < 2 || !ends_token(b, end) {
        return None;
    }
    let mut buf = [0u8; 24];
    let d = g.digits(b, k, &mut buf)?;
    let total = d.len();
    let mut lens_buf = [0usize; 8];
    for (x, l) in lens_buf.iter_mut().zip(g.lens(k)) {
        *x = l;
    }
    let lens = &lens_buf[..k];
    let same_sep = |s: u8| g.seps_all(k, s);
    let us = k == 3
        && (same_sep(b'-') || same_sep(b'.'))
        && lens == [3, 3, 4]
        && d[0] >= b'2'
        && d[3] >= b'2';
    let trunk = d[0] == b'0'
        && d[1] != b'0'
        && (10..=11).contains(&total)
        && [b' ', b'-', b'.', b'/'].iter().any(|s| same_sep(*s))
        && (2..=5).contains(&lens[0])
        && lens.iter().all(|l| *l >= 2);
    let spanish = same_sep(b' ')
        && total == 9
        && matches!(d[0], b'6' | b'7' | b'9')
        && (lens == [3, 3, 3] || lens == [3, 2, 2, 2] || lens == [2, 3, 2, 2]);
    if !(us || trunk || spanish) {
        return None;
    }
    if !fictional_phone(d) {
        sink.push(Kind::Phone, i, end);
    }
    Some(end)
}

/// `+CC ...` with spaces, dashes, dots and `(0)`; `i` is the first digit after `+`.
fn intl_phone(b: &[u8], i: usize, sink: &mut Sink) -> Option<usize> {
    let mut j = i;
    let mut digits = [0u8; 24];
    let mut n = 0;
    let mut last = i;
    while j < b.len() {
        let c = b[j];
        if c.is_ascii_digit() {
            if n == digits.len() {
                return None;
            }
            digits[n] = c;
            n += 1;
            j += 1;
            last = j;
        } else if matches!(c, b' ' | b'-' | b'.')
            && j + 1 < b.len()
            && (b[j + 1].is_ascii_digit() || b[j + 1] == b'(')
        {
            j += 1;
        } else if c == b'(' {
            let close = run_end(b, j + 1, |x| x.is_ascii_digit());
            if close >= b.len() || b[close] != b')' || close - j - 1 > 4 || close == j + 1 {
                break;
            }
            if &b[j + 1..close] != b"0" {
                for &x in &b[j + 1..close] {
                    if n == digits.len() {
                        return None;
                    }
                    digits[n] = x;
                    n += 1;
                }
            }
            j = close + 1;
            if j < b.len() && b[j] == b' ' {
                j += 1;
            }
        } else {
            break;
        }
    }
    if !(8..=15).contains(&n) || !ends_token(b, last) {
        return None;
    }
    let d = &digits[..n];
    let fictional = (d[0] == b'1' && n == 11 && fictional_phone(&d[1..]))
        || (d.starts_with(b"44") && n == 12 && {
            let mut uk = [b'0'; 11];
            uk[1..].copy_from_slice(&d[2..]);
            fictional_phone(&uk)
        });
    if !fictional {
        sink.push(Kind::Phone, i - 1, last);
    }
    Some(last)
}

/// `(415) 555-0132`; `i` is the first digit after `(`.
fn us_paren_phone(b: &[u8], i: usize, sink: &mut Sink) -> Option<usize> {
    let area_end = run_end(b, i, |c| c.is_ascii_digit());
    if area_end - i != 3 || b.get(area_end) != Some(&b')') {
        return None;
    }
    let mut j = area_end + 1;
    if b.get(j) == Some(&b' ') {
        j += 1;
    }
    let g = Groups::parse(b, j);
    if g.count != 2 || g.len(0) != 3 || g.len(1) != 4 || !matches!(g.sep[0], b'-' | b' ' | b'.') {
        return None;
    }
    let end = g.end(1);
    let mut buf = [0u8; 24];
    let mut national = [0u8; 10];
    national[..3].copy_from_slice(&b[i..i + 3]);
    national[3..].copy_from_slice(g.digits(b, 2, &mut buf)?);
    if ends_token(b, end)
        && national[0] >= b'2'
        && national[3] >= b'2'
        && !fictional_phone(&national)
    {
        sink.push(Kind::Phone, i - 1, end);
    }
    Some(end)
}

/// IBAN, NINO or NIE whose letters end right before the digit at `i`.
fn letter_prefixed(b: &[u8], i: usize, sink: &mut Sink) -> Option<usize> {
    if i >= 2 && b[i - 2].is_ascii_uppercase() && starts_token(b, i - 2) {
        if let Some(end) = iban(b, i - 2, sink).or_else(|| nino(b, i - 2, sink)) {
            return Some(end);
        }
    }
    if matches!(b[i - 1], b'X' | b'Y' | b'Z') && starts_token(b, i - 1) {
        let e = run_end(b, i, |c| c.is_ascii_digit());
        if e - i == 7 && e < b.len() && ends_token(b, e + 1) {
            let n = u64::from(b[i - 1] - b'X') * 10_000_000 + number(&b[i..e]);
            if b[e] == dni_letter(n) {
                sink.push(Kind::NationalId, i - 1, e + 1);
                return Some(e + 1);
            }
        }
    }
    None
}

fn iban(b: &[u8], s: usize, sink: &mut Sink) -> Option<usize> {
    let want = iban_len(&b[s..s + 2])?;
    let mut compact = [0u8; 34];
    let mut n = 0;
    let mut j = s;
    while j < b.len() && n < want {
        let c = b[j];
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            compact[n] = c;
            n += 1;
            j += 1;
        } else if c == b' ' && n % 4 == 0 && j + 1 < b.len() && is_alnum(b[j + 1]) {
            j += 1;
        } else {
            break;
        }
    }
    if n != want
        || !ends_token(b, j)
        || !compact[2].is_ascii_digit()
        || !compact[3].is_ascii_digit()
    {
        return None;
    }
    if iban_mod97(&compact[..n]) {
        sink.push(Kind::Iban, s, j);
        return Some(j);
    }
    None
}

/// `AB123456C` or `AB 12 34 56 C` starting at `s`.
fn nino(b: &[u8], s: usize, sink: &mut Sink) -> Option<usize> {
    if !starts_token(b, s) || s + 9 > b.len() {
        return None;
    }
    let (l1, l2) = (b[s], b[s + 1]);
    if !l1.is_ascii_uppercase() || !l2.is_ascii_uppercase() {
        return None;
    }
    let mut j = s + 2;
    let mut digits = 0;
    while j < b.len() && digits < 6 {
        if b[j].is_ascii_digit() {
            digits += 1;
            j += 1;
        } else if b[j] == b' ' && j + 1 < b.len() && b[j + 1].is_ascii_digit() {
            j += 1;
        } else {
            return None;
        }
    }
    if b.get(j) == Some(&b' ') {
        j += 1;
    }
    let suffix = *b.get(j)?;
    if digits != 6 || !ends_token(b, j + 1) || !nino_valid(l1, l2, suffix) {
        return None;
    }
    sink.push(Kind::UkNino, s, j + 1);
    Some(j + 1)
}

fn email(b: &[u8], at: usize, sink: &mut Sink) -> usize {
    let local_ok = |c: u8| is_alnum(c) || b"._%+-".contains(&c);
    let mut ls = run_start(b, at, local_ok);
    while ls < at && !is_alnum(b[ls]) {
        ls += 1;
    }
    let mut de = run_end(b, at + 1, |c| is_alnum(c) || c == b'.' || c == b'-');
    while de > at + 1 && !is_alnum(b[de - 1]) {
        de -= 1;
    }
    if ls == at || at - ls > 64 || de <= at + 1 {
        return at + 1;
    }
    let local = &b[ls..at];
    let domain = &b[at + 1..de];
    let Some(dot) = domain.iter().rposition(|c| *c == b'.') else {
        return de;
    };
    let tld = &domain[dot + 1..];
    let labels_ok = domain
        .split(|c| *c == b'.')
        .all(|l| !l.is_empty() && l[0] != b'-');
    if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) || !labels_ok {
        return de;
    }
    // `scheme://user:pass@host` is a URL's user info, not an address; `mailto:` is fine.
    let in_url = ls > 0
        && matches!(b[ls - 1], b':' | b'/')
        && !(ls >= 7 && b[ls - 7..ls].eq_ignore_ascii_case(b"mailto:"));
    let ssh = b.get(de) == Some(&b':') && local == b"git";
    if !in_url && !ssh && !reserved_email(local, domain, tld) {
        sink.push(Kind::Email, ls, de);
    }
    de
}

/// RFC 2606 / 6761 reserved domains, obvious placeholders, system mailboxes and file names
/// such as `logo@2x.png`.
fn reserved_email(local: &[u8], domain: &[u8], tld: &[u8]) -> bool {
    use super::text::{contains_ci, word_in};
    const FILE_EXT: [&str; 18] = [
        "png", "jpg", "jpeg", "gif", "svg", "webp", "js", "ts", "css", "py", "rs", "go", "json",
        "yaml", "yml", "html", "lock", "txt",
    ];
    const RESERVED_TLD: [&str; 5] = ["example", "test", "invalid", "localhost", "local"];
    const SYSTEM: [&str; 7] = [
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "mailer-daemon",
        "postmaster",
        "notifications",
    ];
    let first_label = domain.split(|c| *c == b'.').next().unwrap_or(domain);
    let base = domain
        .iter()
        .rposition(|c| *c == b'.')
        .and_then(|last| {
            domain[..last]
                .iter()
                .rposition(|c| *c == b'.')
                .map(|p| &domain[p + 1..])
        })
        .unwrap_or(domain);
    word_in(tld, &FILE_EXT)
        || word_in(tld, &RESERVED_TLD)
        || word_in(base, &["example.com", "example.org", "example.net"])
        || word_in(
            first_label,
            &[
                "domain",
                "yourdomain",
                "yourcompany",
                "mydomain",
                "company",
                "email",
            ],
        )
        || word_in(local, &SYSTEM)
        || contains_ci(local, "your")
        || local.iter().all(|c| c.eq_ignore_ascii_case(&b'x'))
}

fn ipv6(b: &[u8], c: usize, sink: &mut Sink) -> usize {
    let v6 = |x: u8| x.is_ascii_hexdigit() || x == b':' || x == b'.';
    let near = |k: usize| {
        b.get(k)
            .is_some_and(|x| x.is_ascii_hexdigit() || *x == b':')
    };
    if c == 0 || !near(c - 1) || !near(c + 1) {
        return c + 1;
    }
    let s = run_start(b, c, v6);
    let mut e = run_end(b, c, v6);
    while e > s && b[e - 1] == b'.' {
        e -= 1;
    }
    let region = &b[s..e];
    let colons = region.iter().filter(|x| **x == b':').count();
    if colons < 2 || region.len() > 45 || !starts_token(b, s) || !ends_token(b, e) {
        return e;
    }
    if let Some(addr) = std::str::from_utf8(region)
        .ok()
        .and_then(|t| t.parse::<std::net::Ipv6Addr>().ok())
    {
        if ipv6_public(&addr) {
            sink.push(Kind::IpAddress, s, e);
        }
    }
    e
}
