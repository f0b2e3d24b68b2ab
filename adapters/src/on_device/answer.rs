//! A started sequence's events as the client's answer: one whole completion, or OpenAI chunks.

use super::job::SeqEvent;
use super::response::{self, Envelope};
use crate::error::AttemptError;
use crate::reply::{Complete, Event, Reply, Usage};
use tokio::sync::mpsc::Receiver;
use tokio::sync::OwnedSemaphorePermit;

/// A request whose prompt is processed, with the place it holds in the engine: the place is
/// given back when the answer is finished or dropped.
pub(crate) struct Started {
    pub events: Receiver<SeqEvent>,
    pub env: Envelope,
    pub prompt_tokens: u64,
    /// Prompt tokens reused from the KV cache.
    pub cached_tokens: u64,
    /// Held, never read: dropping the answer gives the place back.
    pub _place: OwnedSemaphorePermit,
    /// What to say when the engine goes away.
    pub stopped: AttemptError,
}

impl Started {
    fn usage(&self, completion_tokens: u32) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: u64::from(completion_tokens),
            cached_tokens: self.cached_tokens,
            cache_write_tokens: 0,
        }
    }
}

/// Waits for the whole answer.
pub(crate) async fn collect(mut s: Started) -> Result<Reply, AttemptError> {
    let mut content = String::new();
    loop {
        match s.events.recv().await {
            Some(SeqEvent::Text(t)) => content.push_str(&t),
            Some(SeqEvent::Done {
                finish,
                completion_tokens,
            }) => {
                let usage = s.usage(completion_tokens);
                return Ok(Reply::Complete(Complete {
                    body: response::completion(&s.env, &content, finish, usage),
                    usage: Some(usage),
                    // The engine has no response head: ranked on the whole answer.
                    first_byte: None,
                }));
            }
            Some(SeqEvent::Failed(e)) => return Err(e),
            Some(SeqEvent::Started { .. }) => {}
            None => return Err(s.stopped),
        }
    }
}

/// Turns engine events into OpenAI chunks: role, content deltas, the finish reason, a usage
/// chunk (the gateway drops it unless the client asked), then `[DONE]`.
pub(crate) fn stream(
    s: Started,
) -> impl futures_util::Stream<Item = Result<Event, AttemptError>> + Send {
    enum Stage {
        Role,
        Body,
        Usage(Usage),
        Done,
        End,
    }
    futures_util::stream::unfold((s, Stage::Role), |(mut s, stage)| async move {
        let (item, next) = match stage {
            Stage::Role => (Ok(Event::Data(response::role_chunk(&s.env))), Stage::Body),
            Stage::Body => loop {
                match s.events.recv().await {
                    Some(SeqEvent::Text(t)) => {
                        break (
                            Ok(Event::Data(response::content_chunk(&s.env, &t))),
                            Stage::Body,
                        )
                    }
                    Some(SeqEvent::Done {
                        finish,
                        completion_tokens,
                    }) => {
                        let usage = s.usage(completion_tokens);
                        break (
                            Ok(Event::Data(response::finish_chunk(&s.env, finish))),
                            Stage::Usage(usage),
                        );
                    }
                    Some(SeqEvent::Failed(e)) => break (Err(e), Stage::End),
                    Some(SeqEvent::Started { .. }) => continue,
                    // The engine went away mid-stream: end without [DONE], which the gateway
                    // records as a cut-off stream.
                    None => return None,
                }
            },
            Stage::Usage(u) => (
                Ok(Event::Data(response::usage_chunk(&s.env, u))),
                Stage::Done,
            ),
            Stage::Done => (Ok(Event::Done), Stage::End),
            Stage::End => return None,
        };
        Some((item, (s, next)))
    })
}
