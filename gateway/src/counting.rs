//! The token counters of every served model, built once from the config: what counts an
//! answer's tokens when its backend reported no usage (see `tollgate_adapters::tokens`).

use crate::config::counting::TokenizerSpec;
use crate::config::env::EnvSource;
use crate::config::{Backend as BackendConfig, Candidate, Config};
use std::sync::Arc;
use tollgate_adapters::tokens::server::ServerTokenizer;
use tollgate_adapters::tokens::{Counter, Template};
use tollgate_adapters::upstream::Credential;

/// One counter per model of every backend.
#[derive(Debug, Default)]
pub struct Counters {
    per_backend: Vec<Vec<Counter>>,
}

impl Counters {
    /// Builds the counters; a tokenizer file that does not load is an error.
    pub fn build(config: &Config, env: &dyn EnvSource) -> Result<Counters, String> {
        let per_backend = config
            .backends
            .iter()
            .map(|b| {
                b.models
                    .iter()
                    .map(|m| counter(b, &m.name, &m.counting, env))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Counters { per_backend })
    }

    /// The counter of a candidate's model.
    pub fn get(&self, c: Candidate) -> &Counter {
        static ESTIMATE: Counter = Counter::Estimate;
        self.per_backend
            .get(c.backend)
            .and_then(|m| m.get(c.model))
            .unwrap_or(&ESTIMATE)
    }
}

fn counter(
    b: &BackendConfig,
    model: &str,
    counting: &crate::config::counting::Counting,
    env: &dyn EnvSource,
) -> Result<Counter, String> {
    // The template was checked with the config; a server adds its own beginning-of-sequence
    // token, so the template writes none.
    let template = |bos: &str| {
        counting
            .chat_template
            .as_deref()
            .map(|t| Template::new(t, bos))
            .transpose()
    };
    Ok(match &counting.tokenizer {
        TokenizerSpec::None => Counter::Estimate,
        TokenizerSpec::OpenAi => Counter::openai(model).unwrap_or(Counter::Estimate),
        TokenizerSpec::File(path) => Counter::hugging_face(path, template(&counting.bos_token)?)?,
        TokenizerSpec::Server => {
            let base = b.base_url.as_deref().unwrap_or_default();
            let tokenizer = ServerTokenizer::new(base, model, credential(b, env));
            Counter::Server(Arc::new(tokenizer), template("")?.map(Arc::new))
        }
    })
}

/// The key of a local server that wants one, as its chat requests send it.
fn credential(b: &BackendConfig, env: &dyn EnvSource) -> Option<Credential> {
    let key = env.var(b.api_key_env.as_deref()?)?;
    (!key.is_empty()).then(|| Credential {
        header: "authorization",
        value: format!("Bearer {key}"),
    })
}
