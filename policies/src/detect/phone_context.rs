//! What keeps phone-shaped numbers that are something else out: the words before them and
//! their table column (tickets, orders, EANs, timestamps), and the drama ranges when the
//! text is fiction.

use super::text::words;
use super::Tables;

/// Words before a number that say it is something else: tickets, orders, tracking and build
/// numbers, timestamps, product codes, coordinates, durations (matched as word prefixes).
const NOT_PHONE: &[&str] = &[
    // Postcodes: Brazil's `cep=05044-000`, and the words for a postcode.
    "cep",
    "zip",
    "postcode",
    "plz",
    "ticket",
    "order",
    "invoice",
    "tracking",
    "track",
    "build",
    "epoch",
    "timestamp",
    "ts",
    "ean",
    "isbn",
    "gtin",
    "upc",
    "sku",
    "serial",
    "serie",
    "contrat",
    "contract",
    "contrato",
    "contratto",
    "vertrag",
    "matricola",
    "part",
    "ref",
    "case",
    "lat",
    "lon",
    "lng",
    "coord",
    "duration",
    "elapsed",
    "took",
    "ms",
    "error",
    "code",
    "version",
    "iban",
    "account",
    "konto",
    "transaction",
    "txn",
    "booking",
    "reservation",
    // "referentienummer", "referencia", "Referenz"; "la reserva del hotel con número …".
    "referen",
    "reserva",
    "prenotazione",
    "réservation",
    "reservering",
    "buchung",
    "confirmation",
    "parcel",
    "shipment",
    "sendung",
    "auftrag",
    "rechnung",
    "kunden",
    "commande",
    "facture",
    "colis",
    // "n° d'envoi 0612548973": a parcel's number.
    "envoi",
    "pedido",
    "factura",
    "envío",
    "ordine",
    "fattura",
    "spedizione",
    "bestel",
    "pakket",
    "factuur",
    "zending",
    "encomenda",
    "fatura",
    "pid",
    "port",
    "id",
    "checksum",
    "hash",
    "batch",
    "lot",
    "job",
    "run",
    "pr",
    "issue",
    "commit",
    "bug",
    "expediente",
    "dossier",
    "referencia",
    "reference",
    "pratica",
    "protocollo",
    "fascicolo",
    "aktenzeichen",
    "vorgang",
    "zaak",
    "kenmerk",
    "processo",
    "ordernummer",
    "artikel",
    "article",
    "produit",
    "producto",
    "prodotto",
    "barcode",
    "container",
    "pallet",
    "vin",
    "imei",
    "imsi",
    "iccid",
    "tx",
    "fiscal",
    "protocolo",
    "nota",
    "lote",
    "rastreio",
    "billete",
    "bilhete",
    "biglietto",
    "billet",
    "klant",
    "client",
    "cliente",
    "referência",
    "entidade",
    "nummernkreis",
];

/// Words that say a number is to be called (matched as word prefixes): beside them a label
/// earlier in the clause no longer decides ("Kundennummer 4711, Handy 0151 …").
const CALL_WORDS: &[&str] = &[
    "call",
    "ring",
    "phone",
    "tel",
    "handy",
    "mobil",
    "móvil",
    "anruf",
    "ruf",
    "erreichbar",
    "llam",
    "appel",
    "joindre",
    "portable",
    "chiam",
    "cell",
    "bel",
    "ligue",
    "ligar",
    "telem",
    "whatsapp",
    "contact",
    "fax",
    // "me chama no zap", "que me marque al …", "código enviado por SMS para …".
    "chama",
    "zap",
    "wpp",
    "marque",
    "marcame",
    "márcame",
    "sms",
];

/// Whether `w` starts with one of `list` (ASCII case ignored); short entries must be whole.
fn starts_with_any(w: &[u8], list: &[&str]) -> bool {
    list.iter().any(|p| {
        let p = p.as_bytes();
        w.len() >= p.len()
            && w[..p.len()].eq_ignore_ascii_case(p)
            && (p.len() >= 4 || w.len() == p.len())
    })
}

/// Whether a word of the clause before `i` (since the last comma, line or sentence end, at
/// most 80 bytes) names the number as something else, with no call word after it: "Unsere
/// Bestellnummern sehen aus wie 0176-2024-55812", "Störungsticket 0800-4471-2291".
fn clause_says_otherwise(b: &[u8], i: usize) -> bool {
    let mut start = i.saturating_sub(80);
    while start < i && (b[start] & 0xc0) == 0x80 {
        start += 1;
    }
    let clause = b[start..i]
        .iter()
        .rposition(|c| matches!(c, b',' | b';' | b'!' | b'?' | b'\n'));
    let start = clause.map_or(start, |p| start + p + 1);
    let mut labelled = false;
    for w in words(b, start, i) {
        if starts_with_any(w, CALL_WORDS) {
            labelled = false;
        } else if (starts_with_any(w, NOT_PHONE) && !customer(w)) || ends_with_label(w) {
            labelled = true;
        }
    }
    labelled
}

/// A customer named as a person, not as a number's label: "De klant heeft het zo ingevuld:
/// 010…" is the customer's phone; "klantnummer", "n° client" stay labels.
fn customer(w: &[u8]) -> bool {
    ["klant", "client", "cliente", "kunden"]
        .iter()
        .any(|p| w.eq_ignore_ascii_case(p.as_bytes()))
}

/// German and Dutch compounds ending in a label ("Störungsticket", "Vorgangsnummer" is not
/// one: `nummer` alone says nothing).
fn ends_with_label(w: &[u8]) -> bool {
    [
        "ticket",
        "auftrag",
        "bestellung",
        "rechnung",
        "sendung",
        "referenz",
        "kenmerk",
    ]
    .iter()
    .any(|p| {
        let p = p.as_bytes();
        w.len() > p.len() && w[w.len() - p.len()..].eq_ignore_ascii_case(p)
    })
}

/// Whether the number at `i` sits in a table column whose header names something else
/// (`ean`, `serial_prefix`, `order_id`).
pub(crate) fn column_says_otherwise(b: &[u8], i: usize, tables: &Tables) -> bool {
    super::columns::column_label(b, i, tables).is_some_and(|h| {
        words(h, 0, h.len()).any(|w| {
            NOT_PHONE
                .iter()
                .any(|p| w.len() >= p.len() && w[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
        })
    })
}

/// Whether the words on the line just before `i` introduce the number as something else.
pub(crate) fn labelled_otherwise(b: &[u8], i: usize, tables: &Tables) -> bool {
    let mut start = i.saturating_sub(32);
    if let Some(nl) = memchr::memrchr(b'\n', &b[start..i]) {
        start += nl + 1;
    }
    while start < i && (b[start] & 0xc0) == 0x80 {
        start += 1;
    }
    // Only the last three words count: "order 4711, call me on 0151 ..." is still a phone.
    let mut last: [&[u8]; 3] = [b"", b"", b""];
    for w in words(b, start, i) {
        // "numero d'ordine": the word after an elided article.
        let w = w
            .iter()
            .position(|c| *c == b'\'')
            .map_or(w, |p| &w[p + 1..]);
        last = [last[1], last[2], w];
    }
    if column_says_otherwise(b, i, tables) || vat_prefix(b, i) || unit_after(b, i) {
        return true;
    }
    last.iter().any(|w| starts_with_any(w, NOT_PHONE)) || clause_says_otherwise(b, i)
}

/// Whether the number starting at `i` is a measure: a unit right after its digits
/// (`3312456789 ms`, `4915123456 bytes`).
fn unit_after(b: &[u8], i: usize) -> bool {
    const UNITS: &[&str] = &[
        "ms", "s", "sec", "secs", "seconds", "µs", "us", "ns", "bytes", "b", "kb", "mb", "gb",
        "tb", "kib", "mib", "gib", "km", "kg", "mah", "hz", "khz", "mhz", "ghz", "rpm", "px",
        "tokens", "%", "€", "eur", "usd",
    ];
    let mut j = i;
    while j < b.len()
        && (b[j].is_ascii_digit()
            || (matches!(b[j], b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+')
                && b.get(j + 1).is_some_and(u8::is_ascii_digit)))
    {
        j += 1;
    }
    if b.get(j) == Some(&b' ') {
        j += 1;
    }
    let e = super::text::run_end(b, j, |c| {
        c.is_ascii_alphanumeric() || c >= 0x80 || c == b'%'
    });
    e > j
        && std::str::from_utf8(&b[j..e])
            .is_ok_and(|w| UNITS.iter().any(|u| u.eq_ignore_ascii_case(w)))
}

/// `BE 0784.512.336`, `NL859…`: a country's letters right before the digits make them a
/// company or VAT number; a phone number is written with `+32`, never with `BE`.
fn vat_prefix(b: &[u8], i: usize) -> bool {
    const COUNTRIES: [&[u8]; 12] = [
        b"BE", b"NL", b"DE", b"FR", b"ES", b"IT", b"PT", b"AT", b"LU", b"IE", b"DK", b"SE",
    ];
    let end = if i > 0 && b[i - 1] == b' ' { i - 1 } else { i };
    end >= 2
        && COUNTRIES.contains(&&b[end - 2..end])
        && (end == 2 || !b[end - 3].is_ascii_alphanumeric())
}

/// Ranges the regulators reserve for drama (NANP 555-01xx, Ofcom's 020 7946 0xxx and
/// 07700 900xxx), given as national digits.
pub(crate) fn drama_range(national: &[u8]) -> bool {
    let n = national.len();
    (n == 10 && &national[3..6] == b"555" && &national[6..8] == b"01")
        || (n == 11 && national.starts_with(b"0207946") && national[7] == b'0')
        || (n == 11 && national.starts_with(b"07700900"))
}

/// Digits people write when they mean "a number goes here": a subscriber part of one digit
/// repeated (`600 000 000`, `(00) 00000-0000`). Counting digits are not enough: the
/// `0151 23456789` and `090-1234-5678` of real prompts are written as numbers to protect.
pub(crate) fn dummy_digits(d: &[u8]) -> bool {
    d.len() >= 6 && d[d.len() - 6..].windows(2).all(|w| w[0] == w[1])
}

/// Whether a number is a dummy, or in a drama range and the text frames it as fiction ("for
/// the movie script"): the one place those ranges are used as intended. Elsewhere they are
/// written as, and count as, phone numbers.
pub(crate) fn fictional(b: &[u8], i: usize, national: &[u8]) -> bool {
    if dummy_digits(national) {
        return true;
    }
    const FICTION: [&str; 12] = [
        "movie",
        "film",
        "script",
        "screenplay",
        "novel",
        "fictional",
        "fiction",
        "story",
        "scene",
        "episode",
        "sitcom",
        "character",
    ];
    let start = i.saturating_sub(160);
    drama_range(national)
        && words(b, start, (i + 80).min(b.len())).any(|w| super::text::word_in(w, &FICTION))
}

/// The national form of an international number for the drama-range test.
pub(crate) fn fictional_intl(b: &[u8], i: usize, d: &[u8]) -> bool {
    let mut uk = [b'0'; 11];
    dummy_digits(d)
        || (d.len() == 11 && d[0] == b'1' && fictional(b, i, &d[1..]))
        || (d.len() == 12 && d.starts_with(b"44") && {
            uk[1..].copy_from_slice(&d[2..]);
            fictional(b, i, &uk)
        })
}
