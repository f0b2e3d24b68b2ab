//! Whether an address is public (PUBLIC_ADDRESS): a landmark, an institution or a business
//! named or invited to around it, a famous address, a company acronym, directions asked for.
//! Someone saying they live there, or a private person's name right before it, wins.

use super::floor_char;
use super::names::{Name, Strength};
use super::words::{contains_fold, contains_word_fold};
use super::words::{eq_fold, in_list, FAMOUS_ADDRESSES, PUBLIC_PLACE_WORDS};

/// Words saying someone lives or stays at an address: beside them even a landmark's street
/// is a private address.
#[rustfmt::skip]
const RESIDENCE_WORDS: &[&str] = &[
    "lives", "living", "live at", "resides", "residing", "moved to", "wohnt", "wohnhaft",
    "wohne", "habite", "domicile", "demeurant", "domicilié", "domiciliée", "vive en", "vivo en",
    "reside en", "residente", "domiciliato", "domiciliata", "abita", "vivo in", "woont",
    "woonachtig", "woon op", "woon in", "wonen op", "mora na", "mora em", "moro na", "reside na",
    "wohnung", "apartment", "appartement", "appartamento", "woning", "apartamento",
    // A Spanish certificate's "en el domicilio" (a company's is its "domicilio social").
    "en el domicilio", "mi domicilio", "domiciliado", "domiciliada", "empadronado",
    "empadronada",
];

/// Words of a visitor's question (opening hours, a visit) that make the place asked about
/// the owner of the address given next.
#[rustfmt::skip]
const VISIT_WORDS: &[&str] = &[
    "open", "opens", "opening", "abre", "abren", "apre", "aprono", "orari", "orario", "horario",
    "horaires", "ouvre", "öffnet", "geopend", "openingstijden", "hours", "visit", "visitar",
    "visitare", "visiter", "bezoeken", "besuchen",
];

/// Words of a question asking for a place's address ("Qual é a morada do Palácio de Belém?
/// Praça …"): the place asked about then owns the address given after it.
#[rustfmt::skip]
const ADDRESS_QUESTION_WORDS: &[&str] = &[
    "address", "adresse", "anschrift", "dirección", "direccion", "indirizzo", "adres",
    "morada", "endereço", "endereco",
];

/// Other words that introduce an address, without saying whose it is ("the address I have
/// for the Prado").
#[rustfmt::skip]
const ADDRESS_WORDS: &[&str] = &[
    "address", "ship to", "deliver to", "send it to", "adresse", "anschrift", "lieferadresse",
    "dirección", "direccion", "domicilio", "indirizzo", "adres", "morada", "endereço",
    "endereco", "residência", "flat at", "piso en",
];

/// Whether one of `words` stands within 60 bytes before `s`.
fn listed_before(b: &[u8], s: usize, words: &[&str]) -> bool {
    let lo = floor_char(b, s.saturating_sub(60));
    words.iter().any(|w| contains_word_fold(&b[lo..s], w))
}

/// Whether a word saying someone lives there stands within 60 bytes before `s` (a company's
/// registered office, its "domicilio social", is no one's home).
fn residence_before(b: &[u8], s: usize) -> bool {
    let lo = floor_char(b, s.saturating_sub(60));
    let office = ["domicilio social", "domicilio fiscal", "domicilio legal"];
    listed_before(b, s, RESIDENCE_WORDS) && !office.iter().any(|w| contains_fold(&b[lo..s], w))
}

/// Whether a word introducing an address stands within 60 bytes before `s`.
pub(super) fn address_word_near(b: &[u8], s: usize) -> bool {
    residence_before(b, s) || listed_before(b, s, ADDRESS_WORDS)
}

/// Whether the address at `s..e` is a landmark's, an institution's or a business's: a famous
/// address, or a public-place word in the clause before it (or on the line above, for an
/// address block) or after it on its line. Someone saying they live there wins.
pub(super) fn public(b: &[u8], s: usize, e: usize, names: &[Name]) -> bool {
    let span = &b[s..e];
    // CEDEX is La Poste's delivery to organisations.
    if FAMOUS_ADDRESSES.iter().any(|f| contains_fold(span, f)) || contains_word_fold(span, "cedex")
    {
        return true;
    }
    if residence_before(b, s) {
        return false;
    }
    let line_start = b[..s]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |p| p + 1);
    // A line holding only the address, or a street's preposition and then the address
    // ("Am Sandtorkai 48" under a company's name).
    let lead = &b[line_start..s];
    let only_address = lead.iter().all(|c| !c.is_ascii_alphanumeric() && *c < 0x80)
        || (lead.len() <= 8
            && !lead.iter().any(u8::is_ascii_digit)
            && lead.split(|c| *c == b' ').filter(|w| !w.is_empty()).count() <= 2);
    let lo = if only_address {
        // An address block: the line above names the place, or up to three lines of the
        // block's heading ("Préfecture du Rhône\nDirection des migrations\n106 rue …"), not
        // past a blank line or a line of fields ("Employee: Marisol Ibarra  Emp ID 004417").
        let mut lo = line_start;
        for _ in 0..3 {
            if lo < 2 || b[lo - 2] == b'\n' {
                break;
            }
            let end = lo - 1;
            lo = b[..end]
                .iter()
                .rposition(|c| *c == b'\n')
                .map_or(0, |p| p + 1);
            if b[lo..end].iter().any(|c| c.is_ascii_digit() || *c == b':') {
                break;
            }
        }
        lo
    } else {
        // Within the line: from the start of the clause holding the address, or of the
        // question just before it ("What time does the Prado open? I have the address as …").
        let sentence_start = |to: usize| {
            b[line_start..to]
                .windows(2)
                .rposition(|w| matches!(w[0], b'.' | b'!' | b'?' | b';') && w[1] == b' ')
                .map_or(line_start, |p| line_start + p + 2)
        };
        let mut clause = sentence_start(s);
        // "… dell'ufficio anagrafe del Comune di Milano. È quello di Via Larga 12?": a short
        // question about an address asks after the place just named.
        // "A morada é Rua Abranches Ferrão, 10, em Lisboa?": the question may end a few
        // words later.
        let asks = b[e..]
            .iter()
            .take(40)
            .take_while(|c| !matches!(c, b'.' | b'!' | b'\n'))
            .any(|c| *c == b'?');
        if asks && s - clause <= 24 && clause >= line_start + 2 {
            clause = sentence_start(clause - 2).max(s.saturating_sub(200));
        }
        let question = (clause >= line_start + 2 && b[clause - 2] == b'?')
            .then(|| floor_char(b, sentence_start(clause - 2).max(s.saturating_sub(200))))
            .filter(|&q| {
                VISIT_WORDS
                    .iter()
                    .chain(ADDRESS_QUESTION_WORDS)
                    .any(|w| contains_word_fold(&b[q..clause], w))
            });
        question.unwrap_or(clause.max(s.saturating_sub(100)))
    };
    let lo = floor_char(b, lo);
    let hi = floor_char(b, (e + 60).min(b.len()));
    // After the address: to the end of its line or sentence.
    let hi = b[e..hi]
        .windows(2)
        .position(|w| w[0] == b'\n' || (matches!(w[0], b'.' | b'!' | b'?') && w[1] == b' '))
        .map_or(hi, |p| e + p);
    let hi = floor_char(b, hi);
    // A private person's name is no place, whatever it means ("Dolores Castillo Ramos").
    let before = without_names(b, lo, s, names);
    let before = before.as_ref();
    let after = &b[e..hi];
    // Italian "firma:" signs a letter; German "Firma" (a noun, capitalised) names a company.
    let signed = before.windows(6).any(|w| w == b"firma:");
    PUBLIC_PLACE_WORDS
        .iter()
        .filter(|w| !(signed && **w == "firma"))
        .any(|w| contains_word_fold(before, w) || contains_word_fold(after, w))
        || PUBLIC_COMPOUND_ENDS.iter().any(|w| ends_a_word(before, w))
        || company_before(before)
        || acronym_leads(before)
        || legal_notice_before(b, s)
        || json_ld_place(b, s)
}

/// Whether the address is a schema.org `PostalAddress` of a place or an organisation (a
/// museum's or a shop's JSON-LD), not of a `Person`: the nearest other `@type` before it says.
fn json_ld_place(b: &[u8], s: usize) -> bool {
    let lo = floor_char(b, s.saturating_sub(1500));
    let window = &b[lo..s];
    if !contains_fold(window, "schema.org") || !contains_fold(window, "postaladdress") {
        return false;
    }
    let mut owner = None;
    let mut rest = window;
    while let Some(p) = memchr::memmem::find(rest, b"\"@type\"") {
        rest = &rest[p + 7..];
        let v = rest
            .iter()
            .position(|c| *c == b'"')
            .map(|q| &rest[q + 1..])
            .and_then(|r| r.iter().position(|c| *c == b'"').map(|e| &r[..e]));
        if let Some(v) = v.filter(|v| !v.eq_ignore_ascii_case(b"PostalAddress")) {
            owner = Some(v);
        }
    }
    owner.is_some_and(|v| !v.eq_ignore_ascii_case(b"Person") && !v.eq_ignore_ascii_case(b"Patient"))
}

/// Whether the text before an address starts with a company's acronym and a separator, as a
/// signature's line does ("SNCF Voyageurs – 9 rue Jean-Philippe Rameau").
fn acronym_leads(before: &[u8]) -> bool {
    let t = before.trim_ascii_start();
    let w = super::super::text::run_end(t, 0, |c| c.is_ascii_alphabetic());
    let word = &t[..w];
    (3..=6).contains(&word.len())
        && word.iter().all(u8::is_ascii_uppercase)
        && t.get(w).is_none_or(|c| !c.is_ascii_alphanumeric())
        && ["– ", "- ", "| ", ", ", "· "]
            .iter()
            .any(|sep| contains_fold(t, sep))
}

/// `b[lo..hi]` with the private persons' names in it blanked out. A "name" led by a place
/// word is the place's (`Estadio Santiago Bernabéu`): only later words are a person's.
pub(super) fn without_names<'a>(
    b: &'a [u8],
    lo: usize,
    hi: usize,
    names: &[Name],
) -> std::borrow::Cow<'a, [u8]> {
    let private = |n: &&Name| {
        let first = &b[n.start..super::names::word_end(b, n.start).min(n.end)];
        matches!(n.strength, Strength::Strong | Strength::Weak)
            && n.start < hi
            && n.end > lo
            && !PUBLIC_PLACE_WORDS
                .iter()
                .any(|w| eq_fold(first, w.as_bytes()))
    };
    if !names.iter().any(|n| private(&n)) {
        return std::borrow::Cow::Borrowed(&b[lo..hi]);
    }
    let mut out = b[lo..hi].to_vec();
    for n in names.iter().filter(private) {
        out[n.start.max(lo) - lo..n.end.min(hi) - lo].fill(b' ');
    }
    std::borrow::Cow::Owned(out)
}

/// Whether name `n` directly introduces the address at `s` ("Jonas Weber, Kastanienallee 42",
/// "Amelia Shah at Flat 1A"), with no public place named just before it.
pub(super) fn private_name_before(b: &[u8], n: &Name, s: usize) -> bool {
    if n.end > s || s - n.end > 5 {
        return false;
    }
    let gap = &b[n.end..s];
    let joined = gap
        .iter()
        .all(|c| matches!(c, b' ' | b',' | b':' | b'\n' | b'-'))
        || ["at", "in", "a", "à", "an", "aan", "op", "em", "na"]
            .iter()
            .any(|w| contains_word_fold(gap, w));
    let lo = floor_char(b, n.start.saturating_sub(40));
    let place = PUBLIC_PLACE_WORDS
        .iter()
        .any(|w| contains_word_fold(&b[lo..n.start], w));
    joined && !place
}

/// Place nouns that German and Dutch glue to a name ("Rijksmuseum", "Stadtkirche").
#[rustfmt::skip]
const PUBLIC_COMPOUND_ENDS: &[&str] = &[
    "museum", "kirche", "kerk", "bahnhof", "theater", "stadion", "schule", "halle", "zaal",
    "saal", "rathaus", "stadhuis", "bibliothek", "bibliotheek", "kathedrale", "klinik",
    "kliniek", "ziekenhuis", "krankenhaus", "hotel", "zentrum", "centrum", "kamer", "palast",
    "paleis", "gymnasium", "universität", "universiteit", "akademie", "academie",
    "philharmonie", "arena",
    // Offices and agencies: "Bundeszentralamt", "Bezirksamt", "Rentenversicherung",
    // "Stadsloket", "Krankenkasse" (not "amt" alone: "insgesamt").
    "zentralamt", "bezirksamt", "standesamt", "ratsamt", "ordnungsamt", "sozialamt",
    "jugendamt", "bundesamt", "landesamt", "arbeitsamt", "heitsamt", "meldeamt", "zollamt",
    "verkehrsamt", "behörde", "versicherung", "loket", "kasse", "agentur", "dienst",
];

/// Whether some word of `hay` ends with `suffix` (ignoring case).
fn ends_a_word(hay: &[u8], suffix: &str) -> bool {
    let n = suffix.as_bytes();
    n.len() <= hay.len()
        && hay.windows(n.len()).enumerate().any(|(p, w)| {
            eq_fold(w, n)
                && hay
                    .get(p + n.len())
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c >= 0x80))
        })
}

/// Whether the text before an address names a company by acronym after a preposition
/// ("bei SAP", "at IBM", "chez EDF"): a business address.
fn company_before(before: &[u8]) -> bool {
    const PREPS: &[&str] = &[
        "bei", "at", "chez", "bij", "presso", "en", "na", "no", "von", "van",
    ];
    let words: Vec<&[u8]> = before
        .split(|c| !(c.is_ascii_alphanumeric() || *c >= 0x80))
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).any(|p| {
        in_list(p[0], PREPS)
            && (2..=6).contains(&p[1].len())
            && p[1].iter().all(u8::is_ascii_uppercase)
    })
}

/// Whether a legal notice heads the text before `s` (within 600 bytes): the addresses in an
/// "Impressum" or "mentions légales" are published by law, a business's or its owner's.
fn legal_notice_before(b: &[u8], s: usize) -> bool {
    let lo = floor_char(b, s.saturating_sub(600));
    [
        "impressum",
        "mentions légales",
        "aviso legal",
        "legal notice",
    ]
    .iter()
    .any(|w| contains_word_fold(&b[lo..s], w))
}
