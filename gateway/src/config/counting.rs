//! `tokenizer` and `chat_template` of a model: how its tokens are counted when its backend
//! reports no usage (see `tollgate_adapters::tokens`).

use super::raw::{BackendKind, RawModel};
use super::Errors;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tollgate_adapters::tokens::{Counter, Template};
use tollgate_policies::Zone;

/// Where a model's tokenizer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSpec {
    /// The serving server's tokenize endpoint.
    Server,
    /// OpenAI's encoding for the model's name.
    OpenAi,
    /// A Hugging Face `tokenizer.json`.
    File(PathBuf),
    /// None: counts are estimated (or the backend always reports usage).
    None,
}

/// How a model's tokens are counted, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counting {
    /// The tokenizer.
    pub tokenizer: TokenizerSpec,
    /// The chat template prompts are rendered with before counting, if known.
    pub chat_template: Option<String>,
    /// The text of the beginning-of-sequence token a `tokenizer.json`'s template writes.
    pub bos_token: String,
}

/// Checks a model's counting settings; `at` is its config path.
pub(super) fn check(
    at: &str,
    (kind, zone): (BackendKind, Zone),
    model: &str,
    spec: &RawModel,
    base_dir: &Path,
    errors: &mut Errors,
) -> Counting {
    let openai_known = Counter::openai(model).is_some()
        || spec
            .deployment
            .as_deref()
            .is_some_and(|d| Counter::openai(d).is_some());
    let tokenizer = match spec.tokenizer.as_deref() {
        None => match kind {
            BackendKind::Openai if zone == Zone::Local => TokenizerSpec::Server,
            BackendKind::Openai | BackendKind::AzureOpenai if openai_known => TokenizerSpec::OpenAi,
            _ => TokenizerSpec::None,
        },
        Some("none") => TokenizerSpec::None,
        Some("server") if kind == BackendKind::Openai => TokenizerSpec::Server,
        Some("server") => {
            errors.add(
                format!("{at}.tokenizer"),
                format!("a '{}' backend has no tokenize endpoint", kind.as_str()),
            );
            TokenizerSpec::None
        }
        Some("openai") if openai_known => TokenizerSpec::OpenAi,
        Some("openai") => {
            errors.add(
                format!("{at}.tokenizer"),
                format!("'{model}' is not one of OpenAI's models, whose encodings are known"),
            );
            TokenizerSpec::None
        }
        Some(file) => {
            let path = base_dir.join(file);
            if !path.is_file() {
                errors.add(
                    format!("{at}.tokenizer"),
                    format!(
                        "'{file}' is not a file (expected server, openai, none, or the path \
                         of a tokenizer.json)"
                    ),
                );
            }
            TokenizerSpec::File(path)
        }
    };
    if kind == BackendKind::OnDevice && spec.tokenizer.is_some() {
        errors.add(
            format!("{at}.tokenizer"),
            "an on_device model is counted by its own vocabulary",
        );
    }
    let (beside_template, bos_token) = match &tokenizer {
        TokenizerSpec::File(path) => beside(path),
        _ => (None, String::new()),
    };
    let chat_template = spec.chat_template.clone().or(beside_template);
    if let Some(t) = &chat_template {
        if let Err(e) = Template::new(t, &bos_token) {
            errors.add(format!("{at}.chat_template"), e);
        }
    }
    Counting {
        tokenizer,
        chat_template,
        bos_token,
    }
}

/// The chat template and beginning-of-sequence token of the `tokenizer_config.json` beside a
/// `tokenizer.json`, as Hugging Face ships them.
fn beside(tokenizer: &Path) -> (Option<String>, String) {
    let Some(cfg) = tokenizer
        .parent()
        .map(|d| d.join("tokenizer_config.json"))
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return (None, String::new());
    };
    let template = match cfg.get("chat_template") {
        Some(Value::String(t)) => Some(t.clone()),
        // Several named templates: the default one.
        Some(Value::Array(named)) => named
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template").and_then(Value::as_str))
            .map(str::to_string),
        _ => None,
    };
    let bos = match cfg.get("bos_token") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    };
    (template, bos)
}
