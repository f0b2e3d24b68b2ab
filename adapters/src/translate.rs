//! What every backend that translates an OpenAI chat request into its vendor's own format
//! reads the same way: the fields no translation can honour, message text, stop sequences, and
//! turns merged so that roles alternate.

use crate::error::AttemptError;
use serde_json::{json, Map, Value};

/// Refuses what a vendor with one answer, no log probabilities and text output cannot serve:
/// dropping it would change the answer.
pub(crate) fn refuse_what_changes_the_answer(b: &Map<String, Value>) -> Result<(), AttemptError> {
    if b.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err(AttemptError::unsupported(
            "this backend returns one choice: 'n' greater than 1 is not supported",
        ));
    }
    if b.get("logprobs").and_then(Value::as_bool) == Some(true) {
        return Err(AttemptError::unsupported(
            "this backend does not return log probabilities",
        ));
    }
    if let Some(m) = b.get("modalities").and_then(Value::as_array) {
        if m.iter().any(|m| m.as_str() != Some("text")) {
            return Err(AttemptError::unsupported(
                "this backend answers with text only",
            ));
        }
    }
    Ok(())
}

/// Text of a system, developer or tool message (`messages[i]`): a string, or its text parts
/// joined.
pub(crate) fn plain_text(content: Option<&Value>, i: usize) -> Result<String, AttemptError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for p in parts {
                match p.get("text").and_then(Value::as_str) {
                    Some(t) => out.push_str(t),
                    None => {
                        return Err(AttemptError::unsupported(format!(
                            "messages[{i}]: only text parts are supported in this message"
                        )))
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(AttemptError::invalid(format!(
            "messages[{i}].content must be text"
        ))),
    }
}

/// `stop` (a string or a list) as a list of stop sequences, when there are any.
pub(crate) fn stop_sequences(b: &Map<String, Value>) -> Option<Value> {
    match b.get("stop") {
        Some(Value::String(s)) => Some(json!([s])),
        Some(Value::Array(list)) if !list.is_empty() => Some(Value::Array(list.clone())),
        _ => None,
    }
}

/// Appends a turn of `role` whose items sit under `key`, merged into the previous turn when it
/// has the same role: both vendors require turns to alternate, and several tool results answer
/// one assistant turn together. Tool results (`is_result`) stay first in their turn, as both
/// require.
pub(crate) fn push_merged(
    turns: &mut Vec<Value>,
    role: &str,
    key: &str,
    mut items: Vec<Value>,
    is_result: fn(&Value) -> bool,
) {
    if let Some(last) = turns.last_mut() {
        if last["role"] == role {
            if let Some(existing) = last[key].as_array_mut() {
                let results = items.iter().take_while(|p| is_result(p)).count();
                let at = existing.iter().take_while(|p| is_result(p)).count();
                let tail: Vec<Value> = items.drain(results..).collect();
                existing.splice(at..at, items);
                existing.extend(tail);
                return;
            }
        }
    }
    let mut turn = Map::new();
    turn.insert("role".into(), role.into());
    turn.insert(key.into(), Value::Array(items));
    turns.push(Value::Object(turn));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_stay_first_when_turns_merge() {
        let is_result = |v: &Value| v["r"] == true;
        let mut turns = vec![json!({"role": "user", "parts": [{"r": true}, {"t": 1}]})];
        push_merged(
            &mut turns,
            "user",
            "parts",
            vec![json!({"r": true}), json!({"t": 2})],
            is_result,
        );
        assert_eq!(
            turns,
            vec![json!({"role": "user", "parts": [{"r": true}, {"r": true}, {"t": 1}, {"t": 2}]})]
        );
        push_merged(
            &mut turns,
            "model",
            "parts",
            vec![json!({"t": 3})],
            is_result,
        );
        assert_eq!(turns.len(), 2);
    }
}
