//! The request head, checked before pingora reads it.
//!
//! pingora refuses a head it cannot parse with an empty-bodied 400, accepts framing that can be
//! read two ways, and waits for 24 bytes before it tells HTTP/1 from HTTP/2. Here every head is
//! parsed first: a complete one is handed on with how long its body is, a bad one is answered
//! with a JSON error that says what is wrong.

use crate::config::ConnLimits;
use crate::errors::{ApiError, ErrorCode};

/// What an HTTP/2 client with prior knowledge sends first.
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// pingora's own limit on header fields; a head is parsed against at most this many.
const MAX_FIELDS: usize = 256;

/// What the bytes received so far are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Not a whole head yet.
    Partial,
    /// The HTTP/2 preface (h2c with prior knowledge).
    H2,
    /// A whole HTTP/1.x head of `len` bytes, and how its body is framed.
    Http1 {
        /// Bytes of the head, through its blank line.
        len: usize,
        /// The body that follows it.
        body: Body,
    },
}

/// How an HTTP/1.x body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    Empty,
    /// `content-length` bytes.
    Length(u64),
    /// `transfer-encoding: chunked`, to its last chunk.
    Chunked,
}

/// Reads what `buf` holds: a head, not yet one, or an error to answer with before closing.
/// `h2c`: whether the HTTP/2 preface may open this connection.
pub fn scan(buf: &[u8], limits: &ConnLimits, h2c: bool) -> Result<Scan, ApiError> {
    if h2c && buf.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(buf) {
        return Ok(Scan::Partial);
    }
    if h2c && buf.starts_with(H2_PREFACE) {
        return Ok(Scan::H2);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut fields[..limits.max_headers.min(MAX_FIELDS)]);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return partial(buf, limits),
        Err(httparse::Error::TooManyHeaders) => return Err(too_many_fields(limits)),
        Err(e) => {
            return Err(malformed(format!(
                "the request head is not valid HTTP/1.x: {e}"
            )))
        }
    };
    if len > limits.max_header_bytes {
        return Err(head_too_large(limits));
    }
    let target = req.path.unwrap_or("");
    if target.len() > limits.max_uri_bytes {
        return Err(uri_too_long(limits));
    }
    if req.method == Some("CONNECT") {
        return Err(ApiError::new(
            405,
            ErrorCode::MethodNotAllowed,
            "CONNECT is not served: this is an API gateway, not a forward proxy",
        ));
    }
    let body = framing(req.headers, req.version == Some(1))?;
    Ok(Scan::Http1 { len, body })
}

/// A head still arriving: fine while it fits its limits.
fn partial(buf: &[u8], limits: &ConnLimits) -> Result<Scan, ApiError> {
    let line_ended = memchr::memchr(b'\n', buf).is_some();
    if !line_ended && buf.len() > limits.max_uri_bytes + 64 {
        // Still in the request line: it is the target that is too long.
        return Err(uri_too_long(limits));
    }
    if buf.len() > limits.max_header_bytes {
        return Err(head_too_large(limits));
    }
    Ok(Scan::Partial)
}

/// The body's framing, refusing any head whose body could be delimited two ways: those are
/// how requests are smuggled past a proxy.
fn framing(fields: &[httparse::Header<'_>], http11: bool) -> Result<Body, ApiError> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for field in fields {
        if field.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(field.value).unwrap_or("").trim();
            let n = parse_length(value).ok_or_else(|| {
                malformed(format!(
                    "content-length '{}' is not a number of bytes",
                    String::from_utf8_lossy(field.value)
                ))
            })?;
            if length.is_some_and(|m| m != n) {
                return Err(malformed("two different content-length values"));
            }
            length = Some(n);
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            let value = std::str::from_utf8(field.value).unwrap_or("").trim();
            if !http11 || chunked || !value.eq_ignore_ascii_case("chunked") {
                return Err(malformed(format!(
                    "transfer-encoding '{}' is not served; send content-length or \
                     transfer-encoding: chunked (HTTP/1.1)",
                    String::from_utf8_lossy(field.value)
                )));
            }
            chunked = true;
        }
    }
    match (length, chunked) {
        (Some(_), true) => Err(malformed(
            "both content-length and transfer-encoding: send one",
        )),
        (Some(0), false) | (None, false) => Ok(Body::Empty),
        (Some(n), false) => Ok(Body::Length(n)),
        (None, true) => Ok(Body::Chunked),
    }
}

/// `1*DIGIT`, nothing else: no sign, no spaces inside, no list.
fn parse_length(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(400, ErrorCode::MalformedHttp, message)
}

fn too_many_fields(limits: &ConnLimits) -> ApiError {
    ApiError::new(
        431,
        ErrorCode::HeadersTooLarge,
        format!(
            "the request has more than {} header fields (server.max_headers)",
            limits.max_headers
        ),
    )
}

fn head_too_large(limits: &ConnLimits) -> ApiError {
    ApiError::new(
        431,
        ErrorCode::HeadersTooLarge,
        format!(
            "the request head is larger than {} bytes (server.max_header_bytes)",
            limits.max_header_bytes
        ),
    )
}

fn uri_too_long(limits: &ConnLimits) -> ApiError {
    ApiError::new(
        414,
        ErrorCode::UriTooLong,
        format!(
            "the request target is longer than {} bytes (server.max_uri_bytes)",
            limits.max_uri_bytes
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> ConnLimits {
        ConnLimits {
            max_connections: 10,
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            body_min_rate: 1,
            max_header_bytes: 4096,
            max_headers: 8,
            max_uri_bytes: 256,
        }
    }

    fn refused(head: &[u8]) -> (u16, ErrorCode) {
        match scan(head, &limits(), true) {
            Err(e) => (e.status, e.code),
            Ok(s) => panic!("accepted {:?}: {s:?}", String::from_utf8_lossy(head)),
        }
    }

    #[test]
    fn a_head_is_handed_on_with_its_body_framing() {
        let get = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
        assert_eq!(
            scan(get, &limits(), true).unwrap(),
            Scan::Http1 {
                len: get.len(),
                body: Body::Empty
            }
        );
        let post = b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 12\r\n\r\n{\"a\":";
        assert_eq!(
            scan(post, &limits(), true).unwrap(),
            Scan::Http1 {
                len: post.len() - 5,
                body: Body::Length(12)
            }
        );
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n";
        assert!(matches!(
            scan(chunked, &limits(), true).unwrap(),
            Scan::Http1 {
                body: Body::Chunked,
                ..
            }
        ));
        // Identical repeated lengths read one way only.
        let twice = b"POST / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\n";
        assert!(matches!(
            scan(twice, &limits(), true).unwrap(),
            Scan::Http1 {
                body: Body::Length(3),
                ..
            }
        ));
    }

    #[test]
    fn a_short_request_is_not_mistaken_for_the_start_of_http2() {
        let short = b"GET / HTTP/1.0\r\n\r\n";
        assert!(short.len() < H2_PREFACE.len());
        assert!(matches!(
            scan(short, &limits(), true).unwrap(),
            Scan::Http1 { .. }
        ));
        assert_eq!(scan(b"PRI * HT", &limits(), true).unwrap(), Scan::Partial);
        assert_eq!(scan(H2_PREFACE, &limits(), true).unwrap(), Scan::H2);
        assert_eq!(scan(b"GET / HT", &limits(), true).unwrap(), Scan::Partial);
    }

    #[test]
    fn framing_that_reads_two_ways_is_refused() {
        let cases: [&[u8]; 7] = [
            b"POST / HTTP/1.1\r\ncontent-length: abc\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: +3\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: 3, 3\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
        ];
        for case in cases {
            assert_eq!(refused(case), (400, ErrorCode::MalformedHttp));
        }
        assert_eq!(
            refused(b"GET / HTTP/1.1\r\nbad header\r\n\r\n"),
            (400, ErrorCode::MalformedHttp)
        );
    }

    #[test]
    fn limits_are_answered_with_their_own_status() {
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..9 {
            many.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(refused(&many), (431, ErrorCode::HeadersTooLarge));

        let mut big = b"GET / HTTP/1.1\r\nx: ".to_vec();
        big.resize(5000, b'a');
        assert_eq!(refused(&big), (431, ErrorCode::HeadersTooLarge));

        let mut long = b"GET /".to_vec();
        long.resize(400, b'a');
        assert_eq!(refused(&long), (414, ErrorCode::UriTooLong));
        long.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert_eq!(refused(&long), (414, ErrorCode::UriTooLong));

        assert_eq!(
            refused(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
            (405, ErrorCode::MethodNotAllowed)
        );
    }
}
