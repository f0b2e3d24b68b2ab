//! Encoded blobs: base64 (standard and URL-safe) and hex runs above a small size are decoded
//! and, when they decode to text, scanned like any other text. A finding inside a blob is
//! reported as the whole blob, which is what redaction must remove.
//!
//! Work is bounded: a prompt decodes at most [`DECODE_BUDGET`] bytes in all, and decoded text
//! is scanned for blobs again only to a fixed depth.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

/// Decoded bytes one prompt may scan, over all its parts and blobs.
pub(crate) const DECODE_BUDGET: usize = 64 * 1024;

/// Shortest run worth decoding: 16 base64 characters are 12 bytes.
pub(crate) const MIN_RUN: usize = 16;
/// Shortest run worth decoding when padding ends it: 12 characters and `==` are a date.
const MIN_PADDED: usize = 12;

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

/// A character a blob's run may hold: the base64 and base64url alphabets, and `=`, as a
/// padded run is a blob a few characters shorter. Written without short-circuits so that a
/// block of bytes is tested in vector registers.
pub(crate) const fn run_char(c: u8) -> bool {
    let letter = (c | 0x20).wrapping_sub(b'a') < 26;
    let digit = c.wrapping_sub(b'0') < 10;
    letter | digit | (c == b'+') | (c == b'/') | (c == b'-') | (c == b'_') | (c == b'=')
}

const fn b64_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = run_char(c as u8);
        c += 1;
    }
    t
}

static B64: [bool; 256] = b64_table();

fn b64_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_')
}

/// `(start, end, decoded)` of every blob in `b` that decodes to text, while the budget lasts.
pub(crate) fn text_blobs(b: &[u8], budget: &mut usize) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    let mut i = 0;
    let mut buf = Vec::new();
    while i < b.len() && *budget > 0 {
        // Skip to the next run long enough to be a blob with a table lookup per byte: prose
        // words are short runs.
        let mut run = 0;
        while i < b.len() {
            if B64[usize::from(b[i])] {
                run += 1;
                if run == MIN_RUN {
                    break;
                }
            } else {
                run = 0;
            }
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        i -= MIN_RUN - 1;
        // A leading `/` is a path separator or `//` of a URL, not part of the blob.
        let s = super::text::run_end(b, i, |c| c == b'/');
        let mut e = super::text::run_end(b, s, b64_char);
        let pad = super::text::run_end(b, e, |c| c == b'=');
        i = e.max(s + 1);
        let min = if pad > e { MIN_PADDED } else { MIN_RUN };
        if pad - e > 2 || e - s < min {
            continue;
        }
        // Padding says base64 where mixed case alone is too weak a sign for a short run
        // ("MTIvMTAvMTkzMQ==", a date).
        let padded = pad > e && (pad - s) % 4 == 0;
        if !(decode(&b[s..e], &mut buf) || (padded && decode_padded(&b[s..e], &mut buf))) {
            continue;
        }
        e = pad;
        i = e;
        let take = buf.len().min(*budget);
        *budget -= take;
        if let Ok(text) = std::str::from_utf8(&buf[..take]) {
            if printable(text) {
                found.push((s, e, text.to_string()));
            }
        }
    }
    found
}

/// A short base64 value decoded to text, when it decodes to printable ASCII. Unlike blobs
/// found anywhere, the caller has context saying it is encoded, so a short run without digits
/// is tried too.
pub(crate) fn decode_text(run: &[u8]) -> Option<String> {
    let mixed = run.iter().any(u8::is_ascii_uppercase) && run.iter().any(u8::is_ascii_lowercase);
    let url = run.iter().any(|c| matches!(c, b'-' | b'_'));
    let engine = if url { &URL_SAFE } else { &STANDARD };
    let out = engine.decode(run).ok().filter(|_| mixed)?;
    out.iter()
        .all(|c| c.is_ascii_graphic() || *c == b' ')
        .then(|| String::from_utf8(out).ok())
        .flatten()
}

/// Printable text written in hex (`50696e67…`), as a password "encoded so no one reads it".
pub(crate) fn hex_text(run: &[u8]) -> Option<String> {
    if !run.len().is_multiple_of(2) || !run.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = Vec::with_capacity(run.len() / 2);
    unhex(run, &mut out);
    out.iter()
        .all(u8::is_ascii_graphic)
        .then(|| String::from_utf8(out).ok())
        .flatten()
}

/// Appends the bytes an even run of hex digits spells.
fn unhex(run: &[u8], out: &mut Vec<u8>) {
    let v = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    out.extend(run.chunks(2).map(|p| v(p[0]) * 16 + v(p[1])));
}

/// Decodes a hex or base64 run into `out`; false when it is neither or decodes to nothing
/// useful. Hashes, UUIDs and binary data fail the printable test later or here.
fn decode(run: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let hex = run.iter().all(u8::is_ascii_hexdigit);
    if hex {
        if !run.len().is_multiple_of(2) {
            return false;
        }
        unhex(run, out);
        return true;
    }
    // Words and identifiers are runs too; real base64 mixes cases and digits.
    let upper = run.iter().any(u8::is_ascii_uppercase);
    let lower = run.iter().any(u8::is_ascii_lowercase);
    let digit = run.iter().any(u8::is_ascii_digit);
    if !(upper && lower && (digit || run.len() >= 24)) || run.len() % 4 == 1 {
        return false;
    }
    let url = run.iter().any(|c| matches!(c, b'-' | b'_'));
    let std = run.iter().any(|c| matches!(c, b'+' | b'/'));
    if url && std {
        return false;
    }
    let engine = if url { &URL_SAFE } else { &STANDARD };
    engine.decode_vec(run, out).is_ok()
}

/// Decodes a run that padding marks as base64, mixed case or not digits.
fn decode_padded(run: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let url = run.iter().any(|c| matches!(c, b'-' | b'_'));
    let engine = if url { &URL_SAFE } else { &STANDARD };
    run.iter().any(u8::is_ascii_uppercase)
        && run.iter().any(u8::is_ascii_lowercase)
        && engine.decode_vec(run, out).is_ok()
}

/// Mostly printable text: at least 90% printable ASCII or whitespace, nothing from the C0
/// controls but tab and line breaks.
fn printable(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() < 8 {
        return false;
    }
    let good = b
        .iter()
        .filter(|c| matches!(c, 0x20..=0x7e | b'\n' | b'\r' | b'\t'))
        .count();
    let control = b
        .iter()
        .any(|c| *c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t'));
    !control && good * 10 >= b.len() * 9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(s: &str) -> Vec<(String, String)> {
        let mut budget = DECODE_BUDGET;
        text_blobs(s.as_bytes(), &mut budget)
            .into_iter()
            .map(|(a, b, t)| (s[a..b].to_string(), t))
            .collect()
    }

    #[test]
    fn decodes_text_blobs() {
        let v = blobs("key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t end");
        assert_eq!(v[0].1, "-----BEGIN PRIVATE KEY-----");
        let v = blobs("x=6a616e652e646f6540676d61696c2e636f6d;");
        assert_eq!(v[0].1, "jane.doe@gmail.com");
    }

    #[test]
    fn skips_binary_hashes_and_words() {
        assert!(
            blobs("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                .is_empty()
        );
        assert!(blobs("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk").is_empty());
        assert!(blobs("Internationalisation_Considerations are words").is_empty());
    }

    #[test]
    fn budget_bounds_the_work() {
        let blob = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t ".repeat(10_000);
        let mut budget = 100;
        let n = text_blobs(blob.as_bytes(), &mut budget).len();
        assert!(n <= 4 && budget == 0);
    }
}
