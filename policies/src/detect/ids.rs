//! Identifiers announced by a keyword: passports, identity cards, tax and social-security
//! numbers, medical record and insurance numbers, driving licences, SSNs and phone numbers.
//! The keyword names the family; the value after it is checked with the family's validators
//! where the format has a check digit, and by shape otherwise.

use super::id_words::{family, Family};
use super::idcheck::{ahv, bsn, codice_fiscale, cpf, itin, nhs, nif_pt, nir, own_check, steuer_id};
use super::ssn::ssn_shape;
use super::text::{ends_token, is_alnum, line_after, number, run_end, run_start, starts_token};
use super::validate::{dni_letter, is_placeholder};
use super::{Anchor, Kind, Sink};

/// Runs the matcher for a keyword anchor at `s..e` of this module's kinds.
pub(crate) fn on_anchor(b: &[u8], s: usize, e: usize, anchor: Anchor, sink: &mut Sink) {
    // Long keywords may open a compound (`Personalausweisnummer`, `patiëntnummer`); short
    // ones (`nie`, `tin`, `ipp`) must stand alone.
    let whole = ends_token(b, e) || !is_alnum(b[e - 1]);
    // A compound ending in a long keyword is that keyword's (`Kranken|versichertennummer`);
    // the whole word tells the family.
    let s = if anchor == Anchor::IdDocument && e - s >= 9 && !starts_token(b, s) {
        run_start(b, s, |c| c.is_ascii_alphabetic() || c >= 0x80)
    } else {
        s
    };
    let word = starts_token(b, s) && (whole || e - s >= 7);
    // `nie` (German "never") and `tin` are words; as keywords they are written in capitals.
    let kw = &b[s..e];
    // So are `hc`, `nas`, `dl`, `sin` and `c.c.`, in lower case a word or a syllable.
    let caps_only = [&b"hc"[..], b"nas", b"dl", b"sin", b"c.c."]
        .iter()
        .any(|w| kw.eq_ignore_ascii_case(w) && kw.iter().any(u8::is_ascii_lowercase));
    if (kw == b"nie" || kw == b"tin" || caps_only) && anchor == Anchor::IdDocument {
        return;
    }
    // A part of a colon-separated name (`arn:aws:sns:eu-west-1:…`) is a service, no label.
    if !word || (s > 0 && b[s - 1] == b':' && b.get(e) == Some(&b':')) {
        return;
    }
    match anchor {
        Anchor::IdDocument => id_after(b, s, e, sink),
        Anchor::Ssn => super::ssn::ssn_after(b, s, e, sink),
        Anchor::PhoneWord => super::phone::phone_after(b, e, sink),
        Anchor::PinWord => super::secret_values::pin_after(b, e, sink),
        _ => {}
    }
}

/// The value announced after a keyword: the first token within the line that holds digits
/// (or an uppercase-and-digit code), with single spaces, dashes, dots or slashes inside.
/// Returns `(start, end)`.
pub(crate) fn value_after(b: &[u8], e: usize, reach: usize) -> Option<(usize, usize)> {
    let limit = line_after(b, e, reach);
    let mut j = e;
    while j < limit {
        if !is_alnum(b[j]) {
            j += 1;
            continue;
        }
        let te = run_end(b, j, is_alnum);
        let tok = &b[j..te];
        let has_digit = tok.iter().any(u8::is_ascii_digit);
        if !has_digit {
            // Letters only: a label word ("number", "Nr", "is") or a code's letter prefix
            // such as the `AB` of `AB 12 34 56 C`.
            let upper = tok.iter().all(u8::is_ascii_uppercase) && tok.len() <= 3;
            let next_digit = matches!(b.get(te), Some(b' ' | b'-'))
                && b.get(te + 1).is_some_and(u8::is_ascii_digit);
            if !(upper && next_digit) {
                j = te;
                continue;
            }
        }
        if !ends_token(b, te) {
            return None;
        }
        // Extend over separators while the next group is still part of the code.
        let mut end = te;
        loop {
            if end + 1 >= b.len() || !matches!(b[end], b' ' | b'-' | b'.' | b'/') {
                break;
            }
            let ge = run_end(b, end + 1, is_alnum);
            let g = &b[end + 1..ge];
            let continues = !g.is_empty()
                && (g.iter().all(u8::is_ascii_digit)
                    || (g.iter().any(u8::is_ascii_digit)
                        && g.iter()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
                    || (g.len() <= 2 && g.iter().all(u8::is_ascii_uppercase)));
            if !continues || ge - j > 32 {
                break;
            }
            end = ge;
        }
        return Some((j, end));
    }
    None
}

/// The value's letters and digits without separators, if it fits.
fn compact(v: &[u8], buf: &mut [u8; 32]) -> usize {
    let mut n = 0;
    for c in v.iter().filter(|c| is_alnum(**c)) {
        if n == buf.len() {
            return 0;
        }
        buf[n] = c.to_ascii_uppercase();
        n += 1;
    }
    n
}

/// `203.0.113.45`; not `1.081.004.719`, a number grouped by thousands (a Colombian cédula).
fn ip_address(raw: &[u8]) -> bool {
    super::text::dotted_quad(raw) && raw.split(|c| *c == b'.').all(|g| number(g) <= 255)
}

/// A date written with separators (`12.03.2019`, `2019-03-12`), which an id never is.
fn date_like(v: &[u8]) -> bool {
    let groups: Vec<&[u8]> = v.split(|c| matches!(c, b'.' | b'/' | b'-')).collect();
    groups.len() == 3
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.iter().all(u8::is_ascii_digit))
        && groups[1].len() <= 2
        && ((groups[0].len() == 4 && groups[2].len() <= 2)
            || (groups[0].len() <= 2 && matches!(groups[2].len(), 2 | 4)))
}

/// `123456789`, `987654321`: the digits people type when they mean "some number".
fn sequential(v: &[u8]) -> bool {
    v.len() >= 6
        && (v.windows(2).all(|w| w[1] == w[0] + 1) || v.windows(2).all(|w| w[0] == w[1] + 1))
}

/// Words that make a `dossier` a patient's file rather than a bailiff's or an insurer's.
const CARE_WORDS: &[&str] = &[
    "patient",
    "patiënt",
    "hôpital",
    "hopital",
    "clinique",
    "médical",
    "medical",
    "medisch",
    "ziekenhuis",
    "huisarts",
    "zorg",
    "santé",
    "sante",
    "soins",
    " arts ",
    "médecin",
];

enum Document {
    Passport,
    Other,
}

/// For a document-number keyword at `s..e`, whether the text before it speaks of a passport;
/// `None` for any other keyword.
fn document_of(b: &[u8], s: usize, e: usize) -> Option<Document> {
    let kw = &b[s..e];
    if ![
        "documentnummer",
        "document number",
        "dokumentennummer",
        "de document",
        "du document",
    ]
    .iter()
    .any(|w| super::text::contains_ci(kw, w))
    {
        return None;
    }
    let before = &b[s.saturating_sub(600)..s];
    let passport = [
        "passport",
        "paspoort",
        "reisepass",
        "passeport",
        "pasaporte",
        "passaporto",
        "passaporte",
    ]
    .iter()
    .any(|w| super::text::contains_ci(before, w));
    Some(if passport {
        Document::Passport
    } else {
        Document::Other
    })
}

fn id_after(b: &[u8], s: usize, e: usize, sink: &mut Sink) {
    // "Documentnummer" under a passport's copy is the passport's number; elsewhere it may be
    // an invoice's or an ERP's ("document number 4500012345").
    let fam = match (family(&b[s..e]), document_of(b, s, e)) {
        (_, Some(Document::Passport)) => Family::Passport,
        (_, Some(Document::Other)) => return,
        (f, _) => f,
    };
    // `USt-IdNr.`, `Umsatzsteuer-ID`: a company's VAT number, not a person's tax id.
    let before = &b[s.saturating_sub(7)..s];
    if super::text::contains_ci(before, "ust-")
        || super::text::contains_ci(before, "ust ")
        || super::text::contains_ci(before, "umsatz")
    {
        return;
    }
    let dutch = ["bsn", "sofi", "burgerservice"]
        .iter()
        .any(|w| super::text::contains_ci(&b[s..e], w));
    let portuguese = ["nif", "contribuinte"]
        .iter()
        .any(|w| super::text::contains_ci(&b[s..e], w));
    if fam == Family::Medical && super::text::contains_ci(&b[s..e], "dossier") {
        let lo = s.saturating_sub(200);
        let hi = (e + 200).min(b.len());
        if !CARE_WORDS
            .iter()
            .any(|w| super::text::contains_ci(&b[lo..hi], w))
        {
            return;
        }
    }
    let kind = match fam {
        Family::Passport => Kind::Passport,
        Family::Medical | Family::Nhs => Kind::MedicalId,
        _ => Kind::NationalId,
    };
    if let Some(delim) = table_header(b, s) {
        return column(b, s, delim, fam, kind, sink);
    }
    if fam == Family::Passport {
        if let Some((vs, ve)) = letters_only_passport(b, e) {
            sink.push(kind, vs, ve);
            return;
        }
    }
    // The first few values on the rest of the line: "Passnummer ... Meiner: 617284915". The
    // bare word `patient` labels a number right after it, not one a sentence later ("patiënt:
    // 'uw afspraak … Bel 040-551 9692'").
    let bare_patient = fam == Family::Medical
        && ["patient", "patiente", "paciente", "paziente", "patiënt"]
            .iter()
            .any(|w| b[s..e].eq_ignore_ascii_case(w.as_bytes()));
    let limit = line_after(b, e, if bare_patient { 40 } else { 120 });
    let mut from = e;
    for _ in 0..3 {
        let Some((vs, ve)) = value_after(b, from, limit.saturating_sub(from)) else {
            return;
        };
        // "Paciente Rosa Gil, DNI 12837465S", "paziente Ahmed Rahman, tel. 328 094 1172": a
        // value another label announces is that label's.
        // A specimen's number is documentation, and so is what follows it.
        // A value running into mask characters (`8038000********4921`) is masked.
        let masked = b.get(ve) == Some(&b'*') || (vs > 0 && b[vs - 1] == b'*');
        if (bare_patient && labelled_by_other(&b[e..ve]))
            || super::validate::is_documented_example(&b[vs..ve])
            || masked
        {
            return;
        }
        // After a Dutch keyword nine digits are a BSN: the 11-test decides, not the other
        // nine-digit shapes of the family. A Portuguese NIF from 5, 6, 7 or 9 said to be a
        // company's is a legal person's.
        let mut buf = [0u8; 32];
        let n = compact(&b[vs..ve], &mut buf);
        // An address or a date is no number of its own format either ("NAS … 192.168.1.34").
        let raw = &b[vs..ve];
        let own = own_check(&b[s..e], &buf[..n])
            .map(|valid| valid && !ip_address(raw) && !date_like(raw));
        let ok = own.unwrap_or_else(|| {
            value_ok(fam, &b[vs..ve])
                && !(dutch && fails_bsn(&b[vs..ve]))
                && !(portuguese && legal_person_nif(&b[vs..ve]) && company_near(b, s, ve))
        });
        if ok {
            // A Carte Vitale's NIR, an Italian health card's codice fiscale and a Swiss AHV
            // number asked for by a health insurer are national.
            let national = is_nir(&b[vs..ve]) || codice_fiscale(&b[vs..ve]) || ahv(&buf[..n]);
            let kind = if kind == Kind::MedicalId && national {
                Kind::NationalId
            } else {
                kind
            };
            sink.push(kind, vs, ve);
            return;
        }
        from = ve;
    }
}

/// A German passport number with no digit right after its keyword (`Reisepassnummer
/// FGLYTGWCK`): nine characters of the passport alphabet, which has no vowels, so no word.
fn letters_only_passport(b: &[u8], e: usize) -> Option<(usize, usize)> {
    // From the end of the keyword's word (`Reisepass|nummer`), the next token or the one
    // after a short label (`Nr.`).
    let mut vs = run_end(b, e, |c| c.is_ascii_alphanumeric());
    for _ in 0..2 {
        vs = run_end(b, vs, |c| matches!(c, b' ' | b':' | b'.'));
        let ve = run_end(b, vs, |c| c.is_ascii_alphanumeric());
        let v = &b[vs..ve];
        let mut seen = 0u32;
        for c in v {
            seen |= 1 << (c & 31);
        }
        let alphabet = v.iter().all(|c| b"CFGHJKLMNPRTVWXYZ".contains(c));
        if v.len() == 9 && alphabet && seen.count_ones() >= 5 {
            return Some((vs, ve));
        }
        if ve - vs > 3 {
            return None;
        }
        vs = ve;
    }
    None
}

/// Whether the words between a bare patient word and a value label the value as something
/// else: an identity number or a phone number.
fn labelled_by_other(gap: &[u8]) -> bool {
    const LABELS: [&str; 14] = [
        "dni", "nie", "nif", "bsn", "cpf", "nir", "ssn", "c.f.", "tel", "tél", "phone", "móvil",
        "cel", "handy",
    ];
    LABELS
        .iter()
        .any(|w| super::text::contains_word_start_ci(gap, w))
}

/// Whether `raw` is a French NIR with its key (15 characters once separators are gone).
fn is_nir(raw: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    let n = compact(raw, &mut buf);
    n == 15 && buf[0].is_ascii_digit() && nir(&buf[..n])
}

/// Whether `raw` is nine digits of a Portuguese NIF for a legal person (from 5, 6, 7 or 9).
fn legal_person_nif(raw: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    let n = compact(raw, &mut buf);
    n == 9 && buf[..n].iter().all(u8::is_ascii_digit) && matches!(buf[0], b'5' | b'6' | b'7' | b'9')
}

/// Whether a company is named on the line around `s..e` ("o NIF da nossa empresa").
fn company_near(b: &[u8], s: usize, e: usize) -> bool {
    let lo = memchr::memrchr(b'\n', &b[..s]).map_or(0, |p| p + 1);
    let hi = line_after(b, e, 80);
    [
        "empresa",
        "sociedade",
        "sociedad",
        "lda",
        "unipessoal",
        "s.a.",
        "companhia",
        "associação",
        "condomínio",
    ]
    .iter()
    .any(|w| super::text::contains_word_start_ci(&b[lo..hi], w))
}

/// Whether `raw` is nine digits that fail the BSN's 11-test.
fn fails_bsn(raw: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    let n = compact(raw, &mut buf);
    n == 9 && buf[..n].iter().all(u8::is_ascii_digit) && !bsn(&buf[..n])
}

/// `1011 PN`: a Dutch postcode, four digits and two capitals, is the address after an
/// office's name ("paspoort ophalen bij het Stadsloket, Amstel 1, 1011 PN Amsterdam"); so is
/// `80331 M`, five digits and the capital a city's name starts with ("Rathaus, Marienplatz
/// 8, 80331 München", the rest of the name not being ASCII).
/// A British one (`DH98 1BT`, `SW1A 2AA`) too.
fn postcode(raw: &[u8]) -> bool {
    if let Some((out, inw)) = raw.iter().position(|c| *c == b' ').map(|p| raw.split_at(p)) {
        let inw = &inw[1..];
        let area = out.iter().take_while(|c| c.is_ascii_uppercase()).count();
        let british = (1..=2).contains(&area)
            && (2..=4).contains(&out.len())
            && out[area..].first().is_some_and(u8::is_ascii_digit)
            && out[area..]
                .iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            && inw.len() == 3
            && inw[0].is_ascii_digit()
            && inw[1..].iter().all(u8::is_ascii_uppercase);
        if british {
            return true;
        }
    }
    let (num, rest) = raw.split_at(raw.iter().take_while(|c| c.is_ascii_digit()).count());
    let caps = rest.strip_prefix(b" ").unwrap_or(&[]);
    !caps.is_empty()
        && caps.iter().all(u8::is_ascii_uppercase)
        && ((num.len() == 4 && num[0] != b'0' && caps.len() == 2)
            || (num.len() == 5 && caps.len() == 1))
}

/// Whether `raw` is a value of the family: the check digit where its shape has one, the
/// shape otherwise.
fn value_ok(fam: Family, raw: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    let n = compact(raw, &mut buf);
    let v = &buf[..n];
    let digits = v.iter().filter(|c| c.is_ascii_digit()).count();
    // Licences, and passports such as the Dutch `BGKNCQSD2`, may hold a single digit.
    let min_digits = if matches!(fam, Family::Licence | Family::Passport) {
        1
    } else {
        2
    };
    // A label before a date (`DDN 25/08/2002`, `DOB 1990-01-02`) is not an id's prefix.
    let from_digits = raw
        .iter()
        .position(u8::is_ascii_digit)
        .map_or(raw, |i| &raw[i..]);
    if n == 0
        // `203.0.113.45`: an IPv4 address, which an id never is.
        || ip_address(raw)
        || date_like(raw)
        || date_like(from_digits)
        || postcode(raw)
        || is_placeholder(raw)
        || super::validate::is_documented_example(raw)
        || sequential(v)
        || super::validate::repeated_digits(v)
        || digits < min_digits
    {
        return false;
    }
    let all_digits = digits == n;
    // `987-12-3456` is written as a US number: a dummy when no SSN can have it.
    let us_form = raw.len() == 11 && raw[3] == b'-' && raw[6] == b'-';
    if n == 9 && all_digits && us_form && !ssn_shape(v) && !itin(number(&v[..3]), number(&v[3..5]))
    {
        return false;
    }
    // `529.982.247-25` is written as a CPF: its own check digits decide.
    let cpf_form = raw.len() == 14 && raw[3] == b'.' && raw[7] == b'.' && raw[11] == b'-';
    let checked = match (n, all_digits) {
        (11, true) if cpf_form => Some(cpf(v)),
        (11, true) if fam != Family::Medical => {
            Some(steuer_id(v) || cpf(v) || fam == Family::Social)
        }
        // A Spanish NIE (`X1234567L`): its first letter stands for a digit of the number.
        (9, false)
            if matches!(v[0], b'X' | b'Y' | b'Z')
                && v[1..8].iter().all(u8::is_ascii_digit)
                && v[8].is_ascii_uppercase() =>
        {
            let lead = u64::from(v[0] - b'X');
            Some(v[8] == dni_letter(lead * 10_000_000 + number(&v[1..8])))
        }
        (9, true) if fam == Family::Tax => Some(bsn(v) || nif_pt(v) || ssn_shape(v)),
        (9, false) if v[8].is_ascii_uppercase() && v[..8].iter().all(u8::is_ascii_digit) => {
            Some(v[8] == dni_letter(number(&v[..8])))
        }
        (15, _) if matches!(fam, Family::Social | Family::Tax) && v[0].is_ascii_digit() => {
            Some(nir(v))
        }
        (16, false) => Some(codice_fiscale(v)),
        (10, true) if fam == Family::Nhs => Some(nhs(v)),
        _ => None,
    };
    match checked {
        Some(ok) => ok,
        None => match fam {
            Family::Passport => {
                let dutch = n == 9
                    && v[8].is_ascii_digit()
                    && v.iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
                (6..=10).contains(&n) && (digits >= 2 || dutch)
            }
            // A record number is letters then digits (`PAT-00123456`, `H1234567A`); letters
            // between digits are another system's id (Slack's `U0Z40Z74ZBS`).
            Family::Medical => {
                let after = v.iter().skip_while(|c| !c.is_ascii_digit());
                let letters = after.filter(|c| c.is_ascii_alphabetic()).count();
                (5..=20).contains(&n) && digits >= 4 && letters <= 1
            }
            Family::Nhs => false,
            Family::Licence => {
                let code = raw.iter().all(|c| !c.is_ascii_lowercase());
                (5..=16).contains(&n) && (digits >= 4 || (n >= 8 && digits >= 1 && code))
            }
            Family::Tax | Family::Social => (8..=15).contains(&n) && digits >= 6,
            // Identity-card numbers are written in capitals: `base64` after "DNI" is a word.
            Family::Card => {
                let lower = raw.iter().filter(|c| c.is_ascii_lowercase()).count();
                (6..=14).contains(&n) && (lower == 0 || digits > lower)
            }
        },
    }
}

/// The delimiter of a table whose header line holds the keyword at `s` (`id,name,nhs_number`,
/// `Nom;Prénom;N° passeport`): a comma, semicolon, tab or pipe at least twice, as often on
/// the next line (a row), and a short cell around the keyword. A sentence with two commas
/// followed by a line with one ("…, 59000 Lille.\nBien cordialement,") is no table.
fn table_header(b: &[u8], s: usize) -> Option<u8> {
    let ls = memchr::memrchr(b'\n', &b[..s]).map_or(0, |p| p + 1);
    let le = memchr::memchr(b'\n', &b[s..]).map_or(b.len(), |p| s + p);
    let line = &b[ls..le];
    let next = b.get(le + 1..)?;
    let next = &next[..memchr::memchr(b'\n', next).unwrap_or(next.len())];
    let count = |l: &[u8], d: u8| l.iter().filter(|c| **c == d).count();
    [b',', b';', b'\t', b'|'].into_iter().find(|&d| {
        let n = count(line, d);
        let cell_start = memchr::memrchr(d, &b[ls..s]).map_or(ls, |p| ls + p + 1);
        let cell_end = memchr::memchr(d, &b[s..le]).map_or(le, |p| s + p);
        // A header's cell names its column; "pt.nr 8971427, 67 jr" holds its value.
        let named = !b[cell_start..cell_end].iter().any(u8::is_ascii_digit);
        n >= 2 && count(next, d) >= n && cell_end - cell_start <= 48 && named
    })
}

/// Reports the cells under the keyword's column that are values of the family.
fn column(b: &[u8], s: usize, delim: u8, fam: Family, kind: Kind, sink: &mut Sink) {
    let ls = memchr::memrchr(b'\n', &b[..s]).map_or(0, |p| p + 1);
    let col = b[ls..s].iter().filter(|c| **c == delim).count();
    let mut line = memchr::memchr(b'\n', &b[s..]).map_or(b.len(), |p| s + p) + 1;
    for _ in 0..500 {
        if line >= b.len() {
            return;
        }
        let le = memchr::memchr(b'\n', &b[line..]).map_or(b.len(), |p| line + p);
        if le == line {
            return;
        }
        let mut cs = line;
        let mut k = 0;
        for (p, c) in b[line..le].iter().enumerate() {
            if *c != delim {
                continue;
            }
            if k == col {
                break;
            }
            k += 1;
            cs = line + p + 1;
        }
        if k == col {
            let ce = memchr::memchr(delim, &b[cs..le]).map_or(le, |p| cs + p);
            let mut vs = cs;
            let mut ve = ce;
            while vs < ve && matches!(b[vs], b' ' | b'"' | b'\'') {
                vs += 1;
            }
            while ve > vs && matches!(b[ve - 1], b' ' | b'"' | b'\'' | b'\r') {
                ve -= 1;
            }
            if ve > vs && value_ok(fam, &b[vs..ve]) {
                sink.push(kind, vs, ve);
            }
        }
        line = le + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(family(b"Reisepass"), Family::Passport);
        assert_eq!(family(b"NHS number"), Family::Nhs);
        assert_eq!(family(b"Versichertennummer"), Family::Medical);
        assert_eq!(family(b"Steuer-ID"), Family::Tax);
        assert_eq!(family(b"driver's license"), Family::Licence);
        assert_eq!(family(b"DNI"), Family::Card);
    }

    #[test]
    fn values_after_keywords() {
        let v = |s: &str| value_after(s.as_bytes(), 0, 48).map(|(a, b)| s[a..b].to_string());
        assert_eq!(v(" Nr.: C01X00T47 bitte").as_deref(), Some("C01X00T47"));
        assert_eq!(v(" is AB 12 34 56 C, ok").as_deref(), Some("AB 12 34 56 C"));
        assert_eq!(
            v(": 1 85 05 78 006 084 91").as_deref(),
            Some("1 85 05 78 006 084 91")
        );
        assert_eq!(v(" number please"), None);
        assert!(date_like(b"12.03.2019") && !date_like(b"943-476-5919"));
    }
}
