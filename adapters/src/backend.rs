//! The closed set of backend kinds, dispatched without dynamic allocation per call.

use crate::anthropic::Anthropic;
use crate::embed::EmbedRequest;
use crate::error::AttemptError;
use crate::gemini::Gemini;
use crate::on_device::OnDevice;
use crate::openai_compat::OpenAiCompat;
use crate::reply::{Complete, Reply};
use crate::request::ChatRequest;

/// One configured backend.
// Backends are built once from configuration and shared; their size never matters.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Backend {
    /// An OpenAI-compatible HTTP API: a closed cloud, Azure OpenAI or a local server.
    OpenAiCompat(OpenAiCompat),
    /// Anthropic's Messages API.
    Anthropic(Anthropic),
    /// Google's Gemini API.
    Gemini(Gemini),
    /// A GGUF model run by llama.cpp inside the gateway process.
    OnDevice(OnDevice),
}

impl Backend {
    /// Sends one chat-completion attempt for `model` (the backend's own model name).
    pub async fn chat(&self, req: &ChatRequest, model: &str) -> Result<Reply, AttemptError> {
        match self {
            Backend::OpenAiCompat(b) => b.chat(req, model).await,
            Backend::Anthropic(b) => b.chat(req, model).await,
            Backend::Gemini(b) => b.chat(req, model).await,
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
            // Neither vendor's chat API embeds; routing offers only embedding models here.
            Backend::Anthropic(_) | Backend::Gemini(_) => Err(AttemptError::Rejected {
                status: 400,
                message: format!("model '{model}' of this backend does not serve embeddings"),
                code: "wrong_model_kind",
            }),
        }
    }
}
