//! The inbound protocols: chat completions, the ones translated to it at the edge (the
//! Anthropic Messages API and the OpenAI Responses API), and embeddings. Everything between
//! parse and answer sees one chat request or one embeddings request, so every rule and meter
//! applies to all of them alike.

use crate::errors::ApiError;
use bytes::Bytes;
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate_adapters::dialect::{anthropic, responses, Inbound};
use tollgate_adapters::{ChatRequest, EmbedRequest};

/// The protocol a request arrived in, known from its path before anything is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/messages`.
    Messages,
    /// `POST /v1/responses`.
    Responses,
    /// `POST /v1/embeddings`.
    Embeddings,
}

/// A parsed request body.
// One per request, moved once into the steps that read it: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Parsed {
    /// A chat request, with what its answer is translated back with (`None` for chat
    /// completions).
    Chat(ChatRequest, Option<Inbound>),
    /// An embeddings request.
    Embed(EmbedRequest),
}

impl Protocol {
    /// The endpoint label of records, metrics and the ledger.
    pub fn endpoint(self) -> &'static str {
        match self {
            Protocol::Chat => "chat_completions",
            Protocol::Messages => "messages",
            Protocol::Responses => "responses",
            Protocol::Embeddings => "embeddings",
        }
    }

    /// Parses a body into the request that serves it; `headers` are the client's, of which a
    /// Messages client's `anthropic-version` and `anthropic-beta` are kept for an Anthropic
    /// backend.
    pub fn parse(
        self,
        body: &[u8],
        request_id: &str,
        headers: &http::HeaderMap,
    ) -> Result<Parsed, ApiError> {
        let invalid =
            |e: tollgate_adapters::RequestError| ApiError::invalid_request(e.message, e.param);
        match self {
            Protocol::Chat => Ok(Parsed::Chat(super::read::parse(body)?, None)),
            Protocol::Embeddings => Ok(Parsed::Embed(EmbedRequest::parse(body).map_err(invalid)?)),
            Protocol::Messages => {
                let (mut req, cx) = anthropic::to_chat(body).map_err(invalid)?;
                for name in ["anthropic-version", "anthropic-beta"] {
                    let values: Vec<&str> = headers
                        .get_all(name)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect();
                    if !values.is_empty() {
                        req.vendor_headers.push((name, values.join(",")));
                    }
                }
                Ok(Parsed::Chat(req, Some(Inbound::Messages(cx))))
            }
            Protocol::Responses => {
                let created = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let id = format!("resp_{}", request_id.replace('-', ""));
                let (req, cx) = responses::to_chat(body, id, created).map_err(invalid)?;
                Ok(Parsed::Chat(req, Some(Inbound::Responses(cx))))
            }
        }
    }

    /// An error's body in this protocol's shape (the Responses API shares chat's).
    pub fn error_body(self, err: &ApiError, request_id: &str) -> Bytes {
        match self {
            Protocol::Messages => {
                anthropic::error_body(err.status, &err.client_message(), request_id)
            }
            Protocol::Chat | Protocol::Responses | Protocol::Embeddings => err.body(),
        }
    }
}
