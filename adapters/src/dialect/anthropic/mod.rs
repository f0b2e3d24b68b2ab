//! The Anthropic Messages API as clients send it (`POST /v1/messages`), translated to a chat
//! completion every backend kind can serve, and the chat answer translated back.
//!
//! What has no chat-completions equivalent is dropped where dropping cannot change the answer
//! (`cache_control`, `thinking` blocks of earlier turns, whose signatures only Anthropic can
//! check) and refused where it would (server tools, unknown block types): a request is never
//! silently served as something other than what was asked.

mod answer;
pub mod stream;

pub use answer::*;

use super::{invalid, Fields};
use crate::request::{ChatRequest, RequestError};
use serde_json::{json, Map, Value};

/// What the answer needs from the request it translates back.
#[derive(Debug, Clone)]
pub struct Context {
    /// The model name the client sent, echoed in the answer.
    pub model: String,
    /// Server tools left out: they run inside Anthropic's service, which no other backend is.
    pub dropped_tools: Vec<String>,
}

/// Anthropic's structured outputs (`output_config.format`, or the earlier beta's
/// `output_format`: `{"type": "json_schema", "schema": ...}`) as chat's `response_format`.
fn output_format(body: &Map<String, Value>) -> Result<Option<Value>, RequestError> {
    let (format, param) = match (
        body.get("output_config").and_then(|c| c.get("format")),
        body.get("output_format"),
    ) {
        (Some(f), _) if !f.is_null() => (f, "output_config.format"),
        (_, Some(f)) if !f.is_null() => (f, "output_format"),
        _ => return Ok(None),
    };
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let schema = format
                .get("schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| invalid(format!("{param}.schema must be an object"), param))?;
            Ok(Some(json!({
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema, "strict": true}
            })))
        }
        _ => Err(invalid(
            format!("{param}.type must be \"json_schema\""),
            param,
        )),
    }
}

/// Parses a Messages request and builds the chat request that serves it.
pub fn to_chat(bytes: &[u8]) -> Result<(ChatRequest, Context), RequestError> {
    let body = super::object(bytes)?;
    let f = Fields(&body);
    let model = f.string("model")?.to_string();
    let max_tokens = match f.get("max_tokens") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid("max_tokens must be a positive integer", "max_tokens"))?,
        ),
    };
    let mut chat = Map::new();
    chat.insert("model".into(), Value::String(model.clone()));
    let mut messages = Vec::new();
    match body.get("system") {
        None | Some(Value::Null) => {}
        Some(system) => {
            messages.push(json!({"role": "system", "content": text_of(system, "system")?}))
        }
    }
    let turns = f.array("messages")?;
    if turns.is_empty() {
        return Err(invalid(
            "messages: at least one message is required",
            "messages",
        ));
    }
    for (i, turn) in turns.iter().enumerate() {
        turn_to_chat(turn, i, &mut messages)?;
    }
    chat.insert("messages".into(), Value::Array(messages));
    if let Some(n) = max_tokens {
        chat.insert("max_tokens".into(), n.into());
    }
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("top_k", "top_k"),
    ] {
        if let Some(v) = body.get(from).filter(|v| !v.is_null()) {
            chat.insert(to.into(), v.clone());
        }
    }
    if let Some(stops) = body.get("stop_sequences").filter(|v| !v.is_null()) {
        chat.insert("stop".into(), stops.clone());
    }
    if let Some(rf) = output_format(&body)? {
        chat.insert("response_format".into(), rf);
    }
    if let Some(user) = body
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
    {
        chat.insert("user".into(), user.into());
    }
    let mut dropped_tools = Vec::new();
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let tools = tools_to_chat(tools, &mut dropped_tools)?;
        if !tools.is_empty() {
            chat.insert("tools".into(), Value::Array(tools));
        }
    }
    if let Some(choice) = body.get("tool_choice").filter(|v| !v.is_null()) {
        let (choice, parallel) = tool_choice_to_chat(choice)?;
        // Without tools there is nothing to choose from: OpenAI refuses a tool_choice alone.
        if chat.contains_key("tools") {
            chat.insert("tool_choice".into(), choice);
        }
        if parallel == Some(false) && chat.contains_key("tools") {
            chat.insert("parallel_tool_calls".into(), false.into());
        }
    }
    if f.bool("stream")? {
        chat.insert("stream".into(), true.into());
        // The closing `message_delta` carries usage, so it is always asked for.
        chat.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let req = ChatRequest::from_body(chat)?;
    Ok((
        req,
        Context {
            model,
            dropped_tools,
        },
    ))
}

/// A `system` value or a `tool_result`'s content: a string, or text blocks joined.
fn text_of(value: &Value, path: &str) -> Result<String, RequestError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => {
            let mut out = String::new();
            for (i, b) in blocks.iter().enumerate() {
                let text = b.get("text").and_then(Value::as_str).ok_or_else(|| {
                    invalid(
                        format!("{path}.{i}: expected a text block"),
                        format!("{path}.{i}"),
                    )
                })?;
                if !out.is_empty() {
                    out.push_str("\n\n");
                }
                out.push_str(text);
            }
            Ok(out)
        }
        _ => Err(invalid(
            format!("{path}: expected a string or a list of text blocks"),
            path,
        )),
    }
}

/// One Messages turn as chat messages: tool results become `tool` messages (which must follow
/// the assistant's tool calls directly), the rest one user or assistant message.
fn turn_to_chat(turn: &Value, i: usize, out: &mut Vec<Value>) -> Result<(), RequestError> {
    let at = format!("messages.{i}");
    let role = turn.get("role").and_then(Value::as_str).ok_or_else(|| {
        invalid(
            format!("{at}.role: expected 'user', 'assistant' or 'system'"),
            format!("{at}.role"),
        )
    })?;
    if role == "system" {
        // Sent mid-conversation by clients using the `mid-conversation-system` beta (Claude
        // Code does, for models it does not know): a system message in chat terms.
        let content = text_of(
            turn.get("content").unwrap_or(&Value::Null),
            &format!("{at}.content"),
        )?;
        out.push(json!({"role": "system", "content": content}));
        return Ok(());
    }
    if role != "user" && role != "assistant" {
        return Err(invalid(
            format!("{at}.role: expected 'user', 'assistant' or 'system', got '{role}'"),
            format!("{at}.role"),
        ));
    }
    let blocks = match turn.get("content") {
        Some(Value::String(s)) => {
            out.push(json!({"role": role, "content": s}));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        _ => {
            return Err(invalid(
                format!("{at}.content: expected a string or a list of content blocks"),
                format!("{at}.content"),
            ))
        }
    };
    let mut parts: Vec<Value> = Vec::new();
    let mut text = String::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content.{j}");
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        match (role, kind) {
            (_, "text") => {
                let t = block.get("text").and_then(Value::as_str).unwrap_or("");
                if role == "assistant" {
                    text.push_str(t);
                } else {
                    parts.push(json!({"type": "text", "text": t}));
                }
            }
            ("user", "image") => parts.push(image_part(block, &at)?),
            ("user", "document") => parts.push(document_part(block, &at)?),
            ("user", "tool_result") => {
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let mut content = match block.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(c) => tool_result_text(c, &at, &mut parts)?,
                };
                if block.get("is_error").and_then(Value::as_bool) == Some(true) {
                    content.insert_str(0, "[tool error] ");
                }
                out.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
            }
            ("assistant", "tool_use") => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_calls.push(json!({
                    "id": block.get("id").and_then(Value::as_str).unwrap_or(""),
                    "type": "function",
                    "function": {
                        "name": block.get("name").and_then(Value::as_str).unwrap_or(""),
                        "arguments": input.to_string(),
                    },
                }));
            }
            // Earlier turns' reasoning: only Anthropic can verify its signature, and a chat
            // backend has nowhere to put it.
            ("assistant", "thinking" | "redacted_thinking") => {}
            _ => {
                return Err(invalid(
                    format!(
                        "{at}: content blocks of type '{kind}' are not supported in a {role} turn"
                    ),
                    format!("{at}.type"),
                ))
            }
        }
    }
    if role == "assistant" {
        let mut m = json!({"role": "assistant", "content": text});
        if !tool_calls.is_empty() {
            m["tool_calls"] = Value::Array(tool_calls);
        }
        out.push(m);
    } else if !parts.is_empty() {
        out.push(json!({"role": "user", "content": parts}));
    }
    Ok(())
}

/// A `tool_result`'s content as text; its images join the user message that follows.
fn tool_result_text(c: &Value, at: &str, parts: &mut Vec<Value>) -> Result<String, RequestError> {
    let Value::Array(blocks) = c else {
        return text_of(c, &format!("{at}.content"));
    };
    let mut text = String::new();
    for (k, b) in blocks.iter().enumerate() {
        match b.get("type").and_then(Value::as_str) {
            Some("image") => parts.push(image_part(b, &format!("{at}.content.{k}"))?),
            _ => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(b.get("text").and_then(Value::as_str).unwrap_or(""));
            }
        }
    }
    Ok(text)
}

fn image_part(block: &Value, at: &str) -> Result<Value, RequestError> {
    let url = source_url(block, at)?;
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// A document: plain text is sent (and scanned) as text, anything else as a file part.
fn document_part(block: &Value, at: &str) -> Result<Value, RequestError> {
    if block.pointer("/source/type").and_then(Value::as_str) == Some("text") {
        let data = block
            .pointer("/source/data")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Ok(json!({"type": "text", "text": data}));
    }
    let url = source_url(block, at)?;
    let name = block
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("document.pdf");
    Ok(json!({"type": "file", "file": {"file_data": url, "filename": name}}))
}

/// A base64 or URL source as one URL (a `data:` URI for base64).
fn source_url(block: &Value, at: &str) -> Result<String, RequestError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("");
            let data = source.get("data").and_then(Value::as_str).unwrap_or("");
            Ok(format!("data:{media};base64,{data}"))
        }
        Some("url") => Ok(source
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()),
        _ => Err(invalid(
            format!("{at}.source: expected a 'base64' or 'url' source"),
            format!("{at}.source"),
        )),
    }
}

/// Client tools as chat function tools. Anthropic's server tools (web search, code execution,
/// computer use...) run inside Anthropic's service, which no other backend is: they are left
/// out and named in `dropped`, so the model answers without them.
fn tools_to_chat(tools: &[Value], dropped: &mut Vec<String>) -> Result<Vec<Value>, RequestError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("custom");
        if kind != "custom" {
            dropped.push(kind.to_string());
            continue;
        }
        let name = t.get("name").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                format!("tools.{i}.name: field required"),
                format!("tools.{i}.name"),
            )
        })?;
        let mut function = json!({
            "name": name,
            "parameters": t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
        });
        if let Some(d) = t.get("description").and_then(Value::as_str) {
            function["description"] = d.into();
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(out)
}

/// `tool_choice` in chat terms, and whether parallel calls are allowed.
fn tool_choice_to_chat(choice: &Value) -> Result<(Value, Option<bool>), RequestError> {
    let parallel = choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
        .map(|d| !d);
    let chat = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => {
            let name = choice.get("name").and_then(Value::as_str).unwrap_or("");
            json!({"type": "function", "function": {"name": name}})
        }
        _ => {
            return Err(invalid(
                "tool_choice.type: expected one of auto, any, tool, none",
                "tool_choice.type",
            ))
        }
    };
    Ok((chat, parallel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: Value) -> Map<String, Value> {
        to_chat(body.to_string().as_bytes()).unwrap().0.body
    }

    #[test]
    fn system_blocks_tools_and_tool_turns_translate() {
        let c = chat(json!({
            "model": "claude-sonnet-4-5", "max_tokens": 100,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "Use tools."}],
            "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "x"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]},
                    {"type": "text", "text": "and tomorrow?"}]}
            ],
            "tools": [{"name": "weather", "description": "forecast", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "stop_sequences": ["END"], "temperature": 0.2, "top_k": 5,
            "metadata": {"user_id": "u-1"}, "stream": true
        }));
        let m = c["messages"].as_array().unwrap();
        assert_eq!(
            m[0],
            json!({"role": "system", "content": "Be brief.\n\nUse tools."})
        );
        assert_eq!(
            m[1],
            json!({"role": "user", "content": "weather in Paris?"})
        );
        assert_eq!(m[2]["content"], "Checking.");
        assert_eq!(
            m[2]["tool_calls"][0]["function"]["arguments"],
            r#"{"city":"Paris"}"#
        );
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "toolu_1", "content": "18C"})
        );
        assert_eq!(m[4]["content"][0]["text"], "and tomorrow?");
        assert_eq!(
            c["tools"][0]["function"]["parameters"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(c["tool_choice"], "required");
        assert_eq!(c["parallel_tool_calls"], false);
        assert_eq!(c["stop"], json!(["END"]));
        assert_eq!(c["user"], "u-1");
        assert_eq!(c["top_k"], 5);
        assert_eq!(c["stream_options"]["include_usage"], true);
    }

    #[test]
    fn server_tools_are_left_out_and_a_mid_conversation_system_turn_is_kept() {
        let (req, cx) = to_chat(json!({"model": "m", "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "agents: ..."}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}, {"name": "Bash", "input_schema": {"type": "object"}}]
        }).to_string().as_bytes()).unwrap();
        assert_eq!(cx.dropped_tools, ["web_search_20250305"]);
        assert_eq!(req.body["tools"].as_array().unwrap().len(), 1);
        assert_eq!(
            req.body["messages"][1],
            json!({"role": "system", "content": "agents: ..."})
        );
    }

    #[test]
    fn structured_outputs_become_a_response_format() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        for key in ["output_config", "output_format"] {
            let format = json!({"type": "json_schema", "schema": schema});
            let field = if key == "output_config" {
                json!({"format": format})
            } else {
                format
            };
            let c = chat(json!({"model": "m", "max_tokens": 5, key: field,
                "messages": [{"role": "user", "content": "x"}]}));
            assert_eq!(c["response_format"]["type"], "json_schema", "{key}");
            assert_eq!(
                c["response_format"]["json_schema"]["schema"], schema,
                "{key}"
            );
        }
        let e = to_chat(
            json!({"model": "m", "max_tokens": 5, "output_format": {"type": "xml"},
                "messages": [{"role": "user", "content": "x"}]})
            .to_string()
            .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("output_format"));
    }

    #[test]
    fn a_tool_choice_without_tools_is_not_sent() {
        let c = chat(
            json!({"model": "m", "max_tokens": 5, "tool_choice": {"type": "none"},
            "messages": [{"role": "user", "content": "x"}]}),
        );
        assert!(!c.contains_key("tool_choice") && !c.contains_key("tools"));
    }

    #[test]
    fn images_and_documents_become_parts_the_classifier_sees() {
        let c = chat(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}
            ]}]}),
        );
        let parts = &c["messages"][0]["content"];
        assert_eq!(parts[0]["image_url"]["url"], "data:image/png;base64,iVBO");
        assert_eq!(parts[1], json!({"type": "text", "text": "notes"}));
        assert_eq!(parts[2]["type"], "file");
    }

    #[test]
    fn refuses_what_no_chat_backend_can_serve() {
        let err = |v: Value| to_chat(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            err(json!({"model": "m", "messages": []})).param.as_deref(),
            Some("messages")
        );
        let e = err(
            json!({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}),
        );
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        let e = err(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "container_upload"}]}]}),
        );
        assert_eq!(e.param.as_deref(), Some("messages.0.content.0.type"));
        let e = err(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]}),
        );
        assert_eq!(e.param.as_deref(), Some("messages.0.role"));
    }
}
