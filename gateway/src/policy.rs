//! The policy state built once at start-up: the model catalogue, checked routes, the detector.
//! Per request, the pipeline only indexes into it and calls the pure `decide`.

use crate::config::{Candidate, Config};
use tollgate_policies::{Catalog, Detector, ModelId, ModelSpec, Price, Route, RouteSpec};

/// Catalogue, routes and detector, aligned with the config's indexes.
#[derive(Debug)]
pub struct Policy {
    /// Every backend model with its licence, zone and capabilities.
    pub catalog: Catalog,
    /// Checked routes, at the same indexes as `Config::routes`.
    pub routes: Vec<Route>,
    /// A one-candidate route per model, for requests that pin `BACKEND/MODEL`.
    pub pinned: Vec<Route>,
    /// The sensitivity detector.
    pub detector: Detector,
    /// `[backend][model]` → catalogue id.
    ids: Vec<Vec<ModelId>>,
    /// Catalogue id → config candidate.
    by_id: Vec<Candidate>,
}

impl Policy {
    /// Builds the policy state. `price` gives each `BACKEND/MODEL`'s price, when one is known.
    pub fn build(config: &Config, price: impl Fn(&str) -> Option<Price>) -> Result<Policy, String> {
        let mut catalog = Catalog::new();
        let mut ids = Vec::with_capacity(config.backends.len());
        let mut by_id = Vec::new();
        for (b, backend) in config.backends.iter().enumerate() {
            let mut row = Vec::with_capacity(backend.models.len());
            for (m, model) in backend.models.iter().enumerate() {
                let spec = ModelSpec {
                    backend: backend.name.clone(),
                    model: model.name.clone(),
                    zone: backend.zone,
                    licence: model.licence.clone(),
                    multimodal: model.multimodal,
                    open: model.open,
                    // Unknown windows are not a reason to refuse.
                    context_window: model.context_window.unwrap_or(u32::MAX),
                    streaming: model.streaming,
                    tools: model.tools,
                    structured: model.structured,
                    embeddings: model.embeddings,
                    price: price(&model.key).unwrap_or_default(),
                };
                let id = catalog
                    .add(spec)
                    .map_err(|e| format!("backends.{}.models.{}: {e}", backend.name, model.name))?;
                row.push(id);
                by_id.push(Candidate {
                    backend: b,
                    model: m,
                });
            }
            ids.push(row);
        }
        let routes = config
            .routes
            .iter()
            .map(|r| {
                let spec = RouteSpec {
                    name: r.name.clone(),
                    candidates: r
                        .candidates
                        .iter()
                        .map(|c| config.model(*c).key.clone())
                        .collect(),
                    strategy: r.strategy,
                    on_class: r.on_class.clone(),
                };
                Route::build(&spec, &catalog).map_err(|e| format!("routes.{}: {e}", r.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pinned = by_id
            .iter()
            .map(|c| {
                let spec = RouteSpec {
                    name: config.model(*c).key.clone(),
                    candidates: vec![config.model(*c).key.clone()],
                    strategy: Default::default(),
                    on_class: Default::default(),
                };
                Route::build(&spec, &catalog).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let detector = Detector::new(&config.detect).map_err(|e| format!("detect: {e}"))?;
        Ok(Policy {
            catalog,
            routes,
            pinned,
            detector,
            ids,
            by_id,
        })
    }

    /// The catalogue id of a config candidate.
    pub fn id(&self, c: Candidate) -> ModelId {
        self.ids[c.backend][c.model]
    }

    /// The config candidate of a catalogue id.
    pub fn candidate(&self, id: ModelId) -> Candidate {
        self.by_id[id.index()]
    }
}
