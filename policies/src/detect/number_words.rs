//! Numbers written out in words to dodge filters: "zéro six, quarante-deux, dix-huit,
//! soixante-dix-sept, trente et un", "nul zes, 31 56 21 81", "null eins fünf eins …". A run
//! of number words (and digit groups) in one of the seven languages becomes its digits, so
//! that the phone and identifier matchers see the number with the words around it.

/// Words that mark a run: a phone number's trunk prefix `0` (English also says "oh"),
/// Italian mobiles' `3`, and the digits from four to nine, which prose seldom spells out
/// (a run may start anywhere: "seis uno siete, cuarenta y ocho…"). Short words that are
/// also parts of common words (`six`, `sei`, `otto`) are left to the others in the run.
#[rustfmt::skip]
pub(crate) const ANCHORS: &[&str] = &[
    "zero", "zéro", "null", "nul", "cero", "oh ", "tre ", "onze",
    "four", "five", "seven", "eight", "nine", "vier", "fünf", "sieben", "acht ", "neun",
    "vijf", "zeven", "negen", "quatre", "cinq ", "huit", "neuf ", "cuatro", "cinco", "seis",
    "siete", "ocho", "nueve", "quattro", "cinque", "sette", "nove ", "quatro", "sete ",
    "oito",
];

/// Fewest digits a run must give, and fewest words in it.
const MIN_DIGITS: usize = 8;
const MIN_WORDS: usize = 2;

/// The value of a number word, in any of the languages served.
#[rustfmt::skip]
fn value(w: &str) -> Option<u8> {
    Some(match w {
        "zero" | "zéro" | "null" | "nul" | "cero" | "oh" => 0,
        "one" | "eins" | "een" | "één" | "un" | "une" | "uno" | "um" | "uma" => 1,
        "two" | "zwei" | "zwo" | "twee" | "deux" | "dos" | "due" | "dois" | "duas" => 2,
        "three" | "drei" | "drie" | "trois" | "tres" | "tre" | "três" => 3,
        "four" | "vier" | "quatre" | "cuatro" | "quattro" | "quatro" => 4,
        "five" | "fünf" | "vijf" | "cinq" | "cinco" | "cinque" => 5,
        "six" | "sechs" | "zes" | "seis" | "sei" | "meia" => 6,
        "seven" | "sieben" | "zeven" | "sept" | "siete" | "sette" | "sete" => 7,
        "eight" | "acht" | "huit" | "ocho" | "otto" | "oito" => 8,
        "nine" | "neun" | "negen" | "neuf" | "nueve" | "nove" => 9,
        "ten" | "zehn" | "tien" | "dix" | "diez" | "dieci" | "dez" => 10,
        "eleven" | "elf" | "onze" | "once" | "undici" => 11,
        "twelve" | "zwölf" | "twaalf" | "douze" | "doce" | "dodici" | "doze" => 12,
        "thirteen" | "dreizehn" | "dertien" | "treize" | "trece" | "tredici" | "treze" => 13,
        "fourteen" | "vierzehn" | "veertien" | "quatorze" | "catorce" | "quattordici"
        | "catorze" => 14,
        "fifteen" | "fünfzehn" | "vijftien" | "quinze" | "quince" | "quindici" => 15,
        "sixteen" | "sechzehn" | "zestien" | "seize" | "dieciséis" | "sedici" | "dezesseis"
        | "dezasseis" => 16,
        "seventeen" | "siebzehn" | "zeventien" | "diecisiete" | "diciassette" | "dezessete"
        | "dezassete" => 17,
        "eighteen" | "achtzehn" | "achttien" | "dieciocho" | "diciotto" | "dezoito" => 18,
        "nineteen" | "neunzehn" | "negentien" | "diecinueve" | "diciannove" | "dezenove"
        | "dezanove" => 19,
        "twenty" | "zwanzig" | "twintig" | "vingt" | "vingts" | "veinte" | "venti" | "vinte" => 20,
        "thirty" | "dreißig" | "dertig" | "trente" | "treinta" | "trenta" | "trinta" => 30,
        "forty" | "vierzig" | "veertig" | "quarante" | "cuarenta" | "quaranta" | "quarenta" => 40,
        "fifty" | "fünfzig" | "vijftig" | "cinquante" | "cincuenta" | "cinquanta"
        | "cinquenta" => 50,
        "sixty" | "sechzig" | "zestig" | "soixante" | "sesenta" | "sessanta" | "sessenta" => 60,
        "seventy" | "siebzig" | "zeventig" | "setenta" | "settanta" => 70,
        "eighty" | "achtzig" | "tachtig" | "ochenta" | "ottanta" | "oitenta" => 80,
        "ninety" | "neunzig" | "negentig" | "noventa" | "novanta" => 90,
        _ => return None,
    })
}

/// The value of a number word, or of tens and units written as one word: Spanish
/// `veintinueve`, Italian `quarantotto` and `trentatré`, German `neunundzwanzig`, Dutch
/// `zesenzeventig` and `tweeëntwintig`.
fn word_value(w: &str) -> Option<u8> {
    value(w).or_else(|| compound(w))
}

fn compound(w: &str) -> Option<u8> {
    let unit = |u: &str| {
        let u = match u {
            "dós" => "dos",
            "trés" | "tré" => "tres",
            "séis" => "seis",
            "ein" => "eins",
            u => u,
        };
        value(u).filter(|v| (1..=9).contains(v))
    };
    let tens = |t: &str| value(t).filter(|v| *v >= 20 && v % 10 == 0);
    if let Some(u) = w.strip_prefix("veinti") {
        return unit(u).map(|u| 20 + u);
    }
    const IT_TENS: [(&str, u8); 8] = [
        ("vent", 20),
        ("trent", 30),
        ("quarant", 40),
        ("cinquant", 50),
        ("sessant", 60),
        ("settant", 70),
        ("ottant", 80),
        ("novant", 90),
    ];
    for (stem, t) in IT_TENS {
        if let Some(rest) = w.strip_prefix(stem) {
            // `ventidue`, `trentadue`, but `ventuno` and `trentotto` drop the vowel.
            let rest = rest.strip_prefix(['i', 'a']).unwrap_or(rest);
            return unit(rest).map(|u| t + u);
        }
    }
    // Units first, then the tens: `neunundzwanzig`, `negenentwintig`.
    ["und", "en", "ën"].iter().find_map(|join| {
        w.match_indices(join).find_map(|(p, _)| {
            let (u, t) = (&w[..p], &w[p + join.len()..]);
            Some(unit(u)? + tens(t)?)
        })
    })
}

/// The digit of a hundreds word ("seiscientos" 6, "quinhentos" 5, "ottocento" 8,
/// "zweihundert" 2, "honderd" 1): Spanish and Portuguese read phone numbers in hundreds
/// ("seiscientos cuarenta y siete, treinta y dos…").
fn hundreds(w: &str) -> Option<u8> {
    Some(match w {
        "cien" | "ciento" | "cem" | "cento" | "hundert" | "einhundert" | "honderd" => 1,
        "doscientos" | "doscientas" | "duzentos" | "duzentas" | "duecento" => 2,
        "trescientos" | "trescientas" | "trezentos" | "trezentas" | "trecento" => 3,
        "cuatrocientos" | "cuatrocientas" | "quatrocentos" | "quatrocentas" | "quattrocento" => 4,
        "quinientos" | "quinientas" | "quinhentos" | "quinhentas" | "cinquecento" => 5,
        "seiscientos" | "seiscientas" | "seiscentos" | "seiscentas" | "seicento" => 6,
        "setecientos" | "setecientas" | "setecentos" | "setecentas" | "settecento" => 7,
        "ochocientos" | "ochocientas" | "oitocentos" | "oitocentas" | "ottocento" => 8,
        "novecientos" | "novecientas" | "novecentos" | "novecentas" | "novecento" => 9,
        _ => {
            let unit = w
                .strip_suffix("hundert")
                .or_else(|| w.strip_suffix("honderd"))?;
            return value(unit).filter(|v| (2..=9).contains(v));
        }
    })
}

/// "hundred", "cent": the hundreds of the unit before it ("six hundred", "quatre cents").
fn times_hundred(w: &str) -> bool {
    matches!(w, "hundred" | "cent" | "cents")
}

/// Words joining tens and units ("trente et un", "treinta y uno", "trinta e um").
fn connector(w: &str) -> bool {
    matches!(w, "et" | "y" | "e" | "and")
}

/// Words a speaker fills a pause with ("six… sorry, nine one"), skipped inside a run.
fn filler(w: &str) -> bool {
    matches!(
        w,
        "sorry"
            | "um"
            | "uh"
            | "er"
            | "erm"
            | "äh"
            | "ähm"
            | "euh"
            | "pardon"
            | "désolé"
            | "désolée"
            | "perdón"
            | "perdona"
            | "scusa"
            | "scusi"
            | "desculpa"
    )
}

/// Words read out between digit groups ("three eight one dash one seven"), skipped.
fn spoken_separator(w: &str) -> bool {
    matches!(
        w,
        "dash"
            | "hyphen"
            | "tiret"
            | "guion"
            | "guión"
            | "trattino"
            | "strich"
            | "bindestrich"
            | "streepje"
            | "hífen"
            | "traço"
    )
}

#[derive(Clone, Copy)]
enum Atom<'a> {
    Word(u8),
    /// Hundreds and their digit: "seiscientos", "six hundred".
    Hundreds(u8),
    Digits(&'a str),
    And,
}

/// The run of number words starting at `i`: where it ends and its digits (single digits run
/// together, two-digit groups and digit groups apart), when it gives enough digits.
pub(crate) fn run_at(text: &str, i: usize) -> Option<(usize, String)> {
    let b = text.as_bytes();
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] >= 0x80) {
        return None;
    }
    let (atoms, end) = atoms(text, i);
    let words = atoms
        .iter()
        .filter(|a| matches!(a, Atom::Word(_) | Atom::Hundreds(_)))
        .count();
    if words < MIN_WORDS {
        return None;
    }
    let out = digits(&atoms);
    let n = out.bytes().filter(u8::is_ascii_digit).count();
    (n >= MIN_DIGITS).then_some((end, out))
}

/// The run through the anchor at `i`, which may start with number words before it, back to
/// `floor`: "four one two, seven seven, oh nine eight three" is anchored at "oh". Returns
/// where it starts and ends, and its digits.
pub(crate) fn run_around(text: &str, i: usize, floor: usize) -> Option<(usize, usize, String)> {
    let s = start_before(text, i, floor);
    if s < i {
        if let Some((e, d)) = run_at(text, s) {
            if e > i {
                return Some((s, e, d));
            }
        }
    }
    run_at(text, i).map(|(e, d)| (i, e, d))
}

/// Whether a run of number words starts within `reach` bytes after `from`: the number a
/// phone or identifier keyword announces may be read out without a zero to anchor it
/// ("social, it's three eight one dash one seven…", "seis uno siete, cuarenta y ocho").
pub(crate) fn run_in(text: &str, from: usize, reach: usize) -> bool {
    let b = text.as_bytes();
    let hi = (from + reach).min(b.len());
    (from..hi).any(|i| {
        b[i].is_ascii_alphabetic()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] >= 0x80))
            && text.is_char_boundary(i)
            && run_at(text, i).is_some()
    })
}

/// The start of the number words right before `i` (digit groups are not followed back: a
/// year or an amount before a number read out is another value).
fn start_before(text: &str, i: usize, floor: usize) -> usize {
    let b = text.as_bytes();
    // `at` walks back over connectors ("cuarenta y siete"); `start` stays on number words.
    let (mut start, mut at) = (i, i);
    for _ in 0..20 {
        let sep = super::text::run_start(b, at, |c| matches!(c, b' ' | b',' | b'-' | b'/'));
        if sep == at || at - sep > 3 || sep <= floor {
            break;
        }
        let ws = text[..sep]
            .char_indices()
            .rev()
            .find(|(_, c)| !c.is_alphanumeric())
            .map_or(0, |(p, c)| p + c.len_utf8());
        if ws == sep || ws < floor {
            break;
        }
        let w = text[ws..sep].to_lowercase();
        let number = word_value(&w).is_some() || hundreds(&w).is_some() || times_hundred(&w);
        if number {
            start = ws;
        } else if !(connector(&w) && at == start) {
            break;
        }
        at = ws;
    }
    start
}

/// The atoms of the run at `i` and the end of its last one.
fn atoms(text: &str, i: usize) -> (Vec<Atom<'_>>, usize) {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut k, mut end) = (i, i);
    while k < b.len() && out.len() < 40 {
        let e = k + text[k..]
            .find(|c: char| !(c.is_alphanumeric()))
            .unwrap_or(text.len() - k);
        if e == k {
            break;
        }
        let w = &text[k..e];
        let atom = if w.bytes().all(|c| c.is_ascii_digit()) {
            Atom::Digits(w)
        } else {
            // Most words are lower case already: no allocation for them.
            let lower = if w.chars().any(char::is_uppercase) {
                std::borrow::Cow::Owned(w.to_lowercase())
            } else {
                std::borrow::Cow::Borrowed(w)
            };
            match word_value(&lower) {
                Some(v) => Atom::Word(v),
                None if times_hundred(&lower) => match out.last() {
                    Some(Atom::Word(u @ 1..=9)) => {
                        let u = *u;
                        out.pop();
                        Atom::Hundreds(u)
                    }
                    _ => Atom::Hundreds(1),
                },
                None => match hundreds(&lower) {
                    Some(h) => Atom::Hundreds(h),
                    None if (spoken_separator(&lower) || filler(&lower)) && !out.is_empty() => {
                        Atom::And
                    }
                    None if connector(&lower)
                        && matches!(out.last(), Some(Atom::Word(20..) | Atom::Hundreds(_))) =>
                    {
                        Atom::And
                    }
                    None => break,
                },
            }
        };
        out.push(atom);
        end = e;
        // Separators inside a run: spaces, a comma, a hyphen, a slash, an en or em dash
        // (` – `, the bytes E2 80 93/94), and a speaker's pause (`...`, `…`, E2 80 A6); a
        // full stop ends the run.
        let s = super::text::run_end(b, e, |c| {
            matches!(
                c,
                b' ' | b',' | b'-' | b'/' | b'.' | 0xE2 | 0x80 | 0x93 | 0x94 | 0xA6
            )
        });
        let sep = &b[e..s];
        let stop = sep.contains(&b'.') && !sep.windows(3).any(|w| w == b"...");
        if s == e || s - e > 5 || stop || !text.is_char_boundary(s) {
            break;
        }
        k = s;
    }
    while matches!(out.last(), Some(Atom::And)) {
        out.pop();
    }
    (out, end)
}

/// The digits of a run: tens take a following unit or teen ("quarante-deux" 42,
/// "soixante-dix-sept" 77), `quatre vingt` is 80, `dix` takes 7 to 9.
fn digits(atoms: &[Atom<'_>]) -> String {
    // Groups as read: digit groups and two-digit numbers apart, single digits run together.
    let mut groups: Vec<(String, bool)> = Vec::new();
    let word = |k: usize| match atoms.get(k) {
        Some(Atom::Word(v)) => Some(*v),
        _ => None,
    };
    // A teen at `k`: one word, or `dix` and a unit.
    let teen = |k: usize| match (word(k), word(k + 1)) {
        (Some(10), Some(u @ 7..=9)) => Some((10 + u, k + 2)),
        (Some(t @ 10..=19), _) => Some((t, k + 1)),
        _ => None,
    };
    let past_and = |k: usize| {
        if matches!(atoms.get(k), Some(Atom::And)) {
            k + 1
        } else {
            k
        }
    };
    // The number below a hundred that the words from `k` make, and the atom after them.
    let below_hundred = |k: usize| {
        let (mut v, mut next) = match (word(k)?, word(k + 1)) {
            (4, Some(20)) => (80, k + 2),
            (w, _) => teen(k).unwrap_or((w, k + 1)),
        };
        if v >= 20 {
            let after = past_and(next);
            if let Some((t, n)) = teen(after).filter(|_| v == 60 || v == 80) {
                (v, next) = (v + t, n);
            } else if let Some(u @ 1..=9) = word(after) {
                (v, next) = (v + u, after + 1);
            }
        }
        Some((v, next))
    };
    let mut k = 0;
    while k < atoms.len() {
        match atoms[k] {
            Atom::Digits(d) => {
                groups.push((d.to_string(), false));
                k += 1;
            }
            Atom::And => k += 1,
            Atom::Hundreds(h) => {
                let after = past_and(k + 1);
                match below_hundred(after) {
                    Some((v, next)) => {
                        groups.push((format!("{h}{v:02}"), false));
                        k = next;
                    }
                    None => {
                        groups.push((format!("{h}00"), false));
                        k += 1;
                    }
                }
            }
            Atom::Word(_) => {
                let (v, next) = below_hundred(k).unwrap_or((0, k + 1));
                match groups.last_mut() {
                    Some((g, true)) if v < 10 => g.push(char::from(b'0' + v)),
                    _ => groups.push((v.to_string(), v < 10)),
                }
                k = next;
            }
        }
    }
    // "seis, cuarenta y siete, …" is 647 and the rest, as a Spanish mobile is read: a lone
    // first digit belongs to the group after it.
    if groups.len() >= 2 && groups[0].0.len() == 1 && groups[1].0.len() == 2 {
        let (first, _) = groups.remove(0);
        groups[0].0.insert_str(0, &first);
    }
    let parts: Vec<&str> = groups.iter().map(|(g, _)| g.as_str()).collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &str) -> Option<String> {
        run_at(t, 0).map(|(_, d)| d)
    }

    #[test]
    fn runs_in_each_language() {
        assert_eq!(
            run("zéro six, quarante-deux, dix-huit, soixante-dix-sept, trente et un — tu peux")
                .as_deref(),
            Some("06 42 18 77 31")
        );
        assert_eq!(
            run("nul zes, 31 56 21 81.").as_deref(),
            Some("06 31 56 21 81")
        );
        assert_eq!(
            run("null eins fünf eins zwei drei vier fünf sechs sieben").as_deref(),
            Some("0151234567")
        );
        assert_eq!(
            run("null eins sieben sechs null zwei sechs sieben drei null acht acht, danke")
                .as_deref(),
            Some("017602673088")
        );
        assert_eq!(
            run("tre tre otto - 743 - 4003").as_deref(),
            Some("338 743 4003")
        );
        assert_eq!(
            run("onze, nove, oito sete seis cinco, quatro três dois um...").as_deref(),
            Some("11 987654321")
        );
    }

    #[test]
    fn a_pause_inside_a_run() {
        assert_eq!(
            run("four one eight eight seven six zero six... sorry, nine one four six two three zero eight")
                .as_deref(),
            Some("4188760691462308")
        );
        assert_eq!(
            run("four one eight eight. Nine one four six two three"),
            None
        );
    }

    #[test]
    fn a_lone_first_digit_joins_the_next_group() {
        assert_eq!(
            run("seis, cuarenta y siete, veintiuno, treinta y ocho, cero nueve").as_deref(),
            Some("647 21 38 09")
        );
    }

    #[test]
    fn hundreds_read_out() {
        assert_eq!(
            run("seiscientos cuarenta y siete, treinta y dos, quince, ochenta y ocho").as_deref(),
            Some("647 32 15 88")
        );
        assert_eq!(
            run("nove sette, seicento, trentadue, quindici").as_deref(),
            None,
            "too few digits"
        );
        assert_eq!(
            run("six hundred and five, two one two, four four").as_deref(),
            Some("605 21244")
        );
        assert_eq!(
            run("novecentos e doze, trezentos e quarenta, cinquenta e um").as_deref(),
            Some("912 340 51")
        );
        // Walked back to from a later anchor, over "y".
        let t = "el teléfono: seiscientos cuarenta y siete, treinta y dos, quince, ochenta y ocho";
        let at = t.find("ocho").unwrap();
        let (s, _, d) = run_around(t, at, 0).unwrap();
        assert_eq!(&t[s..s + 11], "seiscientos");
        assert_eq!(d, "647 32 15 88");
    }

    #[test]
    fn runs_reach_back_before_their_anchor() {
        let t = "I wrote it as words: four one two, seven seven, oh nine eight three. Can you";
        let at = t.find("oh ").unwrap();
        let (s, e, d) = run_around(t, at, 0).unwrap();
        assert_eq!(&t[s..e], "four one two, seven seven, oh nine eight three");
        assert_eq!(d, "412770983");
        // Not past what an earlier rewrite covered, nor over digit groups.
        assert_eq!(run_around(t, at, at - 2), None);
        assert_eq!(run_around("2024, oh one five", 6, 0), None);
    }

    #[test]
    fn short_runs_and_prose_are_not_numbers() {
        assert_eq!(run("null, null, 3"), None);
        assert_eq!(run("tre giorni fa ho chiamato"), None);
        assert_eq!(run("onze klanten bellen"), None);
    }
}
