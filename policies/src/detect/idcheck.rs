//! Check digits and structure rules of national identifiers: DE Steuer-ID (ISO 7064
//! MOD 11,10), FR NIR (mod-97 key), IT codice fiscale (check letter), NL BSN (11-proof),
//! PT NIF (mod 11), BR CPF (two mod-11 digits), UK NHS number (mod 11) and US ITIN ranges.
//!
//! Every function takes ASCII bytes and returns false on anything malformed.

fn digits_ok(d: &[u8], n: usize) -> bool {
    d.len() == n && d.iter().all(u8::is_ascii_digit)
}

fn val(c: u8) -> u32 {
    u32::from(c.wrapping_sub(b'0'))
}

/// German tax id (steuerliche Identifikationsnummer): 11 digits, no leading zero, one digit
/// of the first ten repeated (twice or three times) and the ISO 7064 MOD 11,10 check digit.
pub(crate) fn steuer_id(d: &[u8]) -> bool {
    if !digits_ok(d, 11) || d[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for c in &d[..10] {
        counts[val(*c) as usize] += 1;
    }
    let repeated = counts.iter().filter(|c| **c > 1).count();
    if repeated != 1 || counts.iter().any(|c| *c > 3) {
        return false;
    }
    let mut product = 10;
    for c in &d[..10] {
        let mut sum = (val(*c) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    check == val(d[10])
}

/// French social-security number (NIR): sex, year, month, department (2A/2B for Corsica),
/// commune, order and a two-digit key equal to 97 minus the number mod 97.
pub(crate) fn nir(v: &[u8]) -> bool {
    if v.len() != 15 || !matches!(v[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    let month = val(v[3]) * 10 + val(v[4]);
    if !v[1..5].iter().all(u8::is_ascii_digit) || month == 0 {
        return false;
    }
    // Corsica: 2A counts as 19, 2B as 18 in the key.
    let (dept_adjust, rest_ok) = match (v[5], v[6]) {
        (b'2', b'A' | b'a') => (1_000_000, true),
        (b'2', b'B' | b'b') => (2_000_000, true),
        (x, y) => (0, x.is_ascii_digit() && y.is_ascii_digit()),
    };
    if !rest_ok || !v[7..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut n: u64 = 0;
    for (i, c) in v[..13].iter().enumerate() {
        let d = if i == 6 && dept_adjust > 0 {
            0
        } else {
            u64::from(val(*c))
        };
        n = n * 10 + d;
    }
    // 2A -> 19..., 2B -> 18...: subtract from the number with the letter read as 0.
    if dept_adjust > 0 {
        n -= dept_adjust;
    }
    let key = u64::from(val(v[13]) * 10 + val(v[14]));
    (1..=97).contains(&key) && 97 - n % 97 == key
}

/// Italian codice fiscale: six letters, year, month letter, day (plus 40 for women), a
/// place code and the check letter; digits may be replaced by letters (omocodia).
pub(crate) fn codice_fiscale(v: &[u8]) -> bool {
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    const OMOCODIA: &[u8] = b"LMNPQRSTUV";
    if v.len() != 16
        || !v
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return false;
    }
    let letter_at = [0, 1, 2, 3, 4, 5, 8, 11, 15];
    let numeric_at = [6, 7, 9, 10, 12, 13, 14];
    if letter_at.iter().any(|i| !v[*i].is_ascii_uppercase())
        || numeric_at
            .iter()
            .any(|i| !(v[*i].is_ascii_digit() || OMOCODIA.contains(&v[*i])))
        || !b"ABCDEHLMPRST".contains(&v[8])
    {
        return false;
    }
    let mut sum = 0;
    for (i, c) in v[..15].iter().enumerate() {
        let k = if c.is_ascii_digit() {
            val(*c) as usize
        } else {
            usize::from(c - b'A')
        };
        sum += if i % 2 == 0 { ODD[k] } else { k as u32 };
    }
    v[15] == b'A' + (sum % 26) as u8
}

/// Dutch citizen service number (BSN): nine digits passing the 11-proof.
pub(crate) fn bsn(d: &[u8]) -> bool {
    if !digits_ok(d, 9) || d.iter().all(|c| *c == b'0') {
        return false;
    }
    let sum: i64 = d[..8]
        .iter()
        .enumerate()
        .map(|(i, c)| i64::from(val(*c)) * (9 - i as i64))
        .sum::<i64>()
        - i64::from(val(d[8]));
    sum % 11 == 0
}

/// Portuguese tax number (NIF): nine digits, a known first digit, mod-11 check digit.
pub(crate) fn nif_pt(d: &[u8]) -> bool {
    if !digits_ok(d, 9) || !b"1235689".contains(&d[0]) {
        return false;
    }
    let sum: u32 = d[..8]
        .iter()
        .enumerate()
        .map(|(i, c)| val(*c) * (9 - i as u32))
        .sum();
    let check = match 11 - sum % 11 {
        10 | 11 => 0,
        c => c,
    };
    check == val(d[8])
}

/// Brazilian CPF: eleven digits, not all the same, two mod-11 check digits.
pub(crate) fn cpf(d: &[u8]) -> bool {
    if !digits_ok(d, 11) || d.iter().all(|c| *c == d[0]) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = d[..n]
            .iter()
            .enumerate()
            .map(|(i, c)| val(*c) * (n as u32 + 1 - i as u32))
            .sum();
        (sum * 10) % 11 % 10
    };
    check(9) == val(d[9]) && check(10) == val(d[10])
}

/// UK NHS number: ten digits with a mod-11 check digit (a remainder giving 10 is invalid).
pub(crate) fn nhs(d: &[u8]) -> bool {
    if !digits_ok(d, 10) || d.iter().all(|c| *c == d[0]) {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, c)| val(*c) * (10 - i as u32))
        .sum();
    match 11 - sum % 11 {
        11 => d[9] == b'0',
        10 => false,
        c => c == val(d[9]),
    }
}

/// Swiss AHV/AVS number: `756` and ten digits with an EAN-13 check digit.
pub(crate) fn ahv(d: &[u8]) -> bool {
    if !digits_ok(d, 13) || !d.starts_with(b"756") {
        return false;
    }
    let sum: u32 = d[..12]
        .iter()
        .enumerate()
        .map(|(i, c)| val(*c) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10 == val(d[12])
}

/// The number a keyword of one country's single format announces, its letters and digits
/// only (`v`): `Some(valid)` for those keywords, `None` for the others. A Chilean RUT, an
/// Argentine CUIT or CUIL, a Mexican CURP, an Australian TFN, a Canadian SIN (NAS in
/// French) and an Indian Aadhaar number carry their own check; "ID-Nr." on a German
/// letter is the Steuer-ID's label there, but any number's elsewhere, so only a valid
/// Steuer-ID counts after it.
pub(crate) fn own_check(kw: &[u8], v: &[u8]) -> Option<bool> {
    let is = |w: &str| kw.eq_ignore_ascii_case(w.as_bytes());
    if is("rut") {
        Some(rut(v))
    } else if is("cuit") || is("cuil") {
        Some(cuit(v))
    } else if is("curp") {
        Some(curp(v))
    } else if is("id-nr") {
        Some(steuer_id(v))
    } else if is("tfn") {
        Some(tfn(v))
    } else if is("nas") || is("sin") {
        // Canada's social insurance number carries a Luhn check.
        Some(digits_ok(v, 9) && super::validate::luhn(v))
    } else if is("aadhaar") {
        Some(aadhaar(v))
    } else {
        None
    }
}

/// Indian Aadhaar number: twelve digits, not starting with 0 or 1, with a Verhoeff check
/// digit.
pub(crate) fn aadhaar(d: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    if !digits_ok(d, 12) || d[0] < b'2' {
        return false;
    }
    let c = d.iter().rev().enumerate().fold(0u8, |c, (i, x)| {
        D[c as usize][P[i % 8][(x - b'0') as usize] as usize]
    });
    c == 0
}

/// Australian tax file number: nine digits whose weighted sum is a multiple of 11.
pub(crate) fn tfn(d: &[u8]) -> bool {
    const W: [u32; 9] = [1, 4, 3, 7, 5, 8, 6, 9, 10];
    digits_ok(d, 9) && d.iter().zip(W).map(|(c, w)| val(*c) * w).sum::<u32>() % 11 == 0
}

/// Chilean RUT/RUN: seven or eight digits and a mod-11 check character (`0`-`9` or `K`).
pub(crate) fn rut(v: &[u8]) -> bool {
    let n = v.len();
    if !(8..=9).contains(&n) || !v[..n - 1].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0;
    let mut w = 2;
    for c in v[..n - 1].iter().rev() {
        sum += val(*c) * w;
        w = if w == 7 { 2 } else { w + 1 };
    }
    match 11 - sum % 11 {
        11 => v[n - 1] == b'0',
        10 => v[n - 1] == b'K',
        c => v[n - 1].is_ascii_digit() && val(v[n - 1]) == c,
    }
}

/// Argentine CUIT/CUIL: eleven digits, the last a mod-11 check digit.
pub(crate) fn cuit(d: &[u8]) -> bool {
    if !digits_ok(d, 11) {
        return false;
    }
    const W: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = d[..10].iter().zip(W).map(|(c, w)| val(*c) * w).sum();
    match 11 - sum % 11 {
        11 => d[10] == b'0',
        10 => false,
        c => c == val(d[10]),
    }
}

/// Mexican CURP: four letters, a birth date, the sex, the state's two letters, three
/// consonants, a character against homonyms and a check digit.
pub(crate) fn curp(v: &[u8]) -> bool {
    let shaped = v.len() == 18
        && v[..4].iter().all(u8::is_ascii_uppercase)
        && v[4..10].iter().all(u8::is_ascii_digit)
        && matches!(v[10], b'H' | b'M' | b'X')
        && v[11..16].iter().all(u8::is_ascii_uppercase)
        && v[16].is_ascii_alphanumeric()
        && v[17].is_ascii_digit();
    if !shaped {
        return false;
    }
    // The check's alphabet is 0-9, A-N, Ñ, O-Z: letters after N count one more.
    let code = |c: u8| match c {
        b'0'..=b'9' => val(c),
        b'A'..=b'N' => u32::from(c - b'A') + 10,
        _ => u32::from(c - b'A') + 11,
    };
    let sum: u32 = (0u32..)
        .zip(&v[..17])
        .map(|(i, c)| code(*c) * (18 - i))
        .sum();
    (10 - sum % 10) % 10 == val(v[17])
}

/// Belgian national register number: birth date, order and a mod-97 key (computed with a
/// leading 2 for people born from 2000).
pub(crate) fn rijksregister(d: &[u8]) -> bool {
    if !digits_ok(d, 11) {
        return false;
    }
    let n: u64 = d[..9].iter().fold(0, |n, c| n * 10 + u64::from(val(*c)));
    let key = u64::from(val(d[9]) * 10 + val(d[10]));
    97 - n % 97 == key || 97 - (2_000_000_000 + n) % 97 == key
}

/// US individual taxpayer number: area 9xx with a group in the ITIN ranges.
pub(crate) fn itin(area: u64, group: u64) -> bool {
    (900..=999).contains(&area) && matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steuer_id_check_digit() {
        assert!(steuer_id(b"86095742719"));
        assert!(steuer_id(b"65929970489"));
        assert!(!steuer_id(b"86095742718"));
        assert!(!steuer_id(b"01234567890"));
        assert!(!steuer_id(b"12345678901"));
    }

    #[test]
    fn nir_key() {
        assert!(nir(b"185057800608491"));
        assert!(nir(b"255081416802538"));
        assert!(!nir(b"185057800608492"));
        assert!(!nir(b"585057800608491"));
    }

    #[test]
    fn codice_fiscale_check_letter() {
        assert!(codice_fiscale(b"RSSMRA85T10A562S"));
        assert!(codice_fiscale(b"MRTMTT91D08F205J"));
        assert!(!codice_fiscale(b"RSSMRA85T10A562T"));
        assert!(!codice_fiscale(b"RSSMRA85Z10A562S"));
    }

    #[test]
    fn bsn_eleven_proof() {
        assert!(bsn(b"111222333"));
        assert!(bsn(b"123456782"));
        assert!(!bsn(b"123456789"));
        assert!(!bsn(b"000000000"));
    }

    #[test]
    fn nif_and_cpf() {
        assert!(nif_pt(b"123456789"));
        assert!(nif_pt(b"501964843"));
        assert!(!nif_pt(b"123456788"));
        assert!(!nif_pt(b"423456789"));
        assert!(cpf(b"52998224725"));
        assert!(cpf(b"11144477735"));
        assert!(!cpf(b"52998224726"));
        assert!(!cpf(b"11111111111"));
    }

    #[test]
    fn nhs_mod_eleven() {
        assert!(nhs(b"9434765919"));
        assert!(nhs(b"4010232137"));
        assert!(!nhs(b"9434765918"));
        assert!(!nhs(b"0000000000"));
    }

    #[test]
    fn latin_american_ids() {
        assert!(rut(b"177068284") && rut(b"214732416"));
        assert!(!rut(b"177068285"));
        assert!(cuit(b"27275905025") && !cuit(b"27275905026"));
        assert!(curp(b"SAOB941108MJCLCR02") && !curp(b"SAOB941108MJCLCR03"));
        assert_eq!(own_check(b"RUT", b"177068284"), Some(true));
        assert_eq!(own_check(b"ID-Nr", b"15059368722"), Some(true));
        assert_eq!(own_check(b"ID-Nr", b"15059368723"), Some(false));
        assert_eq!(own_check(b"DNI", b"177068284"), None);
        assert!(tfn(b"730324659") && !tfn(b"730324658"));
        assert!(aadhaar(b"335870438358") && !aadhaar(b"335870438359"));
        assert_eq!(own_check(b"NAS", b"269086872"), Some(true));
        assert_eq!(own_check(b"NAS", b"269086873"), Some(false));
    }

    #[test]
    fn ahv_and_rijksregister() {
        assert!(ahv(b"7569217076985"));
        assert!(!ahv(b"7569217076986"));
        assert!(rijksregister(b"93051822361"));
        assert!(!rijksregister(b"93051822362"));
    }

    #[test]
    fn itin_ranges() {
        assert!(itin(912, 70));
        assert!(!itin(912, 93));
        assert!(!itin(123, 70));
    }
}
