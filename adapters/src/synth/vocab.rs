//! A SentencePiece-style vocabulary llama.cpp's `llama` tokenizer accepts: special tokens, the
//! 256 byte-fallback tokens, then text pieces, longer pieces scoring higher.

use std::collections::HashSet;

/// Token types as llama.cpp reads them from `tokenizer.ggml.token_type`.
const NORMAL: i32 = 1;
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const BYTE: i32 = 6;

/// Id of `<unk>`.
pub const UNK: u32 = 0;
/// Id of `<s>`.
pub const BOS: u32 = 1;
/// Id of `</s>`.
pub const EOS: u32 = 2;
/// Id of `<|im_start|>`.
pub const IM_START: u32 = 3;
/// Id of `<|im_end|>`, which llama.cpp treats as end of generation.
pub const IM_END: u32 = 4;
/// First id after the special and byte tokens: every id below it must never be generated.
pub const FIRST_TEXT: u32 = 5 + 256;

const WORDS: &[&str] = &[
    "the", "and", "that", "have", "for", "not", "with", "you", "this", "but", "his", "from",
    "they", "say", "her", "she", "will", "one", "all", "would", "there", "their", "what", "out",
    "about", "who", "get", "which", "when", "make", "can", "like", "time", "just", "him", "know",
    "take", "people", "into", "year", "your", "good", "some", "could", "them", "see", "other",
    "than", "then", "now", "look", "only", "come", "its", "over", "think", "also", "back", "after",
    "use", "two", "how", "our", "work", "first", "well", "way", "even", "new", "want", "because",
    "any", "these", "give", "day", "most", "hello", "world", "model", "token", "text", "data",
    "is", "are", "was", "be", "to", "of", "in", "it", "on", "as", "at", "by", "or", "an", "a", "I",
    "we", "do", "if", "my", "no", "so", "up", "go", "me",
];

/// Letters in rough English frequency order, so the first n-grams are the common ones.
const LETTERS: &str = "etaoinshrdlcumwfgypbvkjxqz";

/// A few non-ASCII pieces, so generated text exercises multi-byte UTF-8.
const NON_ASCII: &[&str] = &["é", "ü", "ñ", "ß", "€", "—", "中", "文", "✓", "😀"];

/// The vocabulary's three parallel arrays.
#[derive(Debug, Clone)]
pub struct Vocab {
    /// Token texts.
    pub tokens: Vec<String>,
    /// Merge scores.
    pub scores: Vec<f32>,
    /// Token types.
    pub types: Vec<i32>,
}

/// Builds a vocabulary of exactly `size` tokens (`size` should exceed 1000 so every common
/// word fits).
pub fn build(size: usize) -> Vocab {
    let mut v = Vocab {
        tokens: Vec::with_capacity(size),
        scores: Vec::with_capacity(size),
        types: Vec::with_capacity(size),
    };
    let push = |v: &mut Vocab, text: String, score: f32, ty: i32| {
        v.tokens.push(text);
        v.scores.push(score);
        v.types.push(ty);
    };
    push(&mut v, "<unk>".into(), 0.0, UNKNOWN);
    for s in ["<s>", "</s>", "<|im_start|>", "<|im_end|>"] {
        push(&mut v, s.into(), 0.0, CONTROL);
    }
    for b in 0..=255u8 {
        push(&mut v, format!("<0x{b:02X}>"), 0.0, BYTE);
    }

    let mut seen: HashSet<String> = v.tokens.iter().cloned().collect();
    let mut pieces: Vec<String> = vec!["\u{2581}".into()];
    pieces.extend((0x21u8..=0x7e).map(|c| (c as char).to_string()));
    pieces.extend(NON_ASCII.iter().map(|s| s.to_string()));
    // Every prefix of a word is a piece too, so SentencePiece merges can reach the word.
    for w in WORDS {
        for form in [format!("\u{2581}{w}"), (*w).to_string()] {
            let chars: Vec<char> = form.chars().collect();
            pieces.extend((2..=chars.len()).map(|k| chars[..k].iter().collect::<String>()));
        }
    }
    let letters: Vec<char> = LETTERS.chars().collect();
    pieces.extend(letters.iter().map(|c| format!("\u{2581}{c}")));
    let mut grams: Vec<String> = letters.iter().map(|c| c.to_string()).collect();
    'outer: for _len in 2..=5 {
        let mut next = Vec::with_capacity(grams.len() * letters.len());
        for g in &grams {
            for c in &letters {
                next.push(format!("{g}{c}"));
            }
        }
        for g in &next {
            pieces.push(g.clone());
            pieces.push(format!("\u{2581}{g}"));
            if pieces.len() > size * 2 {
                break 'outer;
            }
        }
        grams = next;
    }

    let base = v.tokens.len();
    for p in pieces {
        if v.tokens.len() == size {
            break;
        }
        if !seen.insert(p.clone()) {
            continue;
        }
        let id = v.tokens.len();
        let len = p.chars().count() as f32;
        // Longer pieces merge first; among equals, earlier (more common) ones win.
        let score = len - (id - base) as f32 / size as f32;
        push(&mut v, p, score, NORMAL);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_exact_size_unique_tokens_and_the_fixed_ids() {
        for size in [1024, 20_000] {
            let v = build(size);
            assert_eq!(v.tokens.len(), size);
            assert_eq!(v.scores.len(), size);
            assert_eq!(v.types.len(), size);
            let unique: HashSet<_> = v.tokens.iter().collect();
            assert_eq!(unique.len(), size);
        }
        let v = build(1024);
        assert_eq!(v.tokens[IM_END as usize], "<|im_end|>");
        assert_eq!(v.tokens[5 + 0x0A], "<0x0A>");
        assert_eq!(v.types[FIRST_TEXT as usize], NORMAL);
    }
}
