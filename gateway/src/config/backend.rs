//! Checking one `[backends.NAME]` table: its kind's settings, zone, models and engine.

use super::raw::{BackendKind, RawBackend};
use super::Errors;
use std::path::Path;
use tollgate_adapters::on_device::OnDeviceConfig;
use tollgate_adapters::Timeouts;
use tollgate_policies::{licence, Openness, StructuredOutput, Zone};

/// Inputs per upstream embeddings call unless configured: OpenAI's limit.
const DEFAULT_MAX_BATCH: usize = 2048;

/// A backend, checked.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Its name.
    pub name: String,
    /// Its protocol.
    pub kind: BackendKind,
    /// Its trust zone.
    pub zone: Zone,
    /// API root for HTTP kinds.
    pub base_url: Option<String>,
    /// Variable holding its key.
    pub api_key_env: Option<String>,
    /// Azure's `api-version` or Anthropic's `anthropic-version`.
    pub api_version: Option<String>,
    /// Anthropic beta features.
    pub beta: Vec<String>,
    /// Anthropic's default output limit.
    pub max_tokens: Option<u32>,
    /// Extra upstream headers.
    pub headers: Vec<(String, String)>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Its models, in name order.
    pub models: Vec<Model>,
    /// For on-device backends: the engine settings, and whether the model is the generated demo.
    pub engine: Option<(OnDeviceConfig, bool)>,
    /// For HTTP backends: the concurrency limit, if any.
    pub concurrency: Option<super::Concurrency>,
}

/// A model of a backend.
#[derive(Debug, Clone)]
pub struct Model {
    /// The backend's own name for it.
    pub name: String,
    /// `BACKEND/MODEL`.
    pub key: String,
    /// Licence or provider-terms id.
    pub licence: Option<String>,
    /// Context window in tokens.
    pub context_window: Option<u32>,
    /// Takes non-text input.
    pub multimodal: bool,
    /// What is open about it.
    pub open: Openness,
    /// Can stream.
    pub streaming: bool,
    /// Accepts tools.
    pub tools: bool,
    /// How it keeps a JSON `response_format`.
    pub structured: StructuredOutput,
    /// An embedding model.
    pub embeddings: bool,
    /// The most inputs of one upstream embeddings call.
    pub max_batch: usize,
    /// Azure OpenAI's deployment for it.
    pub deployment: String,
    /// How its tokens are counted when its backend reports no usage.
    pub counting: super::counting::Counting,
}

pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn on_device_kind(b: &RawBackend) -> bool {
    b.kind == BackendKind::OnDevice
}

/// The engine settings of an on-device backend; without `path`, the generated demo model.
fn check_engine(
    path: &str,
    mut engine: serde_json::Map<String, serde_json::Value>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<(OnDeviceConfig, bool)> {
    let demo = !engine.contains_key("path");
    if demo {
        let file = base_dir
            .join(".cache")
            .join(tollgate_adapters::synth::DEMO_MODEL_FILE);
        engine.insert("path".into(), file.to_string_lossy().into_owned().into());
    }
    let mut cfg: OnDeviceConfig = match serde_json::from_value(serde_json::Value::Object(engine)) {
        Ok(c) => c,
        Err(e) => {
            errors.add(format!("{path}.engine"), e.to_string());
            return None;
        }
    };
    if cfg.path.is_relative() {
        cfg.path = base_dir.join(&cfg.path);
    }
    if let Err(e) = cfg.validate() {
        errors.add(format!("{path}.engine"), e);
        return None;
    }
    Some((cfg, demo))
}

pub(super) fn check_backend(
    name: &str,
    b: &RawBackend,
    base_dir: &Path,
    errors: &mut Errors,
    warnings: &mut Vec<String>,
) -> Backend {
    let path = format!("backends.{name}");
    if !valid_name(name) {
        errors.add(
            &path,
            "backend names may use letters, digits, '-', '_' and '.' only",
        );
    }
    let mut engine = None;
    let zone = match (b.kind, b.zone) {
        (BackendKind::OnDevice, None | Some(Zone::OnDevice)) => Zone::OnDevice,
        (BackendKind::OnDevice, Some(_)) => {
            errors.add(
                format!("{path}.zone"),
                "an on_device backend is always in zone 'on_device'",
            );
            Zone::OnDevice
        }
        (_, Some(Zone::OnDevice)) => {
            errors.add(
                format!("{path}.zone"),
                "an HTTP backend is in zone 'local' or 'external', never 'on_device'",
            );
            Zone::Local
        }
        (kind, Some(Zone::Local)) if kind.is_vendor_api() => {
            warnings.push(format!(
                "{path}.zone is 'local' for a '{}' backend: data classes kept inside the \
                 organisation will be sent to it",
                kind.as_str()
            ));
            Zone::Local
        }
        (_, Some(z)) => z,
        (kind, None) if kind.is_vendor_api() => Zone::External,
        (_, None) => {
            errors.add(
                format!("{path}.zone"),
                "required: 'external' for closed third-party APIs, 'local' for servers inside \
                 the organisation",
            );
            Zone::External
        }
    };
    match b.kind {
        BackendKind::OnDevice => {
            if b.models.len() != 1 {
                errors.add(
                    format!("{path}.models"),
                    "an on_device backend serves exactly one model: name it and give its licence",
                );
            }
            let settings = b.engine.clone().unwrap_or_default();
            engine = check_engine(&path, settings, base_dir, errors);
        }
        kind => {
            if b.engine.is_some() {
                errors.add(
                    format!("{path}.engine"),
                    "only on_device backends have an engine",
                );
            }
            match b.base_url.as_deref().or(kind.default_base_url()) {
                None => errors.add(
                    format!("{path}.base_url"),
                    format!("required for kind '{}'", kind.as_str()),
                ),
                Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => errors
                    .add(
                        format!("{path}.base_url"),
                        format!("'{url}' must start with http:// or https://"),
                    ),
                Some(url) if url.parse::<http::Uri>().is_err() => errors.add(
                    format!("{path}.base_url"),
                    format!("'{url}' is not a valid URL"),
                ),
                Some(_) => {}
            }
            check_kind_settings(&path, b, errors);
            if kind.is_vendor_api() && b.api_key_env.is_none() {
                warnings.push(format!(
                    "{path}.api_key_env is not set: requests go to the '{}' API without a key, \
                     which it refuses (the route then fails over)",
                    kind.as_str()
                ));
            }
        }
    }
    let concurrency = b.concurrency.and_then(|c| {
        let at = format!("{path}.concurrency");
        if on_device_kind(b) {
            errors.add(
                &at,
                "on_device backends are bounded by engine.n_parallel and engine.queue",
            );
            return None;
        }
        if c.max == 0 {
            errors.add(format!("{at}.max"), "must be greater than 0");
            return None;
        }
        Some(super::Concurrency {
            max: c.max,
            queue: c.queue,
            queue_timeout: std::time::Duration::from_millis(c.queue_timeout_ms),
        })
    });
    let t = &b.timeouts;
    for (key, v) in [
        ("connect_ms", t.connect_ms),
        ("first_byte_ms", t.first_byte_ms),
        ("idle_ms", t.idle_ms),
        ("total_ms", t.total_ms),
    ] {
        if v == 0 {
            errors.add(format!("{path}.timeouts.{key}"), "must be greater than 0");
        }
    }
    if b.models.is_empty() {
        errors.add(
            format!("{path}.models"),
            "a backend needs at least one model",
        );
    }
    for (model, spec) in &b.models {
        if model.is_empty() {
            errors.add(format!("{path}.models"), "model names cannot be empty");
        }
        match &spec.licence {
            Some(id) => {
                if let Err(e) = licence::lookup(id) {
                    errors.add(format!("{path}.models.{model}.licence"), e.to_string());
                }
            }
            None => warnings.push(format!(
                "{path}.models.{model}.licence is not set: the model is refused for every use \
                 until its licence is given"
            )),
        }
        if spec.max_batch == Some(0) {
            errors.add(
                format!("{path}.models.{model}.max_batch"),
                "must be at least 1",
            );
        }
    }
    let on_device = b.kind == BackendKind::OnDevice;
    let n_ctx = engine.as_ref().map(|(e, _)| e.n_ctx);
    Backend {
        name: name.to_string(),
        kind: b.kind,
        zone,
        engine,
        base_url: b
            .base_url
            .clone()
            .or(b.kind.default_base_url().map(str::to_string)),
        api_key_env: b.api_key_env.clone(),
        api_version: b.api_version.clone(),
        beta: b.beta.clone(),
        max_tokens: b.max_tokens,
        headers: b
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        timeouts: b.timeouts,
        concurrency,
        models: b
            .models
            .iter()
            .map(|(m, spec)| Model {
                name: m.clone(),
                key: format!("{name}/{m}"),
                licence: spec.licence.clone(),
                context_window: spec.context_window.or(n_ctx),
                multimodal: spec.multimodal,
                open: spec.open,
                streaming: spec.streaming.unwrap_or(true),
                // Every kind calls tools; the on-device engine by a grammar (see its `tools`).
                tools: spec.tools.unwrap_or(true),
                // The engine constrains decoding with llama.cpp's grammar sampler.
                structured: spec.structured_output.unwrap_or(if on_device {
                    StructuredOutput::Grammar
                } else {
                    StructuredOutput::Full
                }),
                embeddings: spec.embeddings,
                max_batch: spec.max_batch.unwrap_or(DEFAULT_MAX_BATCH),
                deployment: spec.deployment.clone().unwrap_or_else(|| m.clone()),
                counting: super::counting::check(
                    &format!("{path}.models.{m}"),
                    (b.kind, zone),
                    m,
                    spec,
                    base_dir,
                    errors,
                ),
            })
            .collect(),
    }
}

/// Settings that belong to one kind only are refused on the others, so a misplaced one is
/// found when the file is read and not when a request fails.
fn check_kind_settings(path: &str, b: &RawBackend, errors: &mut Errors) {
    let kind = b.kind;
    match (kind, &b.api_version) {
        (BackendKind::AzureOpenai, None) => errors.add(
            format!("{path}.api_version"),
            "required for kind 'azure_openai' (e.g. \"2024-10-21\")",
        ),
        (BackendKind::AzureOpenai | BackendKind::Anthropic, Some(v))
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            errors.add(
                format!("{path}.api_version"),
                format!("'{v}' is not a version (letters, digits and '-')"),
            )
        }
        (BackendKind::AzureOpenai | BackendKind::Anthropic, _) => {}
        (_, Some(_)) => errors.add(
            format!("{path}.api_version"),
            "only 'azure_openai' and 'anthropic' backends take an api_version",
        ),
        (_, None) => {}
    }
    if kind != BackendKind::Anthropic {
        if !b.beta.is_empty() {
            errors.add(
                format!("{path}.beta"),
                "only 'anthropic' backends take beta",
            );
        }
        if b.max_tokens.is_some() {
            errors.add(
                format!("{path}.max_tokens"),
                "only 'anthropic' backends take a default max_tokens",
            );
        }
    } else if b.max_tokens == Some(0) {
        errors.add(format!("{path}.max_tokens"), "must be greater than 0");
    }
    for (model, spec) in &b.models {
        if spec.deployment.is_some() && kind != BackendKind::AzureOpenai {
            errors.add(
                format!("{path}.models.{model}.deployment"),
                "only 'azure_openai' models have a deployment",
            );
        }
        if spec.embeddings && matches!(kind, BackendKind::Anthropic | BackendKind::Gemini) {
            errors.add(
                format!("{path}.models.{model}.embeddings"),
                format!("'{}' backends serve chat only", kind.as_str()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::env::MapEnv;
    use crate::config::{load_with, Config, ConfigErrors};
    use tollgate_policies::Zone;

    fn load(backends: &str) -> Result<Config, ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tollgate.toml");
        let text =
            format!("[server]\nlisten = \"127.0.0.1:0\"\n[ledger]\nenabled = false\n{backends}");
        std::fs::write(&path, text).unwrap();
        load_with(&path, &MapEnv::default())
    }

    fn errors(backends: &str) -> String {
        load(backends).unwrap_err().to_string()
    }

    #[test]
    fn vendor_kinds_default_to_their_service_and_the_external_zone() {
        let c = load(
            r#"
[backends.claude]
kind = "anthropic"
models = { c = { licence = "anthropic-terms" } }
[backends.gem]
kind = "gemini"
models = { g = { licence = "gemini-api-terms" } }
[backends.az]
kind = "azure_openai"
base_url = "https://r.openai.azure.com"
api_version = "2024-10-21"
models = { m = { licence = "openai-terms", deployment = "d1" }, n = { licence = "openai-terms" } }
"#,
        )
        .unwrap();
        let by = |n: &str| c.backends.iter().find(|b| b.name == n).unwrap();
        assert_eq!(
            by("claude").base_url.as_deref(),
            Some("https://api.anthropic.com/v1")
        );
        assert_eq!(
            by("gem").base_url.as_deref(),
            Some("https://generativelanguage.googleapis.com/v1beta")
        );
        for b in &c.backends {
            assert_eq!(b.zone, Zone::External, "{}", b.name);
        }
        let deployments: Vec<_> = by("az")
            .models
            .iter()
            .map(|m| m.deployment.as_str())
            .collect();
        assert_eq!(deployments, ["d1", "n"]);
    }

    #[test]
    fn a_setting_of_another_kind_is_refused_where_it_is_written() {
        let e = errors(
            r#"
[backends.az]
kind = "azure_openai"
base_url = "https://r.openai.azure.com"
models = { m = { licence = "openai-terms" } }
[backends.oa]
kind = "openai"
zone = "external"
base_url = "https://api.openai.com/v1"
beta = ["x"]
api_version = "1"
models = { m = { licence = "openai-terms", deployment = "d" } }
[backends.claude]
kind = "anthropic"
max_tokens = 0
api_version = "2023/06/01"
models = { c = { licence = "anthropic-terms", embeddings = true } }
"#,
        );
        for needle in [
            "backends.az.api_version",
            "backends.oa.beta",
            "backends.oa.api_version",
            "backends.oa.models.m.deployment",
            "backends.claude.max_tokens",
            "backends.claude.api_version",
            "backends.claude.models.c.embeddings",
        ] {
            assert!(e.contains(needle), "{needle} missing from:\n{e}");
        }
    }

    #[test]
    fn a_vendor_declared_local_is_allowed_with_a_warning() {
        let c = load(
            r#"
[backends.claude]
kind = "anthropic"
zone = "local"
models = { c = { licence = "anthropic-terms" } }
"#,
        )
        .unwrap();
        assert_eq!(c.backends[0].zone, Zone::Local);
        assert!(c
            .warnings
            .iter()
            .any(|w| w.starts_with("backends.claude.api_key_env is not set")));
        assert!(c
            .warnings
            .iter()
            .any(|w| w.starts_with("backends.claude.zone is 'local'")));
    }
}
