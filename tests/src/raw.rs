//! HTTP/1.1 by hand on a raw socket, for what no well-behaved client sends: bad framing, heads
//! a byte at a time, pipelined requests, connections that say nothing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (by `content-length`; empty when there is none).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A client connection.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    /// Connects.
    pub async fn connect(addr: SocketAddr) -> RawConn {
        RawConn {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    /// Sends bytes; false when the server has closed.
    pub async fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    /// Reads one response, waiting at most `wait`; `None` if the connection closed (or the
    /// wait ran out) first.
    pub async fn response(&mut self, wait: Duration) -> Option<RawResponse> {
        self.read_response(wait, true).await
    }

    /// Reads the response to a `HEAD` request: a head whose `content-length` has no body.
    pub async fn head_response(&mut self, wait: Duration) -> Option<RawResponse> {
        self.read_response(wait, false).await
    }

    async fn read_response(&mut self, wait: Duration, with_body: bool) -> Option<RawResponse> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some((resp, used)) = parse(&self.buf, with_body) {
                self.buf.drain(..used);
                return Some(resp);
            }
            if !self.fill(deadline).await {
                return None;
            }
        }
    }

    /// Waits until the server closes the connection (true) or `wait` runs out (false),
    /// discarding what arrives.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    async fn fill(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut chunk = [0u8; 16384];
        match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }
}

/// Sends `request` on a new connection and reads one response.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Option<RawResponse> {
    let mut conn = RawConn::connect(addr).await;
    conn.send(request).await;
    conn.response(Duration::from_secs(10)).await
}

fn parse(buf: &[u8], with_body: bool) -> Option<(RawResponse, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        * usize::from(with_body);
    if buf.len() < end + len {
        return None;
    }
    let body = buf[end..end + len].to_vec();
    Some((
        RawResponse {
            status,
            headers,
            body,
        },
        end + len,
    ))
}
