//! Per-backend timeouts and the stream wrapper that enforces them on every backend kind.

use crate::error::{AttemptError, TimeoutKind};
use crate::reply::{Event, EventStream};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

/// How long an attempt may take at each stage. Values in milliseconds in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Establishing the connection.
    pub connect_ms: u64,
    /// From sending the request to the response head and, for streams, the first event.
    pub first_byte_ms: u64,
    /// The longest gap between two stream events.
    pub idle_ms: u64,
    /// The whole attempt, streaming included.
    pub total_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_ms: 2_000,
            first_byte_ms: 60_000,
            idle_ms: 30_000,
            total_ms: 600_000,
        }
    }
}

impl Timeouts {
    /// The connect timeout.
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }
    /// The first-byte timeout.
    pub fn first_byte(&self) -> Duration {
        Duration::from_millis(self.first_byte_ms)
    }
    /// The idle-gap timeout.
    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms)
    }
    /// The total timeout.
    pub fn total(&self) -> Duration {
        Duration::from_millis(self.total_ms)
    }
}

/// Wraps a backend's event stream so that a slow first event, an idle gap or the total
/// deadline ends it with a timeout error instead of hanging the client.
pub fn enforce_on_stream<S>(inner: S, timeouts: Timeouts, started: Instant) -> EventStream
where
    S: Stream<Item = Result<Event, AttemptError>> + Send + 'static,
{
    let deadline = started + timeouts.total();
    let first_deadline = started + timeouts.first_byte();
    let state = (Box::pin(inner), false, true);
    let stream =
        futures_util::stream::unfold(state, move |(mut inner, finished, first)| async move {
            if finished {
                return None;
            }
            let (limit, kind, allowed) = next_limit(&timeouts, first, first_deadline, deadline);
            match tokio::time::timeout_at(limit, inner.next()).await {
                Ok(Some(item)) => {
                    let failed = item.is_err();
                    Some((item, (inner, failed, false)))
                }
                Ok(None) => None,
                Err(_) => Some((
                    Err(AttemptError::Timeout(kind, allowed)),
                    (inner, true, false),
                )),
            }
        });
    Box::pin(stream)
}

/// The instant the next event must arrive by, and which timeout that is.
fn next_limit(
    timeouts: &Timeouts,
    first: bool,
    first_deadline: Instant,
    deadline: Instant,
) -> (Instant, TimeoutKind, Duration) {
    let (limit, kind, allowed) = if first {
        (
            first_deadline,
            TimeoutKind::FirstByte,
            timeouts.first_byte(),
        )
    } else {
        (
            Instant::now() + timeouts.idle(),
            TimeoutKind::Idle,
            timeouts.idle(),
        )
    };
    if limit > deadline {
        (deadline, TimeoutKind::Total, timeouts.total())
    } else {
        (limit, kind, allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn events_after(delays: &[u64]) -> impl Stream<Item = Result<Event, AttemptError>> {
        let delays = delays.to_vec();
        futures_util::stream::iter(delays).then(|d| async move {
            tokio::time::sleep(ms(d)).await;
            Ok(Event::Data(Bytes::from_static(b"{}")))
        })
    }

    async fn outcome(delays: &[u64], t: Timeouts) -> (usize, Option<String>) {
        let mut s = enforce_on_stream(events_after(delays), t, Instant::now());
        let mut ok = 0;
        while let Some(item) = s.next().await {
            match item {
                Ok(_) => ok += 1,
                Err(e) => return (ok, Some(e.label().to_string())),
            }
        }
        (ok, None)
    }

    #[tokio::test(start_paused = true)]
    async fn each_timeout_fires_at_its_stage() {
        let t = Timeouts {
            connect_ms: 10,
            first_byte_ms: 100,
            idle_ms: 50,
            total_ms: 1_000,
        };
        assert_eq!(outcome(&[90, 40, 40], t).await, (3, None));
        assert_eq!(
            outcome(&[110], t).await,
            (0, Some("timeout_first_byte".into()))
        );
        assert_eq!(
            outcome(&[10, 60], t).await,
            (1, Some("timeout_idle".into()))
        );
        // 24 events by 960 ms; the 25th would come at 1000 ms, past the 990 ms total.
        let t = Timeouts { total_ms: 990, ..t };
        let many = vec![40; 30];
        assert_eq!(outcome(&many, t).await, (24, Some("timeout_total".into())));
    }
}
