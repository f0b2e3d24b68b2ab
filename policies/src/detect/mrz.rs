//! The machine-readable zone of a passport (ICAO 9303, TD3): two lines of 44 characters,
//! the second holding the document number, the birth date and the expiry date, each with a
//! check digit. A scan's OCR pasted into a prompt carries the whole document.

use super::{Kind, Sink};

/// Finds TD3 zones in `b`: a line starting `P<` or `P` and a country, then a 44-character
/// line whose document number and birth date pass their check digits.
pub(crate) fn scan(b: &[u8], sink: &mut Sink) {
    for start in memchr::memmem::find_iter(b, b"P<") {
        if start > 0 && b[start - 1] != b'\n' {
            continue;
        }
        let Some(nl) = memchr::memchr(b'\n', &b[start..]).map(|p| start + p) else {
            continue;
        };
        let line2 = nl + 1;
        let Some(l2) = b.get(line2..line2 + 44) else {
            continue;
        };
        if !l2
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'<')
        {
            continue;
        }
        let (number, dob) = (&l2[..9], &l2[13..19]);
        if check_digit(number) == Some(l2[9]) && check_digit(dob) == Some(l2[19]) {
            sink.push(Kind::Passport, line2, line2 + 9);
            sink.push(Kind::DateOfBirth, line2 + 13, line2 + 19);
        }
    }
}

/// ICAO 9303's check digit over `field`: weights 7, 3, 1; digits count as themselves,
/// letters from 10, the filler `<` as 0.
fn check_digit(field: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (k, c) in field.iter().enumerate() {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            b'<' => 0,
            _ => return None,
        };
        sum += v * [7, 3, 1][k % 3];
    }
    Some(b'0' + (sum % 10) as u8)
}

#[cfg(test)]
mod tests {
    use super::check_digit;

    #[test]
    fn icao_check_digits() {
        // ICAO 9303's specimen: document L898902C3 check 6, birth 740812 check 2.
        assert_eq!(check_digit(b"L898902C3"), Some(b'6'));
        assert_eq!(check_digit(b"740812"), Some(b'2'));
    }
}
