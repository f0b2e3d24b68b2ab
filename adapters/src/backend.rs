//! The closed set of backend kinds, dispatched without dynamic allocation per call.

use crate::embed::EmbedRequest;
use crate::error::AttemptError;
use crate::on_device::OnDevice;
use crate::openai_compat::OpenAiCompat;
use crate::reply::{Complete, Reply};
use crate::request::ChatRequest;

/// One configured backend.
// Backends are built once from configuration and shared; their size never matters.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Backend {
    /// An OpenAI-compatible HTTP API: a closed cloud or a local server.
    OpenAiCompat(OpenAiCompat),
    /// A GGUF model run by llama.cpp inside the gateway process.
    OnDevice(OnDevice),
}

impl Backend {
    /// Sends one chat-completion attempt for `model` (the backend's own model name).
    pub async fn chat(&self, req: &ChatRequest, model: &str) -> Result<Reply, AttemptError> {
        match self {
            Backend::OpenAiCompat(b) => b.chat(req, model).await,
            Backend::OnDevice(b) => b.chat(req, model).await,
        }
    }

    /// Sends one embeddings attempt for `model`, in batches of at most `max_batch` inputs.
    pub async fn embed(
        &self,
        req: &EmbedRequest,
        model: &str,
        max_batch: usize,
    ) -> Result<Complete, AttemptError> {
        match self {
            Backend::OpenAiCompat(b) => b.embed(req, model, max_batch).await,
            Backend::OnDevice(b) => b.embed(req, model).await,
        }
    }
}
