//! The keywords that announce identifiers, in the languages served, and the family of
//! value each one announces (which validators apply and which kind is reported).

use super::Anchor;

/// Keywords this module adds to the automaton (ASCII case-insensitive), beside the identity
/// document, SSN and phone words of the shared table.
pub(crate) fn anchor_table() -> Vec<(&'static str, Anchor)> {
    const ID: &[&str] = &[
        // Passports.
        "passport number",
        "passport no",
        "passaporto",
        "paspoort",
        "paspoortnummer",
        "passaporte",
        "pass-nr",
        "passnr",
        "reisepassnummer",
        "numéro de passeport",
        "número de pasaporte",
        "numero di passaporto",
        // Medical record, patient and insurance numbers.
        "mrn",
        "medical record number",
        "medical record no",
        "patient id",
        "patient-id",
        "patient number",
        "patient no",
        "patienten-id",
        // German clinical notes abbreviate it: "Pat.: Renate Vogel, Pat.-ID 7792071392".
        "pat.-id",
        "pat.-nr",
        "patientennummer",
        "patientnummer",
        "patiëntnummer",
        "patiëntnummer",
        // Dutch notes abbreviate it: "dhr K. Bakker, pt.nr 8971427".
        "pt.nr",
        "ptnr",
        "patiënt-id",
        "versichertennummer",
        "krankenversichertennummer",
        "versicherungsnummer",
        "versicherten-nr",
        "versichertennr",
        "health insurance number",
        "insurance number",
        "insurance id",
        "member id",
        "policy number",
        "nhs number",
        "nhs no",
        "nhs",
        "carte vitale",
        "numéro de sécurité sociale",
        "n° de sécurité sociale",
        "numero di tessera sanitaria",
        "tessera sanitaria",
        "tarjeta sanitaria",
        // `Nº afiliación SS`: `º` folds to `o` before matching, so the word stands alone.
        "afiliación",
        "cartella clinica",
        "numéro patient",
        "numéro de patient",
        "id paziente",
        // Italian ward notes: "ID paz. 00104148", "n. nosologico 2024/037481".
        "id paz",
        "nosologico",
        // Spanish clinical notes: "(HC 92-5356)", the historia clínica.
        "hc",
        "codice paziente",
        "número de paciente",
        "número de historia",
        "numero utente",
        "número de utente",
        "número de beneficiário",
        "zorgverzekeringsnummer",
        "verzekeringsnummer",
        "dossiernummer",
        "numéro de dossier",
        // Tax and national numbers.
        "steuernummer",
        "steuer-idnr",
        "steuerliche identifikationsnummer",
        "idnr",
        "identifikationsnummer",
        "tax identification number",
        "tax number",
        "tin",
        "codice fiscale",
        "numero fiscale",
        "bsn",
        "burgerservicenummer",
        "sofinummer",
        "sofi-nummer",
        "cpf",
        "contribuinte",
        "número de contribuinte",
        "numéro fiscal",
        "nir",
        "numéro insee",
        "nuss",
        "número de la seguridad social",
        "nif/nie",
        "documento de identidad",
        "documento nacional",
        "carta d'identità",
        // Italian forms abbreviate the identity card: "CI n. CA48217BD".
        "ci n.",
        "c.i. n",
        "carta di identità",
        "identiteitskaart",
        "id-kaart",
        "cartão de cidadão",
        "cartao de cidadao",
        "número de identificação",
        "numero de identificacao",
        "national insurance",
        "ni number",
        "id number",
        "id no",
        "ausweis",
        "steuer-identifikationsnummer",
        // A German tax office's letters label the Steuer-ID "ID-Nr.".
        "id-nr",
        "sozialversicherung",
        "rentenversicherung",
        // India's Aadhaar, Canada's SIN, Colombia's cédula.
        "aadhaar",
        "sin",
        // In Spain a "cédula" may be a court's summons: only the identity card's names.
        "cédula de ciudadanía",
        "cédula de identidad",
        "número de cédula",
        "cédula de extranjería",
        "c.c.",
        // Québec's and France's driving licences, Canadian health cards.
        "numéro de permis",
        "permis de conduire",
        "health card",
        "numéro d'assurance maladie",
        "carte d'assurance maladie",
        "carte soleil",
        // Chile, Argentina and Mexico.
        "rut",
        "cuit",
        "cuil",
        "curp",
        "personalausweisnummer",
        "führerscheinnummer",
        "svnr",
        "sv-nummer",
        // Austria's "SV-Nr.", Australia's tax file number, Québec's NAS, a US state's "DL".
        "sv-nr",
        "tfn",
        "nas",
        "dl",
        "ahv",
        "avs",
        "ahv-nummer",
        "numéro avs",
        "rijksregisternummer",
        "rijksregister",
        "numéro de sécu",
        "n° de sécu",
        "sécu",
        "documento",
        // A document's number on a copy of a passport or an identity card.
        "documentnummer",
        "document number",
        "dokumentennummer",
        "numéro de document",
        "numéro du document",
        // Patient records: the word alone announces a record number in notes and tables.
        "patient",
        "patiente",
        "paciente",
        "paziente",
        "patiënt",
        "utente",
        "hospital number",
        "hospital no",
        "nhc",
        "ipp",
        "nuhsa",
        "sns",
        "cartella",
        "n_cartella",
        "fallnummer",
        "aktenzeichen patient",
        "krankenkasse",
        "prontuário",
        "prontuario",
        "carteirinha",
        "processo clínico",
        "processo n",
        "n_processo",
        "cartão do sus",
        "cartão sus",
        "cns",
        "plano de saúde",
        "niss",
        "rg",
        "segurança social",
        "dmv",
        // Driving licences.
        "driver license",
        "drivers license",
        "driver's license number",
        "dl number",
        "dl#",
        "dl no",
        "license number",
        "licence number",
        "licencia de conducir",
        "carnet de conducir",
        "permiso de conducir",
        "patente di guida",
        "rijbewijs",
        "rijbewijsnummer",
        "carta de condução",
        "carteira de motorista",
    ];
    const SSN: &[&str] = &[
        "social security number",
        "ssn#",
        "itin",
        "taxpayer identification",
    ];
    const PHONE: &[&str] = &[
        "telefono",
        "cellulare",
        "cell.",
        "tel:",
        "telefoonnummer",
        "telefoon",
        "mobiel",
        "mobiele",
        "bel me",
        "telemóvel",
        "telemovel",
        "telefone",
        "celular",
        "phone number",
        "mobile number",
        "numéro de téléphone",
        "número de teléfono",
        "handynummer",
        "telefonnummer",
        "rückrufnummer",
        "mobilnummer",
        "sms",
        "text me",
        "reach me",
        "llámame",
        "llamame",
        "appelle-moi",
        "appelez-moi",
        "ruf mich",
        "chiamami",
        "ligue-me",
        "liga-me",
        "liga à",
        "liga ao",
        "liga para",
        "ligar para",
        "ligue para",
        "ligue à",
        "ligue ao",
        "bel naar",
        "llama a",
        "llama al",
        "chiama al",
        "appelle au",
        "contact number",
    ];
    // A keyword that holds a shorter one of the same kind (and family) adds nothing but
    // automaton states, which every scan pays for: the shorter one matches inside it.
    let shared = super::context::anchor_table();
    let mut mine: Vec<(&'static str, Anchor)> = Vec::new();
    mine.extend(ID.iter().map(|w| (*w, Anchor::IdDocument)));
    mine.extend(SSN.iter().map(|w| (*w, Anchor::Ssn)));
    mine.extend(PHONE.iter().map(|w| (*w, Anchor::PhoneWord)));
    let all: Vec<(&'static str, Anchor)> = shared.iter().chain(mine.iter()).copied().collect();
    let redundant = |w: &str, a: Anchor| {
        all.iter().any(|(o, oa)| {
            *oa == a
                && o.len() < w.len()
                && o.len() >= 5
                && super::text::contains_ci(w.as_bytes(), o)
                && (a != Anchor::IdDocument || family(o.as_bytes()) == family(w.as_bytes()))
        })
    };
    mine.iter()
        .filter(|(w, a)| !redundant(w, *a))
        .copied()
        .collect()
}

/// The family a keyword announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Passport,
    Medical,
    Nhs,
    Tax,
    Social,
    Licence,
    Card,
}

pub(crate) fn family(kw: &[u8]) -> Family {
    let has = |w: &str| super::text::contains_ci(kw, w);
    if has("nhs") {
        Family::Nhs
    } else if has("pass") || has("pasaporte") || has("paspoort") {
        Family::Passport
    } else if [
        "social",
        "sozial",
        "renten",
        "sv-nr",
        "nas",
        "sin",
        // Spain's "Nº afiliación SS" is the social security number.
        "afiliación",
        "nuss",
        "national insurance",
        "ni number",
        "nir",
        "insee",
        "sécu",
        "svnr",
        "sv-nummer",
        "ahv",
        "avs",
        "rijksregister",
        "niss",
        "segurança",
    ]
    .iter()
    .any(|w| has(w))
    {
        Family::Social
    } else if [
        "mrn",
        "pt.nr",
        "ptnr",
        "pat.-",
        "medical",
        "patient",
        "hospital",
        "nhc",
        "ipp",
        "nuhsa",
        "sns",
        "fallnummer",
        "krankenkasse",
        "prontu",
        "carteirinha",
        "processo",
        "sus",
        "cns",
        "saúde",
        "patiënt",
        "paziente",
        "paciente",
        "health card",
        "maladie",
        "carte soleil",
        "id paz",
        "nosologico",
        "hc",
        "versicher",
        "insurance",
        "member",
        "policy",
        "vitale",
        "sanitaria",
        "clinica",
        "historia",
        "utente",
        "beneficiário",
        "zorg",
        "dossier",
        "afiliación",
    ]
    .iter()
    .any(|w| has(w))
    {
        Family::Medical
    } else if [
        "licen",
        "führerschein",
        "permis",
        "conducir",
        "guida",
        "rijbewijs",
        "condução",
        "motorista",
        "dmv",
        "driv",
        "dl",
    ]
    .iter()
    .any(|w| has(w))
    {
        Family::Licence
    } else if [
        "steuer",
        "tax",
        "tin",
        "fiscal",
        "bsn",
        "sofi",
        "cpf",
        "contribuinte",
        "idnr",
        "identifikationsnummer",
        "nif",
        "tfn",
    ]
    .iter()
    .any(|w| has(w))
    {
        Family::Tax
    } else {
        Family::Card
    }
}
