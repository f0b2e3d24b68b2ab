//! Structured output on the device: `response_format` becomes a grammar that llama.cpp's
//! sampler enforces token by token (its JSON-schema-to-grammar converter), so the answer
//! always parses and matches the schema, unless generation is cut by `max_tokens`.
//!
//! The converter enforces a subset of JSON Schema and silently ignores the rest. A schema
//! using any keyword outside that subset is therefore not served here: the gateway learns it
//! from [`output_form`] before choosing a backend, and routes to one that enforces schemas
//! itself.

use super::params::rejected;
use crate::error::AttemptError;
use serde_json::Value;

/// What a request's `response_format` asks of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputForm {
    /// Free text (no `response_format`, or `{"type": "text"}`).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema a grammar enforces.
    JsonSchema,
    /// JSON matching a schema a grammar cannot enforce; says which part.
    Unenforceable(String),
}

/// Keywords that describe and do not constrain.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "$schema",
    "$id",
    "$comment",
    "$anchor",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Constraints the converter turns into grammar rules.
const ENFORCED: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "$defs",
    "definitions",
    "pattern",
    "minLength",
    "maxLength",
    "format",
];

/// Bounds the converter enforces for integers only.
const INTEGER_BOUNDS: &[&str] = &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];

/// String formats the converter has rules for.
const FORMATS: &[&str] = &[
    "date",
    "time",
    "date-time",
    "uuid",
    "uuid1",
    "uuid2",
    "uuid3",
    "uuid4",
    "uuid5",
];

/// The form of a chat request's answer, judged from its `response_format`.
pub fn output_form(response_format: Option<&Value>) -> OutputForm {
    match schema_of(response_format) {
        Ok(None) => OutputForm::Text,
        Ok(Some(Schema::AnyObject)) => OutputForm::JsonObject,
        Ok(Some(Schema::Given(schema))) => match enforceable(schema, "schema") {
            Err(why) => OutputForm::Unenforceable(why),
            Ok(()) => match convert(schema) {
                Ok(_) => OutputForm::JsonSchema,
                Err(e) => OutputForm::Unenforceable(e),
            },
        },
        Err(why) => OutputForm::Unenforceable(why),
    }
}

/// The grammar a request's answer must match, if it asks for structured output; a 400 when
/// the format cannot be enforced.
pub(crate) fn grammar(response_format: Option<&Value>) -> Result<Option<String>, AttemptError> {
    let refuse = |why: String| {
        rejected(
            "unsupported_schema",
            format!(
                "response_format cannot be enforced by the on-device model: {why}; route the \
                 request to a backend that enforces JSON schemas itself"
            ),
        )
    };
    match schema_of(response_format).map_err(refuse)? {
        None => Ok(None),
        Some(Schema::AnyObject) => convert(&serde_json::json!({"type": "object"}))
            .map(Some)
            .map_err(refuse),
        Some(Schema::Given(schema)) => {
            enforceable(schema, "schema").map_err(refuse)?;
            convert(schema).map(Some).map_err(refuse)
        }
    }
}

enum Schema<'a> {
    AnyObject,
    Given(&'a Value),
}

fn schema_of(response_format: Option<&Value>) -> Result<Option<Schema<'_>>, String> {
    let Some(rf) = response_format.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match rf.get("type").and_then(Value::as_str) {
        None | Some("text") => Ok(None),
        Some("json_object") => Ok(Some(Schema::AnyObject)),
        Some("json_schema") => match rf.get("json_schema").and_then(|j| j.get("schema")) {
            Some(schema) => Ok(Some(Schema::Given(schema))),
            // OpenAI's own default for a schema-less json_schema is any JSON object.
            None => Ok(Some(Schema::AnyObject)),
        },
        Some(other) => Err(format!("response_format type {other:?} is not known")),
    }
}

/// `schema` cut down to what a grammar enforces, for a tool's arguments: a tool call's schema
/// describes what a model should send, as OpenAI's non-strict function calling treats it, so
/// what cannot be enforced is left unconstrained rather than refused. Local references are
/// renamed `#/$defs/{prefix}…` and their definitions moved into `defs`, because the schema is
/// embedded in a larger one whose root they would otherwise point at. Returns the paths of
/// what was left out.
pub(crate) fn relax(
    schema: &Value,
    prefix: &str,
    defs: &mut serde_json::Map<String, Value>,
) -> (Value, Vec<String>) {
    let mut dropped = Vec::new();
    let mut root = schema.clone();
    if let Value::Object(obj) = &mut root {
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(map)) = obj.remove(key) {
                for (name, sub) in map {
                    let sub = relaxed(&sub, &format!("{key}.{name}"), prefix, &mut dropped);
                    defs.insert(format!("{prefix}{name}"), sub);
                }
            }
        }
    }
    let out = relaxed(&root, "parameters", prefix, &mut dropped);
    (out, dropped)
}

fn relaxed(schema: &Value, path: &str, prefix: &str, dropped: &mut Vec<String>) -> Value {
    let Value::Object(obj) = schema else {
        return schema.clone();
    };
    let integer = obj.get("type").and_then(Value::as_str) == Some("integer");
    let mut out = serde_json::Map::new();
    for (key, value) in obj {
        let at = format!("{path}.{key}");
        let k = key.as_str();
        if ANNOTATIONS.contains(&k) {
            continue;
        }
        let kept = match k {
            _ if INTEGER_BOUNDS.contains(&k) && integer => Some(value.clone()),
            "properties" => value.as_object().map(|map| {
                Value::Object(
                    map.iter()
                        .map(|(n, sub)| {
                            (
                                n.clone(),
                                relaxed(sub, &format!("{at}.{n}"), prefix, dropped),
                            )
                        })
                        .collect(),
                )
            }),
            "additionalProperties" | "items" => Some(match value {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, sub)| relaxed(sub, &format!("{at}[{i}]"), prefix, dropped))
                        .collect(),
                ),
                sub => relaxed(sub, &at, prefix, dropped),
            }),
            "prefixItems" | "anyOf" | "oneOf" | "allOf" => value.as_array().map(|items| {
                Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, sub)| relaxed(sub, &format!("{at}[{i}]"), prefix, dropped))
                        .collect(),
                )
            }),
            "format" => value
                .as_str()
                .filter(|f| FORMATS.contains(f))
                .map(|_| value.clone()),
            "$ref" => value.as_str().and_then(|r| {
                ["#/$defs/", "#/definitions/"]
                    .iter()
                    .find_map(|base| r.strip_prefix(base))
                    .filter(|name| !name.contains('/'))
                    .map(|name| Value::String(format!("#/$defs/{prefix}{name}")))
            }),
            "$defs" | "definitions" => None,
            _ if ENFORCED.contains(&k) => Some(value.clone()),
            _ => None,
        };
        match kept {
            Some(v) => {
                out.insert(key.clone(), v);
            }
            None => dropped.push(at),
        }
    }
    Value::Object(out)
}

/// A GBNF grammar for `schema`, by llama.cpp's converter (which keeps the order of keys as
/// written).
pub(crate) fn grammar_of(schema: &str) -> Result<String, String> {
    llama_cpp_2::json_schema_to_grammar(schema)
        .map_err(|e| format!("llama.cpp cannot convert the schema: {e}"))
}

/// The schema `response_format` asks an answer to match: `None` for free text.
pub(crate) fn answer_schema(response_format: Option<&Value>) -> Result<Option<Value>, String> {
    Ok(match schema_of(response_format)? {
        None => None,
        Some(Schema::AnyObject) => Some(serde_json::json!({"type": "object"})),
        Some(Schema::Given(schema)) => {
            enforceable(schema, "schema")?;
            Some(schema.clone())
        }
    })
}

fn convert(schema: &Value) -> Result<String, String> {
    grammar_of(&schema.to_string())
}

/// Whether every keyword of `schema` (at `path`) is one the converter enforces.
fn enforceable(schema: &Value, path: &str) -> Result<(), String> {
    let obj = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        _ => return Err(format!("{path} is not a schema")),
    };
    let integer = obj.get("type").and_then(Value::as_str) == Some("integer");
    for (key, value) in obj {
        let at = format!("{path}.{key}");
        let k = key.as_str();
        if ANNOTATIONS.contains(&k) {
            continue;
        }
        if INTEGER_BOUNDS.contains(&k) {
            if integer {
                continue;
            }
            return Err(format!("{at} bounds a non-integer, which is not enforced"));
        }
        if !ENFORCED.contains(&k) {
            return Err(format!("{at} is not enforced"));
        }
        match k {
            "properties" | "$defs" | "definitions" => {
                let Some(map) = value.as_object() else {
                    return Err(format!("{at} must be an object"));
                };
                for (name, sub) in map {
                    enforceable(sub, &format!("{at}.{name}"))?;
                }
            }
            "additionalProperties" | "items" => match value {
                Value::Array(items) => {
                    for (i, sub) in items.iter().enumerate() {
                        enforceable(sub, &format!("{at}[{i}]"))?;
                    }
                }
                sub => enforceable(sub, &at)?,
            },
            "prefixItems" | "anyOf" | "oneOf" | "allOf" => {
                let Some(items) = value.as_array() else {
                    return Err(format!("{at} must be an array"));
                };
                for (i, sub) in items.iter().enumerate() {
                    enforceable(sub, &format!("{at}[{i}]"))?;
                }
            }
            "format" => {
                let f = value.as_str().unwrap_or_default();
                if !FORMATS.contains(&f) {
                    return Err(format!("{at} {f:?} is not enforced"));
                }
            }
            "$ref" if !value.as_str().is_some_and(|r| r.starts_with("#/")) => {
                return Err(format!("{at} must point inside the schema (\"#/...\")"));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(rf: Option<Value>) -> OutputForm {
        output_form(rf.as_ref())
    }

    fn gram(rf: Option<Value>) -> Result<Option<String>, AttemptError> {
        grammar(rf.as_ref())
    }

    fn with(rf: Value) -> Option<Value> {
        Some(rf)
    }

    fn schema(s: Value) -> Option<Value> {
        with(json!({"type": "json_schema", "json_schema": {"name": "s", "schema": s}}))
    }

    #[test]
    fn reads_the_form_of_the_answer() {
        assert_eq!(form(None), OutputForm::Text);
        assert_eq!(form(with(json!({"type": "text"}))), OutputForm::Text);
        assert_eq!(
            form(with(json!({"type": "json_object"}))),
            OutputForm::JsonObject
        );
        let person = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "description": "full name"},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                "born": {"type": "string", "format": "date"},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
                "home": {"$ref": "#/$defs/place"}
            },
            "required": ["name", "age"],
            "additionalProperties": false,
            "$defs": {"place": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
        });
        assert_eq!(form(schema(person)), OutputForm::JsonSchema);
    }

    #[test]
    fn keywords_a_grammar_cannot_enforce_are_named() {
        for (s, part) in [
            (
                json!({"type": "object", "not": {"required": ["a"]}}),
                "schema.not",
            ),
            (json!({"type": "number", "minimum": 0}), "schema.minimum"),
            (
                json!({"type": "string", "format": "email"}),
                "schema.format",
            ),
            (
                json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}),
                "schema.uniqueItems",
            ),
            (
                json!({"properties": {"a": {"type": "integer", "multipleOf": 2}}}),
                "schema.properties.a.multipleOf",
            ),
            (json!({"$ref": "https://example.com/s.json"}), "schema.$ref"),
        ] {
            match form(schema(s.clone())) {
                OutputForm::Unenforceable(why) => assert!(why.contains(part), "{why} / {s}"),
                other => panic!("{s} judged {other:?}"),
            }
            let e = gram(schema(s)).unwrap_err();
            assert!(e.to_string().contains(part), "{e}");
        }
    }

    #[test]
    fn grammars_come_from_llama_cpp() {
        let g = gram(schema(
            json!({"type": "object", "properties": {"n": {"type": "integer"}},
            "required": ["n"]}),
        ))
        .unwrap()
        .unwrap();
        assert!(g.contains("root ::="), "{g}");
        assert!(g.contains("\\\"n\\\""), "{g}");
        assert!(gram(with(json!({"type": "json_object"})))
            .unwrap()
            .is_some());
        assert_eq!(gram(None).unwrap(), None);
    }
}
