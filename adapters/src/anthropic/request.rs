//! An OpenAI chat request as an Anthropic Messages request.
//!
//! The Messages API is stricter than chat completions: one `system` prompt, turns that
//! alternate, tool results inside user turns, `max_tokens` required, `temperature` at most 1.
//! What has an equivalent is translated; what would change the answer if dropped (several
//! choices, log probabilities, audio) is refused with a 400 before anything is sent.

use crate::error::AttemptError;
use crate::request::ChatRequest;
use crate::translate::{plain_text, push_merged, refuse_what_changes_the_answer, stop_sequences};
use serde_json::{json, Map, Value};

/// The name of the tool a JSON `response_format` is served through: the model is made to call
/// it, and its input is the answer.
pub(crate) const JSON_TOOL: &str = "json_answer";

/// A translated request and what its answer's translation needs to know.
#[derive(Debug)]
pub(crate) struct Translated {
    /// The Messages request body.
    pub body: Map<String, Value>,
    /// The answer is the input of the forced [`JSON_TOOL`] call (a JSON `response_format`).
    pub json_tool: bool,
}

/// Builds the Messages request for `req`, sent to `model`; `default_max_tokens` applies when
/// the client set no limit (Anthropic requires one).
pub(crate) fn translate(
    req: &ChatRequest,
    model: &str,
    default_max_tokens: u32,
) -> Result<Translated, AttemptError> {
    let b = &req.body;
    refuse_what_changes_the_answer(b)?;
    let mut out = Map::new();
    out.insert("model".into(), model.into());
    let messages = b
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| AttemptError::unsupported("'messages' must be a list"))?;
    let (system, turns) = turns(messages)?;
    if !system.is_empty() {
        out.insert("system".into(), Value::String(system));
    }
    out.insert("messages".into(), Value::Array(turns));
    let max_tokens = b
        .get("max_completion_tokens")
        .or_else(|| b.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(default_max_tokens));
    out.insert("max_tokens".into(), max_tokens.into());
    if let Some(t) = b.get("temperature").and_then(Value::as_f64) {
        // OpenAI's range is 0–2, Anthropic's 0–1: a request valid for one vendor of the route
        // must not become a 400 at another.
        out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    for key in ["top_p", "top_k"] {
        if let Some(v) = b.get(key).filter(|v| v.is_number()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(stops) = stop_sequences(b) {
        out.insert("stop_sequences".into(), stops);
    }
    if let Some(user) = b.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    let json_tool = tools(b, &mut out)?;
    if req.stream() {
        out.insert("stream".into(), true.into());
    }
    Ok(Translated {
        body: out,
        json_tool,
    })
}

/// The system prompt and the alternating turns of a chat conversation.
fn turns(messages: &[Value]) -> Result<(String, Vec<Value>), AttemptError> {
    let mut system = String::new();
    let mut turns: Vec<Value> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let (role, blocks) = match role {
            "system" | "developer" => {
                let text = plain_text(m.get("content"), i)?;
                if !system.is_empty() {
                    system.push_str("\n\n");
                }
                system.push_str(&text);
                continue;
            }
            "user" => ("user", user_blocks(m.get("content"), i)?),
            "assistant" => ("assistant", assistant_blocks(m, i)?),
            "tool" => ("user", vec![tool_result(m, i)?]),
            other => {
                return Err(AttemptError::unsupported(format!(
                    "messages[{i}]: role '{other}' is not supported"
                )))
            }
        };
        if blocks.is_empty() {
            continue; // an empty turn is refused by the API and says nothing
        }
        push_merged(&mut turns, role, "content", blocks, |b| {
            b["type"] == "tool_result"
        });
    }
    Ok((system, turns))
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn user_blocks(content: Option<&Value>, i: usize) -> Result<Vec<Value>, AttemptError> {
    let parts = match content {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::String(s)) if s.is_empty() => return Ok(vec![]),
        Some(Value::String(s)) => return Ok(vec![text_block(s)]),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(AttemptError::unsupported(format!(
                "messages[{i}].content must be text or parts"
            )))
        }
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for p in parts {
        match p.get("type").and_then(Value::as_str) {
            Some("text") => {
                let t = p.get("text").and_then(Value::as_str).unwrap_or("");
                if !t.is_empty() {
                    blocks.push(text_block(t));
                }
            }
            Some("image_url") => {
                let url = p
                    .pointer("/image_url/url")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                blocks.push(json!({"type": "image", "source": source(url, i)?}));
            }
            Some("file") => {
                let data = p
                    .pointer("/file/file_data")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        AttemptError::unsupported(format!(
                            "messages[{i}]: a file part needs file_data (uploaded file ids belong to another vendor)"
                        ))
                    })?;
                blocks.push(json!({"type": "document", "source": source(data, i)?}));
            }
            other => {
                return Err(AttemptError::unsupported(format!(
                    "messages[{i}]: content parts of type '{}' are not supported by this backend",
                    other.unwrap_or("?")
                )))
            }
        }
    }
    Ok(blocks)
}

/// An image or document source: a `data:` URI becomes base64 data, anything else a URL.
fn source(url: &str, i: usize) -> Result<Value, AttemptError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = rest.split_once(";base64,").ok_or_else(|| {
            AttemptError::unsupported(format!("messages[{i}]: a data URI must be base64"))
        })?;
        return Ok(json!({"type": "base64", "media_type": media_type, "data": data}));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(json!({"type": "url", "url": url}));
    }
    Err(AttemptError::unsupported(format!(
        "messages[{i}]: an image or file must be a data: URI or an http(s) URL"
    )))
}

fn assistant_blocks(m: &Value, i: usize) -> Result<Vec<Value>, AttemptError> {
    let mut blocks = Vec::new();
    for key in ["refusal", "content"] {
        let text = plain_text(m.get(key), i)?;
        if !text.is_empty() {
            blocks.push(text_block(&text));
        }
    }
    for call in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        let input = if args.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(args).map_err(|_| {
                AttemptError::unsupported(format!(
                    "messages[{i}]: tool call arguments must be a JSON object"
                ))
            })?
        };
        blocks.push(json!({
            "type": "tool_use",
            "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
            "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
            "input": input,
        }));
    }
    Ok(blocks)
}

fn tool_result(m: &Value, i: usize) -> Result<Value, AttemptError> {
    let id = m
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            AttemptError::unsupported(format!("messages[{i}]: a tool message needs tool_call_id"))
        })?;
    Ok(json!({
        "type": "tool_result",
        "tool_use_id": id,
        "content": plain_text(m.get("content"), i)?,
    }))
}

/// Tools, the tool choice and a JSON `response_format`; whether the answer is a forced tool's
/// input.
fn tools(b: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<bool, AttemptError> {
    let mut list = Vec::new();
    for t in b
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = t
            .get("function")
            .filter(|_| t.get("type").and_then(Value::as_str) == Some("function"))
            .ok_or_else(|| {
                AttemptError::unsupported("only function tools are supported by this backend")
            })?;
        let mut tool = Map::new();
        tool.insert("name".into(), f.get("name").cloned().unwrap_or(Value::Null));
        if let Some(d) = f.get("description").filter(|d| d.is_string()) {
            tool.insert("description".into(), d.clone());
        }
        let schema = f
            .get("parameters")
            .filter(|p| p.is_object())
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        tool.insert("input_schema".into(), schema);
        list.push(Value::Object(tool));
    }
    let schema = match b.get("response_format") {
        Some(rf) => match rf.get("type").and_then(Value::as_str) {
            Some("json_schema") => Some(
                rf.pointer("/json_schema/schema")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            ),
            Some("json_object") => Some(json!({"type": "object"})),
            _ => None,
        },
        None => None,
    };
    let parallel_off = b.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false);
    if let Some(schema) = schema {
        if !list.is_empty() {
            return Err(AttemptError::unsupported(
                "this backend serves a JSON response_format through a tool: it cannot be combined with tools",
            ));
        }
        out.insert(
            "tools".into(),
            json!([{"name": JSON_TOOL, "description": "Answer with this tool: its input is the answer.", "input_schema": schema}]),
        );
        out.insert(
            "tool_choice".into(),
            json!({"type": "tool", "name": JSON_TOOL}),
        );
        return Ok(true);
    }
    if list.is_empty() {
        return Ok(false);
    }
    out.insert("tools".into(), Value::Array(list));
    let mut choice = match b.get("tool_choice") {
        None | Some(Value::Null) => json!({"type": "auto"}),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            other => {
                return Err(AttemptError::unsupported(format!(
                    "tool_choice '{other}' is not known"
                )))
            }
        },
        Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => json!({"type": "tool", "name": name}),
            None => {
                return Err(AttemptError::unsupported(
                    "tool_choice must name a function",
                ))
            }
        },
    };
    if parallel_off && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = true.into();
    }
    out.insert("tool_choice".into(), choice);
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: Value) -> Result<Translated, AttemptError> {
        let req = ChatRequest::from_body(body.as_object().unwrap().clone()).unwrap();
        translate(&req, "claude-x", 1024)
    }

    #[test]
    fn a_tool_conversation_becomes_alternating_turns() {
        let t = run(json!({"model": "r", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {"role": "user", "content": "Weather in Oslo and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"id": "t2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "rain"},
            {"role": "tool", "tool_call_id": "t2", "content": "sun"},
            {"role": "user", "content": "And tomorrow?"}],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "tool_choice": "required", "parallel_tool_calls": false,
            "max_tokens": 50, "temperature": 1.7, "stop": "END", "user": "u1"}))
        .unwrap();
        let b = Value::Object(t.body);
        assert_eq!(b["system"], "Be brief.\n\nUse tools.");
        let turns = b["messages"].as_array().unwrap();
        assert_eq!(turns.len(), 3);
        assert_eq!(turns[1]["content"][1]["input"], json!({"city": "Rome"}));
        let last = &turns[2]["content"];
        assert_eq!(last[0]["type"], "tool_result");
        assert_eq!(last[1]["tool_use_id"], "t2");
        assert_eq!(last[2], json!({"type": "text", "text": "And tomorrow?"}));
        assert_eq!(b["max_tokens"], 50);
        assert_eq!(b["temperature"], 1.0);
        assert_eq!(b["stop_sequences"], json!(["END"]));
        assert_eq!(b["metadata"]["user_id"], "u1");
        assert_eq!(b["tools"][0]["input_schema"], json!({"type": "object"}));
        assert_eq!(
            b["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
        assert!(!t.json_tool);
    }

    #[test]
    fn images_and_the_default_limit() {
        let t = run(
            json!({"model": "r", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}]}]}),
        )
        .unwrap();
        let b = Value::Object(t.body);
        let c = &b["messages"][0]["content"];
        assert_eq!(
            c[1]["source"],
            json!({"type": "base64", "media_type": "image/png", "data": "iVBOR"})
        );
        assert_eq!(
            c[2]["source"],
            json!({"type": "url", "url": "https://example.com/a.jpg"})
        );
        assert_eq!(b["max_tokens"], 1024);
        assert!(b.get("tools").is_none());
    }

    #[test]
    fn a_json_schema_is_served_by_a_forced_tool() {
        let t = run(json!({"model": "r", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}}}))
        .unwrap();
        assert!(t.json_tool);
        let b = Value::Object(t.body);
        assert_eq!(b["tool_choice"], json!({"type": "tool", "name": JSON_TOOL}));
        assert_eq!(
            b["tools"][0]["input_schema"]["properties"]["a"]["type"],
            "integer"
        );
    }

    #[test]
    fn what_cannot_be_translated_is_refused() {
        let m = json!([{"role": "user", "content": "x"}]);
        for extra in [
            json!({"n": 2}),
            json!({"logprobs": true}),
            json!({"response_format": {"type": "json_object"}, "tools": [{"type": "function", "function": {"name": "f"}}]}),
        ] {
            let mut body = json!({"model": "r", "messages": m});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let e = run(body).unwrap_err();
            assert!(!e.may_fail_over(), "{e}");
        }
        let audio = json!({"model": "r", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]});
        assert!(run(audio).is_err());
    }
}
