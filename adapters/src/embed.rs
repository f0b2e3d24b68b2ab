//! `POST /v1/embeddings`: the request as OpenAI defines it, split into batches a backend
//! takes, and the answers of the batches merged back into one.

use crate::reply::Usage;
use crate::request::RequestError;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// An embeddings request, checked.
#[derive(Debug, Clone)]
pub struct EmbedRequest {
    /// The request object as the client sent it (vendor fields kept).
    pub body: Map<String, Value>,
    /// The inputs, one per embedding.
    pub inputs: Vec<Value>,
    /// Whether the inputs are token arrays rather than text: text that cannot be scanned.
    pub tokens: bool,
}

fn invalid(message: impl Into<String>, param: &str) -> RequestError {
    RequestError {
        message: message.into(),
        param: Some(param.into()),
    }
}

impl EmbedRequest {
    /// Parses and checks a request body: `input` as a string, strings, a token array or token
    /// arrays; `encoding_format` float or base64; `dimensions` a positive integer.
    pub fn parse(bytes: &[u8]) -> Result<EmbedRequest, RequestError> {
        let body = crate::request::ChatRequest::json_object(bytes)?;
        match body.get("model") {
            Some(Value::String(_)) => {}
            Some(_) => return Err(invalid("'model' must be a string", "model")),
            None => return Err(invalid("missing required parameter: 'model'", "model")),
        }
        let (inputs, tokens) = match body.get("input") {
            Some(Value::String(s)) => (vec![Value::String(s.clone())], false),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(invalid("'input' must not be empty", "input"))
            }
            Some(Value::Array(items)) if items.iter().all(Value::is_u64) => {
                (vec![Value::Array(items.clone())], true)
            }
            Some(Value::Array(items)) => {
                let texts = items.iter().all(Value::is_string);
                let token_lists = items.iter().all(|i| {
                    i.as_array()
                        .is_some_and(|t| !t.is_empty() && t.iter().all(Value::is_u64))
                });
                if !texts && !token_lists {
                    return Err(invalid(
                        "'input' must be a string, a list of strings, a token array or a list of token arrays",
                        "input",
                    ));
                }
                (items.clone(), token_lists)
            }
            Some(_) => {
                return Err(invalid(
                    "'input' must be a string, a list of strings, a token array or a list of token arrays",
                    "input",
                ))
            }
            None => return Err(invalid("missing required parameter: 'input'", "input")),
        };
        match body.get("encoding_format") {
            None | Some(Value::Null) => {}
            Some(Value::String(f)) if f == "float" || f == "base64" => {}
            Some(_) => {
                return Err(invalid(
                    "'encoding_format' must be 'float' or 'base64'",
                    "encoding_format",
                ))
            }
        }
        if let Some(d) = body.get("dimensions").filter(|v| !v.is_null()) {
            if d.as_u64().is_none_or(|d| d == 0) {
                return Err(invalid(
                    "'dimensions' must be a positive integer",
                    "dimensions",
                ));
            }
        }
        Ok(EmbedRequest {
            body,
            inputs,
            tokens,
        })
    }

    /// The model name the client sent (a route or `BACKEND/MODEL`).
    pub fn model(&self) -> &str {
        self.body.get("model").and_then(Value::as_str).unwrap_or("")
    }

    /// The request bodies of batches of at most `max` inputs, for `model`.
    pub fn batches(&self, model: &str, max: usize) -> Vec<Map<String, Value>> {
        self.inputs
            .chunks(max.max(1))
            .map(|chunk| {
                let mut body = self.body.clone();
                body.insert("model".into(), model.into());
                body.insert("input".into(), Value::Array(chunk.to_vec()));
                body
            })
            .collect()
    }
}

/// One batch's answer, as OpenAI-compatible servers send it.
#[derive(Debug, Deserialize)]
struct Answer {
    data: Vec<Map<String, Value>>,
    #[serde(default)]
    usage: Option<BatchUsage>,
}

#[derive(Debug, Deserialize)]
struct BatchUsage {
    #[serde(default)]
    prompt_tokens: u64,
}

/// Merges batch answers (in batch order) into one OpenAI embeddings answer, each item's
/// `index` counted across the whole request. `Err` says what is wrong with an answer.
pub fn merge(answers: &[Bytes], model: &str) -> Result<(Bytes, Option<Usage>), String> {
    let mut data = Vec::new();
    let mut prompt_tokens = 0;
    let mut counted = true;
    for body in answers {
        let a: Answer =
            serde_json::from_slice(body).map_err(|e| format!("not an embeddings answer: {e}"))?;
        let offset = data.len();
        let mut items = a.data;
        items.sort_by_key(|i| i.get("index").and_then(Value::as_u64).unwrap_or(0));
        for (k, mut item) in items.into_iter().enumerate() {
            if !item.contains_key("embedding") {
                return Err("an embeddings answer item has no 'embedding'".into());
            }
            item.insert("index".into(), (offset + k).into());
            item.insert("object".into(), "embedding".into());
            data.push(Value::Object(item));
        }
        match a.usage {
            Some(u) => prompt_tokens += u.prompt_tokens,
            None => counted = false,
        }
    }
    let usage = counted.then_some(Usage {
        prompt_tokens,
        completion_tokens: 0,
        cached_tokens: 0,
        cache_write_tokens: 0,
    });
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    });
    Ok((Bytes::from(body.to_string()), usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_of_every_shape_and_the_refusals() {
        let r = EmbedRequest::parse(br#"{"model":"e","input":"one"}"#).unwrap();
        assert_eq!((r.inputs.len(), r.tokens), (1, false));
        let r = EmbedRequest::parse(br#"{"model":"e","input":["a","b","c"]}"#).unwrap();
        assert_eq!(r.inputs.len(), 3);
        let r = EmbedRequest::parse(br#"{"model":"e","input":[1,2,3]}"#).unwrap();
        assert_eq!((r.inputs.len(), r.tokens), (1, true));
        let r = EmbedRequest::parse(br#"{"model":"e","input":[[1,2],[3]]}"#).unwrap();
        assert_eq!((r.inputs.len(), r.tokens), (2, true));
        for (body, param) in [
            (r#"{"model":"e"}"#, "input"),
            (r#"{"input":"x"}"#, "model"),
            (r#"{"model":"e","input":[]}"#, "input"),
            (r#"{"model":"e","input":["a",1]}"#, "input"),
            (
                r#"{"model":"e","input":"x","encoding_format":"int8"}"#,
                "encoding_format",
            ),
            (r#"{"model":"e","input":"x","dimensions":0}"#, "dimensions"),
        ] {
            let e = EmbedRequest::parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
        }
    }

    #[test]
    fn batches_split_and_merge_back_in_order() {
        let r = EmbedRequest::parse(
            br#"{"model":"route","input":["a","b","c","d","e"],"dimensions":8}"#,
        )
        .unwrap();
        let batches = r.batches("text-embed", 2);
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[2]["input"], json!(["e"]));
        assert_eq!(batches[0]["model"], "text-embed");
        assert_eq!(batches[0]["dimensions"], 8);
        let answer = |n: usize, tokens: u64| {
            let data: Vec<Value> = (0..n)
                .rev()
                .map(|i| json!({"index": i, "embedding": [i as f64]}))
                .collect();
            Bytes::from(json!({"data": data, "usage": {"prompt_tokens": tokens}}).to_string())
        };
        let (body, usage) = merge(&[answer(2, 3), answer(2, 4), answer(1, 1)], "route").unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        let indexes: Vec<u64> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["index"].as_u64().unwrap())
            .collect();
        assert_eq!(indexes, [0, 1, 2, 3, 4]);
        assert_eq!(
            v["data"][3]["embedding"],
            json!([1.0]),
            "batch order and item order kept"
        );
        assert_eq!(usage.unwrap().prompt_tokens, 8);
        assert!(merge(&[Bytes::from_static(br#"{"data":[{"index":0}]}"#)], "m").is_err());
    }
}
