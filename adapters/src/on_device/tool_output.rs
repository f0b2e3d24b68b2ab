//! Reads the JSON answer of a request with tools (see `tools`) as it is generated: the text of
//! a `{"response": "…"}` reply is handed out as it arrives, so a streamed reply streams, and
//! anything else (tool calls, or a reply matching a `response_format` schema) is read whole
//! when generation ends.

use serde_json::Value;

/// One tool call of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub id: String,
    pub name: String,
    /// The arguments as a JSON text, as OpenAI sends them.
    pub arguments: String,
}

/// What the whole answer held, beyond the text already handed out.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Ending {
    /// Reply text not handed out yet.
    pub content: String,
    pub calls: Vec<Call>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first key's value.
    Head,
    /// Inside the reply string: its text is handed out.
    Reply,
    /// After the reply string: nothing more to hand out.
    After,
    /// A value read whole at the end.
    Whole,
}

/// The decoder of one answer.
#[derive(Debug)]
pub(crate) struct Decoder {
    text: String,
    /// Bytes of `text` already read in state `Reply`.
    at: usize,
    state: State,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            text: String::new(),
            at: 0,
            state: State::Head,
        }
    }
}

impl Decoder {
    /// Takes more generated text; returns the reply text it completes (often empty).
    pub fn push(&mut self, piece: &str) -> String {
        self.text.push_str(piece);
        if self.state == State::Head {
            match value_start(&self.text) {
                None => return String::new(),
                Some((key, at)) => {
                    if key == "response" && self.text[at..].starts_with('"') {
                        self.state = State::Reply;
                        self.at = at + 1;
                    } else {
                        self.state = State::Whole;
                    }
                }
            }
        }
        if self.state != State::Reply {
            return String::new();
        }
        let (out, used, closed) = unescape(&self.text[self.at..]);
        self.at += used;
        if closed {
            self.state = State::After;
        }
        out
    }

    /// Ends the answer: what it held beyond what [`Decoder::push`] handed out. An answer cut
    /// short (by `max_tokens`) that does not parse holds nothing more.
    pub fn finish(self) -> Ending {
        if self.state != State::Whole && self.state != State::Head {
            return Ending::default();
        }
        let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(self.text.trim()) else {
            return Ending::default();
        };
        if let Some(reply) = answer.get("response") {
            return Ending {
                content: match reply {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                calls: Vec::new(),
            };
        }
        let calls = answer
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(|calls| {
                calls
                    .iter()
                    .filter_map(|c| {
                        Some(Call {
                            id: format!(
                                "call_{}",
                                &uuid::Uuid::new_v4().simple().to_string()[..24]
                            ),
                            name: c.get("name")?.as_str()?.to_string(),
                            arguments: c.get("arguments")?.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ending {
            content: String::new(),
            calls,
        }
    }
}

/// The first key of the object `text` starts and the byte where its value starts, once that
/// much has arrived.
fn value_start(text: &str) -> Option<(&str, usize)> {
    let ws = |from: usize| {
        text[from..]
            .find(|c: char| !c.is_ascii_whitespace())
            .map(|n| from + n)
    };
    let open = ws(0)?;
    if !text[open..].starts_with('{') {
        return Some(("", open));
    }
    let quote = ws(open + 1)?;
    if !text[quote..].starts_with('"') {
        return Some(("", quote));
    }
    // The keys of this form have no escapes.
    let end = quote + 1 + text[quote + 1..].find('"')?;
    let colon = ws(end + 1)?;
    if !text[colon..].starts_with(':') {
        return Some(("", colon));
    }
    Some((&text[quote + 1..end], ws(colon + 1)?))
}

/// Decodes the JSON string body at the start of `s`: the text, the bytes read, and whether the
/// closing quote was reached. Stops before an escape that has not fully arrived.
fn unescape(s: &str) -> (String, usize, bool) {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return (out, i + 1, true),
            b'\\' => {
                let Some(&e) = b.get(i + 1) else { break };
                let simple = match e {
                    b'"' => Some('"'),
                    b'\\' => Some('\\'),
                    b'/' => Some('/'),
                    b'b' => Some('\u{8}'),
                    b'f' => Some('\u{c}'),
                    b'n' => Some('\n'),
                    b'r' => Some('\r'),
                    b't' => Some('\t'),
                    _ => None,
                };
                if let Some(c) = simple {
                    out.push(c);
                    i += 2;
                    continue;
                }
                // `\uXXXX`, and a surrogate pair as two of them.
                let Some(hi) = hex4(s, i + 2) else {
                    if s.len() < i + 6 {
                        break;
                    }
                    out.push('\u{fffd}');
                    i += 2;
                    continue;
                };
                if (0xD800..0xDC00).contains(&hi) {
                    if s.len() < i + 12 {
                        break;
                    }
                    match (s.get(i + 6..i + 8), hex4(s, i + 8)) {
                        (Some("\\u"), Some(lo)) if (0xDC00..0xE000).contains(&lo) => {
                            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                            out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                            i += 12;
                        }
                        _ => {
                            out.push('\u{fffd}');
                            i += 6;
                        }
                    }
                } else {
                    out.push(char::from_u32(hi).unwrap_or('\u{fffd}'));
                    i += 6;
                }
            }
            _ => {
                // Copy up to the next quote or backslash; both are ASCII, so this is a char
                // boundary.
                let n = b[i..]
                    .iter()
                    .position(|&c| c == b'"' || c == b'\\')
                    .unwrap_or(b.len() - i);
                out.push_str(&s[i..i + n]);
                i += n;
            }
        }
    }
    (out, i, false)
}

fn hex4(s: &str, at: usize) -> Option<u32> {
    let h = s.get(at..at + 4)?;
    if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(h, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `answer` in pieces of `n` bytes (at char boundaries); returns the text handed out
    /// and the ending.
    fn feed(answer: &str, n: usize) -> (String, Ending) {
        let mut d = Decoder::default();
        let mut out = String::new();
        let mut rest = answer;
        while !rest.is_empty() {
            let mut cut = n.min(rest.len());
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            out.push_str(&d.push(&rest[..cut]));
            rest = &rest[cut..];
        }
        (out, d.finish())
    }

    #[test]
    fn a_reply_streams_in_any_split() {
        let answer = "{ \"response\" : \"h\\u00e9llo \\\"w\\\"\\n\\ud83d\\ude00 ok\\\\\" }";
        for n in 1..8 {
            let (out, end) = feed(answer, n);
            assert_eq!(out, "héllo \"w\"\n😀 ok\\", "pieces of {n}");
            assert_eq!(end, Ending::default());
        }
    }

    #[test]
    fn tool_calls_are_read_whole_with_ids() {
        let answer = r#"{"tool_calls": [{"name": "weather", "arguments": {"city": "Oslo"}},
            {"name": "time", "arguments": {}}]}"#;
        for n in [1, 3, 500] {
            let (out, end) = feed(answer, n);
            assert_eq!(out, "");
            let got: Vec<(&str, &str)> = end
                .calls
                .iter()
                .map(|c| (c.name.as_str(), c.arguments.as_str()))
                .collect();
            assert_eq!(got, [("weather", r#"{"city":"Oslo"}"#), ("time", "{}")]);
            assert!(end.calls[0].id.starts_with("call_"));
            assert_ne!(end.calls[0].id, end.calls[1].id);
        }
    }

    #[test]
    fn a_structured_reply_is_read_whole_and_a_cut_answer_holds_nothing() {
        let (out, end) = feed(r#"{"response": {"n": 1}}"#, 2);
        assert_eq!(out, "");
        assert_eq!(end.content, r#"{"n":1}"#);
        let (_, end) = feed(r#"{"tool_calls": [{"name": "weather", "argum"#, 4);
        assert_eq!(end, Ending::default());
        // A reply cut mid-string keeps what was handed out.
        let (out, end) = feed(r#"{"response": "half a rep"#, 3);
        assert_eq!(out, "half a rep");
        assert_eq!(end, Ending::default());
    }
}
