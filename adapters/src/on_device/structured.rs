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

fn convert(schema: &Value) -> Result<String, String> {
    llama_cpp_2::json_schema_to_grammar(&schema.to_string())
        .map_err(|e| format!("llama.cpp cannot convert the schema: {e}"))
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
