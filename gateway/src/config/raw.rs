//! The configuration file as written: every key a user may set, with its default.
//!
//! Unknown keys are not silently dropped: loading collects each one with its path and reports
//! them all (see `load`). Cross-references (a route naming a backend model) are checked later,
//! when the raw file becomes a checked [`super::Config`].

use serde::Deserialize;
use std::collections::BTreeMap;
use tollgate_adapters::Timeouts;
use tollgate_policies::{
    ClassAction, DataClass, DetectorConfig, Openness, Strategy, StructuredOutput, Use, Zone,
    ZoneCeilings,
};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawConfig {
    /// Listeners and request limits.
    pub server: RawServer,
    /// Named backends.
    pub backends: BTreeMap<String, RawBackend>,
    /// Named routes that clients put in `model`.
    pub routes: BTreeMap<String, RawRoute>,
    /// Named tenants and their keys.
    pub tenants: BTreeMap<String, RawTenant>,
    /// The highest data class each trust zone may receive.
    pub zones: ZoneCeilings,
    /// What the sensitivity detector looks for and which class each finding implies.
    pub detect: DetectorConfig,
    /// `[ledger]`: the durable per-request record (see `metering::config`).
    pub ledger: tollgate_metering::LedgerConfig,
    /// `[prices]`: the offline price table.
    pub prices: tollgate_metering::PricesConfig,
    /// `[budgets]`: spend limits per tenant and route.
    pub budgets: tollgate_metering::BudgetsConfig,
    /// `[metrics]`: Prometheus options.
    pub metrics: tollgate_metering::MetricsConfig,
    /// `[cluster]`: budgets and rate limits shared by replicas through Redis.
    pub cluster: tollgate_metering::ClusterConfig,
    /// `[rate_limits]`: requests, tokens and concurrency per tenant and route.
    pub rate_limits: tollgate_metering::RateLimitsConfig,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RawServer {
    /// Addresses the API listens on (`host:port`; port 0 picks a free port).
    pub listen: OneOrMany,
    /// Address of the admin listener (`/metrics`); loopback by default.
    pub admin_listen: Option<String>,
    /// The environment variable holding the admin listener's token (the token never goes in
    /// the file). When set, every admin path but `/healthz` requires it.
    pub admin_token_env: Option<String>,
    /// The largest request body accepted, in bytes (413 past it).
    pub max_body_bytes: usize,
    /// Worker threads of the server.
    pub threads: usize,
    /// Seconds that in-flight requests get to finish on shutdown.
    pub grace_period_seconds: u64,
    /// The use licence rules assume for requests when no tenants are configured.
    pub anonymous_use: Use,
    /// Connections the API listeners hold open at once; past it, new ones get a 503 and close.
    pub max_connections: usize,
    /// Milliseconds a client has to send a whole request head, from its connection or its
    /// first byte on a reused connection (408, or a quiet close if it sent nothing).
    pub header_timeout_ms: u64,
    /// Milliseconds an idle keep-alive connection is kept before it is closed.
    pub idle_timeout_ms: u64,
    /// Milliseconds a request body may take, extended by `body_min_rate` (408 past it).
    pub body_timeout_ms: u64,
    /// Bytes per second a body must keep up past `body_timeout_ms`: each such amount
    /// received earns one more second.
    pub body_min_rate: u64,
    /// The largest request head (request line and headers) in bytes (431 past it).
    pub max_header_bytes: usize,
    /// The most header fields a request may have (431 past it).
    pub max_headers: usize,
    /// The longest request target in bytes (414 past it).
    pub max_uri_bytes: usize,
    /// Chat requests in flight at once; past it new ones get a 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// Bytes of request bodies held in memory at once; a body that does not fit gets a 503.
    pub max_body_bytes_in_flight: usize,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: OneOrMany::One("127.0.0.1:8000".into()),
            admin_listen: None,
            admin_token_env: None,
            max_body_bytes: 32 * 1024 * 1024,
            threads: 2,
            grace_period_seconds: 10,
            anonymous_use: Use::Commercial,
            max_connections: 8192,
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            body_timeout_ms: 30_000,
            body_min_rate: 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
            max_in_flight: 4096,
            max_body_bytes_in_flight: 256 * 1024 * 1024,
        }
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The kind of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Anything speaking OpenAI's HTTP API: OpenAI and compatible clouds, vLLM, llama.cpp's
    /// server, Ollama, TGI, LocalAI.
    Openai,
    /// Azure OpenAI: OpenAI's API at per-model deployment URLs, keyed by `api-key`.
    AzureOpenai,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API.
    Gemini,
    /// A GGUF model run by llama.cpp inside the gateway process.
    OnDevice,
}

impl BackendKind {
    /// The kind's name in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Openai => "openai",
            BackendKind::AzureOpenai => "azure_openai",
            BackendKind::Anthropic => "anthropic",
            BackendKind::Gemini => "gemini",
            BackendKind::OnDevice => "on_device",
        }
    }

    /// The API root of a vendor's own service, for kinds that have one.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            BackendKind::Anthropic => Some("https://api.anthropic.com/v1"),
            BackendKind::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
            _ => None,
        }
    }

    /// Whether the kind is always a vendor's closed service: its zone defaults to `external`.
    pub fn is_vendor_api(self) -> bool {
        matches!(
            self,
            BackendKind::AzureOpenai | BackendKind::Anthropic | BackendKind::Gemini
        )
    }
}

/// `[backends.NAME]`
#[derive(Debug, Clone, Deserialize)]
pub struct RawBackend {
    /// What protocol the backend speaks.
    pub kind: BackendKind,
    /// Where it runs relative to the trust boundary: `local` or `external` for HTTP backends;
    /// on-device backends are always `on_device`.
    pub zone: Option<Zone>,
    /// The API root, e.g. `https://api.openai.com/v1`.
    pub base_url: Option<String>,
    /// The environment variable holding the API key (keys never go in the file).
    pub api_key_env: Option<String>,
    /// `azure_openai`: the `api-version` query parameter (required); `anthropic`: the
    /// `anthropic-version` header (default `2023-06-01`).
    pub api_version: Option<String>,
    /// `anthropic`: beta features sent as `anthropic-beta`.
    #[serde(default)]
    pub beta: Vec<String>,
    /// `anthropic`: the output limit for requests that set none (the API requires one;
    /// default 4096).
    pub max_tokens: Option<u32>,
    /// Extra headers sent upstream.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-stage timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// For HTTP backends: at most `max` answers at once; past it a request waits in a queue of
    /// `queue` for at most `queue_timeout_ms`, else the backend counts as busy (next
    /// candidate, or a 429 when all are). Unset: no limit.
    pub concurrency: Option<RawConcurrency>,
    /// The models this backend serves, by the backend's own model name.
    #[serde(default)]
    pub models: BTreeMap<String, RawModel>,
    /// For `on_device`: the GGUF file and how the engine runs it (`path`, `sha256`, `n_ctx`,
    /// `n_threads`, `n_parallel`, `queue`, `n_batch`, `chat_template`). Without `path`, a
    /// demo model with random weights is generated into `.cache/` beside the config.
    pub engine: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `[backends.NAME] concurrency = { max, queue, queue_timeout_ms }`
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConcurrency {
    /// Answers in flight at once.
    pub max: usize,
    /// Requests that may wait for a slot.
    #[serde(default)]
    pub queue: usize,
    /// The longest wait for a slot.
    #[serde(default = "default_queue_timeout_ms")]
    pub queue_timeout_ms: u64,
}

fn default_queue_timeout_ms() -> u64 {
    5_000
}

/// `[backends.NAME.models.MODEL]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawModel {
    /// The model's licence id (open models) or provider terms id (closed APIs). A model with
    /// none is refused for every use until one is given.
    pub licence: Option<String>,
    /// Takes images or other non-text input (some licence clauses cover only these).
    pub multimodal: bool,
    /// What of the model is open: weights, code, training data.
    pub open: Openness,
    /// The context window in tokens, when known.
    pub context_window: Option<u32>,
    /// Whether it can stream (default: yes).
    pub streaming: Option<bool>,
    /// Whether it accepts tools (default: yes for HTTP backends).
    pub tools: Option<bool>,
    /// How it keeps a JSON `response_format`: `full` (it enforces any schema itself; the
    /// default for HTTP backends), `grammar` (grammar-constrained decoding: JSON objects and
    /// the schemas a grammar expresses; the on-device engine), or `none`.
    pub structured_output: Option<StructuredOutput>,
    /// An embedding model: it serves `/v1/embeddings`, and no chat.
    pub embeddings: bool,
    /// The most inputs one upstream embeddings call carries; longer requests are split
    /// (default 2048, OpenAI's limit).
    pub max_batch: Option<usize>,
    /// `azure_openai`: the deployment serving this model (default: the model's name).
    pub deployment: Option<String>,
    /// How tokens are counted when the backend reports no usage: `server` (its tokenize
    /// endpoint, the default for local servers), `openai` (OpenAI's encodings, the default for
    /// OpenAI's models), a path to a Hugging Face `tokenizer.json`, or `none` (estimate).
    pub tokenizer: Option<String>,
    /// The chat template prompts are counted through: a name (`gemma`, `chatml`, `llama3`)
    /// or a Jinja template. Default: the one beside a `tokenizer.json`, or the server's own.
    pub chat_template: Option<String>,
}

/// `[routes.NAME]`
#[derive(Debug, Clone, Deserialize)]
pub struct RawRoute {
    /// Candidate backend models as `BACKEND/MODEL`, in order of preference.
    pub candidates: Vec<String>,
    /// How candidates that pass every rule are ordered.
    #[serde(default)]
    pub strategy: Strategy,
    /// Per data class, `route` (default: only zones allowed to receive it) or `redact`
    /// (external candidates stay eligible; detected spans are replaced before sending).
    #[serde(default)]
    pub on_class: BTreeMap<DataClass, ClassAction>,
    /// Client model names that also mean this route, as globs (`claude-*`): coding agents and
    /// SDKs send their vendor's model names, which a platform team maps here.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// When a vendor's safety filter blocks a prompt, try the next candidate (default: no,
    /// the client gets the block as a 400).
    #[serde(default)]
    pub fail_over_on_block: bool,
}

/// `[tenants.NAME]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawTenant {
    /// SHA-256 (hex) of each API key of this tenant: the file holds no key itself.
    pub api_key_sha256: Vec<String>,
    /// An environment variable holding one more API key of this tenant.
    pub api_key_env: Option<String>,
    /// The data class every request of this tenant has at least.
    pub default_class: Option<DataClass>,
    /// Routes this tenant may use; all when empty.
    pub routes: Vec<String>,
    /// What the tenant uses models for: commercial, internal, research, evaluation, personal.
    #[serde(rename = "use")]
    pub use_: Option<Use>,
    /// The tenant's monthly active users, for licences with a cap.
    pub monthly_active_users: Option<u64>,
    /// Where the tenant is domiciled ("EU", or an ISO country code).
    pub region: Option<String>,
    /// Whether the tenant's outputs feed model training.
    pub trains_models: bool,
}
