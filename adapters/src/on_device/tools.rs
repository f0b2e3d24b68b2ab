//! Tool calling on the device, in the model-independent form llama.cpp's server calls
//! "generic": the tools are described to the model in a system message, and the answer is one
//! JSON object, either `{"tool_calls": [{"name": …, "arguments": {…}}]}` or
//! `{"response": …}`, which a grammar built from the tools' schemas enforces token by token.
//! So any chat model can call tools, every call names a tool the client offered, and its
//! arguments always parse and match what the grammar can enforce of their schema.
//!
//! Earlier turns are written back in the same form (`params`), so the model sees its own calls
//! and their results as it would have written them.

use super::params::{rejected, Message};
use super::structured;
use crate::error::AttemptError;
use serde_json::{json, Map, Value};

/// How a request's answer may use its tools.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Choice {
    /// A call or a reply, as the model decides.
    Auto,
    /// At least one call.
    Required,
    /// A call of this tool.
    Named(String),
}

/// One tool as offered to the model.
#[derive(Debug, Clone)]
struct Tool {
    name: String,
    description: Option<String>,
    parameters: Value,
    strict: bool,
}

/// What a request with tools asks of the engine.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The grammar of the answer.
    pub grammar: String,
    /// The system text that describes the tools and the answer's form.
    preamble: String,
    /// The request used the legacy `functions` form: answered with `function_call`.
    pub legacy: bool,
}

/// The plan of a request that offers tools; `None` when it offers none or rules them out
/// (`tool_choice: "none"`), so the answer is plain text.
pub(crate) fn plan(body: &Map<String, Value>) -> Result<Option<Plan>, AttemptError> {
    let (tools, choice, legacy) = match read_tools(body)? {
        Some(t) => t,
        None => return Ok(None),
    };
    let Some(choice) = choice else {
        return Ok(None);
    };
    // Legacy functions answer one call at a time; OpenAI's default for tools is parallel.
    let parallel =
        !legacy && body.get("parallel_tool_calls").and_then(Value::as_bool) != Some(false);
    let answer = structured::answer_schema(body.get("response_format")).map_err(|why| {
        rejected(
            "unsupported_schema",
            format!("response_format cannot be enforced by the on-device model: {why}"),
        )
    })?;
    let schema = answer_schema(&tools, &choice, parallel, answer.as_ref())?;
    let grammar = structured::grammar_of(&schema).map_err(|why| {
        rejected(
            "unsupported_schema",
            format!("the tools' parameters cannot be enforced by the on-device model: {why}"),
        )
    })?;
    Ok(Some(Plan {
        grammar,
        preamble: preamble(&tools, &choice, parallel),
        legacy,
    }))
}

/// The request's tools and how they may be used (`None` for `"none"`), from `tools` and
/// `tool_choice` or the legacy `functions` and `function_call`.
#[allow(clippy::type_complexity)]
fn read_tools(
    body: &Map<String, Value>,
) -> Result<Option<(Vec<Tool>, Option<Choice>, bool)>, AttemptError> {
    let listed = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
    };
    let (items, legacy) = match (listed("tools"), listed("functions")) {
        (Some(t), _) => (t, false),
        (None, Some(f)) => (f, true),
        (None, None) => return Ok(None),
    };
    let mut tools = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (at, function) = if legacy {
            (format!("functions[{i}]"), item)
        } else {
            let ty = item.get("type").and_then(Value::as_str).unwrap_or_default();
            if ty != "function" {
                return Err(rejected(
                    "unsupported_parameter",
                    format!(
                        "tools[{i}]: tools of type {ty:?} are not supported by the on-device \
                         model (function tools only)"
                    ),
                ));
            }
            (format!("tools[{i}].function"), &item["function"])
        };
        let Some(name) = function.get("name").and_then(Value::as_str) else {
            return Err(rejected(
                "invalid_parameter",
                format!("{at}.name is missing"),
            ));
        };
        if tools.iter().any(|t: &Tool| t.name == name) {
            return Err(rejected(
                "invalid_parameter",
                format!("{at}: the tool name {name:?} is given twice"),
            ));
        }
        tools.push(Tool {
            name: name.to_string(),
            description: function
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            // OpenAI reads a missing schema as a function without parameters.
            parameters: function
                .get("parameters")
                .filter(|p| !p.is_null())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            strict: function.get("strict").and_then(Value::as_bool) == Some(true),
        });
    }
    let key = if legacy {
        "function_call"
    } else {
        "tool_choice"
    };
    let named = |name: Option<&str>| -> Result<Option<Choice>, AttemptError> {
        match name {
            Some(n) if tools.iter().any(|t| t.name == n) => Ok(Some(Choice::Named(n.into()))),
            Some(n) => Err(rejected(
                "invalid_parameter",
                format!("{key} names {n:?}, which is not one of the request's tools"),
            )),
            None => Err(rejected(
                "invalid_parameter",
                format!("{key} must name a function"),
            )),
        }
    };
    let choice = match body.get(key).filter(|v| !v.is_null()) {
        None => Some(Choice::Auto),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(Choice::Auto),
            "none" => None,
            "required" if !legacy => Some(Choice::Required),
            other => {
                return Err(rejected(
                    "invalid_parameter",
                    format!("{key} {other:?} is not known"),
                ))
            }
        },
        Some(v) if legacy => named(v.get("name").and_then(Value::as_str))?,
        Some(v) => named(v.pointer("/function/name").and_then(Value::as_str))?,
    };
    Ok(Some((tools, choice, legacy)))
}

/// The JSON schema of the answer, keys in the order the model should write them (the tool's
/// name before its arguments), written by hand because a JSON map here sorts its keys.
fn answer_schema(
    tools: &[Tool],
    choice: &Choice,
    parallel: bool,
    answer: Option<&Value>,
) -> Result<String, AttemptError> {
    let mut defs = Map::new();
    let mut calls = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        if matches!(choice, Choice::Named(n) if *n != tool.name) {
            continue;
        }
        let (arguments, dropped) =
            structured::relax(&tool.parameters, &format!("t{i}_"), &mut defs);
        if tool.strict && !dropped.is_empty() {
            return Err(rejected(
                "unsupported_schema",
                format!(
                    "tool {:?} is strict, but the on-device model cannot enforce {} of its \
                     schema; route the request to a backend that enforces schemas itself",
                    tool.name,
                    dropped.join(", ")
                ),
            ));
        }
        calls.push(format!(
            r#"{{"type":"object","properties":{{"name":{{"const":{}}},"arguments":{}}},"required":["name","arguments"],"additionalProperties":false}}"#,
            Value::String(tool.name.clone()),
            arguments
        ));
    }
    let item = match calls.as_slice() {
        [one] => one.clone(),
        many => format!(r#"{{"anyOf":[{}]}}"#, many.join(",")),
    };
    let most = if parallel { "" } else { r#","maxItems":1"# };
    let call = format!(
        r#"{{"type":"object","properties":{{"tool_calls":{{"type":"array","items":{item},"minItems":1{most}}}}},"required":["tool_calls"],"additionalProperties":false}}"#
    );
    let root = match choice {
        Choice::Auto => {
            let reply = answer.map_or_else(|| json!({"type": "string"}), Value::clone);
            format!(
                r#"{{"anyOf":[{call},{{"type":"object","properties":{{"response":{reply}}},"required":["response"],"additionalProperties":false}}]"#
            )
        }
        Choice::Required | Choice::Named(_) => call[..call.len() - 1].to_string(),
    };
    Ok(format!("{root},\"$defs\":{}}}", Value::Object(defs)))
}

/// The system text that tells the model what it may call and how to answer.
fn preamble(tools: &[Tool], choice: &Choice, parallel: bool) -> String {
    let listed: Vec<Value> = tools
        .iter()
        .map(|t| {
            let mut v = json!({"name": t.name, "parameters": t.parameters});
            if let Some(d) = &t.description {
                v["description"] = Value::String(d.clone());
            }
            v
        })
        .collect();
    let calls = if parallel {
        r#"{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]} (one or more calls)"#
    } else {
        r#"{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]} (exactly one call)"#
    };
    let form = match choice {
        Choice::Auto => format!(
            "Answer with one JSON object and nothing else: either {calls} to call tools, or \
             {{\"response\": <your reply>}} to answer the user directly."
        ),
        Choice::Required => {
            format!("Answer with one JSON object and nothing else, calling tools: {calls}.")
        }
        Choice::Named(n) => format!(
            "Answer with one JSON object and nothing else, calling the tool {n:?}: {calls}."
        ),
    };
    format!(
        "You can call these tools; each has a JSON schema of its arguments:\n{}\n\n{form}\n\
         The results of tool calls come back as {{\"tool_response\": …}}.",
        Value::Array(listed)
    )
}

/// The conversation with the tools described in its system message.
pub(crate) fn describe(messages: &mut Vec<Message>, plan: &Plan) {
    match messages.first_mut() {
        Some(first) if first.role == "system" => {
            if !first.content.is_empty() {
                first.content.push_str("\n\n");
            }
            first.content.push_str(&plan.preamble);
        }
        _ => messages.insert(
            0,
            Message {
                role: "system".into(),
                content: plan.preamble.clone(),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(body: Value) -> Option<Plan> {
        plan(body.as_object().unwrap()).unwrap()
    }

    fn refusal(body: &Value) -> AttemptError {
        plan(body.as_object().unwrap()).unwrap_err()
    }

    fn weather() -> Value {
        json!({"type": "function", "function": {"name": "weather", "description": "Weather now",
            "parameters": {"type": "object", "properties": {"city": {"type": "string",
            "format": "city-name"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city"]}}})
    }

    #[test]
    fn no_tools_or_tool_choice_none_is_plain_text() {
        assert!(plan_of(json!({"messages": []})).is_none());
        assert!(plan_of(json!({"tools": []})).is_none());
        assert!(plan_of(json!({"tools": [weather()], "tool_choice": "none"})).is_none());
    }

    #[test]
    fn the_answer_schema_orders_name_before_arguments_and_moves_definitions() {
        let tools = vec![Tool {
            name: "f".into(),
            description: None,
            parameters: json!({"type": "object", "properties": {"p": {"$ref": "#/$defs/P"}},
                "$defs": {"P": {"type": "string", "pattern": "^a"}}}),
            strict: false,
        }];
        let s = answer_schema(&tools, &Choice::Required, false, None).unwrap();
        let name = s.find("\"name\"").unwrap();
        assert!(name < s.find("\"arguments\"").unwrap(), "{s}");
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["$defs"]["t0_P"]["pattern"], "^a");
        assert_eq!(
            v.pointer("/properties/tool_calls/items/properties/arguments/properties/p/$ref"),
            Some(&json!("#/$defs/t0_P"))
        );
        assert_eq!(v["properties"]["tool_calls"]["maxItems"], 1);
        structured::grammar_of(&s).unwrap();
    }

    #[test]
    fn auto_allows_a_reply_and_required_does_not() {
        let s = answer_schema(
            &read_tools(json!({"tools": [weather()]}).as_object().unwrap())
                .unwrap()
                .unwrap()
                .0,
            &Choice::Auto,
            true,
            None,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["anyOf"][1]["properties"]["response"]["type"], "string");
        assert!(v["anyOf"][0]["properties"]["tool_calls"]
            .get("maxItems")
            .is_none());
        let p = plan_of(json!({"tools": [weather()], "tool_choice": "required"})).unwrap();
        assert!(!p.grammar.contains("response"), "{}", p.grammar);
        assert!(p.preamble.contains("\"weather\""), "{}", p.preamble);
        assert!(p.preamble.contains("Weather now"), "{}", p.preamble);
    }

    #[test]
    fn unenforceable_keywords_are_relaxed_unless_the_tool_is_strict() {
        let mut strict = weather();
        strict["function"]["strict"] = json!(true);
        let e = refusal(&json!({"tools": [strict]}));
        assert!(
            e.to_string().contains("parameters.properties.city.format"),
            "{e}"
        );
        assert!(plan_of(json!({"tools": [weather()]})).is_some());
    }

    #[test]
    fn choices_and_bad_tools_are_checked() {
        let named = json!({"tools": [weather()],
            "tool_choice": {"type": "function", "function": {"name": "weather"}}});
        let p = plan_of(named).unwrap();
        assert!(p.preamble.contains("calling the tool \"weather\""));
        for (body, says) in [
            (
                json!({"tools": [weather()], "tool_choice": {"type": "function",
                    "function": {"name": "other"}}}),
                "not one of the request's tools",
            ),
            (json!({"tools": [weather(), weather()]}), "given twice"),
            (
                json!({"tools": [{"type": "custom", "name": "x"}]}),
                "function tools only",
            ),
            (
                json!({"tools": [weather()], "tool_choice": "sometimes"}),
                "not known",
            ),
        ] {
            let e = refusal(&body);
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
    }

    #[test]
    fn legacy_functions_call_one_at_a_time() {
        let p = plan_of(json!({"functions": [weather()["function"]],
            "function_call": {"name": "weather"}}))
        .unwrap();
        assert!(p.legacy);
        assert!(p.preamble.contains("exactly one call"));
    }

    #[test]
    fn the_tools_are_described_in_the_system_message() {
        let mut m = vec![Message {
            role: "user".into(),
            content: "hi".into(),
        }];
        describe(&mut m, &plan_of(json!({"tools": [weather()]})).unwrap());
        assert_eq!(m[0].role, "system");
        assert_eq!(m.len(), 2);
    }
}
