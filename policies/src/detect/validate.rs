//! Checksums, valid ranges, placeholders and documented example values.

use super::text::is_alnum;
use std::net::Ipv6Addr;

/// Luhn checksum over ASCII digits.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    matches!(sum % 10, 0)
}

/// Whether a card number has a known issuer prefix and a length that issuer uses.
pub(crate) fn card_issuer_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p2 = u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0');
    let p4 = super::text::number(&d[..4]);
    match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => ((51..=55).contains(&p2) && n == 16) || (maestro(p2) && (12..=19).contains(&n)),
        b'2' => (2221..=2720).contains(&p4) && n == 16,
        b'3' => match p2 {
            34 | 37 => n == 15,
            35 => (16..=19).contains(&n),
            30 | 36 | 38 | 39 => (14..=19).contains(&n),
            _ => false,
        },
        b'6' => {
            ((p4 == 6011 || p2 == 65 || (644..=649).contains(&(p4 / 10)) || p2 == 62)
                && (16..=19).contains(&n))
                || (matches!(p4, 6304 | 6759 | 6761..=6763) && (12..=19).contains(&n))
                // Bancontact, Belgium's debit card, co-badged Maestro: 17 digits typically.
                || (p4 == 6703 && (16..=19).contains(&n))
        }
        _ => false,
    }
}

/// Maestro's prefixes outside the Mastercard range: 50 and 56-58.
fn maestro(p2: u32) -> bool {
    p2 == 50 || (56..=58).contains(&p2)
}

/// Card numbers published by card networks and payment processors for testing, and the
/// patterns they are built from (long runs of one digit, a repeated block such as
/// `4242 4242 4242 4242`).
pub(crate) fn is_test_card(d: &[u8]) -> bool {
    const TEST: [&str; 57] = [
        "4111111111111111",
        "4242424242424242",
        "4012888888881881",
        "4000056655665556",
        "5555555555554444",
        "5105105105105100",
        "2223003122003222",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "3566002020360505",
        "30569309025904",
        "5200828282828210",
        "6200000000000005",
        "3056930009020004",
        "36227206271667",
        "6011000990139424",
        "6011981111111113",
        "3530111333300000",
        "4222222222222",
        "378734493671000",
        "5610591081018250",
        "4917610000000000",
        "5425233430109903",
        "2222420000001113",
        "2223000048410010",
        "4035501000000008",
        "4360000001000005",
        "4444333322221111",
        "4988438843884305",
        "5101180000000007",
        "5555341244441115",
        "4000002500003155",
        "4000002760003184",
        "4000003800000446",
        "4000008400001629",
        "6205500000000000004",
        "3782822463100050",
        "4012000033330026",
        "4462030000000000",
        // Redsys and Nexi XPay sandbox cards.
        "4548812049400004",
        "4349940199004549",
        // Mercado Pago's sandbox cards (Brazil, Argentina).
        "5031433215406351",
        "4235647728025682",
        "375365153556885",
        "4509953566233704",
        "5287338310253304",
        "5067766783888311",
        // ... and Argentina's and Mexico's.
        "5031755734530604",
        "371180303257522",
        "5474925432670366",
        "4075595716483764",
        // Adyen's test cards.
        "4111111145551142",
        "2222400070000005",
        "370000000000002",
        "5577000055770004",
        "4400000000000008",
    ];
    if TEST.iter().any(|t| t.as_bytes() == d) {
        return true;
    }
    let longest_run = d
        .chunk_by(|a, b| a == b)
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    let repeated_block = [2, 4]
        .iter()
        .any(|p| d.len().is_multiple_of(*p) && d.chunks(*p).all(|c| c == &d[..*p]));
    longest_run >= 7 || repeated_block
}

/// IBAN length for a country code (SWIFT IBAN registry).
pub(crate) fn iban_len(cc: &[u8]) -> Option<usize> {
    const LENGTHS: &[(&str, u8)] = &[
        ("AD", 24),
        ("AE", 23),
        ("AL", 28),
        ("AT", 20),
        ("AZ", 28),
        ("BA", 20),
        ("BE", 16),
        ("BG", 22),
        ("BH", 22),
        ("BI", 27),
        ("BR", 29),
        ("BY", 28),
        ("CH", 21),
        ("CR", 22),
        ("CY", 28),
        ("CZ", 24),
        ("DE", 22),
        ("DJ", 27),
        ("DK", 18),
        ("DO", 28),
        ("EE", 20),
        ("EG", 29),
        ("ES", 24),
        ("FI", 18),
        ("FK", 18),
        ("FO", 18),
        ("FR", 27),
        ("GB", 22),
        ("GE", 22),
        ("GI", 23),
        ("GL", 18),
        ("GR", 27),
        ("GT", 28),
        ("HN", 28),
        ("HR", 21),
        ("HU", 28),
        ("IE", 22),
        ("IL", 23),
        ("IQ", 23),
        ("IS", 26),
        ("IT", 27),
        ("JO", 30),
        ("KW", 30),
        ("KZ", 20),
        ("LB", 28),
        ("LC", 32),
        ("LI", 21),
        ("LT", 20),
        ("LU", 20),
        ("LV", 21),
        ("LY", 25),
        ("MC", 27),
        ("MD", 24),
        ("ME", 22),
        ("MK", 19),
        ("MN", 20),
        ("MR", 27),
        ("MT", 31),
        ("MU", 30),
        ("NI", 28),
        ("NL", 18),
        ("NO", 15),
        ("OM", 23),
        ("PK", 24),
        ("PL", 28),
        ("PS", 29),
        ("PT", 25),
        ("QA", 29),
        ("RO", 24),
        ("RS", 22),
        ("RU", 33),
        ("SA", 24),
        ("SC", 31),
        ("SD", 18),
        ("SE", 24),
        ("SI", 19),
        ("SK", 24),
        ("SM", 27),
        ("SO", 23),
        ("ST", 25),
        ("SV", 28),
        ("TL", 23),
        ("TN", 24),
        ("TR", 26),
        ("UA", 29),
        ("VA", 22),
        ("VG", 24),
        ("XK", 20),
        ("YE", 30),
    ];
    LENGTHS
        .iter()
        .find(|(c, _)| c.as_bytes() == cc)
        .map(|(_, n)| usize::from(*n))
}

/// ISO 13616 mod-97 check over a compact IBAN (uppercase letters and digits).
pub(crate) fn iban_mod97(iban: &[u8]) -> bool {
    let mut rem = 0u32;
    for &b in iban[4..].iter().chain(&iban[..4]) {
        match b {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// US SSN validity: area not 000, 666 or 900-999; group not 00; serial not 0000; not one of
/// the numbers the SSA documents as used in advertising.
pub(crate) fn ssn_valid(area: u64, group: u64, serial: u64) -> bool {
    let advertised = matches!(
        (area, group, serial),
        (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789)
    );
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !advertised
}

/// UK NINO prefix and suffix rules (HMRC): no D, F, I, Q, U, V; no O second; no BG, GB,
/// KN, NK, NT, TN, ZZ; suffix A-D.
pub(crate) fn nino_valid(a: u8, b: u8, suffix: u8) -> bool {
    let bad1 = b"DFIQUV";
    let bad2 = b"DFIOQUV";
    let pair = [a, b];
    !bad1.contains(&a)
        && !bad2.contains(&b)
        && ![b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"].contains(&&pair)
        && (b'A'..=b'D').contains(&suffix)
}

/// Spanish DNI/NIE check letter over the 8-digit number.
pub(crate) fn dni_letter(n: u64) -> u8 {
    b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize]
}

/// Whether an IPv4 address is publicly routable (not private, loopback, link-local, CGNAT,
/// documentation, benchmarking, multicast or reserved).
pub(crate) fn ipv4_public(o: [u8; 4]) -> bool {
    let special = matches!(
        o,
        [0, ..]
            | [10, ..]
            | [127, ..]
            | [169, 254, ..]
            | [192, 168, ..]
            | [192, 0, 0, _]
            | [192, 0, 2, _]
            | [198, 51, 100, _]
            | [203, 0, 113, _]
    );
    let private = o[0] == 172 && (16..=31).contains(&o[1]);
    let cgnat = o[0] == 100 && (64..=127).contains(&o[1]);
    let benchmarking = o[0] == 198 && (18..=19).contains(&o[1]);
    !(special || private || cgnat || benchmarking || o[0] >= 224)
}

/// Whether an IPv6 address is global unicast outside the documentation prefixes.
pub(crate) fn ipv6_public(a: &Ipv6Addr) -> bool {
    let s = a.segments();
    if let Some(v4) = a.to_ipv4_mapped() {
        return ipv4_public(v4.octets());
    }
    (0x2000..=0x3fff).contains(&s[0])
        && !(s[0] == 0x2001 && s[1] == 0x0db8)
        && !(s[0] == 0x3fff && s[1] < 0x1000)
}

/// Shannon entropy in bits per byte.
pub(crate) fn entropy(v: &[u8]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut counts = [0u16; 128];
    for &b in v {
        counts[usize::from(b & 0x7f)] += 1;
    }
    let n = v.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// How many of lower case, upper case, digits and other characters a value mixes.
pub(crate) fn char_classes(v: &[u8]) -> usize {
    let lower = v.iter().any(u8::is_ascii_lowercase);
    let upper = v.iter().any(u8::is_ascii_uppercase);
    let digit = v.iter().any(u8::is_ascii_digit);
    let other = v.iter().any(|b| !b.is_ascii_alphanumeric());
    [lower, upper, digit, other].iter().filter(|x| **x).count()
}

/// 8-4-4-4-12 hex digits.
pub(crate) fn is_uuid(v: &[u8]) -> bool {
    v.len() == 36
        && v.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Only hex digits (hashes, git SHAs).
pub(crate) fn is_hex(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(u8::is_ascii_hexdigit)
}

/// Whether a value is a placeholder, template variable, masked value or documented example
/// rather than a real secret.
pub(crate) fn is_placeholder(v: &[u8]) -> bool {
    const MARKERS: [&str; 22] = [
        "xxxx",
        "your",
        "example",
        "placeholder",
        "changeme",
        "change_me",
        "change-me",
        "redacted",
        "dummy",
        "fake",
        "sample",
        "insert",
        "replace",
        "<",
        ">",
        "${",
        "{{",
        "%(",
        // A mask (`sk-****abcd`); two asterisks occur in Django's random keys.
        "***",
        "...",
        "_here",
        "-here",
    ];
    const EXACT: [&str; 16] = [
        "password",
        "passwd",
        "pass",
        "secret",
        "pwd",
        "test",
        "none",
        "null",
        "nil",
        "string",
        "str",
        "todo",
        "tbd",
        "undefined",
        "true",
        "false",
    ];
    if v.is_empty() {
        return true;
    }
    let first = v[0];
    if matches!(first, b'$' | b':' | b'{' | b'<' | b'[') {
        return true;
    }
    // `@DB_PASS@`, `@password`: a template's substitution; `@xkjrgDLaK#yx&-!` is a value.
    if first == b'@'
        && (v.ends_with(b"@")
            || v[1..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.')))
    {
        return true;
    }
    // `%DB_PASS%`, `%s`, `%(pw)s` are substitutions; `%nD^EVgyrQ*oN_DS#Qq` is a value.
    if first == b'%' && (v.len() <= 3 || v.ends_with(b"%") || v[1] == b'(') {
        return true;
    }
    if v.iter().all(|b| *b == first) || v.iter().all(|b| b"xX*.#-_0".contains(b)) {
        return true;
    }
    // `O_SEU_PRIVATE_KEY_ID`, `DB_PASSWORD`: the name of a value, not a value.
    if v.contains(&b'_') && v.iter().all(|c| c.is_ascii_uppercase() || *c == b'_') {
        return true;
    }
    MARKERS.iter().any(|m| super::text::contains_ci(v, m))
        || EXACT.iter().any(|e| e.as_bytes().eq_ignore_ascii_case(v))
        || longest_repeat(v) >= 6
        || worded(v)
}

/// Words joined by `_` or `-` and no digit (`sk_live_VOTRE_CLE_ICI`, `xoxb-tu-token-aqui`):
/// a description of a value in any language. A random body has digits and mixes cases.
fn worded(v: &[u8]) -> bool {
    let words = v
        .split(|c| matches!(c, b'_' | b'-' | b'.'))
        .filter(|w| {
            w.len() >= 2
                && (w.iter().all(u8::is_ascii_lowercase) || w.iter().all(u8::is_ascii_uppercase))
        })
        .count();
    words >= 3 && !v.iter().any(u8::is_ascii_digit)
}

fn longest_repeat(v: &[u8]) -> usize {
    let (mut best, mut cur) = (0, 0);
    for (i, b) in v.iter().enumerate() {
        cur = if i > 0 && v[i - 1].eq_ignore_ascii_case(b) {
            cur + 1
        } else {
            1
        };
        best = best.max(cur);
    }
    best
}

/// Values published in vendor documentation as examples.
pub(crate) fn is_documented_example(v: &[u8]) -> bool {
    const EXAMPLES: [&str; 10] = [
        // Stripe's documentation keys.
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
        // jwt.io's example token signature, and its payload (John Doe, `1234567890`), which
        // stays documentation when the signature is copied wrong.
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ",
        // The specimen German identity card and passport (Erika Mustermann's).
        "T22000129",
        "L01X00T47",
        "C01X00T47",
        // AWS's documentation keys (also caught by "EXAMPLE" below).
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        // Telegram's Bot API documentation token.
        "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
    ];
    EXAMPLES.iter().any(|e| super::text::contains_ci(v, e))
        || super::text::contains_ci(v, "EXAMPLE")
}

/// A byte of a token: letters, digits, `_` and `-`.
pub(crate) fn token_char(c: u8) -> bool {
    is_alnum(c) || c == b'_' || c == b'-'
}

/// Random enough to be a real credential rather than a word or a placeholder.
pub(crate) fn looks_random(v: &[u8]) -> bool {
    v.iter().any(u8::is_ascii_digit)
        && v.iter().any(u8::is_ascii_alphabetic)
        && entropy(v) >= 3.0
        && !is_placeholder(v)
        && !is_documented_example(v)
}

/// `00000000T`, `AA 111111`: six or more digits, all one digit, however valid a check
/// letter after them.
pub(crate) fn repeated_digits(v: &[u8]) -> bool {
    let mut d = v.iter().filter(|c| c.is_ascii_digit());
    let first = d.next();
    v.iter().filter(|c| c.is_ascii_digit()).count() >= 6 && d.all(|c| Some(c) == first)
}
