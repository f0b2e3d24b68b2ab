//! A started sequence's events as the client's answer: one whole completion, or OpenAI chunks.

use super::job::SeqEvent;
use super::response::{self, CallForm, Envelope, FinishReason};
use super::tool_output::{Decoder, Ending};
use crate::error::AttemptError;
use crate::reply::{Complete, Event, Reply, Usage};
use bytes::Bytes;
use std::collections::VecDeque;
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
    /// For a request with tools: the reader of the JSON answer, and how calls are written.
    pub tools: Option<(Decoder, CallForm)>,
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

    /// The reply text in a piece of output: all of it, unless the answer is a tool answer.
    fn reply_text(&mut self, piece: String) -> String {
        match &mut self.tools {
            Some((decoder, _)) => decoder.push(&piece),
            None => piece,
        }
    }

    /// What the end of a tool answer adds, and the finish reason it gives the answer.
    fn ending(&mut self, finish: FinishReason) -> (Ending, CallForm, FinishReason) {
        let Some((decoder, form)) = self.tools.take() else {
            return (Ending::default(), CallForm::Tools, finish);
        };
        let ending = decoder.finish();
        let finish = match (ending.calls.is_empty(), form) {
            (true, _) => finish,
            (false, CallForm::Tools) => FinishReason::ToolCalls,
            (false, CallForm::Function) => FinishReason::FunctionCall,
        };
        (ending, form, finish)
    }
}

/// Waits for the whole answer.
pub(crate) async fn collect(mut s: Started) -> Result<Reply, AttemptError> {
    let mut content = String::new();
    loop {
        match s.events.recv().await {
            Some(SeqEvent::Text(t)) => {
                let text = s.reply_text(t);
                content.push_str(&text);
            }
            Some(SeqEvent::Done {
                finish,
                completion_tokens,
            }) => {
                let usage = s.usage(completion_tokens);
                let (ending, form, finish) = s.ending(finish);
                content.push_str(&ending.content);
                return Ok(Reply::Complete(Complete {
                    body: response::completion_with_calls(
                        &s.env,
                        &content,
                        &ending.calls,
                        form,
                        finish,
                        usage,
                    ),
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

/// Turns engine events into OpenAI chunks: role, content deltas, then (at the end) what a
/// tool answer adds, the finish reason, a usage chunk (the gateway drops it unless the client
/// asked), and `[DONE]`.
pub(crate) fn stream(
    s: Started,
) -> impl futures_util::Stream<Item = Result<Event, AttemptError>> + Send {
    let first = VecDeque::from([Event::Data(response::role_chunk(&s.env))]);
    futures_util::stream::unfold(Some((s, first)), |state| async move {
        let (mut s, mut queued) = state?;
        loop {
            if let Some(event) = queued.pop_front() {
                let ended = matches!(event, Event::Done);
                return Some((Ok(event), (!ended).then_some((s, queued))));
            }
            match s.events.recv().await {
                Some(SeqEvent::Text(t)) => {
                    let text = s.reply_text(t);
                    if !text.is_empty() {
                        queued.push_back(Event::Data(response::content_chunk(&s.env, &text)));
                    }
                }
                Some(SeqEvent::Done {
                    finish,
                    completion_tokens,
                }) => queued.extend(last_events(&mut s, finish, completion_tokens)),
                Some(SeqEvent::Failed(e)) => return Some((Err(e), None)),
                Some(SeqEvent::Started { .. }) => {}
                // The engine went away mid-stream: end without [DONE], which the gateway
                // records as a cut-off stream.
                None => return None,
            }
        }
    })
}

/// The events that end a streamed answer.
fn last_events(s: &mut Started, finish: FinishReason, completion_tokens: u32) -> Vec<Event> {
    let usage = s.usage(completion_tokens);
    let (ending, form, finish) = s.ending(finish);
    let mut out: Vec<Bytes> = Vec::new();
    if !ending.content.is_empty() {
        out.push(response::content_chunk(&s.env, &ending.content));
    }
    if !ending.calls.is_empty() {
        out.push(response::calls_chunk(&s.env, &ending.calls, form));
    }
    out.push(response::finish_chunk(&s.env, finish));
    out.push(response::usage_chunk(&s.env, usage));
    let mut events: Vec<Event> = out.into_iter().map(Event::Data).collect();
    events.push(Event::Done);
    events
}
