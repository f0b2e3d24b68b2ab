//! Street addresses given as fields of a record (an API payload, a YAML file): the street in
//! one field and the house number in another (`"strasse": "Mühlgasse", "hausnr": "5"`,
//! `street: Burgemeester Reigerstraat` then `houseNumber: 58`). Each of the two values is
//! reported, so that redacting them leaves the record's shape intact.

use super::words::in_list;
use crate::detect::text::run_start;

/// Keys of a house-number field, compared without `_`, `-` and case.
const HOUSE_KEYS: &[&str] = &[
    "housenumber",
    "housenr",
    "houseno",
    "streetnumber",
    "hausnummer",
    "hausnr",
    "huisnummer",
    "huisnr",
    "numero",
    "número",
    "numerocivico",
    "civico",
    "nr",
    "number",
];

/// Keys of a street field.
const STREET_KEYS: &[&str] = &[
    "street",
    "streetname",
    "strasse",
    "straße",
    "straat",
    "straatnaam",
    "rue",
    "calle",
    "via",
    "rua",
    "addressline1",
    "address1",
    "line1",
    "indirizzo",
    "direccion",
    "dirección",
    "morada",
    "logradouro",
];

/// How far around the number the street field is looked for: the same record.
const REACH: usize = 240;

/// The key of the field whose value starts at `vs` (after an optional quote), if the text
/// before it is `key: ` or `"key": "`.
fn key_before(b: &[u8], vs: usize) -> Option<&[u8]> {
    let mut i = vs;
    if i > 0 && matches!(b[i - 1], b'"' | b'\'') {
        i -= 1;
    }
    i = run_start(b, i, |c| c == b' ' || c == b'\t');
    if i == 0 || b[i - 1] != b':' {
        return None;
    }
    i = run_start(b, i - 1, |c| c == b' ' || c == b'\t');
    let quoted = i > 0 && matches!(b[i - 1], b'"' | b'\'');
    let ke = if quoted { i - 1 } else { i };
    let ks = run_start(b, ke, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-') || c >= 0x80
    });
    (ks < ke).then(|| &b[ks..ke])
}

/// `key` without `_`, `-` and case, into `buf`.
fn normal_key<'a>(key: &[u8], buf: &'a mut [u8; 32]) -> &'a [u8] {
    let mut n = 0;
    for &c in key.iter().filter(|c| !matches!(c, b'_' | b'-')) {
        if n == buf.len() {
            break;
        }
        buf[n] = c.to_ascii_lowercase();
        n += 1;
    }
    &buf[..n]
}

/// The street value of a street field within `lo..hi`, if any: `(start, end)`.
fn street_field(b: &[u8], lo: usize, hi: usize) -> Option<(usize, usize)> {
    let mut i = lo;
    while let Some(p) = memchr::memchr(b':', &b[i..hi]) {
        let colon = i + p;
        i = colon + 1;
        let mut vs = crate::detect::text::run_end(b, colon + 1, |c| c == b' ' || c == b'\t');
        let quote = b.get(vs).copied().filter(|c| matches!(c, b'"' | b'\''));
        if quote.is_some() {
            vs += 1;
        }
        if vs >= hi {
            return None;
        }
        let Some(key) = key_before(b, vs) else {
            continue;
        };
        let mut buf = [0u8; 32];
        if !in_list(normal_key(key, &mut buf), STREET_KEYS) {
            continue;
        }
        let ve = match quote {
            Some(q) => vs + memchr::memchr2(q, b'\n', &b[vs..hi])?,
            None => vs + memchr::memchr(b'\n', &b[vs..hi]).unwrap_or(hi - vs),
        };
        let v = b[vs..ve].trim_ascii_end();
        // A street's name: letters, and not a number or a placeholder.
        let letters = v
            .iter()
            .filter(|c| c.is_ascii_alphabetic() || **c >= 0x80)
            .count();
        if letters >= 3 && !v.iter().any(u8::is_ascii_digit) {
            return Some((vs, vs + v.len()));
        }
    }
    None
}

/// The street and the house number when the number at `ds..de` is the value of a
/// house-number field with a street field beside it in the same record.
#[inline]
pub(super) fn field_address(b: &[u8], ds: usize, de: usize) -> Option<[(usize, usize); 2]> {
    let quoted = ds > 0 && matches!(b[ds - 1], b'"' | b'\'');
    let closed = match b.get(de) {
        None => true,
        Some(c) if quoted => *c == b[ds - 1],
        Some(c) => matches!(c, b',' | b'\n' | b'\r' | b' ' | b'}'),
    };
    if !closed {
        return None;
    }
    let mut buf = [0u8; 32];
    if !in_list(normal_key(key_before(b, ds)?, &mut buf), HOUSE_KEYS) {
        return None;
    }
    // The same record: not past its braces.
    let lo = memchr::memrchr2(b'{', b'}', &b[ds.saturating_sub(REACH)..ds])
        .map_or(ds.saturating_sub(REACH), |p| {
            ds.saturating_sub(REACH) + p + 1
        });
    let end = (de + REACH).min(b.len());
    let hi = memchr::memchr2(b'{', b'}', &b[de..end]).map_or(end, |p| de + p);
    let street = street_field(b, lo, hi)?;
    Some([street, (ds, de)])
}

#[cfg(test)]
mod tests {
    use super::field_address;

    fn found(t: &str) -> Option<Vec<&str>> {
        let b = t.as_bytes();
        let ds = t.find(|c: char| c.is_ascii_digit())?;
        let de = ds
            + t[ds..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(t.len() - ds);
        field_address(b, ds, de).map(|spans| spans.iter().map(|(s, e)| &t[*s..*e]).collect())
    }

    #[test]
    fn a_street_and_its_number_in_fields() {
        assert_eq!(
            found("{\"strasse\": \"Mühlgasse\",\n \"hausnr\": \"5\",\n \"plz\": \"x\"}"),
            Some(vec!["Mühlgasse", "5"])
        );
        assert_eq!(
            found("receiver:\n  street: Burgemeester Reigerstraat\n  houseNumber: 58\n"),
            Some(vec!["Burgemeester Reigerstraat", "58"])
        );
        // Another record's street, a number that is no house number, no street at all.
        assert_eq!(
            found("{\"street\": \"Main\"}, {\"houseNumber\": \"5\"}"),
            None
        );
        assert_eq!(found("{\"street\": \"Kerkstraat\", \"quantity\": 5}"), None);
        assert_eq!(found("{\"number\": 5, \"name\": \"x\"}"), None);
        // A street field whose value starts past the record's reach.
        let far = format!(
            "{{\"houseNumber\": \"5\", \"street\":{}\"Kerkstraat\"}}",
            " ".repeat(400)
        );
        assert_eq!(found(&far), None);
    }
}
