//! An incremental server-sent-events parser: bytes in, whole events out, whatever the chunking.

use crate::reply::Event;
use bytes::{Buf, Bytes, BytesMut};

/// Splits a byte stream into SSE events. Upstreams cut their bytes anywhere (inside a line,
/// between `\r` and `\n`), so input is buffered until an event's blank line arrives.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: BytesMut,
    /// The data lines of the event being read, joined by `\n`.
    data: Vec<u8>,
    has_data: bool,
}

impl SseParser {
    /// A parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and appends every event they complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        self.buf.extend_from_slice(bytes);
        while let Some(line_end) = self.next_line_end() {
            let (line_len, term_len) = line_end;
            let line = self.buf.split_to(line_len).freeze();
            self.buf.advance(term_len);
            self.take_line(&line, out);
        }
    }

    /// Whether bytes of an unfinished event are buffered (a stream that ends here was cut).
    pub fn has_partial_event(&self) -> bool {
        self.has_data || !self.buf.is_empty()
    }

    /// Finds the end of the next complete line: (length, terminator length). A `\r` at the very
    /// end of the buffer may be the first half of `\r\n`, so it waits for the next byte.
    fn next_line_end(&self) -> Option<(usize, usize)> {
        let pos = memchr::memchr2(b'\n', b'\r', &self.buf)?;
        if self.buf[pos] == b'\n' {
            return Some((pos, 1));
        }
        match self.buf.get(pos + 1) {
            Some(b'\n') => Some((pos, 2)),
            Some(_) => Some((pos, 1)),
            None => None,
        }
    }

    fn take_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        if !self.has_data {
            return;
        }
        self.has_data = false;
        let data = std::mem::take(&mut self.data);
        if data == b"[DONE]" {
            out.push(Event::Done);
        } else {
            out.push(Event::Data(Bytes::from(data)));
        }
    }
}

/// Writes one event in the SSE wire format.
pub fn frame(event: &Event) -> Bytes {
    match event {
        Event::Done => Bytes::from_static(b"data: [DONE]\n\n"),
        Event::Data(data) => {
            let mut out = Vec::with_capacity(data.len() + 8);
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\n\n");
            Bytes::from(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out);
        }
        out
    }

    const WIRE: &[u8] = b": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: {\"b\":\ndata: 2}\n\ndata:[DONE]\n\n";

    #[test]
    fn same_events_at_every_split_point() {
        let whole = parse_all(&[WIRE]);
        assert_eq!(
            whole,
            vec![
                Event::Data(Bytes::from_static(b"{\"a\":1}")),
                Event::Data(Bytes::from_static(b"{\"b\":\n2}")),
                Event::Done
            ]
        );
        for i in 0..WIRE.len() {
            for j in i..WIRE.len() {
                let got = parse_all(&[&WIRE[..i], &WIRE[i..j], &WIRE[j..]]);
                assert_eq!(got, whole, "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn reports_a_partial_event() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(b"data: {\"a\":1}\n\ndata: {\"b\"", &mut out);
        assert_eq!(out.len(), 1);
        assert!(p.has_partial_event());
        p.push(b":2}\n\n", &mut out);
        assert!(!p.has_partial_event());
    }

    #[test]
    fn frames_round_trip() {
        let events = vec![Event::Data(Bytes::from_static(b"{}")), Event::Done];
        let wire: Vec<u8> = events.iter().flat_map(|e| frame(e).to_vec()).collect();
        assert_eq!(parse_all(&[&wire]), events);
    }
}
