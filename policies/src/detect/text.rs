//! Byte-level helpers shared by the matchers.

/// ASCII letter or digit.
pub(crate) fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// A letter in any script: ASCII letters and every byte of a multi-byte UTF-8 character.
pub(crate) fn is_letter(b: u8) -> bool {
    b.is_ascii_alphabetic() || b >= 0x80
}

/// Whether position `i` starts a token (nothing alphanumeric right before it, in any
/// script: `«0201»` starts one, `ü0201` does not).
pub(crate) fn starts_token(bytes: &[u8], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    if bytes[i - 1] < 0x80 {
        return !is_alnum(bytes[i - 1]);
    }
    let mut s = i - 1;
    while s > 0 && i - s < 4 && (bytes[s] & 0xc0) == 0x80 {
        s -= 1;
    }
    !char_at(bytes, s).is_some_and(char::is_alphanumeric)
}

/// Whether position `i` ends a token (nothing alphanumeric at `i`, in any script).
pub(crate) fn ends_token(bytes: &[u8], i: usize) -> bool {
    if i >= bytes.len() {
        return true;
    }
    if bytes[i] < 0x80 {
        return !is_alnum(bytes[i]);
    }
    !char_at(bytes, i).is_some_and(char::is_alphanumeric)
}

/// The character starting at byte `i`, if a whole one does.
fn char_at(bytes: &[u8], i: usize) -> Option<char> {
    let end = (i + 4).min(bytes.len());
    let chunk = &bytes[i..end];
    let valid = match std::str::from_utf8(chunk) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&chunk[..e.valid_up_to()]).ok()?,
    };
    valid.chars().next()
}

/// The first position from `i` whose byte satisfies `pred` (or the end), skipping 16-byte
/// blocks that have none with a branch-free test the compiler vectorises.
#[inline]
pub(crate) fn skip_to(b: &[u8], mut i: usize, pred: impl Fn(u8) -> bool + Copy) -> usize {
    while let Some(block) = b.get(i..i + 16) {
        if block.iter().fold(false, |acc, &c| acc | pred(c)) {
            break;
        }
        i += 16;
    }
    while i < b.len() && !pred(b[i]) {
        i += 1;
    }
    i
}

/// The end of the run of bytes from `i` that satisfy `pred`.
pub(crate) fn run_end(bytes: &[u8], i: usize, pred: impl Fn(u8) -> bool) -> usize {
    let mut j = i;
    while j < bytes.len() && pred(bytes[j]) {
        j += 1;
    }
    j
}

/// The start of the run of bytes ending at `i` that satisfy `pred`.
pub(crate) fn run_start(bytes: &[u8], i: usize, pred: impl Fn(u8) -> bool) -> usize {
    let mut j = i;
    while j > 0 && pred(bytes[j - 1]) {
        j -= 1;
    }
    j
}

/// `i..i+max` cut at the first line break.
pub(crate) fn line_after(bytes: &[u8], i: usize, max: usize) -> usize {
    let end = (i + max).min(bytes.len());
    memchr::memchr(b'\n', &bytes[i..end]).map_or(end, |n| i + n)
}

/// The words (runs of letters, apostrophes inside) between `start` and `end`.
pub(crate) fn words(bytes: &[u8], start: usize, end: usize) -> impl Iterator<Item = &[u8]> {
    bytes[start..end]
        .split(|b| !(is_letter(*b) || *b == b'\''))
        .filter(|w| !w.is_empty())
}

/// Whether `word` equals one of `list`, ignoring ASCII case.
pub(crate) fn word_in(word: &[u8], list: &[&str]) -> bool {
    list.iter().any(|w| w.as_bytes().eq_ignore_ascii_case(word))
}

/// Whether `hay` contains `needle`, ignoring ASCII case.
pub(crate) fn contains_ci(hay: &[u8], needle: &str) -> bool {
    occurs_ci(hay, needle, |_| true)
}

/// Whether `hay` contains `needle` at the start of a word (no letter just before it),
/// ignoring ASCII case: `ean` in "EAN-13" and "ean;artikel", not in "geantwoord".
pub(crate) fn contains_word_start_ci(hay: &[u8], needle: &str) -> bool {
    occurs_ci(hay, needle, |p| p == 0 || !is_letter(hay[p - 1]))
}

/// Whether `needle` occurs in `hay`, ignoring ASCII case, at a position `at` accepts.
fn occurs_ci(hay: &[u8], needle: &str, at: impl Fn(usize) -> bool) -> bool {
    let n = needle.as_bytes();
    let Some(&first) = n.first() else {
        return true;
    };
    if n.len() > hay.len() {
        return false;
    }
    // Jump between occurrences of the first byte in either case, then compare the rest.
    let last_start = hay.len() - n.len();
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, &hay[..=last_start])
        .any(|p| at(p) && hay[p..p + n.len()].eq_ignore_ascii_case(n))
}

/// The number a run of ASCII digits spells (saturating).
pub(crate) fn number(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })
}

/// Whether `v` is four dot-separated groups of one to three digits, an IPv4 address's shape.
pub(crate) fn dotted_quad(v: &[u8]) -> bool {
    let groups: Vec<&[u8]> = v.split(|c| *c == b'.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| (1..=3).contains(&g.len()) && g.iter().all(u8::is_ascii_digit))
}

/// Whether a log line's date or time starts at `k` (`2025-02-27`, `18:22:59`): the start of
/// the next record, never the rest of a number wrapped from the line before.
pub(crate) fn stamp_at(b: &[u8], k: usize) -> bool {
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let date = digits(k, 4)
        && matches!(&b[k..k + 2], b"19" | b"20")
        && b.get(k + 4) == Some(&b'-')
        && digits(k + 5, 2)
        && b.get(k + 7) == Some(&b'-')
        && digits(k + 8, 2);
    let time = digits(k, 2)
        && b.get(k + 2) == Some(&b':')
        && digits(k + 3, 2)
        && b.get(k + 5) == Some(&b':')
        && digits(k + 6, 2);
    date || time
}
