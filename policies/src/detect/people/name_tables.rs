//! The compiled name lists: given names, surnames, words that are not names and public
//! figures, hashed case-folded into sets so that a lookup is one hash and one probe.

use super::words::{CLINICIANS, HONORIFICS, PARTICLES, ROLE_WORDS};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const GIVEN: &str = include_str!("data/given_names.txt");
const SURNAMES: &str = include_str!("data/surnames.txt");
const NOT_NAMES: &str = include_str!("data/not_names.txt");
const PUBLIC: &str = include_str!("data/public_figures.txt");

/// Identity hasher for sets of precomputed 64-bit hashes.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A set of precomputed word hashes.
pub(super) type HashSet64 = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// What the lists say of a word, as bits of one map entry, so that a word costs one probe.
pub(super) const GIVEN_NAME: u8 = 1;
pub(super) const SURNAME: u8 = 2;
pub(super) const NOT_NAME: u8 = 4;
pub(super) const PUBLIC_PART: u8 = 8;
/// A word that can start a name or a title: anything else is skipped at once.
pub(super) const STARTER: u8 = 16;

/// The compiled name lists.
pub(super) struct NameTables {
    pub(super) words: HashMap<u64, u8, BuildHasherDefault<IdHasher>>,
    pub(super) public_full: HashSet64,
    pub(super) public_single: HashSet64,
    pub(super) honorifics: HashSet64,
    pub(super) clinicians: HashSet64,
    pub(super) roles: HashSet64,
    pub(super) particles: HashSet64,
}

/// The case-folded hash of a word: every byte OR 0x20, which lower-cases ASCII letters and
/// the Latin-1 capitals (UTF-8 `C3 80..9E` become `C3 A0..BE`), eight bytes per step. The lists
/// are hashed the same way, so a lookup is one pass over the word and one probe.
#[inline]
pub(super) fn key(w: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = K ^ w.len() as u64;
    for chunk in w.chunks(8) {
        let mut x = 0u64;
        for (i, c) in chunk.iter().enumerate() {
            x |= u64::from(c | 0x20) << (8 * i);
        }
        h = (h ^ x).wrapping_mul(K).rotate_left(29);
    }
    h ^ (h >> 32)
}

fn set_of_words(words: &[&str]) -> HashSet64 {
    words.iter().map(|w| hash_lower(w)).collect()
}

/// The case-folded hash of `t` (see [`key`]).
pub(super) fn hash_lower(t: &str) -> u64 {
    key(t.as_bytes())
}

impl NameTables {
    /// Compiles the lists.
    pub(super) fn new() -> NameTables {
        let mut words: HashMap<u64, u8, BuildHasherDefault<IdHasher>> = HashMap::default();
        let mut mark = |list: &str, bits: u8| {
            for w in list.lines().map(str::trim) {
                if !w.is_empty() && !w.starts_with('#') {
                    *words.entry(hash_lower(w)).or_default() |= bits;
                }
            }
        };
        mark(GIVEN, GIVEN_NAME | STARTER);
        mark(SURNAMES, SURNAME | STARTER);
        mark(NOT_NAMES, NOT_NAME);
        for w in HONORIFICS.iter().chain(ROLE_WORDS) {
            *words
                .entry(hash_lower(w.trim_end_matches('.')))
                .or_default() |= STARTER;
        }
        let mut public_full = HashSet64::default();
        let mut public_single = HashSet64::default();
        for line in PUBLIC.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            public_full.insert(hash_lower(line));
            for (i, w) in line.split(' ').enumerate() {
                let bits = if i == 0 {
                    PUBLIC_PART | STARTER
                } else {
                    PUBLIC_PART
                };
                let entry = words.entry(hash_lower(w)).or_default();
                // A surname that ordinary people share ("Müller") does not suppress on its
                // own; a distinctive one does ("Merkel").
                let shared = *entry & (GIVEN_NAME | SURNAME | NOT_NAME) != 0;
                *entry |= bits;
                let mut rev = line.rsplit(' ');
                let last = rev.next() == Some(w);
                // "de Jong", "van Dijk": a surname after a particle is shared by too many.
                let after_particle = rev.next().is_some_and(|p| PARTICLES.contains(&p));
                let distinctive = !shared && !after_particle && w.chars().count() >= 5;
                if last && (!line.contains(' ') || distinctive) {
                    public_single.insert(hash_lower(w));
                }
            }
        }
        NameTables {
            words,
            public_full,
            public_single,
            honorifics: set_of_words(HONORIFICS),
            clinicians: set_of_words(CLINICIANS),
            roles: set_of_words(ROLE_WORDS),
            particles: set_of_words(PARTICLES),
        }
    }

    pub(super) fn bits(&self, h: u64) -> u8 {
        self.words.get(&h).copied().unwrap_or(0)
    }
}
