//! Token counts for answers whose upstream reported no usage (llama.cpp's server, Ollama and
//! older vLLM builds send none in streams; a cut-off stream never gets to it), counted by the
//! model's own tokenizer wherever the gateway can reach one:
//! - the local server's tokenize endpoint ([`server`]), probed once;
//! - a Hugging Face `tokenizer.json` named in the config (`tokenizers` crate);
//! - OpenAI's encodings (o200k, cl100k) for OpenAI's models (`tiktoken-rs`).
//!
//! Only when none applies is the count the byte estimate, and the answer says so: every count
//! carries whether it is exact, so the ledger can tell `tokenizer` rows from `estimate` ones.
//! Prompts are counted as the server counts them: the conversation rendered through the
//! model's chat template ([`template`]), special tokens and all.

pub mod server;
pub mod template;

use crate::request::ChatRequest;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
pub use template::{Template, Turn};

/// A token count and whether it came from the model's tokenizer (`exact`) or the byte
/// estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The tokens.
    pub tokens: u64,
    /// True when the model's own tokenizer counted them, template included.
    pub exact: bool,
}

impl Counted {
    /// The byte estimate of `text`: `ceil(bytes / 4)`.
    pub fn estimate(bytes: u64) -> Counted {
        Counted {
            tokens: bytes.div_ceil(4),
            exact: false,
        }
    }
}

/// What counts a model's tokens.
#[derive(Clone)]
pub enum Counter {
    /// The serving backend's own tokenize endpoint.
    Server(Arc<server::ServerTokenizer>, Option<Arc<Template>>),
    /// A Hugging Face tokenizer loaded from its `tokenizer.json`.
    HuggingFace(Arc<tokenizers::Tokenizer>, Option<Arc<Template>>),
    /// One of OpenAI's encodings, with OpenAI's per-message framing.
    OpenAi(&'static tiktoken_rs::CoreBPE),
    /// Nothing better than the byte estimate.
    Estimate,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Counter::Server(..) => "Counter::Server",
            Counter::HuggingFace(..) => "Counter::HuggingFace",
            Counter::OpenAi(_) => "Counter::OpenAi",
            Counter::Estimate => "Counter::Estimate",
        })
    }
}

impl Counter {
    /// OpenAI's encoding for `model` (`gpt-4o…` → o200k, `gpt-4…` → cl100k), if it is one of
    /// OpenAI's models.
    pub fn openai(model: &str) -> Option<Counter> {
        tiktoken_rs::bpe_for_model(model).ok().map(Counter::OpenAi)
    }

    /// A `tokenizer.json` file, with the chat template to count prompts by.
    pub fn hugging_face(path: &Path, template: Option<Template>) -> Result<Counter, String> {
        let t = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| format!("cannot load tokenizer {}: {e}", path.display()))?;
        Ok(Counter::HuggingFace(Arc::new(t), template.map(Arc::new)))
    }

    /// Whether the counts can be exact at all.
    pub fn is_tokenizer(&self) -> bool {
        !matches!(self, Counter::Estimate)
    }

    /// The prompt tokens of `req` as the model's server counts them; `prompt_bytes` (its
    /// text's size) makes the estimate when nothing better answers.
    pub async fn prompt(&self, req: &ChatRequest, prompt_bytes: u64) -> Counted {
        let turns = turns(req);
        let counted = match self {
            Counter::Server(s, template) => s
                .prompt(&turns, template.as_deref())
                .await
                .map(|(tokens, exact)| Counted { tokens, exact }),
            _ => self.prompt_now(&turns),
        };
        counted.unwrap_or(Counted::estimate(prompt_bytes))
    }

    /// [`Counter::prompt`] without I/O: a local tokenizer's count, or `None` (for a record
    /// written where nothing may be awaited).
    pub fn prompt_local(&self, req: &ChatRequest) -> Option<Counted> {
        match self {
            Counter::Server(..) => None,
            _ => self.prompt_now(&turns(req)),
        }
    }

    fn prompt_now(&self, turns: &[Turn]) -> Option<Counted> {
        match self {
            Counter::HuggingFace(t, template) => match template {
                Some(template) => {
                    let text = template.render(turns).ok()?;
                    Some(Counted {
                        tokens: hf_count(t, &text, false)?,
                        exact: true,
                    })
                }
                None => {
                    let joined: Vec<&str> = turns.iter().map(|t| t.content.as_str()).collect();
                    Some(Counted {
                        tokens: hf_count(t, &joined.join("\n"), true)?,
                        exact: false,
                    })
                }
            },
            Counter::OpenAi(bpe) => Some(Counted {
                tokens: openai_prompt(bpe, turns),
                exact: true,
            }),
            Counter::Server(..) | Counter::Estimate => None,
        }
    }

    /// The tokens of a streamed answer's `text`, sent in `deltas` content chunks (empty ones
    /// included). llama-cpp-python's server sends one chunk per generated token, also for a
    /// token cut from the text by a stop sequence, so there the chunks are its count; text
    /// re-tokenized can differ where the model generated a non-canonical split.
    pub async fn streamed_completion(&self, text: &str, deltas: u64) -> Counted {
        if let Counter::Server(s, _) = self {
            if s.api().await == Some(server::Api::LlamaCppPython) {
                return Counted {
                    tokens: deltas,
                    exact: true,
                };
            }
        }
        self.completion(text).await
    }

    /// The tokens of generated `text`.
    pub async fn completion(&self, text: &str) -> Counted {
        let tokens = match self {
            Counter::Server(s, _) => s.completion(text).await,
            Counter::HuggingFace(t, _) => hf_count(t, text, false),
            Counter::OpenAi(bpe) => Some(bpe.encode_ordinary(text).len() as u64),
            Counter::Estimate => None,
        };
        tokens.map_or(Counted::estimate(text.len() as u64), |tokens| Counted {
            tokens,
            exact: true,
        })
    }
}

/// Tokens of `text` by a Hugging Face tokenizer; `special` adds the model's
/// beginning-of-sequence and similar tokens (a rendered template already holds them).
fn hf_count(t: &tokenizers::Tokenizer, text: &str, special: bool) -> Option<u64> {
    t.encode_fast(text, special)
        .ok()
        .map(|e| e.get_ids().len() as u64)
}

/// OpenAI's chat framing, as its cookbook counts it: 3 tokens a message plus its role and
/// content, 1 more for a `name`, and 3 for the assistant's reply priming.
fn openai_prompt(bpe: &tiktoken_rs::CoreBPE, turns: &[Turn]) -> u64 {
    let body: usize = turns
        .iter()
        .map(|t| 3 + bpe.encode_ordinary(&t.role).len() + bpe.encode_ordinary(&t.content).len())
        .sum();
    (body + 3) as u64
}

/// The conversation as templates see it: each message's role and text (text parts joined;
/// an assistant's tool calls as their JSON, which is what a server without tool support
/// would be sent).
pub fn turns(req: &ChatRequest) -> Vec<Turn> {
    let Some(messages) = req.body.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    messages
        .iter()
        .map(|m| Turn {
            role: m
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("user")
                .to_string(),
            content: text_of(m),
        })
        .collect()
}

fn text_of(m: &Value) -> String {
    let mut out = match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    };
    if let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) {
        out.push_str(&calls.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &str) -> ChatRequest {
        ChatRequest::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn turns_join_text_parts() {
        let r = req(r#"{"model":"m","messages":[{"role":"system","content":"s"},
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"#);
        assert_eq!(
            turns(&r),
            vec![
                Turn {
                    role: "system".into(),
                    content: "s".into()
                },
                Turn {
                    role: "user".into(),
                    content: "ab".into()
                },
            ]
        );
    }

    #[test]
    fn openai_models_are_counted_with_their_encoding() {
        let c = Counter::openai("gpt-4o-mini").expect("an OpenAI model");
        assert!(Counter::openai("llama-3-8b").is_none());
        let r = req(r#"{"model":"m","messages":[{"role":"user","content":"hello world"}]}"#);
        // 3 framing + "user" (1) + "hello world" (2) + 3 priming: OpenAI reports 9 for this.
        assert_eq!(
            c.prompt_local(&r),
            Some(Counted {
                tokens: 9,
                exact: true
            })
        );
    }

    /// A word-level `tokenizer.json` as Hugging Face writes one, with `<s>` a special token.
    const TOKENIZER_JSON: &str = r#"{"version":"1.0","truncation":null,"padding":null,
        "added_tokens":[{"id":0,"content":"<s>","single_word":false,"lstrip":false,
            "rstrip":false,"normalized":false,"special":true}],
        "normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,
        "decoder":null,
        "model":{"type":"WordLevel","vocab":{"<s>":0,"[UNK]":1,"hello":2,"world":3},
            "unk_token":"[UNK]"}}"#;

    #[tokio::test]
    async fn a_tokenizer_json_counts_the_templated_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, TOKENIZER_JSON).unwrap();
        let template = Template::new(
            "{% for m in messages %}<s> {{ m.content }} {% endfor %}",
            "",
        )
        .unwrap();
        let c = Counter::hugging_face(&path, Some(template)).unwrap();
        let r = req(
            r#"{"model":"m","messages":[{"role":"system","content":"hello"},
            {"role":"user","content":"hello world again"}]}"#,
        );
        // <s> hello <s> hello world again([UNK])
        assert_eq!(
            c.prompt(&r, 0).await,
            Counted {
                tokens: 6,
                exact: true
            }
        );
        assert_eq!(
            c.completion("world world").await,
            Counted {
                tokens: 2,
                exact: true
            }
        );
        // Without a template only the text is counted, and that is no exact prompt count.
        let bare = Counter::hugging_face(&path, None).unwrap();
        assert_eq!(
            bare.prompt_local(&r),
            Some(Counted {
                tokens: 4,
                exact: false
            })
        );
        assert!(Counter::hugging_face(&dir.path().join("missing.json"), None).is_err());
    }

    #[tokio::test]
    async fn without_a_tokenizer_counts_are_estimates() {
        let r = req(r#"{"model":"m","messages":[{"role":"user","content":"hello"}]}"#);
        let c = Counter::Estimate;
        assert_eq!(
            c.prompt(&r, 5).await,
            Counted {
                tokens: 2,
                exact: false
            }
        );
        assert_eq!(
            c.completion("abcdefgh").await,
            Counted {
                tokens: 2,
                exact: false
            }
        );
    }
}
