//! Tollgate's backends: everything that turns a parsed chat request into an upstream attempt.
//!
//! Every backend kind answers with the same [`Reply`]: a complete OpenAI-format JSON body, or a
//! stream of OpenAI-format chunk events. The gateway's pipeline never needs to know which kind
//! produced it, so routing, failover, usage counting and recording are written once.

pub mod anthropic;
pub mod backend;
mod chunk;
pub mod dialect;
pub mod embed;
pub mod error;
pub mod gemini;
pub mod gguf;
pub mod http_client;
pub mod on_device;
pub mod openai_compat;
pub mod reply;
pub mod request;
pub mod sse;
pub mod synth;
pub mod timeouts;
pub mod tokens;
mod translate;
pub mod upstream;

pub use backend::Backend;
pub use embed::EmbedRequest;
pub use error::AttemptError;
pub use reply::{Complete, Event, EventStream, Reply, Usage};
pub use request::{ChatRequest, RequestError};
pub use timeouts::Timeouts;
