//! The anchor table and the context matchers: dates of birth, street addresses and health
//! details near a person, identity-document numbers, SSNs and phone numbers after a keyword.

use super::secrets;
use super::text::{
    ends_token, is_alnum, is_letter, line_after, number, run_end, run_start, starts_token, word_in,
    words,
};
use super::validate::{dni_letter, is_placeholder, ssn_valid};
use super::{Anchor, Kind, Sink};

/// Every anchor the automaton looks for (ASCII case-insensitive, leftmost-longest).
pub(crate) fn anchor_table() -> Vec<(&'static str, Anchor)> {
    use Anchor::*;
    let mut t = Vec::new();
    let mut add = |words: &[&'static str], a: Anchor| t.extend(words.iter().map(|w| (*w, a)));
    add(
        &[
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "sk-",
            "xoxb-",
            "xoxp-",
            "xoxa-",
            "xoxr-",
            "xoxs-",
            "xoxe-",
            "AIza",
            "sk_live_",
            "sk_test_",
            "rk_live_",
            "rk_test_",
            "eyJ",
            "-----BEGIN",
        ],
        Prefix,
    );
    add(&["://"], Url);
    add(
        &[
            "password",
            "passwd",
            "pwd",
            "pass",
            "passwort",
            "kennwort",
            "contraseña",
            "contrasena",
            "mot de passe",
            "mdp",
        ],
        PasswordName,
    );
    add(
        &[
            "secret",
            "token",
            "api_key",
            "apikey",
            "api-key",
            "key",
            "auth",
            "credential",
            "bearer",
            "passphrase",
        ],
        SecretName,
    );
    add(
        &[
            "born",
            "date of birth",
            "birth date",
            "birthdate",
            "dob",
            "d.o.b.",
            "birthday",
            "geboren",
            "geburtsdatum",
            "geb.",
            "né le",
            "née le",
            "date de naissance",
            "fecha de nacimiento",
            "nacido el",
            "nacida el",
            "nació el",
            "naissance",
        ],
        Birth,
    );
    add(
        &[
            "street",
            "st.",
            "road",
            "rd.",
            "avenue",
            "ave.",
            "lane",
            "drive",
            "boulevard",
            "blvd",
            "straße",
            "strasse",
            "str.",
            "weg",
            "platz",
            "allee",
            "gasse",
            "rue",
            "chemin",
            "allée",
            "impasse",
            "calle",
            "avenida",
            "plaza",
            "paseo",
            "carrer",
        ],
        Street,
    );
    add(
        &[
            "diagnosed with",
            "diagnosed as",
            "suffers from",
            "suffering from",
            "suffer from",
            "tested positive for",
            "hiv positive",
            "hiv-positive",
            "was prescribed",
            "medical record",
            "medical history",
            "diagnostiziert",
            "leidet an",
            "leidet unter",
            "diagnose:",
            "krankenakte",
            "diagnostiqué",
            "diagnostiquée",
            "atteint d",
            "atteinte d",
            "souffre d",
            "dossier médical",
            "diagnosticado",
            "diagnosticada",
            "padece",
            "sufre de",
            "historia clínica",
            "is pregnant",
            "schwanger",
            "enceinte",
            "embarazada",
            "chemotherapy",
            "chemotherapie",
            "chimiothérapie",
            "quimioterapia",
        ],
        Health,
    );
    add(
        &[
            "passport",
            "reisepass",
            "passnummer",
            "passeport",
            "pasaporte",
            "personalausweis",
            "ausweisnummer",
            "id card",
            "identity card",
            "carte d'identité",
            "dni",
            "nie",
            "nif",
            "steuer-id",
            "steueridentifikationsnummer",
            "tax id",
            "national id",
            "driver's license",
            "driver's licence",
            "driving licence",
            "führerschein",
            "permis de conduire",
            "sécurité sociale",
            "sozialversicherungsnummer",
            "seguridad social",
        ],
        IdDocument,
    );
    add(&["ssn", "social security"], Ssn);
    add(
        &[
            "phone",
            "tel",
            "tel.",
            "telephone",
            "mobile",
            "cell",
            "handy",
            "telefon",
            "mobil",
            "téléphone",
            "tél",
            "tél.",
            "portable",
            "teléfono",
            "móvil",
            "movil",
            "whatsapp",
            "fax",
            "call me",
            "rufnummer",
        ],
        PhoneWord,
    );
    t
}

/// Runs the matcher for an anchor found at `s..e`.
pub(crate) fn on_anchor(b: &[u8], s: usize, e: usize, anchor: Anchor, sink: &mut Sink) {
    let word = starts_token(b, s) && (ends_token(b, e) || !is_alnum(b[e - 1]));
    match anchor {
        Anchor::Prefix => secrets::prefixed(b, s, sink),
        Anchor::Url => secrets::url_password(b, s, sink),
        Anchor::PasswordName => secrets::assignment(b, s, e, true, sink),
        Anchor::SecretName => secrets::assignment(b, s, e, false, sink),
        Anchor::Street => address(b, s, e, sink),
        _ if !word => {}
        Anchor::Birth => date_of_birth(b, e, sink),
        Anchor::Health => health(b, s, e, sink),
        Anchor::IdDocument => id_number(b, e, sink),
        Anchor::Ssn => ssn_after(b, e, sink),
        Anchor::PhoneWord => phone_after(b, e, sink),
    }
}

/// Words that tie nearby details to a person: titles, pronouns and possessives, relations,
/// roles, and labels of personal records, in English, German, French and Spanish.
const PERSON_WORDS: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "herr",
    "frau",
    "mme",
    "mlle",
    "monsieur",
    "madame",
    "sr",
    "sra",
    "señor",
    "señora",
    "doña",
    "my",
    "his",
    "her",
    "mein",
    "meine",
    "meiner",
    "seine",
    "seiner",
    "ihre",
    "ihrer",
    "mon",
    "ma",
    "mes",
    "son",
    "sa",
    "mi",
    "mis",
    "su",
    "he",
    "she",
    "i",
    "i'm",
    "ich",
    "er",
    "il",
    "elle",
    "je",
    "j'ai",
    "yo",
    "él",
    "ella",
    "lives",
    "live",
    "wohnt",
    "wohne",
    "habite",
    "vit",
    "vive",
    "vivo",
    "patient",
    "patientin",
    "patiente",
    "paciente",
    "customer",
    "kunde",
    "kundin",
    "client",
    "cliente",
    "employee",
    "mitarbeiter",
    "mitarbeiterin",
    "employé",
    "employée",
    "empleado",
    "empleada",
    "colleague",
    "kollege",
    "kollegin",
    "collègue",
    "compañero",
    "compañera",
    "wife",
    "husband",
    "daughter",
    "mother",
    "father",
    "brother",
    "sister",
    "friend",
    "mum",
    "mom",
    "dad",
    "boss",
    "tenant",
    "mieter",
    "mieterin",
    "locataire",
    "inquilino",
    "mann",
    "sohn",
    "tochter",
    "mutter",
    "vater",
    "bruder",
    "schwester",
    "freund",
    "freundin",
    "femme",
    "mari",
    "fils",
    "fille",
    "mère",
    "père",
    "frère",
    "sœur",
    "ami",
    "amie",
    "esposa",
    "esposo",
    "marido",
    "hijo",
    "hija",
    "madre",
    "padre",
    "hermano",
    "hermana",
    "amigo",
    "amiga",
    "address",
    "adresse",
    "anschrift",
    "dirección",
    "direccion",
    "domicilio",
    "wohnhaft",
    "name",
    "nom",
    "nombre",
    "ship",
    "deliver",
    "lieferadresse",
    "applicant",
    "bewerber",
    "candidat",
    "candidato",
];

/// Capitalised words that do not name a person.
const NOT_NAMES: &[&str] = &[
    "the", "this", "that", "our", "we", "it", "a", "an", "in", "on", "at", "to", "please", "der",
    "die", "das", "le", "la", "les", "el", "los", "las", "une", "un", "street", "road", "avenue",
    "new", "north", "south", "east", "west", "main",
];

fn capitalised(w: &[u8]) -> bool {
    w.len() >= 2
        && w[0].is_ascii_uppercase()
        && w[1..].iter().all(|c| c.is_ascii_lowercase() || *c >= 0x80)
        && !word_in(w, NOT_NAMES)
}

/// Whether `b[start..end]` mentions a person: a person word or two capitalised words in a row
/// (a first and last name).
fn person_near(b: &[u8], start: usize, end: usize) -> bool {
    let mut run = 0;
    for w in words(b, start, end) {
        if word_in(w, PERSON_WORDS) {
            return true;
        }
        run = if capitalised(w) { run + 1 } else { 0 };
        if run >= 2 {
            return true;
        }
    }
    false
}

/// Floors `i` to a UTF-8 character boundary.
fn floor_char(b: &[u8], mut i: usize) -> usize {
    while i > 0 && i < b.len() && (b[i] & 0xc0) == 0x80 {
        i -= 1;
    }
    i
}

fn date_of_birth(b: &[u8], e: usize, sink: &mut Sink) {
    let w_end = line_after(b, e, 48);
    let Some(d) = b[e..w_end]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| e + p)
    else {
        return;
    };
    if let Some(end) = numeric_date(b, d) {
        sink.push(Kind::DateOfBirth, d, end);
        return;
    }
    // "12 March 1985", "3. März 1990", "5 de mayo de 1978", "March 12, 1985".
    let day_end = run_end(b, d, |c| c.is_ascii_digit());
    let day = number(&b[d..day_end]);
    if day_end - d > 2 || !(1..=31).contains(&day) {
        return;
    }
    let mut j = day_end;
    let limit = (day_end + 24).min(w_end);
    while j < limit {
        if b[j].is_ascii_digit() {
            let y_end = run_end(b, j, |c| c.is_ascii_digit());
            if y_end - j == 4 && (1900..=2030).contains(&number(&b[j..y_end])) {
                sink.push(Kind::DateOfBirth, d, y_end);
            }
            return;
        }
        if !(is_letter(b[j]) || matches!(b[j], b' ' | b'.' | b',')) {
            return;
        }
        j += 1;
    }
}

/// `dd.mm.yyyy`, `dd/mm/yyyy`, `mm/dd/yyyy`, `yyyy-mm-dd`; returns the end.
fn numeric_date(b: &[u8], d: usize) -> Option<usize> {
    let e1 = run_end(b, d, |c| c.is_ascii_digit());
    let sep = *b.get(e1)?;
    if !matches!(sep, b'.' | b'/' | b'-') {
        return None;
    }
    let e2 = run_end(b, e1 + 1, |c| c.is_ascii_digit());
    if b.get(e2) != Some(&sep) {
        return None;
    }
    let e3 = run_end(b, e2 + 1, |c| c.is_ascii_digit());
    let (a, m, c) = (
        number(&b[d..e1]),
        number(&b[e1 + 1..e2]),
        number(&b[e2 + 1..e3]),
    );
    let (l1, l2, l3) = (e1 - d, e2 - e1 - 1, e3 - e2 - 1);
    let year = |y: u64, len: usize| (len == 4 && (1900..=2030).contains(&y)) || len == 2;
    let ok = if l1 == 4 {
        year(a, 4) && (1..=12).contains(&m) && (1..=31).contains(&c) && l2 <= 2 && l3 <= 2
    } else {
        l1 <= 2
            && l2 <= 2
            && year(c, l3)
            && (1..=31).contains(&a)
            && (1..=31).contains(&m)
            && (a <= 12 || m <= 12)
    };
    (ok && ends_token(b, e3)).then_some(e3)
}

fn address(b: &[u8], s: usize, e: usize, sink: &mut Sink) {
    if !ends_token(b, e) && is_alnum(b[e - 1]) {
        return;
    }
    const EN: [&str; 10] = [
        "street",
        "st.",
        "road",
        "rd.",
        "avenue",
        "ave.",
        "lane",
        "drive",
        "boulevard",
        "blvd",
    ];
    const FR: [&str; 6] = ["rue", "chemin", "allée", "impasse", "avenue", "boulevard"];
    const ES: [&str; 5] = ["calle", "avenida", "plaza", "paseo", "carrer"];
    const DE: [&str; 7] = [
        "straße", "strasse", "str.", "weg", "platz", "allee", "gasse",
    ];
    let kw = &b[s..e];
    let is = |list: &[&str]| list.iter().any(|w| kw.eq_ignore_ascii_case(w.as_bytes()));
    // German street words are glued to the name ("Hauptstraße 12"); the others stand alone:
    // "221B Baker Street", "12 rue de la Paix", "Calle Mayor 5".
    let name_start = run_start(b, s, is_letter);
    let span = if name_start < s {
        if !is(&DE) {
            return;
        }
        number_after(b, e).map(|ne| (name_start, ne))
    } else {
        let en = is(&EN).then(|| number_before(b, s, true)).flatten();
        let fr = is(&FR).then(|| number_before(b, s, false)).flatten();
        let es = (is(&ES) || is(&DE)).then(|| number_after(b, e)).flatten();
        en.or(fr).map(|ns| (ns, e)).or_else(|| es.map(|ne| (s, ne)))
    };
    let Some((start, end)) = span else {
        return;
    };
    let cue_start = floor_char(b, start.saturating_sub(160));
    if person_near(b, cue_start, start) {
        sink.push(Kind::StreetAddress, start, end);
    }
}

/// A house number ("221B", "12") right before `i`, with one to three capitalised name words
/// in between when `named` ("221B Baker Street") and none otherwise ("12 rue ...").
fn number_before(b: &[u8], i: usize, named: bool) -> Option<usize> {
    let mut j = i;
    for n in 0..4 {
        let k = run_start(b, j, |c| c == b' ');
        if k == j || k == 0 {
            return None;
        }
        let ws = run_start(b, k, |x| {
            is_letter(x) || x.is_ascii_digit() || x == b'\'' || x == b'-'
        });
        let w = &b[ws..k];
        let digits = w.iter().take_while(|x| x.is_ascii_digit()).count();
        if digits > 0 {
            let shaped = digits <= 5 && w.len() - digits <= 1 && starts_token(b, ws);
            return (shaped && (n > 0) == named).then_some(ws);
        }
        if !named || ws == k || !w[0].is_ascii_uppercase() {
            return None;
        }
        j = ws;
    }
    None
}
/// A house number after a street word and up to four name words ("Calle Mayor 5").
fn number_after(b: &[u8], e: usize) -> Option<usize> {
    let limit = line_after(b, e, 40);
    let mut j = e;
    while j < limit {
        let c = b[j];
        if c.is_ascii_digit() {
            let ne = run_end(b, j, |x| x.is_ascii_digit());
            let ne = if ne < b.len() && b[ne].is_ascii_alphabetic() && ends_token(b, ne + 1) {
                ne + 1
            } else {
                ne
            };
            return (ne - j <= 5 && ends_token(b, ne) && starts_token(b, j)).then_some(ne);
        }
        if !(is_letter(c) || matches!(c, b' ' | b'\'' | b'-' | b'.')) {
            return None;
        }
        j += 1;
    }
    None
}

fn health(b: &[u8], s: usize, e: usize, sink: &mut Sink) {
    let before = floor_char(b, s.saturating_sub(80));
    let after = floor_char(b, line_after(b, e, 40));
    if !person_near(b, before, s) && !person_near(b, e, after) {
        return;
    }
    let clause = floor_char(b, line_after(b, e, 60));
    let end = b[e..clause]
        .iter()
        .position(|c| matches!(c, b'.' | b',' | b';' | b'!' | b'?'))
        .map_or(clause, |p| e + p);
    sink.push(Kind::Health, s, end);
}

fn id_number(b: &[u8], e: usize, sink: &mut Sink) {
    let limit = line_after(b, e, 40);
    let mut j = e;
    while j < limit {
        if !is_alnum(b[j]) {
            j += 1;
            continue;
        }
        let te = run_end(b, j, is_alnum);
        let tok = &b[j..te];
        let digits = tok.iter().filter(|c| c.is_ascii_digit()).count();
        let upper_or_digit = tok
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if upper_or_digit && digits >= 2 && (6..=14).contains(&tok.len()) {
            let dni_shaped = tok.len() == 9 && digits == 8 && tok[8].is_ascii_uppercase();
            let dni_ok = !dni_shaped || tok[8] == dni_letter(number(&tok[..8]));
            let glued_to_letter = te < b.len() && b[te] >= 0x80;
            let fake = is_placeholder(tok) || sequential(tok) || glued_to_letter;
            if dni_ok && !fake {
                sink.push(Kind::NationalId, j, te);
            }
            return;
        }
        if digits > 0 {
            return;
        }
        j = te;
    }
}

/// `123456789`, `987654321`: the digits people type when they mean "some number".
fn sequential(tok: &[u8]) -> bool {
    tok.windows(2).all(|w| w[1] == w[0] + 1) || tok.windows(2).all(|w| w[0] == w[1] + 1)
}

fn ssn_after(b: &[u8], e: usize, sink: &mut Sink) {
    let limit = line_after(b, e, 32);
    let Some(d) = b[e..limit]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| e + p)
    else {
        return;
    };
    let mut digits = [0u8; 9];
    let mut n = 0;
    let mut j = d;
    while j < limit && n < 9 {
        match b[j] {
            c @ b'0'..=b'9' => {
                digits[n] = c;
                n += 1;
            }
            b' ' | b'-' if n == 3 || n == 5 => {}
            _ => break,
        }
        j += 1;
    }
    if n == 9 && ends_token(b, j) && starts_token(b, d) {
        let (a, g, s) = (
            number(&digits[..3]),
            number(&digits[3..5]),
            number(&digits[5..]),
        );
        if ssn_valid(a, g, s) {
            sink.push(Kind::UsSsn, d, j);
        }
    }
}

fn phone_after(b: &[u8], e: usize, sink: &mut Sink) {
    let limit = line_after(b, e, 40);
    let Some(d) = b[e..limit]
        .iter()
        .position(|c| c.is_ascii_digit() || *c == b'+' || *c == b'(')
        .map(|p| e + p)
    else {
        return;
    };
    if !starts_token(b, d) {
        return;
    }
    let mut end = run_end(b, d, |c| {
        c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+')
    });
    while end > d && !b[end - 1].is_ascii_digit() {
        end -= 1;
    }
    let span = &b[d..end];
    let n = span.iter().filter(|c| c.is_ascii_digit()).count();
    if !(7..=15).contains(&n) || !ends_token(b, end) || numeric_date(b, d).is_some() {
        return;
    }
    if span.windows(2).any(|w| w[0] == b' ' && w[1] == b' ') {
        return;
    }
    sink.push(Kind::Phone, d, end);
}
