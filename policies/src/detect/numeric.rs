//! Matchers anchored on digits, `@` and `:`: cards, IBANs, SSNs, national ids, IP
//! addresses, phone numbers (see `phone`) and e-mail addresses (see `net`).

use super::dotted::ipv4;
use super::groups::Groups;
use super::idcheck::{ahv, codice_fiscale, cpf, itin, nhs, nir, rijksregister, steuer_id};
use super::net::{email, ipv6};
use super::phone::{intl_phone, national_phone, paren_phone};
use super::text::{ends_token, is_alnum, number, run_end, skip_to, starts_token};
use super::validate::{
    card_issuer_ok, dni_letter, iban_len, iban_mod97, is_test_card, luhn, nino_valid, ssn_valid,
};
use super::{Kind, Sink, Tables};

/// Runs every digit-, `@`- and `:`-anchored matcher over `b`.
pub(crate) fn scan(b: &[u8], sink: &mut Sink) {
    let n = b.len();
    let mut i = 0;
    let mut v6_done = 0;
    while i < n {
        // Digits and `:` are `0x30..=0x3a`: one range and `@`, tested a block at a time.
        i = skip_to(b, i, |c| c.wrapping_sub(b'0') <= 10 || c == b'@');
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

fn at_digit(b: &[u8], i: usize, sink: &mut Sink) -> usize {
    let prev = if i > 0 { b[i - 1] } else { b' ' };
    if !starts_token(b, i) {
        if prev.is_ascii_alphabetic() {
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
        if let Some(end) = intl_phone(b, i, i - 1, sink) {
            return end;
        }
    }
    if b[i] == b'0'
        && b.get(i + 1) == Some(&b'0')
        && b.get(i + 2)
            .is_some_and(|c| c.is_ascii_digit() && *c != b'0')
        && !b":./-".contains(&prev)
    {
        if let Some(end) = intl_phone(b, i + 2, i, sink) {
            return end;
        }
    }
    if prev == b'(' {
        if let Some(end) = paren_phone(b, i, sink) {
            return end;
        }
    }
    if prev == b' ' && i >= 3 && b[i - 2].is_ascii_uppercase() && b[i - 3].is_ascii_uppercase() {
        if let Some(end) = nino(b, i - 3, sink) {
            return end;
        }
    }
    let mut g = Groups::parse(b, i);
    if let Some(end) = card(b, &g, sink).or_else(|| national_id(b, &g, sink)) {
        return end;
    }
    // Everything else ends at a line break.
    g.count = g.first_line();
    let last = g.end(g.count - 1);
    if let Some(end) = ssn(b, &g, sink)
        .or_else(|| ipv4(b, i, &g, sink))
        .or_else(|| dni(b, &g, sink))
        .or_else(|| national_phone(b, i, &g, sink))
    {
        return end;
    }
    // A dotted quad further on, after another separator (a log's `443 - 145.14.28.91`):
    // resume there, so the address is read as one.
    let inner_quad = (1..g.count.saturating_sub(3))
        .find(|&k| g.sep[k - 1] != b'.' && (k..k + 3).all(|j| g.sep[j] == b'.'));
    match inner_quad {
        Some(k) => g.end(k - 1),
        None => last,
    }
}

/// Words naming a payment card, in the languages served (matched inside words: "Kreditkarte",
/// "creditcard", "cartão").
const CARD_WORDS: &[&str] = &[
    "card", "visa", "karte", "carte", "tarjeta", "carta", "kaart", "cartão", "cartao", "pan", "cc",
];

fn card(b: &[u8], g: &Groups, sink: &mut Sink) -> Option<usize> {
    let mut buf = [0u8; 24];
    for k in (1..=g.count).rev() {
        let total = g.total(k);
        if !(13..=19).contains(&total) {
            continue;
        }
        let seps = &g.sep[..k - 1];
        let broken = seps.contains(&b'\n');
        let uniform = |s: u8| seps.iter().all(|x| *x == s || *x == b'\n');
        let seps_ok = uniform(b' ') || uniform(b'-') || uniform(b'.');
        let lens = || g.lens(k);
        // Groups of three to six, the last one possibly shorter (`6759 7282 4768 8017 85`);
        // over a line break also two halves (`45320151` / `12830366`).
        // Pairs too, as OCR splits a receipt's card (`45.32.75.14.97.03.28.28`).
        let groups_ok = k == 1
            || (lens().take(k - 1).all(|l| (3..=6).contains(&l)) && g.len(k - 1) <= 6)
            || lens().all(|l| l == 1)
            || (k >= 7 && lens().all(|l| l == 2))
            || (broken && k == 2 && lens().all(|l| l >= 6));
        // `4539 1488 0343 6467 1`: one more digit in the same grouping makes it another,
        // longer number, not a card and a stray digit.
        let goes_on = k < g.count
            && k > 1
            && g.len(k) == 1
            && g.sep[k - 1] == g.sep[k - 2]
            && ends_token(b, g.end(k));
        if !seps_ok || !groups_ok || goes_on || !ends_token(b, g.end(k - 1)) {
            continue;
        }
        let d = g.digits(b, k, &mut buf)?;
        // Thirteen digits in one run are an EAN-13 far more often than one of the thirteen-
        // digit Visa numbers no longer issued: a card then needs a card word before it.
        let ean_shaped = k == 1 && total == 13 && !context_has(b, g.span[0].0, CARD_WORDS);
        if luhn(d)
            && card_issuer_ok(d)
            && !is_test_card(d)
            && !ean_shaped
            && !product_code(b, g.span[0].0, &sink.tables)
        {
            sink.push(Kind::PaymentCard, g.span[0].0, g.end(k - 1));
            return Some(g.end(k - 1));
        }
    }
    None
}

fn ssn(b: &[u8], g: &Groups, sink: &mut Sink) -> Option<usize> {
    let shaped = g.count == 3
        && (g.seps_all(3, b'-') || g.seps_all(3, b' ') || g.seps_all(3, b'.'))
        && g.lens(3).eq([3, 2, 4])
        && ends_token(b, g.end(2));
    if !shaped {
        return None;
    }
    let part = |k: usize| number(&b[g.span[k].0..g.span[k].1]);
    if context_has(b, g.span[0].0, REFERENCE_WORDS) {
        return Some(g.end(2));
    }
    if ssn_valid(part(0), part(1), part(2)) {
        sink.push(Kind::UsSsn, g.span[0].0, g.end(2));
    } else if itin(part(0), part(1))
        && part(2) != 0
        && context_has(b, g.span[0].0, &["itin", "taxpayer"])
    {
        sink.push(Kind::NationalId, g.span[0].0, g.end(2));
    }
    // SSN-shaped but outside the ranges: a part number or a fixture, never a phone.
    Some(g.end(2))
}

/// Whether the number at `i` is labelled a product code (EAN, GTIN, ISBN, barcode), in the
/// words before it or its table column.
fn product_code(b: &[u8], i: usize, tables: &Tables) -> bool {
    const CODES: [&str; 6] = ["ean", "gtin", "isbn", "barcode", "upc", "sku"];
    // At a word's start: "ean" is also inside Dutch "geantwoord" and French "géant".
    let before = line_before(b, i);
    CODES
        .iter()
        .any(|c| super::text::contains_word_start_ci(before, c))
        || super::columns::column_label(b, i, tables)
            .is_some_and(|h| CODES.iter().any(|c| super::text::contains_ci(h, c)))
}

/// Words that label a number as a reference of some other kind.
pub(crate) const REFERENCE_WORDS: &[&str] = &[
    "error", "code", "ticket", "order", "invoice", "ref", "sku", "part", "serial", "model",
    "build", "version",
];

/// Whether one of `words` occurs in the 40 bytes of the line before `i`.
pub(crate) fn context_has(b: &[u8], i: usize, words: &[&str]) -> bool {
    let before = line_before(b, i);
    // Short words only at a word's start: `cc` is inside "account", `pan` inside "company".
    words.iter().any(|w| {
        if w.len() <= 3 {
            super::text::contains_word_start_ci(before, w)
        } else {
            super::text::contains_ci(before, w)
        }
    })
}

/// The 40 bytes before `i`, cut at a line break.
fn line_before(b: &[u8], i: usize) -> &[u8] {
    let mut start = i.saturating_sub(40);
    if let Some(nl) = memchr::memrchr(b'\n', &b[start..i]) {
        start += nl + 1;
    }
    &b[start..i]
}

/// `12345678Z`, `12345678-Z`, `12345678 Z`: a Spanish DNI with its check letter.
fn dni(b: &[u8], g: &Groups, sink: &mut Sink) -> Option<usize> {
    let (s, e) = g.span[0];
    if g.count != 1 || e - s != 8 || e >= b.len() {
        return None;
    }
    let l = if matches!(b[e], b'-' | b' ') && e + 1 < b.len() {
        e + 1
    } else {
        e
    };
    let letter = b[l].to_ascii_uppercase();
    if !b[l].is_ascii_alphabetic() || !ends_token(b, l + 1) || (l > e && !b[l].is_ascii_uppercase())
    {
        return None;
    }
    if letter == dni_letter(number(&b[s..e])) && !super::validate::repeated_digits(&b[s..e]) {
        sink.push(Kind::NationalId, s, l + 1);
        return Some(l + 1);
    }
    None
}

/// National ids whose check digits make them safe to report without a keyword: the French
/// NIR (`1 85 05 78 006 084 91`), the German Steuer-ID in its printed grouping
/// (`86 095 742 719`), the Brazilian CPF (`529.982.247-25`), and an NHS number after `NHS`.
fn national_id(b: &[u8], g: &Groups, sink: &mut Sink) -> Option<usize> {
    let mut buf = [0u8; 24];
    for k in (1..=g.count.min(7)).rev() {
        let end = g.end(k - 1);
        if !ends_token(b, end) {
            continue;
        }
        let Some(d) = g.digits(b, k, &mut buf) else {
            continue;
        };
        let mut lens_buf = [0usize; 7];
        for (x, l) in lens_buf.iter_mut().zip(g.lens(k)) {
            *x = l;
        }
        let lens = &lens_buf[..k];
        let spaced = g.sep[..k - 1].iter().all(|s| matches!(s, b' ' | b'\n'));
        let found = match d.len() {
            15 if (k == 1 || (spaced && lens == [1, 2, 2, 2, 3, 3, 2]) || lens == [13, 2]) => {
                nir(d).then_some(Kind::NationalId)
            }
            11 if spaced && lens == [2, 3, 3, 3] => steuer_id(d).then_some(Kind::NationalId),
            11 if lens == [3, 3, 3, 2] && g.sep[..3] == [b'.', b'.', b'-'] => {
                cpf(d).then_some(Kind::NationalId)
            }
            13 if lens == [3, 4, 4, 2] && d.starts_with(b"756") => {
                ahv(d).then_some(Kind::NationalId)
            }
            11 if lens == [2, 2, 2, 3, 2] => rijksregister(d).then_some(Kind::NationalId),
            10 if (k == 1 || lens == [3, 3, 4]) && context_has(b, g.span[0].0, &["nhs"]) => {
                if !nhs(d) {
                    // Announced as an NHS number: a wrong one is still not a phone.
                    return Some(end);
                }
                Some(Kind::MedicalId)
            }
            _ => None,
        };
        if let Some(kind) = found {
            sink.push(kind, g.span[0].0, end);
            return Some(end);
        }
    }
    None
}

/// IBAN, NINO or NIE whose letters end right before the digit at `i`.
fn letter_prefixed(b: &[u8], i: usize, sink: &mut Sink) -> Option<usize> {
    if i >= 2
        && b[i - 2].is_ascii_alphabetic()
        && b[i - 1].is_ascii_alphabetic()
        && starts_token(b, i - 2)
    {
        if b[i - 1].is_ascii_lowercase() {
            return iban(b, i - 2, sink);
        }
        if let Some(end) = iban(b, i - 2, sink).or_else(|| nino(b, i - 2, sink)) {
            return Some(end);
        }
    }
    if i >= 6 && starts_token(b, i - 6) && b[i - 6..i].iter().all(u8::is_ascii_uppercase) {
        let e = run_end(b, i, is_alnum);
        if e - (i - 6) == 16 && ends_token(b, e) && codice_fiscale(&b[i - 6..e]) {
            sink.push(Kind::NationalId, i - 6, e);
            return Some(e);
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

/// An IBAN starting at `s`, in any case, compact or in groups; groups may be broken by a
/// single space, dash or dot anywhere, or by a line break (a value pasted from a PDF).
fn iban(b: &[u8], s: usize, sink: &mut Sink) -> Option<usize> {
    let cc = [b[s].to_ascii_uppercase(), b[s + 1].to_ascii_uppercase()];
    let want = iban_len(&cc)?;
    let mut compact = [0u8; 34];
    let mut n = 0;
    let mut j = s;
    let mut end = s;
    while j < b.len() && n < want {
        let c = b[j];
        if c.is_ascii_alphanumeric() {
            compact[n] = c.to_ascii_uppercase();
            n += 1;
            j += 1;
            end = j;
            continue;
        }
        let blank = run_end(b, j, |x| matches!(x, b' ' | b'\t' | b'\r' | b'\n'));
        let newlines = b[j..blank].iter().filter(|x| **x == b'\n').count();
        let next = if blank > j && newlines <= 1 && blank - j <= 4 {
            blank
        } else if matches!(c, b'-' | b'.') {
            j + 1
        } else {
            break;
        };
        if !b.get(next).is_some_and(u8::is_ascii_alphanumeric) || (n < 4 && newlines > 0) {
            break;
        }
        j = next;
    }
    let letters = || b[s..end].iter().filter(|c| c.is_ascii_alphabetic());
    let mixed = letters().any(u8::is_ascii_lowercase) && letters().any(u8::is_ascii_uppercase);
    if n != want || !ends_token(b, end) || mixed {
        return None;
    }
    // `ad3789c5ba22c852d12cbd51`, `be41b6b7-db54-4e89-…`: a lowercase hex id or UUID that
    // happens to pass mod 97 (an IBAN typed in lowercase is grouped with spaces).
    let hexish = letters().all(u8::is_ascii_lowercase)
        && !b[s..end].contains(&b' ')
        && compact[4..n].iter().all(u8::is_ascii_hexdigit)
        && compact[4..n].iter().any(|c| (b'A'..=b'F').contains(c));
    if hexish {
        return Some(end);
    }
    // A textbook IBAN or a format (`NLkk BBBB 0123 4567 89`) is consumed whole, so that its
    // digit groups are not read again as a phone number.
    let format = compact[2..4] == *b"KK";
    let checked = compact[2].is_ascii_digit() && compact[3].is_ascii_digit();
    if !(format || checked) {
        return None;
    }
    if !format && iban_mod97(&compact[..n]) && !is_documented_iban(&compact[..n]) {
        sink.push(Kind::Iban, s, end);
    }
    Some(end)
}

/// Textbook IBANs: the examples of the SWIFT registry, national banking associations and
/// payment documentation, and IBANs built on the documented example bank codes.
fn is_documented_iban(v: &[u8]) -> bool {
    const EXAMPLES: [&str; 14] = [
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "GB29NWBK60161331926819",
        "FR1420041010050500013M02606",
        "FR7630006000011234567890189",
        "ES9121000418450200051332",
        "IT60X0542811101000000123456",
        "NL91ABNA0417164300",
        "BE68539007547034",
        "AT611904300234573201",
        "CH9300762011623852957",
        "IE29AIBK93115212345678",
        "PT50000201231234567890154",
        "PL61109010140000071219812874",
    ];
    const MORE: [&str; 3] = [
        "LU280019400644750000",
        "DK5000400440116243",
        "DE02120300000000202051",
    ];
    EXAMPLES
        .iter()
        .chain(MORE.iter())
        .any(|e| e.as_bytes() == v)
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
