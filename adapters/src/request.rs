//! The parsed chat-completion request every backend receives.

use async_openai::types::chat::CreateChatCompletionRequest;
use serde_json::{Map, Value};

/// A client's chat-completion request, checked against OpenAI's schema.
///
/// `body` keeps the client's JSON object as sent, so OpenAI-compatible upstreams receive vendor
/// fields (`top_k`, `repetition_penalty`, ...) that the typed schema does not know; `typed` is
/// the schema-checked view that policy and the on-device engine read.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The request object as the client sent it.
    pub body: Map<String, Value>,
    /// The same request in async-openai's types.
    pub typed: CreateChatCompletionRequest,
    /// Headers of the client's own protocol for a backend that speaks it natively: a Messages
    /// client's `anthropic-version` and `anthropic-beta`, which an Anthropic backend passes on.
    pub vendor_headers: Vec<(&'static str, String)>,
}

/// Why a request body was refused, with the JSON path of the offending field when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    /// A sentence for the client.
    pub message: String,
    /// The field at fault (`messages[0].role`), if one is.
    pub param: Option<String>,
}

impl RequestError {
    fn new(message: impl Into<String>, param: Option<String>) -> Self {
        RequestError {
            message: message.into(),
            param,
        }
    }
}

impl ChatRequest {
    /// Parses and checks a request body.
    pub fn parse(bytes: &[u8]) -> Result<ChatRequest, RequestError> {
        let body = Self::json_object(bytes)?;
        for required in ["model", "messages"] {
            if !body.contains_key(required) {
                return Err(RequestError::new(
                    format!("missing required parameter: '{required}'"),
                    Some(required.to_string()),
                ));
            }
        }
        Self::from_body(body)
    }

    /// Checks a request object: one parsed from a client's body, or built by the gateway itself
    /// (translated from another protocol, or redacted). The typed view is read from the parsed
    /// tree, so the bytes are parsed once.
    pub fn from_body(body: Map<String, Value>) -> Result<ChatRequest, RequestError> {
        let value = Value::Object(body);
        let typed: CreateChatCompletionRequest =
            serde_path_to_error::deserialize(&value).map_err(Self::schema_error)?;
        let Value::Object(body) = value else {
            unreachable!("built from an object")
        };
        Self::checked(body, typed)
    }

    /// A body as a JSON object: UTF-8, JSON, an object; or why not.
    pub fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, RequestError> {
        if bytes.is_empty() {
            return Err(RequestError::new(
                "request body is empty; send a JSON request",
                None,
            ));
        }
        // The JSON parser checks UTF-8 as it goes; a separate pass runs only to say where a
        // body it refused went wrong, which reads better than a JSON syntax error.
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| match std::str::from_utf8(bytes) {
                Err(bad) => RequestError::new(
                    format!(
                        "request body is not valid UTF-8 (invalid byte at offset {})",
                        bad.valid_up_to()
                    ),
                    None,
                ),
                Ok(_) => RequestError::new(format!("request body is not valid JSON: {e}"), None),
            })?;
        match value {
            Value::Object(body) => Ok(body),
            _ => Err(RequestError::new(
                "request body must be a JSON object",
                None,
            )),
        }
    }

    fn schema_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> RequestError {
        let path = e.path().to_string();
        RequestError::new(
            format!("invalid value at '{path}': {}", e.inner()),
            Some(path),
        )
    }

    fn checked(
        body: Map<String, Value>,
        typed: CreateChatCompletionRequest,
    ) -> Result<ChatRequest, RequestError> {
        if typed.messages.is_empty() {
            return Err(RequestError::new(
                "'messages' must contain at least one message",
                Some("messages".into()),
            ));
        }
        Ok(ChatRequest {
            body,
            typed,
            vendor_headers: Vec::new(),
        })
    }

    /// Whether the client asked for a streamed answer.
    pub fn stream(&self) -> bool {
        self.typed.stream.unwrap_or(false)
    }

    /// Whether the client asked for the final usage chunk of a stream.
    pub fn include_usage(&self) -> bool {
        self.typed
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// The model name the client sent (a route or `BACKEND/MODEL`).
    pub fn model(&self) -> &str {
        &self.typed.model
    }

    /// The upper bound of completion tokens the client allows, if it set one.
    pub fn max_completion_tokens(&self) -> Option<u32> {
        #[allow(deprecated)]
        self.typed.max_completion_tokens.or(self.typed.max_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_minimal_request_and_keeps_vendor_fields() {
        let req = ChatRequest::parse(
            br#"{"model":"auto","messages":[{"role":"user","content":"hi"}],"top_k":5,"stream":true}"#,
        )
        .unwrap();
        assert_eq!(req.model(), "auto");
        assert!(req.stream());
        assert!(!req.include_usage());
        assert_eq!(req.body.get("top_k"), Some(&Value::from(5)));
    }

    #[test]
    fn names_the_field_at_fault() {
        let err = ChatRequest::parse(
            br#"{"model":"auto","messages":[{"role":"wizard","content":"hi"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[0].role"));
        let err = ChatRequest::parse(br#"{"model":"auto","messages":"hi"}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages"));
        let err = ChatRequest::parse(br#"{"model":"auto","messages":[],"temperature":"hot"}"#)
            .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("temperature"));
    }

    #[test]
    fn refuses_missing_fields_bad_json_and_bad_utf8() {
        assert_eq!(
            ChatRequest::parse(br#"{"model":"auto"}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("messages")
        );
        assert!(ChatRequest::parse(br#"{"model":"auto","messages":[]}"#)
            .unwrap_err()
            .message
            .contains("at least one"));
        assert!(ChatRequest::parse(b"{not json")
            .unwrap_err()
            .message
            .contains("not valid JSON"));
        assert!(ChatRequest::parse(b"{\"model\":\"\xff\"}")
            .unwrap_err()
            .message
            .contains("UTF-8"));
        assert!(ChatRequest::parse(b"[1,2]")
            .unwrap_err()
            .message
            .contains("JSON object"));
    }
}
