//! The request fields beside the turns: `generationConfig` (limits, sampling, stop sequences,
//! JSON output, thinking), and `tools` with the `toolConfig` that says how they may be called.

use crate::error::AttemptError;
use crate::translate::stop_sequences;
use serde_json::{json, Map, Value};

/// `generationConfig`: limits, sampling, stop sequences, JSON output and thinking. Penalties
/// are sent only when they are not zero: many Gemini models refuse any penalty with a 400
/// ("Penalty is not enabled"), and a zero one changes nothing.
pub(crate) fn generation_config(
    b: &Map<String, Value>,
) -> Result<Map<String, Value>, AttemptError> {
    let mut c = Map::new();
    let limit = b
        .get("max_completion_tokens")
        .filter(|v| v.is_u64())
        .or_else(|| b.get("max_tokens").filter(|v| v.is_u64()));
    if let Some(n) = limit {
        c.insert("maxOutputTokens".into(), n.clone());
    }
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("seed", "seed"),
    ] {
        if let Some(v) = b.get(from).filter(|v| v.is_number()) {
            c.insert(to.into(), v.clone());
        }
    }
    for (from, to) in [
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ] {
        if let Some(v) = b.get(from).filter(|v| v.as_f64().is_some_and(|f| f != 0.0)) {
            c.insert(to.into(), v.clone());
        }
    }
    if let Some(stops) = stop_sequences(b) {
        c.insert("stopSequences".into(), stops);
    }
    if let Some(rf) = b.get("response_format").filter(|v| !v.is_null()) {
        match rf.get("type").and_then(Value::as_str) {
            Some("text") | None => {}
            Some("json_object") => {
                c.insert("responseMimeType".into(), "application/json".into());
            }
            Some("json_schema") => {
                c.insert("responseMimeType".into(), "application/json".into());
                if let Some(schema) = rf.pointer("/json_schema/schema").filter(|s| s.is_object()) {
                    // `responseJsonSchema` takes JSON Schema as clients write it;
                    // `responseSchema` only Google's OpenAPI subset.
                    c.insert("responseJsonSchema".into(), schema.clone());
                }
            }
            Some(other) => {
                return Err(AttemptError::unsupported(format!(
                    "response_format '{other}' is not supported by this backend"
                )))
            }
        }
    }
    if let Some(effort) = b.get("reasoning_effort").and_then(Value::as_str) {
        c.insert("thinkingConfig".into(), thinking(effort)?);
    }
    Ok(c)
}

/// `reasoning_effort` as a `thinkingConfig` token budget. Gemini 2.5 takes only a budget;
/// Gemini 3 prefers a `thinkingLevel` but accepts a budget, so the budget serves both without
/// guessing a model's generation from its name (aliases such as `gemini-flash-latest` hide it).
fn thinking(effort: &str) -> Result<Value, AttemptError> {
    let budget = match effort {
        "none" => 0,
        "minimal" => 512,
        "low" => 1024,
        "medium" => 8192,
        "high" | "xhigh" | "max" => 24576,
        other => {
            return Err(AttemptError::invalid(format!(
                "reasoning_effort '{other}' is not known"
            )))
        }
    };
    Ok(json!({ "thinkingBudget": budget }))
}

/// `tools` as function declarations and `tool_choice` as the function calling mode.
pub(crate) fn tools(
    b: &Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), AttemptError> {
    let mut declarations = Vec::new();
    for (i, t) in b
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = t
            .get("function")
            .filter(|_| t.get("type").and_then(Value::as_str) == Some("function"))
            .ok_or_else(|| {
                AttemptError::unsupported(format!(
                    "tools[{i}]: only function tools are supported by this backend"
                ))
            })?;
        let mut d = Map::new();
        d.insert("name".into(), f.get("name").cloned().unwrap_or(Value::Null));
        if let Some(desc) = f.get("description").filter(|d| d.is_string()) {
            d.insert("description".into(), desc.clone());
        }
        // `parametersJsonSchema` (v1beta) takes JSON Schema as clients write it;
        // `parameters` takes only Google's OpenAPI subset.
        if let Some(p) = f.get("parameters").filter(|p| p.is_object()) {
            d.insert("parametersJsonSchema".into(), p.clone());
        }
        declarations.push(Value::Object(d));
    }
    if declarations.is_empty() {
        // Without tools there is nothing to choose from, so a tool_choice alone is dropped.
        return Ok(());
    }
    out.insert(
        "tools".into(),
        json!([{ "functionDeclarations": declarations }]),
    );
    let config = match b.get("tool_choice") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => json!({"mode": "AUTO"}),
            "required" => json!({"mode": "ANY"}),
            "none" => json!({"mode": "NONE"}),
            other => {
                return Err(AttemptError::invalid(format!(
                    "tool_choice '{other}' is not known"
                )))
            }
        },
        Some(v) => match v.get("type").and_then(Value::as_str) {
            Some("allowed_tools") => {
                let names: Vec<&str> = v
                    .pointer("/allowed_tools/tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
                    .collect();
                // VALIDATED: calls or text, calls limited to the names; ANY: calls only.
                let mode = match v.pointer("/allowed_tools/mode").and_then(Value::as_str) {
                    Some("required") => "ANY",
                    _ => "VALIDATED",
                };
                json!({"mode": mode, "allowedFunctionNames": names})
            }
            _ => match v.pointer("/function/name").and_then(Value::as_str) {
                Some(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
                None => return Err(AttemptError::invalid("tool_choice must name a function")),
            },
        },
    };
    out.insert(
        "toolConfig".into(),
        json!({ "functionCallingConfig": config }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::request::tests::run;

    #[test]
    fn tool_choice_modes() {
        let with = |choice: Value| {
            run(
                json!({"model": "r", "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": choice}),
            )
            .unwrap()["toolConfig"]["functionCallingConfig"]
                .clone()
        };
        assert_eq!(with(json!("none")), json!({"mode": "NONE"}));
        assert_eq!(with(json!("auto")), json!({"mode": "AUTO"}));
        assert_eq!(
            with(json!({"type": "function", "function": {"name": "f"}})),
            json!({"mode": "ANY", "allowedFunctionNames": ["f"]})
        );
        // A tool_choice without tools is dropped.
        let g = run(
            json!({"model": "r", "messages": [{"role": "user", "content": "x"}],
            "tool_choice": "none"}),
        )
        .unwrap();
        assert!(g.get("toolConfig").is_none());
    }

    #[test]
    fn generation_config_fields() {
        let g = run(
            json!({"model": "r", "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 10, "max_completion_tokens": 20, "temperature": 0.5, "top_p": 0.9,
            "top_k": 40, "seed": 7, "presence_penalty": 0.5, "frequency_penalty": 0,
            "stop": "END", "user": "u", "metadata": {"a": "b"}, "n": 1,
            "stream_options": {"include_usage": true}, "logprobs": false,
            "response_format": {"type": "json_schema", "json_schema": {"name": "s",
                "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}}}),
        )
        .unwrap();
        assert_eq!(
            g["generationConfig"],
            json!({"maxOutputTokens": 20, "temperature": 0.5, "topP": 0.9, "topK": 40,
                "seed": 7, "presencePenalty": 0.5, "stopSequences": ["END"],
                "responseMimeType": "application/json",
                "responseJsonSchema": {"type": "object", "properties": {"a": {"type": "integer"}}}})
        );
        assert_eq!(
            g.as_object().unwrap().len(),
            2,
            "only contents and generationConfig: {g}"
        );
        let g = run(
            json!({"model": "r", "messages": [{"role": "user", "content": "x"}],
            "stop": ["a", "b"], "response_format": {"type": "json_object"}}),
        )
        .unwrap();
        assert_eq!(
            g["generationConfig"],
            json!({"stopSequences": ["a", "b"], "responseMimeType": "application/json"})
        );
    }

    #[test]
    fn reasoning_effort_is_a_thinking_budget() {
        let effort = |e: &str| {
            run(
                json!({"model": "r", "messages": [{"role": "user", "content": "x"}],
                "reasoning_effort": e}),
            )
            .unwrap()["generationConfig"]["thinkingConfig"]
                .clone()
        };
        assert_eq!(effort("low"), json!({"thinkingBudget": 1024}));
        assert_eq!(effort("none"), json!({"thinkingBudget": 0}));
        assert_eq!(effort("high"), json!({"thinkingBudget": 24576}));
    }
}
