//! Values given in two pieces within one text: "the card is 35501898 and the rest is
//! 06822283", "inizia con BNLHSN02. La seconda metà è L05L781B", `"sk_live_fq…" + "LXo…"`.
//! A continuation word ("the rest", "le reste", "lo que falta", "(sigue)") or a string
//! concatenation between two pieces joins them, and the joined value is scanned with the
//! words before the first piece as its context. Only a value that spans the join is
//! reported, over both pieces: a piece that is a value by itself was found already.

use super::Anchor;

/// Words that say what follows completes a value given just before (matched ignoring ASCII
/// case; only texts with a digit look for them).
#[rustfmt::skip]
const CUES: &[&str] = &[
    "the rest", "rest is", "rest of it", "last part", "second part", "second half", "second bit",
    "remaining digits", "the remainder", "der rest", "den rest", "rest lautet", "zweite hälfte",
    "zweiter teil", "zweite teil", "restlichen", "le reste", "la suite", "la fin", "deuxième partie",
    "seconde partie", "deuxième moitié", "el resto", "lo que falta", "segunda parte",
    "otra mitad", "segunda mitad", "lo demás", "il resto", "seconda metà", "seconda parte",
    "parte restante", "altra metà", "de rest", "tweede deel", "tweede helft", "o resto",
    "o restante", "outra metade", "segunda metade", "la segunda", "el segundo", "la seconda",
    "il secondo", "the second", "die zweite", "der zweite", "la deuxième", "le deuxième",
    "het tweede", "de tweede", "a segunda", "o segundo", "(sigue)", "(vervolg)", "(continua)",
    "(suite)", "(cont)", "(fortsetzung)", "(continuação)", "(continued)",
    // "je te donne mon numéro en deux fois : 2930731 puis 58647339".
    "puis", "then", "dann", "luego", "poi", "daarna", "depois", "en dan",
    // "los primeros: 49408442" then "y los últimos 37659178".
    "los últimos", "las últimas", "the last", "die letzten", "les derniers", "les dernières",
    "gli ultimi", "le ultime", "de laatste", "os últimos", "as últimas",
    // A value sent in numbered messages: "SMS 1: FR81.2004… SMS 2: 505.1234…", "deel 2:".
    "part 2", "teil 2", "deel 2", "partie 2", "parte 2", "sms 2", "msg2", "msg 2", "message 2",
    "nachricht 2", "bericht 2", "mensaje 2", "messaggio 2", "mensagem 2", "(2/2)",
    // String concatenation in code: `"AKIARQ6QY5" + "9ZRHXJD72X"`, PHP's `'…' . '…'`.
    "\" + \"", "' + '", "\"+\"", "'+'", "\" . \"", "' . '",
];

/// The cues as anchors of the identifier automaton.
pub(crate) fn anchor_table() -> impl Iterator<Item = (&'static str, Anchor)> {
    CUES.iter().map(|c| (*c, Anchor::Continuation))
}

/// How far before a cue the first piece may end, and after it the second may start.
const BEFORE: usize = 90;
const AFTER: usize = 80;
/// Context kept before the first piece ("Kartennummer lautet", "the SSN … starts with").
const CONTEXT: usize = 100;
/// The longest piece in groups: a card or IBAN half.
const MAX_PIECE: usize = 24;
/// The longest piece of one token: half a token or key.
const MAX_TOKEN: usize = 64;

/// A joined candidate: the text to scan, where the join is in it, and where the two pieces
/// are in the original text.
pub(crate) struct Joined {
    pub(crate) text: String,
    /// Offset in `text` where the first piece ends and the second starts.
    pub(crate) join: usize,
    /// Offset in `text` where the first piece starts.
    pub(crate) first_at: usize,
    pub(crate) first: (usize, usize),
    pub(crate) second: (usize, usize),
    /// Both pieces quoted after a password word ("la primera mitad es \"Tortilla9\" y la
    /// segunda \"_sinCebolla\""): the joined value, when it is one strong word, is the
    /// password.
    pub(crate) password: bool,
}

/// Password words that announce a password given in quoted pieces.
const PASSWORD_WORDS: &[&str] = &[
    "password",
    "passwort",
    "kennwort",
    "wachtwoord",
    "mot de passe",
    "contraseña",
    "clave",
    "senha",
    "passcode",
    "pwd",
];

fn piece_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// Tokens of `b[lo..hi]`: runs of ASCII letters and digits, with inner `-` or `.` between
/// runs kept ("750-11").
fn tokens(b: &[u8], lo: usize, hi: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = lo;
    while i < hi {
        if !piece_char(b[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < hi
            && (piece_char(b[i])
                || (matches!(b[i], b'-' | b'.')
                    && i + 1 < hi
                    && piece_char(b[i + 1])
                    && piece_char(b[i - 1])))
        {
            i += 1;
        }
        // A token glued to a letter outside ASCII is part of a word ("metà").
        let glued = b.get(i).is_some_and(|c| *c >= 0x80) || (s > 0 && b[s - 1] >= 0x80);
        if !glued {
            out.push((s, i));
        }
    }
    out
}

fn has_digit(t: &[u8]) -> bool {
    t.iter().any(u8::is_ascii_digit)
}

/// Whether only one space (or nothing but a space) separates `a_end` and `b_start`: digit
/// groups of one piece ("ES03 2038 6344").
fn grouped(b: &[u8], a_end: usize, b_start: usize) -> bool {
    b_start == a_end + 1 && b[a_end] == b' '
}

/// The quoted literal holding `s..e`, when the token is a whole literal's start or end.
fn quoted(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    let q = |c: u8| matches!(c, b'"' | b'\'');
    if s > 0 && q(b[s - 1]) {
        let close = b[s..]
            .iter()
            .take(MAX_LITERAL)
            .position(|c| *c == b[s - 1] || *c == b'\n')?;
        return (b[s + close] == b[s - 1]).then_some((s, s + close));
    }
    if e < b.len() && q(b[e]) {
        let open = b[..s]
            .iter()
            .rev()
            .take(MAX_LITERAL)
            .position(|c| *c == b[e] || *c == b'\n')?;
        return (b[s - open - 1] == b[e]).then_some((s - open, e));
    }
    None
}

/// The first quoted literal starting within `AFTER` bytes after `ce`.
fn next_literal(b: &[u8], ce: usize) -> Option<(usize, usize)> {
    let hi = (ce + AFTER).min(b.len());
    let open = ce + b[ce..hi].iter().position(|c| matches!(c, b'"' | b'\''))?;
    let close = b[open + 1..]
        .iter()
        .take(MAX_LITERAL)
        .position(|c| *c == b[open] || *c == b'\n')?;
    (b[open + 1 + close] == b[open] && close > 0).then_some((open + 1, open + 1 + close))
}

/// The longest quoted piece.
const MAX_LITERAL: usize = 64;

/// The two literals around a concatenation at `cs..ce` (`"…" + "…"`): from the quote that
/// opens the first to the one that closes the second.
fn literals(b: &[u8], cs: usize, ce: usize) -> Option<((usize, usize), (usize, usize))> {
    let q = b[cs];
    let open = b[..cs]
        .iter()
        .rev()
        .take(MAX_LITERAL)
        .position(|c| *c == q || *c == b'\n')?;
    let first = (cs - open, cs);
    let close = b[ce..]
        .iter()
        .take(MAX_LITERAL)
        .position(|c| *c == q || *c == b'\n')?;
    let second = (ce, ce + close);
    (b[cs - open - 1] == q && b[ce + close] == q && first.0 < first.1 && second.0 < second.1)
        .then_some((first, second))
}

/// The first piece: the last token with a digit ending before `cue`, with the groups just
/// before it.
fn first_piece(b: &[u8], cue: usize) -> Option<(usize, usize)> {
    let lo = cue.saturating_sub(BEFORE);
    let toks = tokens(b, lo, cue);
    // A chat line's time (`[10:02] cust: rest is …`) is not the first piece.
    let time =
        |s: usize, e: usize| e - s <= 2 && (b.get(e) == Some(&b':') || (s > 0 && b[s - 1] == b':'));
    let last = toks
        .iter()
        .rposition(|(s, e)| has_digit(&b[*s..*e]) && !time(*s, *e))?;
    let (mut s, e) = toks[last];
    if e - s > MAX_PIECE {
        // One long token: the first part of a token or key ("xoxb-9940…-1255…").
        return (e - s <= MAX_TOKEN).then_some((s, e));
    }
    let mut k = last;
    while k > 0 {
        let (ps, pe) = toks[k - 1];
        if !grouped(b, pe, s) || e - ps > MAX_PIECE || !has_digit(&b[ps..pe]) {
            break;
        }
        s = ps;
        k -= 1;
    }
    Some((s, e))
}

/// The second piece: the first token with a digit after `cue`, with the groups just after.
fn second_piece(b: &[u8], cue: usize) -> Option<(usize, usize)> {
    let hi = (cue + AFTER).min(b.len());
    let toks = tokens(b, cue, hi);
    let first = toks.iter().position(|(s, e)| has_digit(&b[*s..*e]))?;
    let (s, mut e) = toks[first];
    if e - s > MAX_PIECE {
        return (e - s <= MAX_TOKEN).then_some((s, e));
    }
    for &(ns, ne) in &toks[first + 1..] {
        if !grouped(b, e, ns) || ne - s > MAX_PIECE || !has_digit(&b[ns..ne]) {
            break;
        }
        e = ne;
    }
    (e - s <= MAX_PIECE).then_some((s, e))
}

/// The joined candidates for the continuation cues at `cues` in `text`, directly and with a
/// space between the pieces.
pub(crate) fn candidates(text: &str, cues: &[(usize, usize)]) -> Vec<Joined> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for &(cs, ce) in cues {
        let (first, second, both_quoted) = if matches!(b[cs], b'"' | b'\'') {
            let Some((first, second)) = literals(b, cs, ce) else {
                continue;
            };
            (first, second, false)
        } else {
            let Some(first) = first_piece(b, cs) else {
                continue;
            };
            // A quoted first piece continues in the next literal, digits or not.
            match quoted(b, first.0, first.1).zip(next_literal(b, ce)) {
                Some((f, s)) => (f, s, true),
                None => match second_piece(b, ce) {
                    Some(second) => (first, second, false),
                    None => continue,
                },
            }
        };
        let mut lo = first.0.saturating_sub(CONTEXT);
        while !text.is_char_boundary(lo) {
            lo += 1;
        }
        let password = both_quoted
            && PASSWORD_WORDS
                .iter()
                .any(|w| super::text::contains_ci(&b[lo..first.0], w));
        for sep in ["", " "] {
            let mut t = String::with_capacity(CONTEXT + MAX_PIECE * 2 + 1);
            t.push_str(&text[lo..first.1]);
            let join = t.len();
            t.push_str(sep);
            t.push_str(&text[second.0..second.1]);
            out.push(Joined {
                text: t,
                join,
                first_at: first.0 - lo,
                first,
                second,
                password,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, cue: &str) -> (String, String) {
        let cs = text.find(cue).unwrap();
        let j = &candidates(text, &[(cs, cs + cue.len())])[0];
        (
            text[j.first.0..j.first.1].to_string(),
            text[j.second.0..j.second.1].to_string(),
        )
    }

    #[test]
    fn pieces_around_a_cue() {
        assert_eq!(
            pieces(
                "La primera es ES03 2038 6344. Vale, y lo que falta es 6311 9039 1575. ¿Me…",
                "lo que falta"
            ),
            ("ES03 2038 6344".into(), "6311 9039 1575".into())
        );
        assert_eq!(
            pieces(
                "starts with 750-11, and the last part is 8960. Please",
                "last part"
            ),
            ("750-11".into(), "8960".into())
        );
        assert_eq!(
            pieces(
                "inizia con BNLHSN02. La seconda metà è L05L781B. Mi dici",
                "seconda metà"
            ),
            ("BNLHSN02".into(), "L05L781B".into())
        );
    }

    #[test]
    fn quoted_pieces_and_concatenations() {
        assert_eq!(
            pieces(
                "la clave: la primera mitad es \"Tortilla9\"\ny la segunda \"_sinCebolla\". Junta",
                "la segunda"
            ),
            ("Tortilla9".into(), "_sinCebolla".into())
        );
        assert_eq!(
            pieces(
                "headers = {\"Authorization\": \"sk_live_fqxqxgD8\" + \"LXoB8r6q1XAhqsXd\"}",
                "\" + \""
            ),
            ("sk_live_fqxqxgD8".into(), "LXoB8r6q1XAhqsXd".into())
        );
    }

    #[test]
    fn no_piece_without_digits_on_both_sides() {
        let text = "the rest is history, see page 4";
        let cs = text.find("the rest").unwrap();
        assert!(candidates(text, &[(cs, cs + 8)]).is_empty());
    }
}
