//! Chat answers as Responses API objects: output items, statuses and usage.

use super::Context;
use crate::dialect::chat::{Completion, Finish};
use crate::reply::Usage;
use bytes::Bytes;
use serde_json::{json, Value};

/// The Responses usage object.
pub fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    })
}

/// An output message item.
pub fn message_item(id: &str, text: &str, done: bool) -> Value {
    let content = if done {
        json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}])
    } else {
        json!([])
    };
    json!({
        "id": id, "type": "message", "role": "assistant",
        "status": if done { "completed" } else { "in_progress" },
        "content": content,
    })
}

/// An output tool call item: a `function_call`, or a `custom_tool_call` for a custom tool
/// (whose one string argument is its input).
pub fn call_item(
    cx: &Context,
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    done: bool,
) -> Value {
    let status = if done { "completed" } else { "in_progress" };
    if cx.custom_tools.iter().any(|t| t == name) {
        return json!({
            "id": id, "type": "custom_tool_call", "status": status,
            "call_id": call_id, "name": name, "input": custom_input(arguments),
        });
    }
    json!({
        "id": id, "type": "function_call", "status": status,
        "call_id": call_id, "name": name, "arguments": arguments,
    })
}

/// The `input` a custom tool's call carries, from the arguments of the function it became.
pub fn custom_input(arguments: &str) -> String {
    serde_json::from_str::<Value>(arguments)
        .ok()
        .and_then(|v| v.get("input").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| arguments.to_string())
}

/// The Response object: `status` `in_progress`, `completed`, `incomplete` or `failed`.
pub fn response(
    cx: &Context,
    status: &str,
    output: &[Value],
    usage: Option<Usage>,
    finish: Finish,
) -> Value {
    let mut r = cx.echo.clone();
    r.insert("id".into(), cx.id.clone().into());
    r.insert("object".into(), "response".into());
    r.insert("created_at".into(), cx.created_at.into());
    r.insert("status".into(), status.into());
    r.insert("output".into(), Value::Array(output.to_vec()));
    r.insert("usage".into(), usage.map_or(Value::Null, usage_json));
    r.insert("error".into(), Value::Null);
    let incomplete = (status == "incomplete").then(|| {
        let reason = if finish == Finish::ContentFilter {
            "content_filter"
        } else {
            "max_output_tokens"
        };
        json!({"reason": reason})
    });
    r.insert(
        "incomplete_details".into(),
        incomplete.unwrap_or(Value::Null),
    );
    r.insert("previous_response_id".into(), Value::Null);
    r.insert("store".into(), false.into());
    r.entry("tools").or_insert_with(|| json!([]));
    r.entry("tool_choice").or_insert_with(|| json!("auto"));
    r.entry("parallel_tool_calls")
        .or_insert_with(|| json!(true));
    Value::Object(r)
}

/// The status a finished answer has.
pub fn final_status(finish: Finish) -> &'static str {
    match finish {
        Finish::Length | Finish::ContentFilter => "incomplete",
        _ => "completed",
    }
}

/// The whole Response for a whole chat answer.
pub fn from_chat(body: &[u8], cx: &Context) -> Result<Bytes, String> {
    let mut chat: Completion =
        serde_json::from_slice(body).map_err(|e| format!("not a chat completion: {e}"))?;
    let usage = chat.usage();
    let mut output = Vec::new();
    let mut finish = Finish::Stop;
    if let Some(c) = chat.choices.first() {
        finish = c
            .finish_reason
            .as_deref()
            .map_or(Finish::Stop, Finish::parse);
        let m = &c.message;
        let text = m.refusal.as_deref().or(m.content.as_deref()).unwrap_or("");
        if !text.is_empty() {
            output.push(message_item(
                &format!("msg_{}", cx.id.trim_start_matches("resp_")),
                text,
                true,
            ));
        }
        for (k, call) in m.tool_calls.iter().enumerate() {
            let id = format!("fc_{}_{k}", cx.id.trim_start_matches("resp_"));
            output.push(call_item(
                cx,
                &id,
                &call.id,
                &call.function.name,
                &call.function.arguments,
                true,
            ));
        }
    }
    let r = response(cx, final_status(finish), &output, usage, finish);
    Ok(Bytes::from(r.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_answer_becomes_a_response() {
        let body = json!({"model": "coder", "input": "x", "tools": [{"type": "custom", "name": "apply_patch"}]});
        let (_, cx) =
            super::super::to_chat(body.to_string().as_bytes(), "resp_1".into(), 7).unwrap();
        let body = br#"{"id":"chatcmpl-1","choices":[{"message":{"content":"ok","tool_calls":[{"id":"c9","function":{"name":"apply_patch","arguments":"{\"input\":\"P\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#;
        let v: Value = serde_json::from_slice(&from_chat(body, &cx).unwrap()).unwrap();
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["output"][0]["content"][0]["text"], "ok");
        assert_eq!(v["output"][1]["type"], "custom_tool_call");
        assert_eq!(v["output"][1]["input"], "P");
        assert_eq!(v["usage"]["total_tokens"], 7);
        let cut = br#"{"choices":[{"message":{"content":"par"},"finish_reason":"length"}]}"#;
        let v: Value = serde_json::from_slice(&from_chat(cut, &cx).unwrap()).unwrap();
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
    }
}
