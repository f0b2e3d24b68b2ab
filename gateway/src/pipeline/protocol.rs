//! The inbound protocols: chat completions, and the ones translated to it at the edge (the
//! Anthropic Messages API and the OpenAI Responses API). Everything between parse and answer
//! sees one chat request, so every rule and meter applies to all of them alike.

use crate::errors::ApiError;
use bytes::Bytes;
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate_adapters::dialect::{anthropic, responses, Inbound};
use tollgate_adapters::ChatRequest;

/// The protocol a request arrived in, known from its path before anything is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/messages`.
    Messages,
    /// `POST /v1/responses`.
    Responses,
}

impl Protocol {
    /// The endpoint label of records, metrics and the ledger.
    pub fn endpoint(self) -> &'static str {
        match self {
            Protocol::Chat => "chat_completions",
            Protocol::Messages => "messages",
            Protocol::Responses => "responses",
        }
    }

    /// Parses a body into the chat request that serves it, and what its answer is translated
    /// back with (`None` for chat completions).
    pub fn parse(
        self,
        body: &[u8],
        request_id: &str,
    ) -> Result<(ChatRequest, Option<Inbound>), ApiError> {
        let invalid =
            |e: tollgate_adapters::RequestError| ApiError::invalid_request(e.message, e.param);
        match self {
            Protocol::Chat => Ok((super::read::parse(body)?, None)),
            Protocol::Messages => {
                let (req, cx) = anthropic::to_chat(body).map_err(invalid)?;
                Ok((req, Some(Inbound::Messages(cx))))
            }
            Protocol::Responses => {
                let created = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let id = format!("resp_{}", request_id.replace('-', ""));
                let (req, cx) = responses::to_chat(body, id, created).map_err(invalid)?;
                Ok((req, Some(Inbound::Responses(cx))))
            }
        }
    }

    /// An error's body in this protocol's shape (the Responses API shares chat's).
    pub fn error_body(self, err: &ApiError, request_id: &str) -> Bytes {
        match self {
            Protocol::Messages => {
                anthropic::error_body(err.status, &err.client_message(), request_id)
            }
            Protocol::Chat | Protocol::Responses => err.body(),
        }
    }
}
