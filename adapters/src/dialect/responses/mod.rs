//! OpenAI's Responses API as clients send it (`POST /v1/responses`), stateless: translated to
//! a chat completion every backend kind can serve, and the chat answer translated back.
//!
//! The gateway keeps no conversation state (it stores no prompt text), so what needs stored
//! responses (`previous_response_id`, `conversation`, `store: true`, `background`, item
//! references) is refused with a 400 naming the parameter; clients that run statelessly
//! (Codex CLI with `store: false`, the SDKs passing the whole input) are served in full.

mod answer;
pub mod stream;

pub use answer::*;

use super::{invalid, Fields};
use crate::request::{ChatRequest, RequestError};
use serde_json::{json, Map, Value};

/// What the answer needs from the request it translates back.
#[derive(Debug, Clone)]
pub struct Context {
    /// The response id (`resp_…`), made from the gateway's request id.
    pub id: String,
    /// When the request arrived, unix seconds.
    pub created_at: u64,
    /// Request parameters a Response object echoes (`model`, `instructions`, `tools`, ...).
    pub echo: Map<String, Value>,
    /// Names of `custom` (free-form) tools: their calls are answered as `custom_tool_call`s.
    pub custom_tools: Vec<String>,
    /// Built-in tools left out: they run inside OpenAI's service, which no other backend is.
    pub dropped_tools: Vec<String>,
}

/// Parameters a Response object repeats from its request.
const ECHOED: &[&str] = &[
    "model",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_output_tokens",
    "text",
    "reasoning",
    "metadata",
    "truncation",
    "user",
];

/// Parameters that need state the gateway does not keep.
const STATEFUL: &[(&str, &str)] = &[
    ("previous_response_id", "continuing a stored response"),
    ("conversation", "stored conversations"),
    ("background", "background responses"),
];

/// Parses a Responses request and builds the chat request that serves it.
pub fn to_chat(
    bytes: &[u8],
    id: String,
    created_at: u64,
) -> Result<(ChatRequest, Context), RequestError> {
    let body = super::object(bytes)?;
    let f = Fields(&body);
    for (param, what) in STATEFUL {
        if body
            .get(*param)
            .is_some_and(|v| !v.is_null() && v != &Value::Bool(false))
        {
            return Err(invalid(
                format!("'{param}' is not supported: this gateway is stateless and stores no responses ({what}); send the whole conversation in 'input'"),
                *param,
            ));
        }
    }
    if body.get("store") == Some(&Value::Bool(true)) {
        return Err(invalid(
            "'store': true is not supported: this gateway is stateless and stores no responses; send 'store': false",
            "store",
        ));
    }
    let model = f.string("model")?;
    let mut chat = Map::new();
    chat.insert("model".into(), model.into());
    let mut messages = Vec::new();
    if let Some(instructions) = body.get("instructions").and_then(Value::as_str) {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    match body.get("input") {
        Some(Value::String(s)) => messages.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                item_to_chat(item, i, &mut messages)?;
            }
        }
        _ => {
            return Err(invalid(
                "'input' must be a string or a list of input items",
                "input",
            ))
        }
    }
    if messages.is_empty() {
        return Err(invalid("'input' has no message", "input"));
    }
    chat.insert("messages".into(), Value::Array(messages));
    if let Some(n) = body.get("max_output_tokens").filter(|v| !v.is_null()) {
        chat.insert("max_tokens".into(), n.clone());
    }
    for key in ["temperature", "top_p", "parallel_tool_calls", "user"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            chat.insert(key.into(), v.clone());
        }
    }
    if let Some(user) = body.get("safety_identifier").and_then(Value::as_str) {
        chat.entry("user").or_insert_with(|| user.into());
    }
    let mut custom_tools = Vec::new();
    let mut dropped_tools = Vec::new();
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let chat_tools = tools_to_chat(tools, &mut custom_tools, &mut dropped_tools)?;
        if !chat_tools.is_empty() {
            chat.insert("tools".into(), Value::Array(chat_tools));
        }
    }
    if let Some(choice) = body.get("tool_choice").filter(|v| !v.is_null()) {
        let choice = tool_choice_to_chat(choice)?;
        // Without tools there is nothing to choose from: OpenAI refuses a tool_choice alone.
        if chat.contains_key("tools") {
            chat.insert("tool_choice".into(), choice);
        }
    }
    if let Some(format) = body
        .get("text")
        .and_then(|t| t.get("format"))
        .filter(|v| !v.is_null())
    {
        if let Some(rf) = response_format(format)? {
            chat.insert("response_format".into(), rf);
        }
    }
    if f.bool("stream")? {
        chat.insert("stream".into(), true.into());
        chat.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let req = ChatRequest::from_body(chat)?;
    let echo = ECHOED
        .iter()
        .filter_map(|k| body.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    Ok((
        req,
        Context {
            id,
            created_at,
            echo,
            custom_tools,
            dropped_tools,
        },
    ))
}

/// One input item as chat messages. Consecutive function calls join one assistant message,
/// as chat completions carries parallel calls.
fn item_to_chat(item: &Value, i: usize, out: &mut Vec<Value>) -> Result<(), RequestError> {
    let at = format!("input[{i}]");
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = match item.get("role").and_then(Value::as_str) {
                Some(r @ ("user" | "assistant" | "system")) => r,
                // Local servers do not all know `developer`; it means `system` to them.
                Some("developer") => "system",
                _ => {
                    return Err(invalid(
                        format!("{at}.role must be one of user, assistant, system, developer"),
                        format!("{at}.role"),
                    ))
                }
            };
            let content = content_to_chat(item.get("content"), role, &at)?;
            out.push(json!({"role": role, "content": content}));
        }
        "function_call" | "custom_tool_call" => {
            let arguments = if kind == "function_call" {
                item.get("arguments").and_then(Value::as_str).unwrap_or("{}").to_string()
            } else {
                json!({"input": item.get("input").and_then(Value::as_str).unwrap_or("")}).to_string()
            };
            let call = json!({
                "id": item.get("call_id").and_then(Value::as_str).unwrap_or(""),
                "type": "function",
                "function": {"name": item.get("name").and_then(Value::as_str).unwrap_or(""), "arguments": arguments},
            });
            match out.last_mut() {
                Some(last) if last["role"] == "assistant" => {
                    if let Some(calls) = last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                        calls.push(call);
                    } else {
                        last["tool_calls"] = json!([call]);
                    }
                }
                _ => out.push(json!({"role": "assistant", "content": "", "tool_calls": [call]})),
            }
        }
        "function_call_output" | "custom_tool_call_output" => {
            let output = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            out.push(json!({
                "role": "tool",
                "tool_call_id": item.get("call_id").and_then(Value::as_str).unwrap_or(""),
                "content": output,
            }));
        }
        // Reasoning items carry the model's own (often encrypted) reasoning: only the model
        // that wrote them can use them, and no chat backend takes them back.
        "reasoning" => {}
        "item_reference" => {
            return Err(invalid(
                format!("{at}: item references need stored responses, which this stateless gateway does not keep"),
                format!("{at}.type"),
            ))
        }
        other => {
            return Err(invalid(
                format!("{at}: input items of type '{other}' are not supported"),
                format!("{at}.type"),
            ))
        }
    }
    Ok(())
}

/// A message's content: a string, or parts (`input_text`, `output_text`, `input_image`,
/// `input_file`, `refusal`).
fn content_to_chat(content: Option<&Value>, role: &str, at: &str) -> Result<Value, RequestError> {
    let parts = match content {
        Some(Value::String(s)) => return Ok(Value::String(s.clone())),
        Some(Value::Array(parts)) => parts,
        _ => {
            return Err(invalid(
                format!("{at}.content must be a string or a list of content parts"),
                format!("{at}.content"),
            ))
        }
    };
    // Assistant and system turns take text only in chat completions.
    let text_only = role != "user";
    let mut out = Vec::with_capacity(parts.len());
    let mut text = String::new();
    for (j, p) in parts.iter().enumerate() {
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "input_text" | "output_text" | "text" | "refusal" => {
                let t = p.get("text").or_else(|| p.get("refusal")).and_then(Value::as_str).unwrap_or("");
                if text_only {
                    text.push_str(t);
                } else {
                    out.push(json!({"type": "text", "text": t}));
                }
            }
            "input_image" if !text_only => {
                let url = p.get("image_url").and_then(Value::as_str).ok_or_else(|| {
                    invalid(
                        format!("{at}.content[{j}]: only images given by 'image_url' are supported (file ids need stored files)"),
                        format!("{at}.content[{j}].image_url"),
                    )
                })?;
                let mut image = json!({"url": url});
                if let Some(d) = p.get("detail").and_then(Value::as_str) {
                    image["detail"] = d.into();
                }
                out.push(json!({"type": "image_url", "image_url": image}));
            }
            "input_file" if !text_only => {
                let mut file = Map::new();
                for k in ["file_data", "filename", "file_id"] {
                    if let Some(v) = p.get(k) {
                        file.insert(k.into(), v.clone());
                    }
                }
                out.push(json!({"type": "file", "file": file}));
            }
            _ => {
                return Err(invalid(
                    format!("{at}.content[{j}]: content parts of type '{kind}' are not supported in a {role} message"),
                    format!("{at}.content[{j}].type"),
                ))
            }
        }
    }
    Ok(if text_only {
        Value::String(text)
    } else {
        Value::Array(out)
    })
}

/// Function tools as chat tools, and free-form `custom` tools as functions taking one string
/// (`input`). Built-in tools (web search, file search, tool search, namespaces of hosted
/// tools...) run inside OpenAI's service, which no other backend is: they are left out and
/// named in `dropped`, so the model answers without them.
fn tools_to_chat(
    tools: &[Value],
    custom: &mut Vec<String>,
    dropped: &mut Vec<String>,
) -> Result<Vec<Value>, RequestError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
        let name = t.get("name").and_then(Value::as_str);
        let description = t.get("description").and_then(Value::as_str).unwrap_or("");
        match (kind, name) {
            ("function", Some(name)) => {
                let mut function = json!({
                    "name": name,
                    "description": description,
                    "parameters": t.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                });
                if let Some(strict) = t.get("strict").filter(|v| v.is_boolean()) {
                    function["strict"] = strict.clone();
                }
                out.push(json!({"type": "function", "function": function}));
            }
            ("custom", Some(name)) => {
                custom.push(name.to_string());
                out.push(json!({"type": "function", "function": {
                    "name": name,
                    "description": description,
                    "parameters": {
                        "type": "object",
                        "properties": {"input": {"type": "string", "description": "the tool's free-form input"}},
                        "required": ["input"],
                    },
                }}));
            }
            ("function" | "custom", None) => {
                return Err(invalid(
                    format!("tools[{i}].name is required"),
                    format!("tools[{i}].name"),
                ))
            }
            _ => dropped.push(kind.to_string()),
        }
    }
    Ok(out)
}

fn tool_choice_to_chat(choice: &Value) -> Result<Value, RequestError> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(choice.clone())
        }
        Value::Object(o)
            if matches!(
                o.get("type").and_then(Value::as_str),
                Some("function" | "custom")
            ) =>
        {
            let name = o.get("name").and_then(Value::as_str).unwrap_or("");
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        _ => Err(invalid(
            "'tool_choice' must be auto, none, required or a function tool",
            "tool_choice",
        )),
    }
}

/// `text.format` as chat's `response_format`.
fn response_format(format: &Value) -> Result<Option<Value>, RequestError> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = json!({
                "name": format.get("name").and_then(Value::as_str).unwrap_or("response"),
                "schema": format.get("schema").cloned().unwrap_or_else(|| json!({})),
            });
            for k in ["strict", "description"] {
                if let Some(v) = format.get(k) {
                    schema[k] = v.clone();
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        _ => Err(invalid(
            "'text.format.type' must be text, json_object or json_schema",
            "text.format.type",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: Value) -> (Map<String, Value>, Context) {
        let (req, cx) = to_chat(body.to_string().as_bytes(), "resp_1".into(), 7).unwrap();
        (req.body, cx)
    }

    #[test]
    fn items_instructions_tools_and_format_translate() {
        let (c, cx) = chat(json!({
            "model": "coder", "instructions": "Be terse.", "store": false, "stream": true,
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
                {"role": "user", "content": [{"type": "input_text", "text": "list files"}, {"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xx"},
                {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
                {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch"},
                {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
                {"type": "custom_tool_call_output", "call_id": "c2", "output": "done"}
            ],
            "tools": [
                {"type": "function", "name": "shell", "description": "run", "parameters": {"type": "object"}, "strict": false},
                {"type": "custom", "name": "apply_patch", "description": "patch", "format": {"type": "grammar"}}
            ],
            "tool_choice": "auto", "max_output_tokens": 50, "reasoning": {"effort": "low"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}}
        }));
        let m = c["messages"].as_array().unwrap();
        assert_eq!(m[0], json!({"role": "system", "content": "Be terse."}));
        assert_eq!(m[1], json!({"role": "system", "content": "rules"}));
        assert_eq!(
            m[2]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AA"
        );
        assert_eq!(
            m[3]["tool_calls"].as_array().unwrap().len(),
            2,
            "both calls in one turn"
        );
        assert_eq!(
            m[3]["tool_calls"][1]["function"]["arguments"],
            r#"{"input":"*** Begin Patch"}"#
        );
        assert_eq!(
            m[4],
            json!({"role": "tool", "tool_call_id": "c1", "content": "a.txt"})
        );
        assert_eq!(m[5]["tool_call_id"], "c2");
        assert_eq!(
            c["tools"][1]["function"]["parameters"]["required"],
            json!(["input"])
        );
        assert_eq!(c["max_tokens"], 50);
        assert_eq!(c["response_format"]["json_schema"]["strict"], true);
        assert_eq!(cx.custom_tools, ["apply_patch"]);
        assert_eq!(cx.echo["model"], "coder");
    }

    #[test]
    fn stateful_parameters_are_refused_by_name() {
        for (param, value) in [
            ("previous_response_id", json!("resp_x")),
            ("store", json!(true)),
            ("background", json!(true)),
        ] {
            let mut body = json!({"model": "m", "input": "hi"});
            body[param] = value;
            let e = to_chat(body.to_string().as_bytes(), "resp_1".into(), 0).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param));
            assert!(e.message.contains("stateless"), "{}", e.message);
        }
        let (req, cx) = to_chat(br#"{"model":"m","input":"x","tools":[{"type":"web_search"},{"type":"namespace","name":"n","tools":[]}]}"#, "r".into(), 0).unwrap();
        assert_eq!(cx.dropped_tools, ["web_search", "namespace"]);
        assert!(!req.body.contains_key("tools"));
    }
}
