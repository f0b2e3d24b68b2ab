//! A client connection as pingora reads it: first the bytes the door has already read (the
//! head it checked, and whatever came with it), then the socket; never more than the current
//! request's own bytes, so that a pipelined next request stays here for the door to check.

use async_trait::async_trait;
use bytes::{Buf, BytesMut};
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType,
};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// Bytes read from the socket per fill.
const FILL: usize = 8 * 1024;

/// The most bytes of later requests kept while the current one is served.
const MAX_AHEAD: usize = 1 << 20;

/// The connection: the socket, and what was read ahead of pingora.
#[derive(Debug)]
pub struct Guarded {
    inner: Stream,
    ahead: BytesMut,
    /// Bytes pingora may still read for the current request; `None`: no bound (a chunked body,
    /// whose end only its parser knows, or an HTTP/2 connection).
    allowance: Option<u64>,
}

impl Guarded {
    /// A fresh connection.
    pub fn new(inner: Stream) -> Self {
        Guarded {
            inner,
            ahead: BytesMut::new(),
            allowance: None,
        }
    }

    /// What has been read and not yet handed to pingora.
    pub fn ahead(&self) -> &[u8] {
        &self.ahead
    }

    /// Reads more from the socket; `Ok(0)` when the client has closed.
    pub async fn fill(&mut self) -> io::Result<usize> {
        self.ahead.reserve(FILL);
        self.inner.read_buf(&mut self.ahead).await
    }

    /// Lets pingora read `bytes` more (`None`: without bound).
    pub fn allow(&mut self, bytes: Option<u64>) {
        self.allowance = bytes;
    }

    /// The socket, for answers written before pingora has a session.
    pub fn socket(&mut self) -> &mut Stream {
        &mut self.inner
    }

    /// A read once the request's bytes are all in: pingora reads here only to learn whether
    /// the client has gone (while a backend is thinking, or a stream is sent). Bytes that
    /// arrive are the next request's: they are kept for the door, and pingora is told only
    /// of the close, as an end of stream.
    fn poll_past_request(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut chunk = [0u8; 4096];
        // Bounded, so a client sending while it waits cannot grow this without end.
        while self.ahead.len() < MAX_AHEAD {
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => self.ahead.extend_from_slice(read.filled()),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Pending
    }

    fn take_allowance(&mut self, n: usize) {
        if let Some(left) = self.allowance.as_mut() {
            *left = left.saturating_sub(n as u64);
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let room = match this.allowance {
            // The request's bytes are all read: what follows belongs to the next one.
            Some(0) => return this.poll_past_request(cx),
            Some(left) => buf
                .remaining()
                .min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => buf.remaining(),
        };
        if !this.ahead.is_empty() {
            let n = room.min(this.ahead.len());
            buf.put_slice(&this.ahead[..n]);
            this.ahead.advance(n);
            if this.ahead.is_empty() {
                // Handed on whole: a long stream should not keep the buffer the head came in.
                this.ahead = BytesMut::new();
            }
            this.take_allowance(n);
            return Poll::Ready(Ok(()));
        }
        if room == buf.remaining() {
            let before = buf.filled().len();
            let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
            let n = buf.filled().len() - before;
            this.take_allowance(n);
            return polled;
        }
        // Bounded: read no further than the request's last byte.
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(room));
        let polled = Pin::new(&mut this.inner).poll_read(cx, &mut limited);
        let n = limited.filled().len();
        buf.advance(n);
        this.take_allowance(n);
        polled
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for Guarded {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for Guarded {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Guarded {}

impl GetTimingDigest for Guarded {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for Guarded {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for Guarded {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }
}

#[async_trait]
impl Peek for Guarded {
    /// pingora peeks for the HTTP/2 preface; the door has read it already.
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        if self.ahead.len() < buf.len() {
            return Ok(false);
        }
        buf.copy_from_slice(&self.ahead[..buf.len()]);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pingora_reads_what_was_read_ahead_then_the_socket_and_no_further_than_allowed() {
        let (client, server) = tokio::io::duplex(1024);
        use tokio::io::AsyncWriteExt;
        let mut conn = Guarded::new(Box::new(server));
        let mut client = client;
        client.write_all(b"abcdefgh").await.unwrap();
        assert_eq!(conn.fill().await.unwrap(), 8);
        conn.allow(Some(10));
        let mut got = [0u8; 6];
        conn.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"abcdef");
        client.write_all(b"ijklmn").await.unwrap();
        let mut rest = [0u8; 4];
        conn.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"ghij");
        let mut chunk = [0u8; 64];
        let past =
            tokio::time::timeout(std::time::Duration::from_millis(50), conn.read(&mut chunk));
        assert!(
            past.await.is_err(),
            "bytes past the allowance are not handed on"
        );
        assert_eq!(conn.ahead(), b"klmn", "they stay for the next request");
        conn.allow(Some(4));
        let n = conn.read(&mut chunk).await.unwrap();
        assert_eq!(&chunk[..n], b"klmn");
    }

    #[tokio::test]
    async fn past_its_request_a_read_waits_for_a_close_and_keeps_what_arrives() {
        use tokio::io::AsyncWriteExt;
        let (mut client, server) = tokio::io::duplex(1024);
        let mut conn = Guarded::new(Box::new(server));
        conn.allow(Some(0));
        let mut chunk = [0u8; 16];
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), conn.read(&mut chunk));
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        assert!(
            waiting.await.is_err(),
            "an open client is not an end of stream"
        );
        assert_eq!(
            conn.ahead(),
            b"GET / HTTP/1.1\r\n",
            "the next request's bytes are kept"
        );
        drop(client);
        assert_eq!(conn.read(&mut chunk).await.unwrap(), 0, "a close is");
    }
}
