//! The text parts of a chat request that may carry sensitive data: message contents (plain or
//! as text parts), names, and tool-call arguments. Read in one fixed order so that detection
//! offsets (part index + byte range) can be mapped back onto the JSON for redaction.

use serde_json::{Map, Value};

/// The text parts, in order; with `pointers`, each with its JSON pointer into the body.
pub fn parts(body: &Map<String, Value>, pointers: bool) -> Vec<(Option<String>, &str)> {
    let mut found: Vec<(Option<String>, &str)> = Vec::new();
    let Some(Value::Array(messages)) = body.get("messages") else {
        return found;
    };
    fn push<'v>(
        pointers: bool,
        ptr: &dyn Fn() -> String,
        v: &'v Value,
    ) -> Option<(Option<String>, &'v str)> {
        match v {
            Value::String(s) => Some((pointers.then(ptr), s.as_str())),
            _ => None,
        }
    }
    for (i, m) in messages.iter().enumerate() {
        match m.get("content") {
            Some(Value::Array(items)) => {
                for (j, item) in items.iter().enumerate() {
                    if let Some(t) = item.get("text") {
                        found.extend(push(
                            pointers,
                            &|| format!("/messages/{i}/content/{j}/text"),
                            t,
                        ));
                    }
                }
            }
            Some(v) => found.extend(push(pointers, &|| format!("/messages/{i}/content"), v)),
            None => {}
        }
        if let Some(v) = m.get("name") {
            found.extend(push(pointers, &|| format!("/messages/{i}/name"), v));
        }
        if let Some(Value::Array(calls)) = m.get("tool_calls") {
            for (j, call) in calls.iter().enumerate() {
                if let Some(v) = call.get("function").and_then(|f| f.get("arguments")) {
                    found.extend(push(
                        pointers,
                        &|| format!("/messages/{i}/tool_calls/{j}/function/arguments"),
                        v,
                    ));
                }
            }
        }
        if let Some(v) = m.get("function_call").and_then(|f| f.get("arguments")) {
            found.extend(push(
                pointers,
                &|| format!("/messages/{i}/function_call/arguments"),
                v,
            ));
        }
    }
    found
}

/// The bytes of every text part together: the basis of token estimates.
pub fn total_bytes(body: &Map<String, Value>) -> usize {
    parts(body, false).iter().map(|(_, t)| t.len()).sum()
}

/// Replaces each text part by `f(index, text)`, visiting parts in the order of [`parts`].
pub fn rewrite(
    body: &Map<String, Value>,
    mut f: impl FnMut(usize, &str) -> String,
) -> Map<String, Value> {
    let located = parts(body, true);
    let replacements: Vec<(String, String)> = located
        .iter()
        .enumerate()
        .filter_map(|(i, (ptr, text))| ptr.clone().map(|p| (p, f(i, text))))
        .collect();
    let mut value = Value::Object(body.clone());
    for (ptr, text) in replacements {
        if let Some(slot) = value.pointer_mut(&ptr) {
            *slot = Value::String(text);
        }
    }
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Map<String, Value> {
        serde_json::from_str(
            r#"{"messages":[
                {"role":"system","content":"sys"},
                {"role":"user","name":"alice","content":[{"type":"text","text":"one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"two"}]},
                {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn finds_every_text_part_in_order() {
        let b = body();
        let texts: Vec<&str> = parts(&b, false).into_iter().map(|(_, t)| t).collect();
        assert_eq!(texts, ["sys", "one", "two", "alice", "{\"a\":1}"]);
    }

    #[test]
    fn rewrites_each_part_in_place() {
        let b = body();
        let out = rewrite(&b, |i, t| format!("{i}:{t}"));
        assert_eq!(out["messages"][0]["content"], "0:sys");
        assert_eq!(out["messages"][1]["content"][2]["text"], "2:two");
        assert_eq!(out["messages"][1]["name"], "3:alice");
        assert_eq!(
            out["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "4:{\"a\":1}"
        );
        assert_eq!(out["messages"][1]["content"][1]["image_url"]["url"], "x");
    }
}
