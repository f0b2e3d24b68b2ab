//! An OpenAI chat request as a Gemini `generateContent` request (REST, camelCase JSON).
//!
//! System and developer messages become the `systemInstruction`, the turns `contents` (see
//! [`super::contents`]), and sampling, limits, JSON output, thinking and tools their Gemini
//! fields (see [`super::config`]). What has an equivalent is translated; what would change the
//! answer if dropped (several choices, log probabilities, audio output, tools that are not
//! functions, audio and file parts) is refused with a 400 before anything is sent. Hints with
//! no equivalent (`parallel_tool_calls`, `user`, `metadata`, `store`, `service_tier`, ...) are
//! dropped.

use super::config::{generation_config, tools};
use super::contents::turns;
use crate::error::AttemptError;
use crate::translate::refuse_what_changes_the_answer;
use serde_json::{json, Map, Value};

/// The Gemini request body for the client's OpenAI request object. It does not depend on the
/// model, which is named in the URL: what differs between Gemini generations is sent in the
/// form every current one accepts.
pub(crate) fn encode(body: &Map<String, Value>) -> Result<Vec<u8>, AttemptError> {
    let req = translate(body)?;
    serde_json::to_vec(&req)
        .map_err(|e| AttemptError::Protocol(format!("could not encode the request: {e}")))
}

/// The Gemini request for the client's OpenAI request object, as JSON.
pub(crate) fn translate(b: &Map<String, Value>) -> Result<Value, AttemptError> {
    // Gemini's candidateCount could ask for several choices, but only one is relayed.
    refuse_what_changes_the_answer(b)?;
    if b.get("functions").is_some_and(|f| !f.is_null()) {
        return Err(AttemptError::unsupported(
            "'functions' is not supported by this backend: send 'tools'",
        ));
    }
    let messages = b
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| AttemptError::invalid("'messages' must be a list"))?;
    let mut out = Map::new();
    let (system, contents) = turns(messages)?;
    if contents.is_empty() {
        return Err(AttemptError::unsupported(
            "this backend needs at least one user or assistant message with content",
        ));
    }
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        out.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system}]}),
        );
    }
    tools(b, &mut out)?;
    let config = generation_config(b)?;
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::request::ChatRequest;

    /// Translates a request checked as the gateway checks it.
    pub(crate) fn run(body: Value) -> Result<Value, AttemptError> {
        let req = ChatRequest::from_body(body.as_object().unwrap().clone()).unwrap();
        translate(&req.body)
    }

    pub(crate) fn refused(r: Result<Value, AttemptError>) -> String {
        match r {
            Err(AttemptError::Rejected {
                status: 400,
                message,
                ..
            }) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn system_and_developer_become_the_system_instruction() {
        let g = run(json!({"model": "r", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]}]}))
        .unwrap();
        assert_eq!(
            g["systemInstruction"],
            json!({"parts": [{"text": "Be brief.\n\nUse French."}]})
        );
        assert_eq!(
            g["contents"],
            json!([{"role": "user", "parts": [{"text": "Hi"}]}])
        );
        assert!(g.get("generationConfig").is_none());
        assert!(g.get("tools").is_none());
    }

    #[test]
    fn what_would_change_the_answer_is_refused() {
        let base = |extra: Value| {
            let mut b = json!({"model": "r", "messages": [{"role": "user", "content": "x"}]});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b
        };
        assert!(refused(run(base(json!({"n": 2})))).contains("'n'"));
        assert!(refused(run(base(json!({"logprobs": true})))).contains("log prob"));
        assert!(refused(run(base(json!({"modalities": ["text", "audio"]})))).contains("text only"));
        assert!(refused(run(base(json!({"tools": [{"type": "custom",
            "custom": {"name": "c", "format": {"type": "text"}}}]}))))
        .contains("function tools"));
        let msg = refused(run(json!({"model": "r", "messages": [
            {"role": "system", "content": "only a system prompt"}]})));
        assert!(msg.contains("at least one user or assistant"), "{msg}");
    }
}
