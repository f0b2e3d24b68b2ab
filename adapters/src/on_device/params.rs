//! Reads what the engine honours from an OpenAI chat request, and refuses clearly what it
//! cannot serve.

use crate::error::AttemptError;
use crate::request::ChatRequest;
use serde_json::{json, Value};
use std::collections::HashMap;

/// OpenAI's bound on `logit_bias` values.
const MAX_BIAS: f64 = 100.0;
/// More stop strings than this is a client error, not a use case.
const MAX_STOPS: usize = 16;

/// One message ready for the chat template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub role: String,
    pub content: String,
}

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sampling {
    /// Always the most likely token (`temperature: 0`).
    Greedy,
    /// Seeded sampling after top-k, top-p and temperature.
    Random {
        temperature: f32,
        top_k: Option<i32>,
        top_p: Option<f32>,
        seed: u32,
    },
}

/// Everything about one request's generation except its prompt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GenParams {
    pub max_tokens: Option<u32>,
    pub sampling: Sampling,
    pub stops: Vec<String>,
    pub logit_bias: Vec<(i32, f32)>,
}

pub(crate) fn rejected(code: &'static str, message: impl Into<String>) -> AttemptError {
    AttemptError::Rejected {
        status: 400,
        message: message.into(),
        code,
    }
}

/// The conversation, with `developer` turned into `system`, text parts joined, and tool calls
/// and their results written as the model writes and reads them (see `tools`). Consecutive
/// tool results become one user turn, since templates expect turns to alternate.
pub(crate) fn messages(req: &ChatRequest) -> Result<Vec<Message>, AttemptError> {
    let Some(Value::Array(items)) = req.body.get("messages") else {
        return Err(rejected("invalid_messages", "'messages' must be an array"));
    };
    // Tool results name their call by id; the model is told the tool's name.
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut out: Vec<Message> = Vec::with_capacity(items.len());
    let mut results_open = false;
    for (i, m) in items.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        let mut next = message(i, role, m)?;
        match role {
            "assistant" => next.content = with_calls(i, m, next.content, &mut names)?,
            "tool" | "function" => {
                let name = match role {
                    "tool" => m
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .and_then(|id| names.get(id).copied()),
                    _ => m.get("name").and_then(Value::as_str),
                };
                let result = result_text(name, &next.content);
                if results_open {
                    if let Some(last) = out.last_mut() {
                        last.content.push('\n');
                        last.content.push_str(&result);
                        continue;
                    }
                }
                next.content = result;
            }
            _ => {}
        }
        results_open = matches!(role, "tool" | "function");
        out.push(next);
    }
    Ok(out)
}

/// An assistant turn's text followed by its calls, if it made any.
fn with_calls<'a>(
    i: usize,
    m: &'a Value,
    content: String,
    names: &mut HashMap<&'a str, &'a str>,
) -> Result<String, AttemptError> {
    let mut calls = Vec::new();
    let bad = |what: &str| {
        rejected(
            "invalid_messages",
            format!("messages[{i}]: {what} must have a function name and arguments"),
        )
    };
    if let Some(list) = m.get("tool_calls").and_then(Value::as_array) {
        for call in list {
            let (Some(name), Some(arguments)) = (
                call.pointer("/function/name").and_then(Value::as_str),
                call.pointer("/function/arguments").and_then(Value::as_str),
            ) else {
                return Err(bad("each tool call"));
            };
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                names.insert(id, name);
            }
            calls.push((name.to_string(), arguments.to_string()));
        }
    }
    if let Some(f) = m.get("function_call").filter(|f| !f.is_null()) {
        let (Some(name), Some(arguments)) = (
            f.get("name").and_then(Value::as_str),
            f.get("arguments").and_then(Value::as_str),
        ) else {
            return Err(bad("function_call"));
        };
        calls.push((name.to_string(), arguments.to_string()));
    }
    Ok(if calls.is_empty() {
        content
    } else {
        calls_text(&content, &calls)
    })
}

fn message(i: usize, role: &str, m: &Value) -> Result<Message, AttemptError> {
    let role = match role {
        "system" | "developer" => "system",
        "user" | "tool" | "function" => "user",
        "assistant" => "assistant",
        other => {
            return Err(rejected(
                "unsupported_role",
                format!(
                    "messages[{i}]: role '{other}' is not supported by the on-device model \
                     (supported: system, developer, user, assistant, tool, function)"
                ),
            ))
        }
    };
    let content = match m.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                let ty = part.get("type").and_then(Value::as_str).unwrap_or_default();
                let field = match ty {
                    "text" => "text",
                    "refusal" => "refusal",
                    other => {
                        return Err(rejected(
                            "unsupported_content",
                            format!(
                                "messages[{i}].content[{j}]: content of type '{other}' is not \
                                 supported by the on-device model (text only)"
                            ),
                        ))
                    }
                };
                text.push_str(part.get(field).and_then(Value::as_str).unwrap_or_default());
            }
            text
        }
        Some(_) => {
            return Err(rejected(
                "invalid_messages",
                format!("messages[{i}].content must be a string or an array of parts"),
            ))
        }
    };
    if content.contains('\0') {
        return Err(rejected(
            "invalid_messages",
            format!("messages[{i}].content contains a NUL character"),
        ));
    }
    Ok(Message {
        role: role.to_string(),
        content,
    })
}

/// An assistant turn's calls as the model writes them, after any text of that turn.
fn calls_text(content: &str, calls: &[(String, String)]) -> String {
    // Written by hand so that the name comes first, as the grammar has the model write it.
    let calls: Vec<String> = calls
        .iter()
        .map(|(name, arguments)| {
            // Arguments the client sends back as they were given are JSON; keep anything
            // else as a string rather than lose it.
            let arguments = serde_json::from_str::<Value>(arguments)
                .unwrap_or_else(|_| Value::String(arguments.clone()));
            format!(
                r#"{{"name":{},"arguments":{arguments}}}"#,
                Value::String(name.clone())
            )
        })
        .collect();
    let calls = format!(r#"{{"tool_calls":[{}]}}"#, calls.join(","));
    if content.is_empty() {
        calls
    } else {
        format!("{content}\n{calls}")
    }
}

/// A tool result as the model is told it.
fn result_text(name: Option<&str>, content: &str) -> String {
    json!({"tool_response": {"name": name, "content": content}}).to_string()
}

/// Sampling and stopping parameters; `n_vocab` bounds `logit_bias` token ids.
pub(crate) fn gen_params(
    req: &ChatRequest,
    n_vocab: i32,
    fallback_seed: u32,
) -> Result<GenParams, AttemptError> {
    let body = &req.body;
    let number = |key: &str| body.get(key).filter(|v| !v.is_null());

    if let Some(n) = number("n") {
        if n.as_u64() != Some(1) {
            return Err(rejected(
                "unsupported_parameter",
                format!("n = {n} is not supported by the on-device model: only n = 1"),
            ));
        }
    }
    let max_tokens = req.max_completion_tokens();
    if max_tokens == Some(0) {
        return Err(rejected(
            "invalid_parameter",
            "max_tokens must be at least 1",
        ));
    }

    let float = |key: &str| -> Result<Option<f64>, AttemptError> {
        match number(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| rejected("invalid_parameter", format!("{key} must be a number"))),
        }
    };
    let temperature = float("temperature")?.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(rejected(
            "invalid_parameter",
            format!("temperature must be between 0 and 2, not {temperature}"),
        ));
    }
    let top_p = float("top_p")?;
    if let Some(p) = top_p {
        if !(p > 0.0 && p <= 1.0) {
            return Err(rejected(
                "invalid_parameter",
                format!("top_p must be in (0, 1], not {p}"),
            ));
        }
    }
    let top_k = match number("top_k") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(0) => None,
            Some(k) => Some(i32::try_from(k).unwrap_or(i32::MAX)),
            None => {
                return Err(rejected(
                    "invalid_parameter",
                    "top_k must be a non-negative integer",
                ))
            }
        },
    };
    let seed = match number("seed") {
        None => fallback_seed,
        // The sampler takes 32 bits; fold the rest in so distinct seeds stay distinct.
        Some(v) => match v.as_i64() {
            Some(s) => (s as u64 ^ (s as u64 >> 32)) as u32,
            None => return Err(rejected("invalid_parameter", "seed must be an integer")),
        },
    };
    let sampling = if temperature == 0.0 {
        Sampling::Greedy
    } else {
        Sampling::Random {
            temperature: temperature as f32,
            top_k,
            top_p: top_p.map(|p| p as f32),
            seed,
        }
    };

    let stops = match number("stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| rejected("invalid_parameter", "stop must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(rejected(
                "invalid_parameter",
                "stop must be a string or an array of strings",
            ))
        }
    };
    if stops.len() > MAX_STOPS {
        return Err(rejected(
            "invalid_parameter",
            format!("at most {MAX_STOPS} stop strings are supported"),
        ));
    }

    let mut logit_bias = Vec::new();
    if let Some(bias) = number("logit_bias") {
        let Some(map) = bias.as_object() else {
            return Err(rejected(
                "invalid_logit_bias",
                "logit_bias must map token ids to numbers",
            ));
        };
        for (key, value) in map {
            let id: i32 = key
                .parse()
                .ok()
                .filter(|id| (0..n_vocab).contains(id))
                .ok_or_else(|| {
                    rejected(
                        "invalid_logit_bias",
                        format!(
                            "logit_bias key {key:?} is not a token id of this model \
                             (0..{n_vocab})"
                        ),
                    )
                })?;
            let b = value
                .as_f64()
                .filter(|b| (-MAX_BIAS..=MAX_BIAS).contains(b))
                .ok_or_else(|| {
                    rejected(
                        "invalid_logit_bias",
                        format!("logit_bias[{key}] must be a number between -100 and 100"),
                    )
                })?;
            logit_bias.push((id, b as f32));
        }
    }

    Ok(GenParams {
        max_tokens,
        sampling,
        stops,
        logit_bias,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> ChatRequest {
        ChatRequest::parse(json.as_bytes()).unwrap()
    }

    fn code(e: AttemptError) -> &'static str {
        match e {
            AttemptError::Rejected {
                status: 400, code, ..
            } => code,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_honoured_fields() {
        let r = req(r#"{"model":"m","messages":[{"role":"user","content":"hi"}],
            "max_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":40,"seed":3,
            "stop":["a","b"],"logit_bias":{"4":100,"10":-5}}"#);
        let p = gen_params(&r, 768, 99).unwrap();
        assert_eq!(p.max_tokens, Some(7));
        assert_eq!(
            p.sampling,
            Sampling::Random {
                temperature: 0.5,
                top_k: Some(40),
                top_p: Some(0.9),
                seed: 3
            }
        );
        assert_eq!(p.stops, ["a", "b"]);
        let mut bias = p.logit_bias.clone();
        bias.sort_by_key(|b| b.0);
        assert_eq!(bias, [(4, 100.0), (10, -5.0)]);
    }

    #[test]
    fn temperature_zero_is_greedy_and_stop_may_be_one_string() {
        let r = req(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0,"stop":"x"}"#,
        );
        let p = gen_params(&r, 768, 1).unwrap();
        assert_eq!(p.sampling, Sampling::Greedy);
        assert_eq!(p.stops, ["x"]);
    }

    #[test]
    fn refuses_what_cannot_be_served() {
        let base = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]"#;
        for (extra, want) in [
            (r#","n":2"#, "unsupported_parameter"),
            (r#","logit_bias":{"9999":1}"#, "invalid_logit_bias"),
            (r#","logit_bias":{"4":101}"#, "invalid_logit_bias"),
            (r#","logit_bias":{"x":1}"#, "invalid_logit_bias"),
            (r#","temperature":3"#, "invalid_parameter"),
            (r#","top_p":0"#, "invalid_parameter"),
            (r#","max_tokens":0"#, "invalid_parameter"),
        ] {
            let r = req(&format!("{base}{extra}}}"));
            assert_eq!(code(gen_params(&r, 768, 1).unwrap_err()), want, "{extra}");
        }
    }

    #[test]
    fn messages_map_roles_and_join_text_parts() {
        let r = req(
            r#"{"model":"m","messages":[{"role":"developer","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
            {"role":"assistant","content":null}]}"#,
        );
        let m = messages(&r).unwrap();
        assert_eq!(
            m[0],
            Message {
                role: "system".into(),
                content: "be brief".into()
            }
        );
        assert_eq!(m[1].content, "ab");
        assert_eq!(m[2].content, "");
    }

    #[test]
    fn tool_calls_and_results_are_written_as_the_model_writes_them() {
        let r = req(
            r#"{"model":"m","messages":[{"role":"user","content":"weather?"},
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}},
                {"id":"c2","type":"function","function":{"name":"time","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"5 C"},
            {"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"noon"}]},
            {"role":"user","content":"thanks"}]}"#,
        );
        let m = messages(&r).unwrap();
        assert_eq!(m.len(), 4, "{m:?}");
        assert_eq!(
            m[1].content,
            r#"{"tool_calls":[{"name":"weather","arguments":{"city":"Oslo"}},{"name":"time","arguments":{}}]}"#
        );
        assert_eq!(m[2].role, "user");
        assert_eq!(
            m[2].content,
            "{\"tool_response\":{\"content\":\"5 C\",\"name\":\"weather\"}}\n\
             {\"tool_response\":{\"content\":\"noon\",\"name\":\"time\"}}"
        );
        assert_eq!(m[3].content, "thanks");
    }

    #[test]
    fn messages_refuse_images() {
        let r = req(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]}"#,
        );
        let e = messages(&r).unwrap_err();
        assert!(e.to_string().contains("image_url"), "{e}");
        assert_eq!(code(e), "unsupported_content");
    }
}
