//! Phone numbers checked against real numbering plans (libphonenumber's metadata through the
//! `phonenumber` crate). The matchers find phone-shaped digit groups; this module says
//! whether the digits are a number some plan assigns: international ones by their country
//! code, national ones in the regions the text's language points to, then in a default list.

use super::groups::Groups;
use super::phone_context::{fictional, fictional_intl, labelled_otherwise};
use super::plans::Plans;
use super::text::{ends_token, run_end};
use super::{Kind, Sink};

/// Regions tried for a national number when the text gives no hint, most likely first.
const DEFAULT_REGIONS: [&str; 14] = [
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "PT", "BE", "AT", "CH", "IE", "BR", "JP",
];

/// Words that mark a text's language, with the regions that language points to.
const CUES: &[(&[&str], &[&str])] = &[
    (
        &[
            "und",
            "der",
            "die",
            "das",
            "ist",
            "nicht",
            "bitte",
            "ich",
            "mit",
            "meine",
            "unter",
            "erreichbar",
            "anrufen",
            "handy",
            "rufnummer",
        ],
        &["DE", "AT", "CH"],
    ),
    (
        &[
            "le", "la", "les", "et", "est", "pour", "vous", "mon", "une", "appelez", "joindre",
            "portable",
        ],
        &["FR", "BE", "CH"],
    ),
    (
        &[
            "el",
            "los",
            "por",
            "para",
            "mi",
            "llama",
            "llamar",
            "móvil",
            "movil",
            "teléfono",
        ],
        &["ES"],
    ),
    (
        &[
            "il",
            "di",
            "che",
            "per",
            "sono",
            "chiama",
            "chiamare",
            "cellulare",
            "telefono",
            "numero",
        ],
        &["IT"],
    ),
    (
        &[
            "het",
            "een",
            "niet",
            "mijn",
            "bel",
            "bellen",
            "mobiel",
            "telefoonnummer",
            "nummer",
        ],
        &["NL", "BE"],
    ),
    (
        &[
            "não",
            "meu",
            "minha",
            "você",
            "ligue",
            "ligar",
            "telemóvel",
            "telefone",
            "celular",
        ],
        &["PT", "BR"],
    ),
    (
        &[
            "the", "and", "call", "me", "my", "please", "phone", "mobile", "cell",
        ],
        &["US", "GB", "IE"],
    ),
];

/// Whether `national` (ASCII digits, trunk prefix included) is a valid number in one of the
/// regions the text around `at` points to, or in the default list.
pub(crate) fn valid_national(plans: &Plans, b: &[u8], at: usize, national: &[u8]) -> bool {
    // `0123 4567 89` is what a template or a format description writes for "some number".
    if national.windows(10).any(|w| w == b"0123456789") {
        return false;
    }
    let hinted = hinted_regions(b, at);
    hinted
        .iter()
        .flatten()
        .chain(DEFAULT_REGIONS.iter())
        .any(|id| plans.valid_in(id, national))
}

/// The regions of the (up to two) languages hinted by cue words within 160 bytes either side
/// of `at`, the best-supported first.
fn hinted_regions(b: &[u8], at: usize) -> [Option<&'static str>; 6] {
    let start = at.saturating_sub(160);
    let end = (at + 160).min(b.len());
    let mut score = [0u8; 8];
    for w in super::text::words(b, start, end) {
        for (k, (words, _)) in CUES.iter().enumerate() {
            if super::text::word_in(w, words) {
                score[k] = score[k].saturating_add(1);
            }
        }
    }
    // The two best-supported languages: Romance languages share their short words.
    let mut order: Vec<usize> = (0..CUES.len()).filter(|k| score[*k] > 0).collect();
    order.sort_by_key(|k| (std::cmp::Reverse(score[*k]), *k));
    let mut out = [None; 6];
    let ids = order.iter().take(2).flat_map(|k| CUES[*k].1.iter());
    for (slot, id) in out.iter_mut().zip(ids) {
        *slot = Some(*id);
    }
    out
}

/// `+CC ...` or `00CC ...` with spaces, dashes, dots, slashes and `(0)`; `i` is the first
/// digit of the country code, `start` the `+` or `00`.
pub(crate) fn intl_phone(b: &[u8], i: usize, start: usize, sink: &mut Sink) -> Option<usize> {
    let mut j = i;
    let mut digits = [0u8; 24];
    let mut n = 0;
    let mut last = i;
    // Where each group ends: `+1 (210) 491-0535 30 minutes` is valid before ` 30`.
    let mut ends = [(0usize, 0usize); 12];
    let mut groups = 0;
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
        } else if matches!(c, b' ' | b'-' | b'.' | b'/')
            && j + 1 < b.len()
            && (b[j + 1].is_ascii_digit() || b[j + 1] == b'(')
        {
            if groups < ends.len() {
                ends[groups] = (n, last);
                groups += 1;
            }
            j += 1;
        } else if c == b'\n'
            && b.get(j + 1).is_some_and(u8::is_ascii_digit)
            && !super::text::stamp_at(b, j + 1)
        {
            // A number broken over two lines (not a log's next record).
            j += 1;
        } else if c == b'(' {
            let close = run_end(b, j + 1, |x| x.is_ascii_digit());
            if close >= b.len() || b[close] != b')' || close - j - 1 > 4 || close == j + 1 {
                break;
            }
            // `(0)` is the trunk prefix written for national callers; drop it.
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
    if groups < ends.len() {
        ends[groups] = (n, last);
        groups += 1;
    }
    if !ends_token(b, last) {
        return None;
    }
    for &(k, end) in ends[..groups].iter().rev() {
        if !(8..=15).contains(&k) {
            continue;
        }
        let d = &digits[..k];
        if sink.plans.valid_international(d) && !fictional_intl(b, start, d) {
            // A `+` is only ever written before a phone number; `00…` may be another code.
            if b[start] != b'+' && labelled_otherwise(b, start, &sink.tables) {
                return Some(last);
            }
            sink.push(Kind::Phone, start, end);
            return Some(end);
        }
    }
    None
}

/// `(415) 867-5309`, `(030) 1234567`; `i` is the first digit after `(`.
pub(crate) fn paren_phone(b: &[u8], i: usize, sink: &mut Sink) -> Option<usize> {
    let area_end = run_end(b, i, |c| c.is_ascii_digit());
    if !(2..=5).contains(&(area_end - i)) || b.get(area_end) != Some(&b')') {
        return None;
    }
    let mut j = area_end + 1;
    if matches!(b.get(j), Some(b' ' | b'-')) {
        j += 1;
    }
    if !b.get(j).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let g = Groups::parse(b, j);
    let k = g.count.min(3);
    let end = g.end(k - 1);
    let mut national = [0u8; 24];
    let a = area_end - i;
    national[..a].copy_from_slice(&b[i..area_end]);
    let mut buf = [0u8; 24];
    let rest = g.digits(b, k, &mut buf)?;
    let n = a + rest.len();
    if n > national.len() || !ends_token(b, end) {
        return None;
    }
    national[a..n].copy_from_slice(rest);
    let d = &national[..n];
    let nanp = a == 3 && n == 10 && d[0] >= b'2' && d[3] >= b'2';
    if (nanp || valid_national(sink.plans, b, i, d))
        && !labelled_otherwise(b, i - 1, &sink.tables)
        && !fictional(b, i, d)
    {
        sink.push(Kind::Phone, i - 1, end);
        return Some(end);
    }
    None
}

/// A national number in digit groups: trunk-prefixed (`0151 23456789`, `06 12 34 56 78`,
/// `090-1234-5678`), NANP (`212-867-5309`), nine digits without a trunk prefix (`612 345
/// 678`), Italian mobiles (`347 123 4567`), or spelled out digit by digit.
#[inline]
pub(crate) fn national_phone(b: &[u8], i: usize, g: &Groups, sink: &mut Sink) -> Option<usize> {
    let k = g.count;
    let end = g.end(k - 1);
    if !ends_token(b, end) {
        return None;
    }
    // After `+` the digits were an international number or nothing; after `RMT-` or
    // `10:` they are part of a code or a time.
    if i > 0 && b[i - 1] == b'+' {
        return None;
    }
    if i >= 2 && b"-_#/:".contains(&b[i - 1]) && b[i - 2].is_ascii_alphanumeric() {
        return None;
    }
    if k == 1 {
        return contiguous_phone(b, i, end, sink);
    }
    let mut buf = [0u8; 24];
    let d = g.digits(b, k, &mut buf)?;
    let total = d.len();
    let mut lens_buf = [0usize; 24];
    for (x, l) in lens_buf.iter_mut().zip(g.lens(k)) {
        *x = l;
    }
    let lens = &lens_buf[..k];
    let seps = &g.sep[..k - 1];
    let same = |s: u8| seps.iter().all(|x| *x == s);
    // Belgium writes the zone, a slash, then dotted pairs: `0485/65.90.31`.
    let belgian =
        seps.len() >= 2 && seps[0] == b'/' && seps[1..].iter().all(|x| matches!(x, b'.' | b' '));
    let one_sep = [b' ', b'-', b'.', b'/'].iter().any(|s| same(*s))
        || seps.iter().all(|x| matches!(x, b' ' | b'-'))
        || belgian;
    if !one_sep || !(9..=13).contains(&total) {
        return None;
    }
    // `08-04-2024 16:22`: a date, then a time.
    // A year is not written with a leading zero: `0485/65.90.31` is a Belgian number.
    let date = k >= 3
        && ((lens[..3] == [2, 2, 4] || (lens[..3] == [4, 2, 2] && d[0] != b'0'))
            && seps[..2].iter().all(|s| matches!(s, b'-' | b'.' | b'/')));
    if date {
        return None;
    }
    let spelled = lens.iter().all(|l| *l == 1);
    let trunk = d[0] == b'0' && d[1] != b'0' && (spelled || lens.iter().all(|l| *l >= 2));
    let nanp_shape = lens == [3, 3, 4] && d[0] >= b'2' && d[3] >= b'2';
    let nanp = nanp_shape && (same(b'-') || same(b'.'));
    let nanp_one = lens == [1, 3, 3, 4] && d[0] == b'1' && d[1] >= b'2' && d[4] >= b'2';
    let nine = total == 9
        && matches!(d[0], b'2' | b'6' | b'7' | b'8' | b'9')
        && (lens == [3, 3, 3] || lens == [3, 2, 2, 2] || lens == [2, 3, 2, 2]);
    let italian = d[0] == b'3'
        && total == 10
        && (lens == [3, 3, 4] || lens == [3, 7] || lens == [3, 4, 3] || lens == [3, 3, 2, 2]);
    let plain_spelled = spelled && !trunk && (9..=11).contains(&total);
    // Brazil's area code and number, in a Portuguese text: `11 95073-9109`, `21 3456 7890`.
    let brazil = matches!(lens, [2, 5, 4] | [2, 4, 4] | [2, 9] | [2, 8])
        && d[0] != b'0'
        && hinted_regions(b, i).contains(&Some("BR"));
    if !(trunk || nanp || nanp_one || nanp_shape || nine || italian || plain_spelled || brazil) {
        return None;
    }
    if labelled_otherwise(b, i, &sink.tables) {
        return Some(end);
    }
    // NANP numbers with dashes or dots are phones by shape alone: the 555 ranges the plans
    // reserve for fiction are still written as phone numbers.
    let ok = (nanp || nanp_one || valid_national(sink.plans, b, i, d)) && !fictional(b, i, d);
    if ok {
        sink.push(Kind::Phone, i, end);
        return Some(end);
    }
    None
}

/// A national number written without separators: trunk-prefixed (`0641721730`), or a
/// Spanish, Italian or Portuguese mobile in a text in that language (`648384606`,
/// `3471234567`, `915698122`).
fn contiguous_phone(b: &[u8], i: usize, end: usize, sink: &mut Sink) -> Option<usize> {
    let d = &b[i..end];
    let n = d.len();
    if !(9..=12).contains(&n) {
        return None;
    }
    // Twelve digits only with a trunk prefix, after a space: German mobiles run to
    // `0176 02673088`, and AWS account ids (`arn:aws:iam::064190657790`) are as long.
    let trunk = d[0] == b'0' && d[1] != b'0' && n >= 10;
    if n == 12 && !(trunk && i > 0 && b[i - 1].is_ascii_whitespace()) {
        return None;
    }
    let es_shape = n == 9 && matches!(d[0], b'6' | b'7' | b'8' | b'9');
    let it_shape = n == 10 && d[0] == b'3';
    let pt_shape = n == 9 && d[0] == b'9' && matches!(d[1], b'1' | b'2' | b'3' | b'6');
    // Brazil: area code, then a mobile's 9 and eight digits (`11950739109`).
    let br_shape = n == 11 && d[0] != b'0' && d[2] == b'9';
    if !(trunk || es_shape || it_shape || pt_shape || br_shape) {
        return None;
    }
    let hint = hinted_regions(b, i);
    let hinted = |id: &str| hint.contains(&Some(id));
    let es = es_shape && hinted("ES");
    let it = it_shape && hinted("IT");
    let pt = pt_shape && hinted("PT");
    let br = br_shape && hinted("BR");
    if !(trunk || es || it || pt || br) || labelled_otherwise(b, i, &sink.tables) {
        return None;
    }
    if valid_national(sink.plans, b, i, d) && !fictional(b, i, d) {
        sink.push(Kind::Phone, i, end);
        return Some(end);
    }
    None
}

/// A phone number within the line after a phone keyword (`Tel.`, `Handy`, `móvil`): with the
/// keyword, any plausible digit string counts, checked against the plans only when it says
/// which country it is in (`+` or `00`).
pub(crate) fn phone_after(b: &[u8], e: usize, sink: &mut super::Sink) {
    use super::text::{ends_token, line_after, run_end, starts_token};
    let limit = line_after(b, e, 40);
    let Some(d) = b[e..limit]
        .iter()
        .position(|c| c.is_ascii_digit() || *c == b'+' || *c == b'(')
        .map(|p| e + p)
    else {
        return;
    };
    if !starts_token(b, d) && b[d] != b'+' && b[d] != b'(' {
        return;
    }
    let phone_char =
        |c: u8| c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+');
    let trim = |mut end: usize| {
        while end > d && !b[end - 1].is_ascii_digit() {
            end -= 1;
        }
        end
    };
    let mut end = trim(run_end(b, d, phone_char));
    // A number too short to call that goes on at the start of the next line was wrapped
    // (a business card's "Mobile: 669\n945 861"): plain digit groups on both lines only, as
    // versions, dates and times are not wrapped numbers.
    let plain = |c: &u8| c.is_ascii_digit() || *c == b' ';
    let short =
        b[d..end].iter().filter(|c| c.is_ascii_digit()).count() < 7 && b[d..end].iter().all(plain);
    if short && b.get(end) == Some(&b'\n') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        let next = trim(run_end(b, end + 1, |c| plain(&c)));
        if next > end + 1 && !b.get(next).is_some_and(|c| phone_char(*c) && *c != b' ') {
            end = next;
        }
    }
    let span = &b[d..end];
    let mut digits = [0u8; 24];
    let mut n = 0;
    for c in span.iter().filter(|c| c.is_ascii_digit()) {
        if n == digits.len() {
            return;
        }
        digits[n] = *c;
        n += 1;
    }
    if !(7..=15).contains(&n) || !ends_token(b, end) || date_or_time(span) {
        return;
    }
    // `192.168.1.23`: an address ("my phone can't open http://192.168.1.23:5000").
    if span.windows(2).any(|w| w[0] == b' ' && w[1] == b' ') || super::text::dotted_quad(span) {
        return;
    }
    let intl = span.starts_with(b"+") || span.starts_with(b"00");
    let d_ = &digits[..n];
    if super::phone_context::dummy_digits(d_) {
        return;
    }
    if intl {
        let cc = if span.starts_with(b"+") { d_ } else { &d_[2..] };
        if !sink.plans.valid_international(cc) {
            return;
        }
    }
    sink.push(super::Kind::Phone, d, end);
}

/// `12.03.2024`, `2024-03-12`, `10:30`: dates and times after a phone word ("call me on
/// 12.03.2024") are not numbers to call.
pub(crate) fn date_or_time(span: &[u8]) -> bool {
    let groups: Vec<&[u8]> = span.split(|c| matches!(c, b'.' | b'/' | b'-')).collect();
    groups.len() == 3
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.len() <= 4 && g.iter().all(u8::is_ascii_digit))
        && (groups[0].len() == 4 || groups[2].len() == 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_numbers_by_language() {
        let plans = Plans::new();
        let v = |text: &str, n: &str| valid_national(&plans, text.as_bytes(), 0, n.as_bytes());
        assert!(v("ruf mich an", "015123456789"));
        assert!(v("appelez-moi", "0612345678"));
        assert!(v("llámame", "612345678"));
        assert!(v("call me", "2128675309"));
        assert!(v("", "09012345678"));
        assert!(!v("", "0000000000"));
        assert!(!v("", "1234"));
        assert_eq!(
            hinted_regions(b"bitte ruf mich an, ich bin da", 0)[0],
            Some("DE")
        );
    }
}
