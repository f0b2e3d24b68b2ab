//! Normalisation before matching, with a map back to the original byte offsets.
//!
//! Two layers, each applied only when the text needs it, so plain ASCII prose is matched in
//! place without a copy:
//! - characters (only when the text has non-ASCII bytes): NFKC; zero-width characters, soft
//!   hyphens and bidi controls removed; Unicode spaces as spaces, Unicode dashes as `-`;
//!   decimal digits of every script as ASCII digits; Cyrillic and Greek look-alike letters as
//!   Latin where they sit in an otherwise Latin token (`pаypal@gmаil.com`);
//! - spellings (only where the matcher saw one): `%XX` escapes of URL punctuation and JSON
//!   `\uXXXX` escapes decoded and e-mail addresses written with `[at]`, `(at)`, ` at `,
//!   `[dot]`, ` dot ` rewritten to their plain form.
//!
//! Every rewrite is an [`Edit`] from a span of the layer's input to a span of its output;
//! bytes between edits are copied, so the map is a binary search over the edits.

use super::text::skip_to;
use std::borrow::Cow;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// One rewritten span: `from` in the layer's input became `to` in its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) from: (usize, usize),
    pub(crate) to: (usize, usize),
}

/// Builds one layer: copies unchanged bytes lazily and records edits.
pub(crate) struct Rewriter<'a> {
    src: &'a str,
    out: String,
    copied: usize,
    pub(crate) edits: Vec<Edit>,
}

impl<'a> Rewriter<'a> {
    /// A rewriter over `src`.
    pub(crate) fn new(src: &'a str) -> Rewriter<'a> {
        Rewriter {
            src,
            out: String::new(),
            copied: 0,
            edits: Vec::new(),
        }
    }

    /// Replaces `src[start..end]` (at char boundaries, at or after the last edit) with `with`.
    pub(crate) fn replace(&mut self, start: usize, end: usize, with: &str) {
        if self.out.is_empty() && self.edits.is_empty() {
            self.out.reserve(self.src.len());
        }
        self.out.push_str(&self.src[self.copied..start]);
        let to = self.out.len();
        self.out.push_str(with);
        self.edits.push(Edit {
            from: (start, end),
            to: (to, self.out.len()),
        });
        self.copied = end;
    }

    /// Like [`Rewriter::replace`] with the replacement produced by `f` into the buffer.
    fn replace_with(&mut self, start: usize, end: usize, f: impl FnOnce(&mut String)) {
        self.out.push_str(&self.src[self.copied..start]);
        let to = self.out.len();
        f(&mut self.out);
        self.edits.push(Edit {
            from: (start, end),
            to: (to, self.out.len()),
        });
        self.copied = end;
    }

    /// The rewritten text, or `None` when nothing was rewritten.
    pub(crate) fn finish(mut self) -> Option<(String, Vec<Edit>)> {
        if self.edits.is_empty() {
            return None;
        }
        self.out.push_str(&self.src[self.copied..]);
        Some((self.out, self.edits))
    }
}

/// A text as the matchers see it, with the layers that map it back to the original.
pub(crate) struct Normalized<'a> {
    /// The normalised text.
    pub(crate) text: Cow<'a, str>,
    layers: Vec<Vec<Edit>>,
}

impl<'a> Normalized<'a> {
    /// `text` with the character layer applied where it has non-ASCII bytes.
    pub(crate) fn chars(text: &'a str) -> Normalized<'a> {
        let mut n = Normalized {
            text: Cow::Borrowed(text),
            layers: Vec::new(),
        };
        if !text.is_ascii() {
            if let Some((t, edits)) = fold_chars(text) {
                n.text = Cow::Owned(t);
                n.layers.push(edits);
            }
        }
        n
    }

    /// Adds a layer rewritten from the current text.
    pub(crate) fn push(&mut self, text: String, edits: Vec<Edit>) {
        self.text = Cow::Owned(text);
        self.layers.push(edits);
    }

    /// Whether the text is the original.
    pub(crate) fn is_identity(&self) -> bool {
        self.layers.is_empty()
    }

    /// Maps a finding's span in the normalised text to the original text.
    pub(crate) fn map(&self, start: usize, end: usize) -> (usize, usize) {
        let (mut s, mut e) = (start, end);
        for layer in self.layers.iter().rev() {
            let ns = map_start(layer, s);
            e = map_end(layer, e).max(ns);
            s = ns;
        }
        (s, e)
    }
}

fn map_start(edits: &[Edit], i: usize) -> usize {
    let k = edits.partition_point(|e| e.to.0 <= i);
    if k == 0 {
        return i;
    }
    let e = edits[k - 1];
    if i < e.to.1 {
        e.from.0
    } else {
        i - e.to.1 + e.from.1
    }
}

fn map_end(edits: &[Edit], i: usize) -> usize {
    if i == 0 {
        return 0;
    }
    let last = i - 1;
    let k = edits.partition_point(|e| e.to.0 <= last);
    if k == 0 {
        return i;
    }
    let e = edits[k - 1];
    if last < e.to.1 {
        e.from.1
    } else {
        i - e.to.1 + e.from.1
    }
}

/// Characters that carry nothing visible and are dropped: soft hyphen, zero-width and
/// joiner characters, bidi marks, embeddings, overrides and isolates, variation selectors,
/// the byte-order mark.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}')
}

/// What a space-like or dash-like character stands for.
fn punct(c: char) -> Option<char> {
    match c {
        '\u{00A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => Some(' '),
        '\u{0085}' | '\u{2028}' | '\u{2029}' => Some('\n'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => Some('-'),
        // Typographic apostrophes, so `driver’s licence` matches its keyword.
        '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{201A}' => Some('\''),
        // Typographic quotes, so a name or a value right after `«` or `„` starts a word.
        '\u{00AB}' | '\u{00BB}' | '\u{201C}'..='\u{201F}' | '\u{2039}' | '\u{203A}' => Some('"'),
        _ => None,
    }
}

/// Code points of digit zero in the Unicode scripts whose ten decimal digits (`Nd`) are
/// consecutive; NFKC covers the full-width and mathematical ones.
const DIGIT_ZEROS: [u32; 37] = [
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x1D7CE,
];

/// The ASCII digit a Unicode decimal digit stands for.
pub(crate) fn digit_value(c: char) -> Option<u8> {
    let cp = c as u32;
    DIGIT_ZEROS
        .iter()
        .find(|z| (**z..**z + 10).contains(&cp))
        .map(|z| b'0' + (cp - z) as u8)
}

/// The Latin letter a Cyrillic or Greek letter is drawn like.
fn lookalike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'е' | 'ε' => 'e',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'с' | 'ϲ' => 'c',
        'у' | 'γ' => 'y',
        'х' | 'χ' => 'x',
        'і' | 'ι' => 'i',
        'ј' => 'j',
        'ѕ' => 's',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' | 'ω' => 'w',
        'һ' => 'h',
        'ӏ' => 'l',
        'ν' => 'v',
        'κ' | 'к' => 'k',
        'τ' => 't',
        'υ' => 'u',
        'А' | 'Α' => 'A',
        'В' | 'Β' => 'B',
        'Е' | 'Ε' => 'E',
        'Ζ' => 'Z',
        'К' | 'Κ' => 'K',
        'М' | 'Μ' => 'M',
        'Н' | 'Η' => 'H',
        'О' | 'Ο' => 'O',
        'Р' | 'Ρ' => 'P',
        'С' | 'Ϲ' => 'C',
        'Т' | 'Τ' => 'T',
        'Х' | 'Χ' => 'X',
        'І' | 'Ι' => 'I',
        'Ј' => 'J',
        'Ѕ' => 'S',
        'У' | 'Υ' => 'Y',
        'Ν' => 'N',
        _ => return None,
    })
}

fn token_delim(b: u8) -> bool {
    b.is_ascii_whitespace() || b"\"'`<>()[]{},;".contains(&b)
}

/// Whether the token around byte `i` is Latin apart from look-alike (and invisible)
/// characters, so its look-alikes are disguise rather than another script. Returns the
/// token's end with the verdict, to reuse for its other characters.
fn latin_token(text: &str, i: usize) -> (usize, bool) {
    let b = text.as_bytes();
    let mut s = i;
    while s > 0 && !token_delim(b[s - 1]) {
        s -= 1;
    }
    let mut e = i;
    while e < b.len() && !token_delim(b[e]) {
        e += 1;
    }
    // `s` may sit inside a multi-byte character only if a delimiter byte were inside one,
    // which UTF-8 rules out; floor anyway so slicing cannot panic.
    while !text.is_char_boundary(s) {
        s -= 1;
    }
    let tok = &text[s..e];
    let ascii_letter = tok.bytes().any(|c| c.is_ascii_alphabetic());
    let only_disguise = tok
        .chars()
        .all(|c| c.is_ascii() || lookalike(c).is_some() || invisible(c));
    (e, ascii_letter && only_disguise)
}

/// The character layer; `None` when the text is already normal.
fn fold_chars(text: &str) -> Option<(String, Vec<Edit>)> {
    let b = text.as_bytes();
    let mut w = Rewriter::new(text);
    let mut token: (usize, bool) = (0, false);
    let mut i = 0;
    while i < b.len() {
        if b[i] < 0x80 {
            // Skip the ASCII run in one go: most prompts are ASCII almost throughout.
            i = skip_to(b, i, |c| c >= 0x80);
            continue;
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        let n = c.len_utf8();
        // Latin-1 letters and most accented Latin are already normal: the common case in
        // European prose.
        if ('\u{C0}'..='\u{17F}').contains(&c) && c != 'ſ' && c != 'ŀ' && c != 'ŉ' {
            i += n;
            continue;
        }
        let mut buf = [0u8; 4];
        if invisible(c) {
            w.replace(i, i + n, "");
        } else if let Some(p) = punct(c) {
            w.replace(i, i + n, p.encode_utf8(&mut buf));
        } else if let Some(d) = digit_value(c) {
            buf[0] = d;
            w.replace(i, i + n, std::str::from_utf8(&buf[..1]).unwrap_or("0"));
        } else if let Some(l) = lookalike(c) {
            if i >= token.0 {
                token = latin_token(text, i);
            }
            if token.1 {
                w.replace(i, i + n, l.encode_utf8(&mut buf));
            }
        } else if is_nfkc_quick(std::iter::once(c)) != IsNormalized::Yes {
            w.replace_with(i, i + n, |out| {
                for d in std::iter::once(c).nfkc() {
                    out.push(d);
                }
            });
        }
        i += n;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Normalized::chars(s).text.into_owned()
    }

    #[test]
    fn folds_characters() {
        assert_eq!(norm("４５３２\u{00A0}0151"), "4532 0151");
        assert_eq!(norm("٠١٥١ ۲۳۴"), "0151 234");
        assert_eq!(norm("a\u{200B}b\u{00AD}c\u{202E}d"), "abcd");
        assert_eq!(norm("jоhn@gmаil.com"), "john@gmail.com");
        assert_eq!(norm("Москва"), "Москва");
        assert_eq!(norm("ｊａｎｅ＠ｗｅｂ．ｄｅ"), "jane@web.de");
        assert_eq!(norm("0151–2345"), "0151-2345");
        assert_eq!(norm("Straße für Müller"), "Straße für Müller");
    }

    #[test]
    fn maps_back_to_original_offsets() {
        let s = "x ４５\u{200B}３２ y";
        let n = Normalized::chars(s);
        let t = &n.text;
        let start = t.find('4').unwrap();
        let end = t.find('2').unwrap() + 1;
        let (a, b) = n.map(start, end);
        assert_eq!(&s[a..b], "４５\u{200B}３２");
    }

    #[test]
    fn ascii_is_borrowed() {
        assert!(Normalized::chars("plain text 123").is_identity());
    }
}
