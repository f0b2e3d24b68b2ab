//! Digit groups separated by single separators (`4111 1111 1111 1111`, `10.0.0.1`,
//! `0151/2345678`), the shape every digit-led matcher starts from. A line break (with the
//! spaces around it) also separates groups, so a number split over two lines is one value;
//! it is recorded as `\n`.

use super::text::run_end;

/// Most groups a value is read in: a card spelled out digit by digit has 19.
const MAX: usize = 24;

/// Digit groups separated by single separators, e.g. `4111 1111 1111 1111` or `10.0.0.1`.
pub(crate) struct Groups {
    pub(crate) span: [(usize, usize); MAX],
    pub(crate) sep: [u8; MAX],
    pub(crate) count: usize,
}

impl Groups {
    pub(crate) fn parse(b: &[u8], i: usize) -> Groups {
        let mut g = Groups {
            span: [(0, 0); MAX],
            sep: [0; MAX],
            count: 0,
        };
        let mut j = i;
        loop {
            let e = run_end(b, j, |c| c.is_ascii_digit());
            g.span[g.count] = (j, e);
            g.count += 1;
            if g.count == MAX || e + 1 >= b.len() {
                break;
            }
            if matches!(b[e], b' ' | b'-' | b'.' | b'/') && b[e + 1].is_ascii_digit() {
                g.sep[g.count - 1] = b[e];
                j = e + 1;
            } else if b[e] == b' '
                && matches!(b[e + 1], b'/' | b'-')
                && b.get(e + 2) == Some(&b' ')
                && b.get(e + 3).is_some_and(u8::is_ascii_digit)
            {
                // `0201 / 7513056`, `0151 - 2345678`.
                g.sep[g.count - 1] = b[e + 1];
                j = e + 3;
            } else if let Some(next) = line_break(b, e) {
                g.sep[g.count - 1] = b'\n';
                j = next;
            } else {
                break;
            }
        }
        g
    }

    /// How many groups come before the first line break: a value that is not allowed to
    /// span lines ends there.
    pub(crate) fn first_line(&self) -> usize {
        self.sep[..self.count - 1]
            .iter()
            .position(|s| *s == b'\n')
            .map_or(self.count, |p| p + 1)
    }

    pub(crate) fn len(&self, k: usize) -> usize {
        self.span[k].1 - self.span[k].0
    }

    pub(crate) fn end(&self, k: usize) -> usize {
        self.span[k].1
    }

    pub(crate) fn total(&self, k: usize) -> usize {
        (0..k).map(|x| self.len(x)).sum()
    }

    /// The first `k` groups' digits, if they fit in `buf`.
    #[inline]
    pub(crate) fn digits<'a>(&self, b: &[u8], k: usize, buf: &'a mut [u8; 24]) -> Option<&'a [u8]> {
        let mut n = 0;
        for x in 0..k {
            let (s, e) = self.span[x];
            if n + e - s > buf.len() {
                return None;
            }
            buf[n..n + e - s].copy_from_slice(&b[s..e]);
            n += e - s;
        }
        Some(&buf[..n])
    }

    /// Whether the separators between the first `k` groups are all `sep`.
    pub(crate) fn seps_all(&self, k: usize, sep: u8) -> bool {
        self.sep[..k.saturating_sub(1)].iter().all(|s| *s == sep)
    }

    pub(crate) fn lens(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        (0..k).map(|x| self.len(x))
    }
}
/// A single line break at `e`, with spaces or tabs around it, followed by a digit: returns
/// the digit's position.
fn line_break(b: &[u8], e: usize) -> Option<usize> {
    let blank = |c: u8| c == b' ' || c == b'\t' || c == b'\r';
    let k = run_end(b, e, blank);
    if b.get(k) != Some(&b'\n') || k - e > 2 {
        return None;
    }
    let mut d = run_end(b, k + 1, blank);
    // `4532-0871` / `-6926-7909`: the group's separator carried to the next line.
    if matches!(b.get(d), Some(b'-' | b'.')) && e == k {
        d += 1;
    }
    // A log's next record (`2025-02-27 18:22:59 …`) carries on no value.
    let value = b.get(d).is_some_and(u8::is_ascii_digit) && !super::text::stamp_at(b, d);
    (d - k - 1 <= 4 && value).then_some(d)
}
