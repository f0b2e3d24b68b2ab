//! The prompt: every value of a chat request that reaches a backend, walked once.
//!
//! Not only message text reaches a backend: `user`, `metadata`, tool and function
//! descriptions, parameter schemas (descriptions, defaults, enums), `response_format` schemas,
//! `prediction.content`, `stop`, refusals, tool call ids and vendor fields a client adds are all
//! forwarded. So every string of the body is a text part, except the few keys whose values are
//! protocol enums (`role`, `type`, ...), and large integers are parts too (a phone number sent
//! as a JSON number is still a phone number). Content parts that are not text (images, audio,
//! files, unknown part types) cannot be scanned: they are counted as opaque and their payload
//! is skipped.
//!
//! Parts are visited in one fixed order, so that a finding (part index + byte range) can be
//! mapped back onto the JSON for redaction; message contents come first and in conversation
//! order, so a value split across consecutive messages sits in consecutive parts.

use serde_json::{Map, Value};
use std::borrow::Cow;

/// Keys whose string values are protocol enums or routing names, never user data.
const ENUM_KEYS: &[&str] = &[
    "role",
    "type",
    "model",
    "detail",
    "encoding_format",
    "service_tier",
    "reasoning_effort",
    "format",
];

/// Top-level numeric parameters: never user data, and a redaction placeholder (a string) in
/// their place would make the request invalid.
const NUMERIC_PARAMS: &[&str] = &[
    "seed",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "top_logprobs",
    "dimensions",
];

/// Content part types that carry text.
const TEXT_PART_TYPES: &[&str] = &["text", "input_text", "output_text", "refusal"];

/// Integers of at least seven digits are scanned as text (phone numbers, ids); smaller ones are
/// parameters such as `max_tokens` or `seed`.
const MIN_SCANNED_INTEGER: u64 = 1_000_000;

/// One step of a JSON path.
#[derive(Debug, Clone, Copy)]
enum Seg<'b> {
    Key(&'b str),
    Index(usize),
}

/// The request's text parts and what could not be scanned.
#[derive(Debug, Default)]
pub struct Prompt<'b> {
    /// Text parts in visiting order.
    pub parts: Vec<Cow<'b, str>>,
    /// UTF-8 bytes of every text part: the basis of token estimates.
    pub bytes: usize,
    /// The type of each content part that is not text (`image_url`, `input_audio`, `file`, or
    /// an unknown type's name), in visiting order.
    pub opaque: Vec<String>,
}

impl<'b> Prompt<'b> {
    /// Walks the whole body once.
    pub fn of(body: &'b Map<String, Value>) -> Prompt<'b> {
        let mut prompt = Prompt::default();
        walk(body, &mut Vec::new(), &mut |leaf| match leaf {
            Leaf::Text(_, text) => {
                prompt.bytes += text.len();
                prompt.parts.push(text);
            }
            Leaf::Opaque(kind) => prompt.opaque.push(kind.to_string()),
        });
        prompt
    }

    /// The text parts as string slices, for the detector.
    pub fn texts(&self) -> Vec<&str> {
        self.parts.iter().map(|p| p.as_ref()).collect()
    }

    /// Whether the request has parts that are not text.
    pub fn has_opaque(&self) -> bool {
        !self.opaque.is_empty()
    }
}

/// The JSON pointer of every text part, in visiting order (for the explain endpoint).
pub fn pointers(body: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    walk(body, &mut Vec::new(), &mut |leaf| {
        if let Leaf::Text(path, _) = leaf {
            out.push(pointer(path));
        }
    });
    out
}

/// A copy of `body` with text part `i` replaced by `f(i, text)` wherever it returns `Some`.
pub fn rewrite(
    body: &Map<String, Value>,
    mut f: impl FnMut(usize, &str) -> Option<String>,
) -> Map<String, Value> {
    let mut replacements: Vec<(String, String)> = Vec::new();
    let mut index = 0;
    walk(body, &mut Vec::new(), &mut |leaf| {
        if let Leaf::Text(path, text) = leaf {
            if let Some(new) = f(index, &text) {
                replacements.push((pointer(path), new));
            }
            index += 1;
        }
    });
    let mut value = Value::Object(body.clone());
    for (ptr, text) in replacements {
        if let Some(slot) = value.pointer_mut(&ptr) {
            *slot = Value::String(text);
        }
    }
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

enum Leaf<'p, 'b> {
    Text(&'p [Seg<'b>], Cow<'b, str>),
    Opaque(&'b str),
}

/// Visits the body: `messages` first (the conversation, in order), then every other key.
fn walk<'b>(
    body: &'b Map<String, Value>,
    path: &mut Vec<Seg<'b>>,
    visit: &mut dyn FnMut(Leaf<'_, 'b>),
) {
    if let Some(messages) = body.get("messages") {
        path.push(Seg::Key("messages"));
        value(messages, path, visit);
        path.pop();
    }
    for (k, v) in body {
        if k == "messages"
            || ENUM_KEYS.contains(&k.as_str())
            || (NUMERIC_PARAMS.contains(&k.as_str()) && v.is_number())
        {
            continue;
        }
        path.push(Seg::Key(k));
        value(v, path, visit);
        path.pop();
    }
}

fn value<'b>(v: &'b Value, path: &mut Vec<Seg<'b>>, visit: &mut dyn FnMut(Leaf<'_, 'b>)) {
    match v {
        Value::String(s) if !s.is_empty() => visit(Leaf::Text(path, Cow::Borrowed(s))),
        Value::Number(n) => {
            let magnitude = n.as_u64().or_else(|| n.as_i64().map(i64::unsigned_abs));
            if magnitude.is_some_and(|m| m >= MIN_SCANNED_INTEGER) {
                visit(Leaf::Text(path, Cow::Owned(n.to_string())));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                value(item, path, visit);
                path.pop();
            }
        }
        Value::Object(map) => {
            if let Some(kind) = opaque_part(path, map) {
                visit(Leaf::Opaque(kind));
                return;
            }
            for (k, v) in map {
                if ENUM_KEYS.contains(&k.as_str()) && v.is_string() {
                    continue;
                }
                path.push(Seg::Key(k));
                value(v, path, visit);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The type of a content part that is not text, when `map` is one: an element of a message's
/// `content` array whose `type` is not a text type (or which has none but carries an image,
/// audio or file payload).
fn opaque_part<'b>(path: &[Seg<'b>], map: &'b Map<String, Value>) -> Option<&'b str> {
    let in_content = matches!(
        path,
        [.., Seg::Key("content"), Seg::Index(_)] | [.., Seg::Key("input"), Seg::Index(_)]
    );
    if !in_content {
        return None;
    }
    match map.get("type").and_then(Value::as_str) {
        Some(t) if TEXT_PART_TYPES.contains(&t) => None,
        Some(t) => Some(t),
        None => ["image_url", "input_audio", "file", "image"]
            .into_iter()
            .find(|k| map.contains_key(*k))
            .and_then(|k| map.get_key_value(k).map(|(k, _)| k.as_str())),
    }
}

fn pointer(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        s.push('/');
        match seg {
            Seg::Key(k) => s.push_str(&k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => s.push_str(&i.to_string()),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Map<String, Value> {
        serde_json::from_str(
            r#"{"model":"auto","user":"u-jonas","temperature":0.2,"seed":4915123456789,"x_phone":4915123456789,
                "metadata":{"note":"call +49 151 23456789"},
                "tools":[{"type":"function","function":{"name":"lookup","description":"find a/b",
                  "parameters":{"type":"object","properties":{"q":{"type":"string","enum":["x@y.de"],"default":"dflt"}}}}}],
                "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"description":"schema text"}}},
                "stop":["END"],
                "messages":[
                {"role":"system","content":"sys"},
                {"role":"user","name":"alice","content":[{"type":"text","text":"one"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"two"},{"type":"input_audio","input_audio":{"data":"UklGR","format":"wav"}}]},
                {"role":"assistant","content":null,"refusal":"no","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
                {"role":"tool","tool_call_id":"call_1","content":"result"}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn walks_every_field_that_reaches_a_backend() {
        let b = body();
        let p = Prompt::of(&b);
        let texts = p.texts();
        // Messages first, in order; within a message its keys in order.
        assert_eq!(
            &texts[..10],
            [
                "sys",
                "one",
                "two",
                "alice",
                "no",
                "{\"a\":1}",
                "f",
                "call_1",
                "result",
                "call_1"
            ]
        );
        for expected in [
            "result",
            "call_1",
            "u-jonas",
            "4915123456789",
            "call +49 151 23456789",
            "lookup",
            "find a/b",
            "x@y.de",
            "dflt",
            "schema text",
            "END",
            "s",
        ] {
            assert!(
                texts.contains(&expected),
                "{expected} not scanned: {texts:?}"
            );
        }
        for skipped in [
            "auto",
            "system",
            "function",
            "object",
            "string",
            "json_schema",
        ] {
            assert!(!texts.contains(&skipped), "{skipped} scanned");
        }
        assert!(!texts.iter().any(|t| t.contains("base64") || *t == "UklGR"));
        assert_eq!(p.opaque, ["image_url", "input_audio"]);
        assert_eq!(p.bytes, texts.iter().map(|t| t.len()).sum::<usize>());
    }

    #[test]
    fn small_numbers_are_not_text() {
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"max_tokens":100,"n":1,"temperature":0.7}"#).unwrap();
        assert!(Prompt::of(&b).parts.is_empty());
    }

    #[test]
    fn rewrites_each_part_in_place_and_pointers_match() {
        let b = body();
        let n = Prompt::of(&b).parts.len();
        assert_eq!(pointers(&b).len(), n);
        let out = rewrite(&b, |i, t| Some(format!("{i}:{t}")));
        assert_eq!(out["messages"][0]["content"], "0:sys");
        assert_eq!(out["messages"][1]["content"][2]["text"], "2:two");
        assert_eq!(out["messages"][1]["name"], "3:alice");
        assert_eq!(
            out["messages"][1]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AAAA"
        );
        assert_eq!(out["model"], "auto");
        let again = Prompt::of(&out);
        for (i, t) in again.texts().iter().enumerate() {
            assert!(t.starts_with(&format!("{i}:")), "{i}: {t}");
        }
        // A number that is rewritten becomes a string; numeric parameters are never touched.
        assert!(out["x_phone"]
            .as_str()
            .is_some_and(|s| s.ends_with(":4915123456789")));
        assert_eq!(out["seed"], 4915123456789_u64);
    }
}
