//! Delimited tables in pasted text (CSV, TSV, pipes): which header names the column of a
//! cell, so a column headed `nhs_number` or `ean` says what its values are.

use super::Tables;

/// The header cell above the table cell holding byte `i`, when `i` sits in a delimited table
/// (`sku,ean,...` over `OAK-148,5311692523667,...`): the header is the block's first line.
pub(crate) fn column_label<'b>(b: &'b [u8], i: usize, tables: &Tables) -> Option<&'b [u8]> {
    let ls = memchr::memrchr(b'\n', &b[..i]).map_or(0, |p| p + 1);
    let le = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |p| i + p);
    let line = &b[ls..le];
    let count = |l: &[u8], d: u8| l.iter().filter(|c| **c == d).count();
    // Two columns (`host,agent_version`) count when the header looks like field names.
    let delims = [b',', b';', b'\t', b'|'];
    let delim = delims
        .into_iter()
        .find(|d| count(line, *d) >= 2)
        .or_else(|| delims.into_iter().find(|d| count(line, *d) == 1))?;
    let two = count(line, delim) == 1;
    let col = b[ls..i].iter().filter(|c| **c == delim).count();
    // Walk up to the block's first line, a bounded number of lines; a line already walked
    // from names its block's first line.
    let (known_line, known_header, known_delim) = tables.get();
    let mut hs = ls;
    for _ in 0..200 {
        if hs == known_line && delim == known_delim {
            hs = known_header;
            break;
        }
        if hs == 0 {
            break;
        }
        let ps = memchr::memrchr(b'\n', &b[..hs - 1]).map_or(0, |p| p + 1);
        if !b[ps..hs - 1].contains(&delim) {
            break;
        }
        hs = ps;
    }
    tables.set((ls, hs, delim));
    if hs == ls {
        return None;
    }
    let he = memchr::memchr(b'\n', &b[hs..]).map_or(b.len(), |p| hs + p);
    // A header names columns: short cells.
    let mut cells = b[hs..he].split(|c| *c == delim);
    let long = if two { 24 } else { 40 };
    let header = &b[hs..he];
    if header.split(|c| *c == delim).any(|c| c.len() > long)
        || (two && (count(header, delim) != 1 || header.contains(&b' ')))
    {
        return None;
    }
    cells.nth(col)
}
