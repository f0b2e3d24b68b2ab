//! Values typed over consecutive chat lines by one speaker ("[14:03] Customer: its 5024 9515",
//! "[14:03] Customer: 0168", "[14:03] Customer: 7862 exp 11/26"): the spelling layer drops the
//! next line's speaker prefix, so the matchers see the pieces on consecutive lines, as a value
//! wrapped over lines (or one token, when the pieces are halves of one), and its finding
//! covers every piece.

use super::text::run_end;

/// The longest line content that counts as a piece of a value.
const MAX_PIECE: usize = 32;

/// The speaker of the line `b[ls..le]` and where its content starts: the text before its
/// first `": "` within 48 bytes, after a leading `[time]` and times or dates.
fn speaker(b: &[u8], ls: usize, le: usize) -> Option<(&[u8], usize)> {
    // The quoted lines of a forwarded mail are one sender's ("> 25390971", "> 28896893").
    if b[ls..le].starts_with(b"> ") {
        return Some((&b[ls..ls + 1], ls + 2));
    }
    let hi = (ls + 48).min(le);
    let Some(colon) = memchr::memchr_iter(b':', &b[ls..hi])
        .map(|p| ls + p)
        .find(|&p| b.get(p + 1) == Some(&b' '))
    else {
        return timestamp_only(b, ls, le);
    };
    let mut s = ls;
    if b[s] == b'[' {
        s += memchr::memchr(b']', &b[s..colon])? + 1;
    }
    loop {
        s = run_end(b, s, |c| c == b' ');
        let t = run_end(b, s, |c| {
            c.is_ascii_digit() || matches!(c, b':' | b'.' | b'/' | b'-' | b',')
        });
        if t > s && t < colon && b[t] == b' ' {
            s = t;
        } else {
            break;
        }
    }
    // Numbered messages are one sender's: `msg1:`, `SMS 2:`, `deel 3:`.
    let mut n = colon;
    while n > s && (b[n - 1].is_ascii_digit() || b[n - 1] == b' ') {
        n -= 1;
    }
    let name = &b[s..n];
    let label = name.trim_ascii();
    if PIECE_LABELS
        .iter()
        .any(|w| label.eq_ignore_ascii_case(w.as_bytes()))
    {
        return Some((b"#", colon + 2));
    }
    let named = name.iter().any(|c| c.is_ascii_alphabetic() || *c >= 0x80);
    (named && name.len() <= 32 && !name.contains(&b'=')).then_some((name, colon + 2))
}

/// A line that starts with a bracketed time and names no speaker (`[9:14 AM] first part
/// 60111088`, texts forwarded from one phone): all such lines are one sender's.
fn timestamp_only(b: &[u8], ls: usize, le: usize) -> Option<(&[u8], usize)> {
    if b.get(ls) != Some(&b'[') {
        return None;
    }
    let close = ls + memchr::memchr(b']', &b[ls..(ls + 24).min(le)])?;
    let inside = &b[ls + 1..close];
    let time = inside.contains(&b':') && inside.first().is_some_and(u8::is_ascii_digit);
    time.then(|| (&b[ls..ls + 1], run_end(b, close + 1, |c| c == b' ')))
}

/// The end of the line starting at `ls`.
fn line_end(b: &[u8], ls: usize) -> usize {
    memchr::memchr(b'\n', &b[ls..]).map_or(b.len(), |p| ls + p)
}

/// Whether `b[cs..le]` is short enough to be a piece of a value.
fn piece(b: &[u8], cs: usize, le: usize) -> bool {
    let mut e = le;
    while e > cs && matches!(b[e - 1], b' ' | b'\r') {
        e -= 1;
    }
    (1..=MAX_PIECE).contains(&(e - cs))
}

/// Whether the line `b[cs..le]` ends with digit groups, the start of a value whose rest
/// follows on the next lines ("IBAN FR76 1027 8832 8167" before "7575 7259 5"), however long
/// the words before them.
fn ends_in_groups(b: &[u8], cs: usize, le: usize) -> bool {
    let line = b[cs..le].trim_ascii_end();
    let tail = &line[trailing_groups(line)..];
    tail.iter().filter(|c| c.is_ascii_digit()).count() >= 8 && tail.contains(&b' ')
}

/// Where the digit groups that end `line` start (its length when it ends otherwise).
fn trailing_groups(line: &[u8]) -> usize {
    super::text::run_start(line, line.len(), |c| c.is_ascii_digit() || c == b' ')
}

/// A piece may go on with a letter, a digit, or an address's `@` or `.`.
fn continues(c: Option<&u8>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'@' | b'.'))
}

/// Where the next line's content starts when the line break at `nl` joins two pieces by one
/// speaker, and whether the pieces are halves of one token (`ghp_8Ims…` then `DbXO…`,
/// `ES440182` then `84770380`), to be joined directly, rather than digit groups
/// (`5024 9515` then `0168`), which keep a line break between them.
pub(crate) fn join_at(b: &[u8], nl: usize) -> Option<(usize, bool)> {
    let ls = memchr::memrchr(b'\n', &b[..nl]).map_or(0, |p| p + 1);
    let (who, cs) = speaker(b, ls, nl)?;
    if !piece(b, cs, nl) && !ends_in_groups(b, cs, nl) {
        return None;
    }
    let next = nl + 1;
    let (again, ns) = speaker(b, next, line_end(b, next))?;
    let (ns, next_end) = over_chatter_line(b, who, ns, line_end(b, next));
    let ns = past_chatter(b, ns, next_end);
    // A short digit group (`0168`) is one of a value's groups; a longer run, or one with
    // letters or marks, is half a token when a short piece follows it (not a sentence: "…
    // 27460589" then "validade 08/28").
    let p = b[cs..nl].trim_ascii();
    let digits = p.iter().all(u8::is_ascii_digit);
    // Digits go on with digits: after `94243853`, "caduca en el 28" is a new sentence.
    let letters_next = b.get(ns).is_some_and(u8::is_ascii_alphabetic);
    let token = !p.contains(&b' ')
        && (!digits || (p.len() >= 6 && !letters_next))
        && piece(b, ns, next_end);
    (again == who && continues(b.get(ns))).then_some((ns, token))
}

/// Where the piece after the line content `b[cs..le]` starts and its line ends: on the line
/// after, when this one is a short remark with no digit by the same speaker ("sorry, it went
/// too early") and the line after starts with digits.
fn over_chatter_line(b: &[u8], who: &[u8], cs: usize, le: usize) -> (usize, usize) {
    let chatter = le - cs <= 60 && !b[cs..le].iter().any(u8::is_ascii_digit);
    if chatter && le < b.len() {
        let after_end = line_end(b, le + 1);
        if let Some((third, ts)) = speaker(b, le + 1, after_end) {
            if third == who && b.get(ts).is_some_and(u8::is_ascii_digit) {
                return (ts, after_end);
            }
        }
    }
    (cs, le)
}

/// Words that open the next piece of a value rather than a new sentence ("y 1306", "y acaba
/// en 3569", "sorry handy 🙈 034"); "caduca en el 28" is the card's expiry.
const OPENERS: &[&str] = &[
    "y", "e", "et", "and", "und", "en", "i", "sorry", "oops", "ops", "perdón", "perdon", "pardon",
    "scusa", "sorry,", "oeps", "desculpa",
    // "first bit 5173 1713", then "rest 9818 7814".
    "rest", "then", "resto", "luego", "después", "despues", "dann", "puis", "ensuite", "reste",
    "poi", "dopo", "daarna", "depois",
];

/// Labels of the pieces of a value sent in parts ("primero: 4152 7030", "después: 9211
/// 2082"): lines labelled so are one sender's, like numbered messages.
const PIECE_LABELS: &[&str] = &[
    "first",
    "second",
    "third",
    "last",
    "rest",
    "then",
    "primero",
    "segundo",
    "después",
    "despues",
    "luego",
    "resto",
    "erst",
    "zuerst",
    "dann",
    "premier",
    "deuxième",
    "ensuite",
    "puis",
    "reste",
    "prima",
    "poi",
    "dopo",
    "eerst",
    "daarna",
    "primeiro",
    "depois",
    "part",
    "parte",
    "teil",
];

/// Past a few words that open a piece and end in its digits: the rest of the value.
fn past_chatter(b: &[u8], cs: usize, le: usize) -> usize {
    let line = b[cs..le].trim_ascii_end();
    let first = line.split(|c| *c == b' ').next().unwrap_or_default();
    if !OPENERS
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w.as_bytes()))
    {
        return cs;
    }
    let groups = trailing_groups(line);
    let groups = groups + line[groups..].iter().take_while(|c| **c == b' ').count();
    let words = line[..groups]
        .split(|c| *c == b' ')
        .filter(|w| !w.is_empty())
        .count();
    let plain = !line[..groups].iter().any(u8::is_ascii_digit);
    if groups < line.len() && plain && words <= 4 {
        cs + groups
    } else {
        cs
    }
}

/// Where the next line's content starts when `i` is in a chat line ending at `nl` and the
/// next line is a chat line too: a question there may be answered on the next line.
pub(crate) fn answer_after(b: &[u8], i: usize, nl: usize) -> Option<usize> {
    if b.get(nl) != Some(&b'\n') {
        return None;
    }
    let ls = memchr::memrchr(b'\n', &b[..i]).map_or(0, |p| p + 1);
    speaker(b, ls, nl)?;
    let next = nl + 1;
    speaker(b, next, line_end(b, next)).map(|(_, cs)| cs)
}

/// Whether `b` holds such a join, which is what makes the spelling layer run for it.
pub(crate) fn has_joins(b: &[u8]) -> bool {
    let mut ls = 0;
    let mut prev: Option<(&[u8], bool)> = None;
    while ls < b.len() {
        let le = line_end(b, ls);
        let cur = speaker(b, ls, le);
        if let (Some((who, true)), Some((again, cs))) = (prev, cur) {
            if who == again && continues(b.get(cs)) {
                return true;
            }
        }
        prev = cur.map(|(who, cs)| (who, piece(b, cs, le) || ends_in_groups(b, cs, le)));
        ls = le + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_speakers_pieces_join() {
        let t = b"[14:03] Customer: its 5024 9515\n[14:03] Customer: 0168\n[14:04] Agent: thanks";
        assert!(has_joins(t));
        let nl = t.iter().position(|c| *c == b'\n').unwrap();
        assert_eq!(
            join_at(t, nl),
            Some((nl + 1 + "[14:03] Customer: ".len(), false))
        );
        // The agent's line is another speaker's.
        let nl2 = nl + 1 + t[nl + 1..].iter().position(|c| *c == b'\n').unwrap();
        assert_eq!(join_at(t, nl2), None);
    }

    #[test]
    fn long_lines_and_other_speakers_do_not_join() {
        assert!(!has_joins(
            b"Kunde: Hallo, ich komme nicht mehr in mein Konto rein\nKunde: bitte helfen"
        ));
        assert!(!has_joins(b"Kunde: 0151\nSupport: 2345"));
        assert!(!has_joins(
            b"2024-05-01 10:00:01 INFO [w-1] GET /a 200\n2024-05-01 10:00:02 INFO"
        ));
    }
}
