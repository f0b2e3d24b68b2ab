//! Turns generated token bytes into text deltas: never a split UTF-8 sequence, never the start
//! of a stop string that may still complete, never the stop string itself.

/// Assembles one sequence's output.
#[derive(Debug, Default)]
pub(crate) struct TextAssembler {
    /// Bytes of an incomplete UTF-8 sequence at the end of the output so far.
    partial: Vec<u8>,
    /// Decoded text not yet handed out because it could be the start of a stop string.
    held: String,
    stops: Vec<String>,
}

/// What one step of assembly produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Text safe to send now.
    pub text: String,
    /// A stop string was completed: generation ends and `text` is the last of the output.
    pub stopped: bool,
}

impl TextAssembler {
    /// An assembler that ends output at the first of `stops` (empty strings are ignored).
    pub fn new(stops: Vec<String>) -> Self {
        TextAssembler {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            ..TextAssembler::default()
        }
    }

    /// Takes the bytes of the next token.
    pub fn push(&mut self, bytes: &[u8]) -> Piece {
        self.partial.extend_from_slice(bytes);
        let decoded = take_valid_utf8(&mut self.partial);
        self.held.push_str(&decoded);
        if let Some(at) = self.first_stop() {
            self.held.truncate(at);
            self.partial.clear();
            return Piece {
                text: std::mem::take(&mut self.held),
                stopped: true,
            };
        }
        let keep = self.stop_prefix_len();
        let cut = self.held.len() - keep;
        let text = self.held[..cut].to_string();
        self.held.drain(..cut);
        Piece {
            text,
            stopped: false,
        }
    }

    /// Ends the output without a stop string: whatever is held back is text after all, and an
    /// incomplete UTF-8 sequence at the very end becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        let mut text = std::mem::take(&mut self.held);
        if !self.partial.is_empty() {
            text.push_str(&String::from_utf8_lossy(&self.partial));
            self.partial.clear();
        }
        text
    }

    fn first_stop(&self) -> Option<usize> {
        self.stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
    }

    /// Length of the longest suffix of the held text that is a proper prefix of a stop string.
    fn stop_prefix_len(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            let max = (stop.len() - 1).min(self.held.len());
            for len in (best + 1..=max).rev() {
                let start = self.held.len() - len;
                if self.held.is_char_boundary(start) && stop.starts_with(&self.held[start..]) {
                    best = len;
                    break;
                }
            }
        }
        best
    }
}

/// Removes and returns the longest decodable prefix of `buf`; invalid bytes become U+FFFD, an
/// incomplete sequence at the end stays in `buf`.
fn take_valid_utf8(buf: &mut Vec<u8>) -> String {
    let mut out = String::new();
    let mut rest: &[u8] = buf;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                rest = &[];
                break;
            }
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                // valid_up_to is a char boundary, so this cannot fail.
                out.push_str(std::str::from_utf8(ok).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        rest = &tail[n..];
                    }
                    None => {
                        rest = tail;
                        break;
                    }
                }
            }
        }
    }
    let kept = rest.to_vec();
    *buf = kept;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&[u8]]) -> (Vec<String>, bool, String) {
        let mut a = TextAssembler::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = Vec::new();
        for p in pieces {
            let piece = a.push(p);
            out.push(piece.text);
            if piece.stopped {
                return (out, true, String::new());
            }
        }
        let tail = a.finish();
        (out, false, tail)
    }

    #[test]
    fn holds_back_split_multibyte_sequences() {
        let euro = "€".as_bytes();
        let (out, stopped, tail) = run(&[], &[b"a", &euro[..1], &euro[1..2], &euro[2..], b"b"]);
        assert_eq!(out, ["a", "", "", "€", "b"]);
        assert!(!stopped);
        assert_eq!(tail, "");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let (out, _, tail) = run(&[], &[b"a\xff", b"b", b"\xe2\x82"]);
        assert_eq!(out, ["a\u{fffd}", "b", ""]);
        assert_eq!(tail, "\u{fffd}");
    }

    #[test]
    fn stop_string_inside_one_piece_truncates() {
        let (out, stopped, _) = run(&["END"], &[b"hello", b" wENDorld"]);
        assert!(stopped);
        assert_eq!(out.concat(), "hello w");
    }

    #[test]
    fn stop_string_split_across_pieces_is_never_sent() {
        let (out, stopped, _) = run(&["</stop>"], &[b"ab</", b"st", b"op>tail"]);
        assert!(stopped);
        assert_eq!(out, ["ab", "", ""]);
    }

    #[test]
    fn a_false_start_is_released_once_it_cannot_match() {
        let (out, stopped, tail) = run(&["xyz"], &[b"axy", b"q", b"x"]);
        assert!(!stopped);
        assert_eq!(out, ["a", "xyq", ""]);
        assert_eq!(tail, "x");
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let (out, stopped, _) = run(&["bb", "a"], &[b"xxbbya"]);
        assert!(stopped);
        assert_eq!(out.concat(), "xx");
    }

    #[test]
    fn stop_with_multibyte_chars() {
        let (out, stopped, _) = run(&["é!"], &[b"caf\xc3", b"\xa9", b"!"]);
        assert!(stopped);
        assert_eq!(out.concat(), "caf");
    }
}
