//! Backend models and routes, checked once at config load so per-request decisions only
//! index into them.

use crate::class::{DataClass, Zone};
use crate::licence::{self, Licence, ModelFacts, Openness, UnknownLicence};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A backend model's index in its [`Catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelId(pub u32);

impl ModelId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Price of a model in the caller's currency per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input_per_mtok: f64,
    /// Per million completion tokens.
    pub output_per_mtok: f64,
}

/// A backend model as written in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Backend name.
    pub backend: String,
    /// Model name at that backend.
    pub model: String,
    /// Where the backend runs.
    pub zone: Zone,
    /// Licence or terms id from the catalogue; `None` refuses every use until set.
    #[serde(default)]
    pub licence: Option<String>,
    /// Takes images or other non-text input.
    #[serde(default)]
    pub multimodal: bool,
    /// What is open about the model.
    #[serde(default)]
    pub open: Openness,
    /// Context window in tokens.
    pub context_window: u32,
    /// Supports streamed responses.
    #[serde(default = "yes")]
    pub streaming: bool,
    /// Supports tool calls.
    #[serde(default)]
    pub tools: bool,
    /// An embedding model: it serves embeddings requests, and no chat.
    #[serde(default)]
    pub embeddings: bool,
    /// How it keeps an answer to a requested JSON form.
    #[serde(default)]
    pub structured: StructuredOutput,
    /// Price per million tokens.
    #[serde(default)]
    pub price: Price,
}

fn yes() -> bool {
    true
}

/// A checked backend model.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogModel {
    /// Backend name.
    pub backend: String,
    /// Model name at that backend.
    pub model: String,
    /// Where the backend runs.
    pub zone: Zone,
    /// The model's licence, resolved; `None` when none is configured.
    pub licence: Option<&'static Licence>,
    /// Facts the licence rules depend on.
    pub facts: ModelFacts,
    /// Context window in tokens.
    pub context_window: u32,
    /// Supports streamed responses.
    pub streaming: bool,
    /// Supports tool calls.
    pub tools: bool,
    /// An embedding model: it serves embeddings requests, and no chat.
    pub embeddings: bool,
    /// How it keeps an answer to a requested JSON form.
    pub structured: StructuredOutput,
    /// Price per million tokens.
    pub price: Price,
}

/// How a model keeps an answer to the JSON form a request asks for (`response_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// It does not: a request for JSON goes to another model.
    None,
    /// A grammar constrains its decoding: any JSON object, and the schemas a grammar can
    /// express.
    Grammar,
    /// It enforces any JSON schema itself (a vendor's structured outputs).
    #[default]
    Full,
}

/// The form a request asks its answer to take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputForm {
    /// Free text.
    #[default]
    Text,
    /// Any JSON object.
    Json,
    /// JSON matching a schema a grammar can express.
    Schema,
    /// JSON matching a schema with constraints no grammar expresses (`not`, `uniqueItems`,
    /// numeric bounds, ...): only a model enforcing schemas itself keeps it.
    SchemaBeyondGrammar,
}

impl StructuredOutput {
    /// Whether an answer of `form` is kept by such a model.
    pub fn keeps(self, form: OutputForm) -> bool {
        match (self, form) {
            (_, OutputForm::Text) => true,
            (StructuredOutput::None, _) => false,
            (StructuredOutput::Grammar, OutputForm::SchemaBeyondGrammar) => false,
            _ => true,
        }
    }
}

/// Errors in the model and route config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A model names a licence id the catalogue does not know.
    #[error("model {backend}/{model}: {source}")]
    UnknownLicence {
        /// Backend name.
        backend: String,
        /// Model name.
        model: String,
        /// The unknown id.
        source: UnknownLicence,
    },
    /// The same backend/model pair is configured twice.
    #[error("model {0} is configured twice")]
    Duplicate(String),
    /// A route names a model that is not configured.
    #[error("route {route}: unknown model {model} (expected BACKEND/MODEL)")]
    UnknownModel {
        /// Route name.
        route: String,
        /// The name as written.
        model: String,
    },
}

/// Every backend model, built at startup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    models: Vec<CatalogModel>,
}

impl Catalog {
    /// An empty catalogue.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Builds a catalogue from config entries.
    pub fn from_specs(specs: impl IntoIterator<Item = ModelSpec>) -> Result<Catalog, CatalogError> {
        let mut c = Catalog::new();
        for spec in specs {
            c.add(spec)?;
        }
        Ok(c)
    }

    /// Checks and adds a model; its licence id must be in the catalogue.
    pub fn add(&mut self, spec: ModelSpec) -> Result<ModelId, CatalogError> {
        if self.find(&spec.backend, &spec.model).is_some() {
            return Err(CatalogError::Duplicate(format!(
                "{}/{}",
                spec.backend, spec.model
            )));
        }
        let licence = match spec.licence.as_deref().map(licence::lookup).transpose() {
            Ok(l) => l,
            Err(source) => {
                return Err(CatalogError::UnknownLicence {
                    backend: spec.backend,
                    model: spec.model,
                    source,
                })
            }
        };
        self.models.push(CatalogModel {
            backend: spec.backend,
            model: spec.model,
            zone: spec.zone,
            licence,
            facts: ModelFacts {
                multimodal: spec.multimodal,
                open: spec.open,
            },
            context_window: spec.context_window,
            streaming: spec.streaming,
            tools: spec.tools,
            embeddings: spec.embeddings,
            structured: spec.structured,
            price: spec.price,
        });
        Ok(ModelId((self.models.len() - 1) as u32))
    }

    /// The model with id `id`.
    ///
    /// # Panics
    /// If `id` did not come from this catalogue.
    pub fn get(&self, id: ModelId) -> &CatalogModel {
        &self.models[id.index()]
    }

    /// The id of `backend`/`model`.
    pub fn find(&self, backend: &str, model: &str) -> Option<ModelId> {
        self.models
            .iter()
            .position(|m| m.backend == backend && m.model == model)
            .map(|i| ModelId(i as u32))
    }

    /// The id of a `BACKEND/MODEL` name (the model part may itself contain `/`).
    pub fn find_pinned(&self, name: &str) -> Option<ModelId> {
        let (backend, model) = name.split_once('/')?;
        self.find(backend, model)
    }

    /// How many models there are.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// Every model with its id.
    pub fn iter(&self) -> impl Iterator<Item = (ModelId, &CatalogModel)> {
        self.models
            .iter()
            .enumerate()
            .map(|(i, m)| (ModelId(i as u32), m))
    }
}

/// How a route orders the candidates that pass every rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Config order.
    #[default]
    Priority,
    /// Lowest estimated price for the request first.
    Cheapest,
    /// Lowest observed latency first; unknown latency last.
    LowestLatency,
    /// On-device, then local, then external; config order within a zone.
    LocalFirst,
}

/// What a route does with a request whose class an external candidate's zone may not receive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassAction {
    /// Route only to zones allowed to receive the class.
    #[default]
    Route,
    /// Keep external candidates, marked to have detected spans redacted before sending.
    Redact,
}

/// A route as written in the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Route name (the `model` clients ask for).
    pub name: String,
    /// Candidate models as `BACKEND/MODEL`, in priority order.
    pub candidates: Vec<String>,
    /// How to order candidates.
    #[serde(default)]
    pub strategy: Strategy,
    /// Per data class: route (default) or redact for external candidates.
    #[serde(default)]
    pub on_class: BTreeMap<DataClass, ClassAction>,
}

/// A checked route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Route name.
    pub name: String,
    /// Candidate models in config order.
    pub candidates: Vec<ModelId>,
    /// How to order candidates.
    pub strategy: Strategy,
    /// Action per data class, indexed by `DataClass as usize`.
    pub actions: [ClassAction; 4],
}

impl Route {
    /// Checks a route against the catalogue.
    pub fn build(spec: &RouteSpec, catalog: &Catalog) -> Result<Route, CatalogError> {
        let candidates = spec
            .candidates
            .iter()
            .map(|name| {
                catalog
                    .find_pinned(name)
                    .ok_or_else(|| CatalogError::UnknownModel {
                        route: spec.name.clone(),
                        model: name.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut actions = [ClassAction::Route; 4];
        for (class, action) in &spec.on_class {
            actions[*class as usize] = *action;
        }
        Ok(Route {
            name: spec.name.clone(),
            candidates,
            strategy: spec.strategy,
            actions,
        })
    }

    /// The action for requests of `class`.
    pub fn action(&self, class: DataClass) -> ClassAction {
        self.actions[class as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(backend: &str, model: &str, licence: Option<&str>) -> ModelSpec {
        ModelSpec {
            backend: backend.into(),
            model: model.into(),
            zone: Zone::Local,
            licence: licence.map(Into::into),
            multimodal: false,
            open: Openness::default(),
            context_window: 8192,
            streaming: true,
            tools: false,
            embeddings: false,
            structured: Default::default(),
            price: Price::default(),
        }
    }

    #[test]
    fn catalog_checks_licences_and_duplicates() {
        let mut c = Catalog::new();
        let id = c
            .add(spec("vllm", "meta/llama-3.1-8b", Some("llama3.1")))
            .unwrap();
        assert_eq!(c.find_pinned("vllm/meta/llama-3.1-8b"), Some(id));
        assert!(matches!(
            c.add(spec("vllm", "x", Some("LLAMA3.1"))),
            Err(CatalogError::UnknownLicence { .. })
        ));
        assert!(matches!(
            c.add(spec("vllm", "meta/llama-3.1-8b", None)),
            Err(CatalogError::Duplicate(_))
        ));
        assert!(c.add(spec("ollama", "mystery", None)).is_ok());
    }

    #[test]
    fn specs_deserialize_from_toml() {
        let m: ModelSpec = toml::from_str(
            "backend = \"openai\"\nmodel = \"gpt-4o\"\nzone = \"external\"\nlicence = \"openai-terms\"\ncontext_window = 128000\ntools = true\nprice = { input_per_mtok = 2.5, output_per_mtok = 10.0 }",
        )
        .unwrap();
        assert!(m.streaming);
        let c = Catalog::from_specs([m]).unwrap();
        let r: RouteSpec = toml::from_str(
            "name = \"chat\"\ncandidates = [\"openai/gpt-4o\"]\nstrategy = \"local_first\"\non_class = { confidential = \"redact\" }",
        )
        .unwrap();
        let route = Route::build(&r, &c).unwrap();
        assert_eq!(route.action(DataClass::Confidential), ClassAction::Redact);
        assert_eq!(route.action(DataClass::Restricted), ClassAction::Route);
        let bad = RouteSpec {
            candidates: vec!["openai/gpt-5".into()],
            ..r
        };
        assert!(Route::build(&bad, &c).is_err());
    }
}
