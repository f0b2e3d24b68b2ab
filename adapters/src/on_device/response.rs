//! OpenAI-format bodies and chunks for the engine's answers.

use super::tool_output::Call;
use crate::reply::Usage;
use bytes::Bytes;
use serde::Serialize;

/// Why generation ended, as OpenAI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FinishReason {
    /// End of generation token or a stop string.
    Stop,
    /// `max_tokens` or the context window reached.
    Length,
    /// The answer calls tools.
    ToolCalls,
    /// The answer calls a legacy function.
    FunctionCall,
}

/// How an answer's calls are written: as `tool_calls`, or as the legacy `function_call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallForm {
    Tools,
    Function,
}

/// The fields every body and chunk of one answer share.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub id: String,
    pub created: u64,
    pub model: String,
}

impl Envelope {
    pub fn new(model: &str) -> Self {
        Envelope {
            id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
            created: crate::reply::unix_now(),
            model: model.to_string(),
        }
    }
}

#[derive(Serialize)]
struct WireUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
}

/// Prompt tokens found in the KV cache, as OpenAI reports its prompt cache.
#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
}

impl From<Usage> for WireUsage {
    fn from(u: Usage) -> Self {
        WireUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
            prompt_tokens_details: PromptDetails {
                cached_tokens: u.cached_tokens,
            },
        }
    }
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: WireUsage,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: FinishReason,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<WireCall<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<WireFunction<'a>>,
}

#[derive(Serialize)]
struct WireCall<'a> {
    /// Present in chunks, where calls are matched up by position.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// The calls of an answer in `form`, with `index` in chunks.
fn wire_calls<'a>(
    calls: &'a [Call],
    form: CallForm,
    chunked: bool,
) -> (Option<Vec<WireCall<'a>>>, Option<WireFunction<'a>>) {
    let function = |c: &'a Call| WireFunction {
        name: &c.name,
        arguments: &c.arguments,
    };
    match (form, calls) {
        (_, []) => (None, None),
        (CallForm::Function, [first, ..]) => (None, Some(function(first))),
        (CallForm::Tools, calls) => (
            Some(
                calls
                    .iter()
                    .enumerate()
                    .map(|(i, c)| WireCall {
                        index: chunked.then_some(i),
                        id: &c.id,
                        kind: "function",
                        function: function(c),
                    })
                    .collect(),
            ),
            None,
        ),
    }
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<WireUsage>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<FinishReason>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<WireCall<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<WireFunction<'a>>,
}

fn to_bytes(v: &impl Serialize) -> Bytes {
    // Serializing these plain structs cannot fail.
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// A whole `chat.completion` body whose message may call tools; content is `null` when the
/// answer is only calls, as OpenAI sends it.
pub(crate) fn completion_with_calls(
    env: &Envelope,
    content: &str,
    calls: &[Call],
    form: CallForm,
    finish: FinishReason,
    usage: Usage,
) -> Bytes {
    let (tool_calls, function_call) = wire_calls(calls, form, false);
    let content = (calls.is_empty() || !content.is_empty()).then_some(content);
    to_bytes(&Completion {
        id: &env.id,
        object: "chat.completion",
        created: env.created,
        model: &env.model,
        choices: [Choice {
            index: 0,
            message: Message {
                role: "assistant",
                content,
                tool_calls,
                function_call,
            },
            logprobs: None,
            finish_reason: finish,
        }],
        usage: usage.into(),
    })
}

fn chunk(env: &Envelope, choices: Vec<ChunkChoice<'_>>, usage: Option<Usage>) -> Bytes {
    to_bytes(&Chunk {
        id: &env.id,
        object: "chat.completion.chunk",
        created: env.created,
        model: &env.model,
        choices,
        usage: usage.map(WireUsage::from),
    })
}

/// The first chunk: the assistant role with empty content.
pub(crate) fn role_chunk(env: &Envelope) -> Bytes {
    delta_chunk(env, Some("assistant"), Some(""), None)
}

/// A chunk carrying a piece of content.
pub(crate) fn content_chunk(env: &Envelope, text: &str) -> Bytes {
    delta_chunk(env, None, Some(text), None)
}

/// The last choice chunk: an empty delta and the finish reason.
pub(crate) fn finish_chunk(env: &Envelope, finish: FinishReason) -> Bytes {
    delta_chunk(env, None, None, Some(finish))
}

/// A chunk carrying an answer's calls, whole.
pub(crate) fn calls_chunk(env: &Envelope, calls: &[Call], form: CallForm) -> Bytes {
    let (tool_calls, function_call) = wire_calls(calls, form, true);
    chunk(
        env,
        vec![ChunkChoice {
            index: 0,
            delta: Delta {
                tool_calls,
                function_call,
                ..Delta::default()
            },
            logprobs: None,
            finish_reason: None,
        }],
        None,
    )
}

/// The usage chunk OpenAI sends for `stream_options.include_usage`: no choices.
pub(crate) fn usage_chunk(env: &Envelope, usage: Usage) -> Bytes {
    chunk(env, Vec::new(), Some(usage))
}

fn delta_chunk(
    env: &Envelope,
    role: Option<&'static str>,
    content: Option<&str>,
    finish: Option<FinishReason>,
) -> Bytes {
    chunk(
        env,
        vec![ChunkChoice {
            index: 0,
            delta: Delta {
                role,
                content,
                ..Delta::default()
            },
            logprobs: None,
            finish_reason: finish,
        }],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn env() -> Envelope {
        Envelope {
            id: "chatcmpl-1".into(),
            created: 5,
            model: "m".into(),
        }
    }

    #[test]
    fn completion_has_openai_shape() {
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
            cached_tokens: 0,
            cache_write_tokens: 0,
        };
        let v: Value = serde_json::from_slice(&completion_with_calls(
            &env(),
            "hi",
            &[],
            CallForm::Tools,
            FinishReason::Length,
            usage,
        ))
        .unwrap();
        assert_eq!(
            v,
            json!({"id":"chatcmpl-1","object":"chat.completion","created":5,"model":"m",
                "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},
                    "logprobs":null,"finish_reason":"length"}],
                "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,
                    "prompt_tokens_details":{"cached_tokens":0}}})
        );
        assert_eq!(
            Usage::from_openai_json(&usage_chunk(&env(), usage)),
            Some(usage)
        );
    }

    #[test]
    fn chunks_have_openai_shape() {
        let v: Value = serde_json::from_slice(&role_chunk(&env())).unwrap();
        assert_eq!(
            v["choices"][0]["delta"],
            json!({"role":"assistant","content":""})
        );
        assert_eq!(v["object"], "chat.completion.chunk");
        let v: Value = serde_json::from_slice(&finish_chunk(&env(), FinishReason::Stop)).unwrap();
        assert_eq!(v["choices"][0]["delta"], json!({}));
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert!(v.get("usage").is_none());
    }

    #[test]
    fn calls_have_openai_shape() {
        let calls = [Call {
            id: "call_1".into(),
            name: "f".into(),
            arguments: r#"{"a":1}"#.into(),
        }];
        let usage = Usage::default();
        let body = completion_with_calls(
            &env(),
            "",
            &calls,
            CallForm::Tools,
            FinishReason::ToolCalls,
            usage,
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["choices"][0]["message"],
            json!({"role":"assistant","content":null,"tool_calls":[{"id":"call_1",
                "type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]})
        );
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        let v: Value =
            serde_json::from_slice(&calls_chunk(&env(), &calls, CallForm::Tools)).unwrap();
        assert_eq!(v["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
        let v: Value =
            serde_json::from_slice(&calls_chunk(&env(), &calls, CallForm::Function)).unwrap();
        assert_eq!(
            v["choices"][0]["delta"],
            json!({"function_call":{"name":"f","arguments":"{\"a\":1}"}})
        );
    }
}
