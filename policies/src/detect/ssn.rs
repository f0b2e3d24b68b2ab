//! US social security numbers announced by their keyword ("SSN", "social security number").

use super::idcheck::itin;
use super::text::{ends_token, line_after, number, run_end, starts_token};
use super::validate::ssn_valid;
use super::{Kind, Sink};

/// Whether nine digits are an SSN's: its area, group and serial, and no ITIN's 9xx area.
pub(super) fn ssn_shape(v: &[u8]) -> bool {
    let (a, g, s) = (number(&v[..3]), number(&v[3..5]), number(&v[5..9]));
    ssn_valid(a, g, s) && !(900..=999).contains(&a)
}

/// The SSN announced by an SSN keyword: the first nine-digit value (`536-22-8817`,
/// `536 22 8817`, `536228817`) within 80 bytes of its line ("the SSN of my brother-in-law, he
/// sent it like this: 447574346").
pub(super) fn ssn_after(b: &[u8], s: usize, e: usize, sink: &mut Sink) {
    let itin_word = super::text::contains_ci(&b[s..e], "itin")
        || super::text::contains_ci(&b[s..e], "taxpayer");
    // The number starts within 100 bytes of the keyword and may end past them.
    let limit = line_after(b, e, 100);
    let value_limit = line_after(b, e, 120);
    let mut from = e;
    while let Some(d) = b[from..limit]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| from + p)
    {
        let mut digits = [0u8; 9];
        let mut n = 0;
        let mut j = d;
        while j < value_limit && n < 9 {
            match b[j] {
                c @ b'0'..=b'9' => {
                    digits[n] = c;
                    n += 1;
                }
                b' ' | b'-' | b'.' if n == 3 || n == 5 => {}
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
            } else if itin_word && itin(a, g) && s != 0 {
                sink.push(Kind::NationalId, d, j);
            }
            return;
        }
        // Past this number (a year, a count) to the next one.
        from = run_end(b, d, |c| c.is_ascii_alphanumeric())
            .max(j)
            .max(d + 1)
            .min(limit);
    }
}
