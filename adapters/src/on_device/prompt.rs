//! The prompt as tokens. The chat template's own markup becomes control tokens; the text of the
//! messages is tokenized as plain text. A user who types `<|im_start|>system` or
//! `<start_of_turn>` gets those characters, never a forged turn.
//!
//! llama.cpp renders a template into one string, so which bytes came from the template is not
//! known afterwards. The conversation is therefore rendered twice: once as it is and once with
//! every message's text replaced by filler of the same byte length (ASCII whitespace kept, so a
//! template that trims content trims both alike). Control tokens found in the second rendering
//! are the template's; at those byte offsets the first rendering holds the same markup, and
//! everything else in it is tokenized without special-token parsing. llama.cpp's own tokenizer
//! splits text at special tokens and tokenizes each stretch between them separately, so for a
//! conversation without markup in its messages the tokens are exactly those of
//! `tokenize(render, add_special = true, parse_special = true)`.

use super::params::{rejected, Message};
use crate::error::AttemptError;
use aho_corasick::{AhoCorasick, MatchKind};
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;

/// The bytes C's `isspace` accepts, which is what llama.cpp's templates trim.
const C_SPACE: &[u8] = b" \t\n\x0B\x0C\r";

/// The vocabulary's control tokens, found in rendered text by their spelling.
pub(crate) struct Markup {
    /// Longest spelling first where two start at the same byte, as llama.cpp prefers.
    matcher: Option<AhoCorasick>,
    ids: Vec<LlamaToken>,
}

impl Markup {
    /// Every control (and unknown) token of `model` with a non-empty spelling: the tokens
    /// llama.cpp parses only when asked to parse special tokens.
    pub fn new(model: &LlamaModel) -> Markup {
        let vocab = model.vocab();
        let mut spellings = Vec::new();
        let mut ids = Vec::new();
        for token in vocab.tokens() {
            let attr = vocab.attr(token);
            if !(attr.contains(LlamaTokenAttr::Control) || attr.contains(LlamaTokenAttr::Unknown)) {
                continue;
            }
            let Some(text) = vocab.text(token) else {
                continue;
            };
            let text = text.to_bytes();
            if text.is_empty() {
                continue;
            }
            spellings.push(text.to_vec());
            ids.push(token);
        }
        let matcher = (!spellings.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&spellings)
                    .ok()
            })
            .flatten();
        Markup { matcher, ids }
    }

    /// Byte ranges and tokens of the control tokens spelled in `text`, in order.
    fn find(&self, text: &str) -> Vec<(usize, usize, LlamaToken)> {
        let Some(m) = &self.matcher else {
            return Vec::new();
        };
        m.find_iter(text)
            .map(|hit| (hit.start(), hit.end(), self.ids[hit.pattern().as_usize()]))
            .collect()
    }
}

/// One stretch of a rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    /// Template markup: one control token.
    Control(LlamaToken),
    /// Text tokenized without parsing special tokens.
    Plain(&'a str),
}

/// Renders `messages` with `template`, with the generation prompt appended.
pub(crate) fn render(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    messages: &[Message],
) -> Result<String, AttemptError> {
    let chat = messages
        .iter()
        .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| rejected("invalid_messages", format!("message cannot be used: {e}")))?;
    model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| {
            rejected(
                "chat_template_failed",
                format!("the chat template cannot format this conversation: {e}"),
            )
        })
}

/// The messages with every byte of their text replaced by `x`, except C whitespace.
pub(crate) fn filler(messages: &[Message]) -> Vec<Message> {
    messages
        .iter()
        .map(|m| Message {
            role: m.role.clone(),
            content: m
                .content
                .bytes()
                .map(|b| if C_SPACE.contains(&b) { b as char } else { 'x' })
                .collect(),
        })
        .collect()
}

/// Splits `rendered` into markup and plain text, given the rendering of the same conversation
/// with filler in place of the messages' text. Fails when the two renderings do not line up
/// (a template that rewrites message text), since markup then cannot be told from text.
pub(crate) fn split<'a>(
    markup: &Markup,
    rendered: &'a str,
    filled: &str,
) -> Result<Vec<Part<'a>>, AttemptError> {
    if rendered.len() != filled.len() {
        return Err(rejected(
            "chat_template_failed",
            "the chat template rewrites message text, so its markup cannot be kept apart \
             from the text of the messages; configure a template that inserts text as is",
        ));
    }
    let mut parts = Vec::new();
    let mut at = 0;
    for (start, end, token) in markup.find(filled) {
        // The same bytes in both renderings: template text, not a message's.
        if rendered.as_bytes()[start..end] != filled.as_bytes()[start..end]
            || !rendered.is_char_boundary(start)
            || !rendered.is_char_boundary(end)
        {
            continue;
        }
        if start > at {
            parts.push(Part::Plain(&rendered[at..start]));
        }
        parts.push(Part::Control(token));
        at = end;
    }
    if at < rendered.len() {
        parts.push(Part::Plain(&rendered[at..]));
    }
    Ok(parts)
}

/// The prompt's tokens: BOS (and EOS) where the vocabulary adds them, as llama.cpp's
/// `tokenize` with `add_special` does, then each part.
pub(crate) fn tokens(model: &LlamaModel, parts: &[Part<'_>]) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    let mut out = Vec::new();
    if vocab.should_add_bos() {
        out.push(vocab.bos());
    }
    for part in parts {
        match part {
            Part::Control(t) => out.push(*t),
            Part::Plain(text) => out.extend(vocab.tokenize(text.as_bytes(), false, false)),
        }
    }
    if vocab.should_add_eos() {
        out.push(vocab.eos());
    }
    out
}

/// The prompt of a conversation: rendered, split, tokenized.
pub(crate) fn prompt(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    markup: &Markup,
    messages: &[Message],
) -> Result<Vec<LlamaToken>, AttemptError> {
    let rendered = render(model, template, messages)?;
    let filled = render(model, template, &filler(messages))?;
    let parts = split(markup, &rendered, &filled)?;
    Ok(tokens(model, &parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_keeps_length_and_c_whitespace() {
        let m = [Message {
            role: "user".into(),
            content: " a\u{e9}<b>\n\x0B\u{a0}".into(),
        }];
        let f = filler(&m);
        assert_eq!(f[0].content.len(), m[0].content.len());
        assert_eq!(f[0].content, " xxxxxx\n\x0Bxx");
        assert_eq!(f[0].role, "user");
    }
}
