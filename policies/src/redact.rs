//! Replaces detected spans with stable placeholders (`[EMAIL_1]`) and puts the originals back
//! into replies, including replies streamed in chunks that split a placeholder.
//!
//! The same original value always gets the same placeholder within one [`Redactor`], so a
//! model can refer to it consistently. Text that already contains a string shaped like one of
//! this redactor's placeholders is restored too; placeholders are unlikely in real prompts.

use crate::detect::{Finding, Kind};

/// Longest placeholder: `[ADDRESS_4294967295]`.
const MAX_PLACEHOLDER: usize = 20;

/// Maps originals to placeholders for one request.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (placeholder, original)
    entries: Vec<(String, String)>,
    counters: [u32; Kind::ALL.len()],
}

impl Redactor {
    /// A redactor with no placeholders yet.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// `text` with every finding replaced by its placeholder. `findings` are the findings of
    /// this text part, ordered and non-overlapping (as [`crate::detect::Detections`] gives them).
    pub fn redact<'f>(
        &mut self,
        text: &str,
        findings: impl IntoIterator<Item = &'f Finding>,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in findings {
            let (Some(original), true) = (text.get(f.start..f.end), f.start >= at) else {
                continue;
            };
            out.push_str(&text[at..f.start]);
            let placeholder = self.placeholder(f.kind, original);
            out.push_str(placeholder);
            at = f.end;
        }
        out.push_str(&text[at..]);
        out
    }

    fn placeholder(&mut self, kind: Kind, original: &str) -> &str {
        let i = match self.entries.iter().position(|(_, o)| o == original) {
            Some(i) => i,
            None => {
                let n = &mut self.counters[kind as usize];
                *n += 1;
                self.entries
                    .push((format!("[{}_{}]", kind.label(), n), original.to_string()));
                self.entries.len() - 1
            }
        };
        &self.entries[i].0
    }

    /// Every (placeholder, original) pair handed out so far.
    pub fn placeholders(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(p, o)| (p.as_str(), o.as_str()))
    }

    fn original(&self, placeholder: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(p, _)| p == placeholder)
            .map(|(_, o)| o.as_str())
    }

    /// `text` with every known placeholder replaced by its original.
    pub fn restore(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        self.restore_into(text, &mut out);
        out
    }

    fn restore_into(&self, text: &str, out: &mut String) {
        let mut at = 0;
        let mut search = 0;
        while let Some(open) = memchr::memchr(b'[', &text.as_bytes()[search..]).map(|p| search + p)
        {
            let window = &text.as_bytes()[open..text.len().min(open + MAX_PLACEHOLDER)];
            let close = memchr::memchr(b']', window).map(|p| open + p);
            match close.and_then(|c| self.original(&text[open..=c]).map(|o| (c, o))) {
                Some((c, original)) => {
                    out.push_str(&text[at..open]);
                    out.push_str(original);
                    at = c + 1;
                    search = at;
                }
                None => search = open + 1,
            }
        }
        out.push_str(&text[at..]);
    }

    /// A restorer for a reply streamed in chunks.
    pub fn stream(&self) -> StreamRestorer<'_> {
        StreamRestorer {
            redactor: self,
            pending: String::new(),
        }
    }
}

/// Restores placeholders in a streamed reply, holding back a chunk's tail while it may be the
/// start of a placeholder completed by the next chunk.
#[derive(Debug)]
pub struct StreamRestorer<'r> {
    redactor: &'r Redactor,
    pending: String,
}

impl StreamRestorer<'_> {
    /// Feeds a chunk; returns the text that can be sent now.
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        let hold = self.partial_tail();
        let ready: String = self.pending.drain(..hold).collect();
        self.redactor.restore(&ready)
    }

    /// Ends the stream; returns whatever was held back.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.redactor.restore(&rest)
    }

    /// Where an unfinished `[LABEL_N` starts at the end of the pending text (or its length).
    fn partial_tail(&self) -> usize {
        let b = self.pending.as_bytes();
        let from = b.len().saturating_sub(MAX_PLACEHOLDER - 1);
        match memchr::memrchr(b'[', &b[from..]).map(|p| from + p) {
            Some(open)
                if b[open + 1..]
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_') =>
            {
                open
            }
            _ => b.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Detector, DetectorConfig};

    fn redacted(text: &str) -> (Redactor, String) {
        let d = Detector::new(&DetectorConfig::default()).unwrap();
        let found = d.scan(&[text]);
        let mut r = Redactor::new();
        let out = r.redact(text, found.in_part(0));
        (r, out)
    }

    #[test]
    fn redacts_with_stable_placeholders_and_round_trips() {
        let text = "Mail anna@acme.io, then anna@acme.io again; bob@corp.de too. Card 4532 0151 1283 0366.";
        let (r, out) = redacted(text);
        assert_eq!(
            out,
            "Mail [EMAIL_1], then [EMAIL_1] again; [EMAIL_2] too. Card [CARD_1]."
        );
        assert_eq!(r.restore(&out), text);
        assert_eq!(r.placeholders().count(), 3);
    }

    #[test]
    fn restore_leaves_unknown_brackets_alone() {
        let (r, _) = redacted("anna@acme.io");
        assert_eq!(
            r.restore("[EMAIL_9] [x] [ [EMAIL_1]"),
            "[EMAIL_9] [x] [ anna@acme.io"
        );
    }

    #[test]
    fn stream_restores_placeholders_split_across_chunks() {
        let (r, out) = redacted("write to anna@acme.io and +49 30 12345678 please");
        assert_eq!(out, "write to [EMAIL_1] and [PHONE_1] please");
        let reply = "Sure: [EMAIL_1] / [PHONE_1] done [not one] [";
        let want = "Sure: anna@acme.io / +49 30 12345678 done [not one] [";
        for cut in 1..reply.len() {
            for cut2 in cut..reply.len() {
                let mut s = r.stream();
                let mut got = s.push(&reply[..cut]);
                got += &s.push(&reply[cut..cut2]);
                got += &s.push(&reply[cut2..]);
                got += &s.finish();
                assert_eq!(got, want, "cuts {cut} {cut2}");
            }
        }
        let mut s = r.stream();
        let mut got = String::new();
        for ch in reply.chars() {
            got += &s.push(ch.encode_utf8(&mut [0; 4]));
        }
        got += &s.finish();
        assert_eq!(got, want);
    }

    #[test]
    fn stream_does_not_hold_back_ordinary_text() {
        let (r, _) = redacted("anna@acme.io");
        let mut s = r.stream();
        assert_eq!(s.push("hello [world] and [EMA"), "hello [world] and ");
        assert_eq!(s.push("IL_1]!"), "anna@acme.io!");
    }
}
