//! The turns of an OpenAI chat request as Gemini `contents`, and the system text.
//!
//! Roles become `user` and `model`; consecutive turns of one role are merged (tool results
//! answering one model turn become one user content with a `functionResponse` part each,
//! first in their turn). Gemini names a function response by its function, which a tool message
//! does not carry: it is found from the assistant tool call the message answers.

use crate::error::AttemptError;
use crate::translate::{plain_text, push_merged};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The signature Gemini documents for a function call it did not sign (a history written
/// elsewhere): without one, Gemini 3 refuses a turn's calls with a 400.
pub(crate) const NO_SIGNATURE: &str = "skip_thought_signature_validator";

/// The system text (system and developer messages, joined wherever they appear) and the
/// contents of a chat conversation.
pub(crate) fn turns(messages: &[Value]) -> Result<(String, Vec<Value>), AttemptError> {
    let mut system = String::new();
    let mut contents: Vec<Value> = Vec::with_capacity(messages.len());
    // Tool call id → function name, from the assistant turns read so far.
    let mut names: HashMap<&str, &str> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let (role, parts) = match role {
            "system" | "developer" => {
                let text = plain_text(m.get("content"), i)?;
                if !text.is_empty() {
                    if !system.is_empty() {
                        system.push_str("\n\n");
                    }
                    system.push_str(&text);
                }
                continue;
            }
            "user" => ("user", user_parts(m.get("content"), i)?),
            "assistant" => ("model", model_parts(m, i, &mut names)?),
            "tool" => ("user", vec![tool_result(m, i, &names)?]),
            "function" => ("user", vec![function_result(m, i)?]),
            other => {
                return Err(AttemptError::invalid(format!(
                    "messages[{i}]: role '{other}' is not supported"
                )))
            }
        };
        if parts.is_empty() {
            continue; // Gemini refuses a content without parts
        }
        push_merged(&mut contents, role, "parts", parts, is_response);
    }
    Ok((system, contents))
}

fn is_response(part: &Value) -> bool {
    part.get("functionResponse").is_some()
}

fn text_part(text: &str) -> Value {
    json!({ "text": text })
}

fn user_parts(content: Option<&Value>, i: usize) -> Result<Vec<Value>, AttemptError> {
    let parts = match content {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::String(s)) if s.is_empty() => return Ok(vec![]),
        Some(Value::String(s)) => return Ok(vec![text_part(s)]),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(AttemptError::invalid(format!(
                "messages[{i}].content must be text or a list of parts"
            )))
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p.get("type").and_then(Value::as_str) {
            Some("text") => {
                let t = p.get("text").and_then(Value::as_str).unwrap_or("");
                if !t.is_empty() {
                    out.push(text_part(t));
                }
            }
            Some("image_url") => {
                let url = p
                    .pointer("/image_url/url")
                    .or_else(|| p.get("image_url"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                out.push(image(url, i)?);
            }
            other => {
                return Err(AttemptError::unsupported(format!(
                    "messages[{i}]: content parts of type '{}' are not supported by this backend (text and image_url are)",
                    other.unwrap_or("?")
                )))
            }
        }
    }
    Ok(out)
}

/// An image: a base64 `data:` URI is sent inline, an http(s) URL by reference.
fn image(url: &str, i: usize) -> Result<Value, AttemptError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (header, data) = rest.split_once(',').ok_or_else(|| {
            AttemptError::invalid(format!("messages[{i}]: the image's data URI has no data"))
        })?;
        let Some(header) = header.strip_suffix(";base64") else {
            return Err(AttemptError::unsupported(format!(
                "messages[{i}]: an image data URI must be base64-encoded"
            )));
        };
        let mime = header.split(';').next().unwrap_or("");
        let mime = if mime.is_empty() { "image/jpeg" } else { mime };
        return Ok(json!({"inlineData": {"mimeType": mime, "data": data}}));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(json!({"fileData": {"mimeType": mime_of_url(url), "fileUri": url}}));
    }
    Err(AttemptError::unsupported(format!(
        "messages[{i}]: an image must be a data: URI or an http(s) URL"
    )))
}

/// The media type an image URL's extension names; JPEG when it names none known.
fn mime_of_url(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or("");
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        _ => "image/jpeg",
    }
}

/// An assistant message as model parts: its text, then a `functionCall` per tool call.
fn model_parts<'m>(
    m: &'m Value,
    i: usize,
    names: &mut HashMap<&'m str, &'m str>,
) -> Result<Vec<Value>, AttemptError> {
    let mut parts = Vec::new();
    for key in ["refusal", "content"] {
        let text = plain_text(m.get(key), i)?;
        if !text.is_empty() {
            parts.push(text_part(&text));
        }
    }
    let calls = m.get("tool_calls").and_then(Value::as_array);
    let legacy = m.get("function_call").filter(|f| f.is_object());
    let first_call = parts.len();
    for (j, call) in calls.into_iter().flatten().enumerate() {
        if call
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("function")
            != "function"
        {
            return Err(AttemptError::unsupported(format!(
                "messages[{i}].tool_calls[{j}]: only function tool calls are supported by this backend"
            )));
        }
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(id) = call.get("id").and_then(Value::as_str) {
            names.insert(id, name);
        }
        let mut part = function_call(call.get("function"), i)?;
        // Sent back as Gemini's own OpenAI-compatible API hands it out.
        if let Some(sig) = call
            .pointer("/extra_content/google/thought_signature")
            .and_then(Value::as_str)
        {
            part["thoughtSignature"] = sig.into();
        }
        parts.push(part);
    }
    if let Some(f) = legacy {
        parts.push(function_call(Some(f), i)?);
    }
    let calls = &mut parts[first_call..];
    if !calls.is_empty() && calls.iter().all(|p| p.get("thoughtSignature").is_none()) {
        // One signature per turn, on its first call, as Gemini itself sends them.
        calls[0]["thoughtSignature"] = NO_SIGNATURE.into();
    }
    Ok(parts)
}

/// A `functionCall` part from an OpenAI `function` object (`name`, `arguments` as JSON text).
fn function_call(f: Option<&Value>, i: usize) -> Result<Value, AttemptError> {
    let name = f
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let args = f
        .and_then(|f| f.get("arguments"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let args: Value = if args.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(args).map_err(|_| {
            AttemptError::invalid(format!(
                "messages[{i}]: the arguments of tool call '{name}' are not valid JSON"
            ))
        })?
    };
    if !args.is_object() {
        return Err(AttemptError::invalid(format!(
            "messages[{i}]: the arguments of tool call '{name}' must be a JSON object"
        )));
    }
    Ok(json!({"functionCall": {"name": name, "args": args}}))
}

/// A tool's output as a `functionResponse`: JSON object output as is, other text wrapped.
fn response_of(text: String) -> Value {
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": text }),
    }
}

fn tool_result(m: &Value, i: usize, names: &HashMap<&str, &str>) -> Result<Value, AttemptError> {
    let id = m
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            AttemptError::invalid(format!("messages[{i}]: a tool message needs tool_call_id"))
        })?;
    // Gemini matches a response to its call by the function's name, which a tool message
    // does not carry.
    let name = names.get(id).ok_or_else(|| {
        AttemptError::invalid(format!(
            "messages[{i}]: tool_call_id '{id}' answers no tool call of an earlier assistant message"
        ))
    })?;
    let response = response_of(plain_text(m.get("content"), i)?);
    Ok(json!({"functionResponse": {"name": name, "response": response}}))
}

/// A legacy `function` message, which names its function.
fn function_result(m: &Value, i: usize) -> Result<Value, AttemptError> {
    let name = m.get("name").and_then(Value::as_str).ok_or_else(|| {
        AttemptError::invalid(format!("messages[{i}]: a function message needs a name"))
    })?;
    let response = response_of(plain_text(m.get("content"), i)?);
    Ok(json!({"functionResponse": {"name": name, "response": response}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::request::tests::{refused, run};

    #[test]
    fn a_tool_round_trip_finds_names_and_merges_results() {
        let g = run(json!({"model": "r", "messages": [
            {"role": "user", "content": "Weather in Oslo and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "time", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{\"sky\":\"rain\"}"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "noon"}]},
            {"role": "user", "content": "And tomorrow?"}],
            "tools": [{"type": "function", "function": {"name": "weather", "description": "forecast",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "time"}}],
            "tool_choice": "required", "parallel_tool_calls": false}))
        .unwrap();
        let c = g["contents"].as_array().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[1]["role"], "model");
        assert_eq!(
            c[1]["parts"],
            json!([{"text": "Checking."},
                {"functionCall": {"name": "weather", "args": {"city": "Oslo"}},
                 "thoughtSignature": NO_SIGNATURE},
                {"functionCall": {"name": "time", "args": {}}}])
        );
        assert_eq!(c[2]["role"], "user");
        assert_eq!(
            c[2]["parts"],
            json!([{"functionResponse": {"name": "weather", "response": {"sky": "rain"}}},
                {"functionResponse": {"name": "time", "response": {"content": "noon"}}},
                {"text": "And tomorrow?"}])
        );
        assert_eq!(
            g["tools"],
            json!([{"functionDeclarations": [
                {"name": "weather", "description": "forecast",
                 "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}},
                {"name": "time"}]}])
        );
        assert_eq!(
            g["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY"}})
        );
    }

    #[test]
    fn an_unknown_tool_call_id_is_refused() {
        let msg = refused(run(json!({"model": "r", "messages": [
            {"role": "user", "content": "x"},
            {"role": "tool", "tool_call_id": "nope", "content": "1"}]})));
        assert!(msg.contains("'nope'"), "{msg}");
        let msg = refused(run(json!({"model": "r", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                "function": {"name": "f", "arguments": "{oops"}}]}]})));
        assert!(msg.contains("not valid JSON"), "{msg}");
    }

    #[test]
    fn consecutive_turns_of_one_role_are_merged() {
        let g = run(json!({"model": "r", "messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "b"}]},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "c"},
            {"role": "assistant", "content": "d"}]}))
        .unwrap();
        assert_eq!(
            g["contents"],
            json!([{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
                {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]}])
        );
    }

    #[test]
    fn images_go_inline_or_by_url_and_other_parts_are_refused() {
        let g = run(json!({"model": "r", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://x.test/a/cat.WEBP?sig=1", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://x.test/photo"}}]}]}))
        .unwrap();
        assert_eq!(
            g["contents"][0]["parts"],
            json!([{"text": "What is this?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/a/cat.WEBP?sig=1"}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/photo"}}])
        );
        let msg = refused(run(
            json!({"model": "r", "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}),
        ));
        assert!(msg.contains("input_audio"), "{msg}");
        let msg = refused(run(
            json!({"model": "r", "messages": [{"role": "user", "content": [
            {"type": "file", "file": {"file_id": "file-1"}}]}]}),
        ));
        assert!(msg.contains("'file'"), "{msg}");
        refused(run(
            json!({"model": "r", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}),
        ));
        refused(run(
            json!({"model": "r", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}]}]}),
        ));
    }

    #[test]
    fn thought_signatures_are_sent_back_or_skipped() {
        let body = json!({"model": "r", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "a", "content": "1"},
            {"role": "tool", "tool_call_id": "b", "content": "2"},
            {"role": "assistant", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "g", "arguments": "{}"},
                 "extra_content": {"google": {"thought_signature": "c2ln"}}}]},
            {"role": "tool", "tool_call_id": "c", "content": "3"}]});
        let g = run(body).unwrap();
        let c = &g["contents"];
        assert_eq!(c[1]["parts"][0]["thoughtSignature"], NO_SIGNATURE);
        assert!(c[1]["parts"][1].get("thoughtSignature").is_none());
        assert_eq!(c[3]["parts"][0]["thoughtSignature"], "c2ln");
    }

    #[test]
    fn legacy_function_messages_name_their_function() {
        let g = run(json!({"model": "r", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": null,
             "function_call": {"name": "f", "arguments": "{\"a\":1}"}},
            {"role": "function", "name": "f", "content": "done"}]}))
        .unwrap();
        assert_eq!(
            g["contents"][1]["parts"],
            json!([{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": NO_SIGNATURE}])
        );
        assert_eq!(
            g["contents"][2]["parts"],
            json!([{"functionResponse": {"name": "f", "response": {"content": "done"}}}])
        );
    }
}
