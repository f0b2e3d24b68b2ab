//! The routing decision: which of a route's candidates may serve a request, in which order,
//! and why every other candidate was refused.

use crate::catalog::{Catalog, ClassAction, ModelId, OutputForm, Route, Strategy};
use crate::class::{DataClass, Zone, ZoneCeilings};
use crate::licence::{self, LicenceRefusal};
use crate::tenant::TenantProfile;
use serde::{Serialize, Serializer};
use std::fmt;

/// Observed state of a backend model, indexed by [`ModelId`] in [`Facts::live`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Live {
    /// Whether the backend is currently considered healthy.
    pub healthy: bool,
    /// Observed latency in milliseconds, if measured.
    pub latency_ms: Option<f32>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            healthy: true,
            latency_ms: None,
        }
    }
}

/// What the request needs from a backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Needs {
    /// Estimated prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens the request may produce (`max_tokens`, or 0 if unset).
    pub max_output_tokens: u32,
    /// The client asked for a stream.
    pub stream: bool,
    /// The request carries tools.
    pub tools: bool,
    /// The request carries images, audio, files or other parts that are not text.
    pub multimodal: bool,
    /// The request asks for embeddings (served only by embedding models), not a completion.
    pub embeddings: bool,
    /// The form its answer must take (`response_format`).
    pub output: OutputForm,
    /// The class of the request's parts that can be neither scanned nor redacted (images,
    /// audio, files, unknown part types); `None` when every part is text. Redaction cannot
    /// make these fit a zone, so a zone whose ceiling is below it is refused outright.
    pub opaque_class: Option<DataClass>,
}

/// Everything a decision depends on; cheap to build per request (all borrowed).
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Every backend model.
    pub catalog: &'a Catalog,
    /// The route the request asked for.
    pub route: &'a Route,
    /// Observed state per model id; a missing entry means healthy with unknown latency.
    pub live: &'a [Live],
    /// A model pinned by the request (`BACKEND/MODEL`); every other candidate is refused.
    pub pinned: Option<ModelId>,
    /// The request's effective data class.
    pub class: DataClass,
    /// Who is asking.
    pub tenant: &'a TenantProfile,
    /// The highest class each zone may receive.
    pub ceilings: &'a ZoneCeilings,
    /// What the request needs.
    pub needs: Needs,
}

/// The rule that refused a candidate; stable snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The request's class is above the candidate zone's ceiling.
    DataClassAboveZone,
    /// The model's licence forbids the tenant's use.
    LicenceForbidsUse,
    /// The model has no licence configured.
    LicenceMissing,
    /// The backend is unhealthy.
    Unhealthy,
    /// The prompt and completion do not fit the context window.
    ContextTooSmall,
    /// The model lacks streaming or tools the request needs.
    CapabilityMissing,
    /// The request pinned another model.
    PinnedMismatch,
}

impl Rule {
    /// Stable name for metrics labels and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::DataClassAboveZone => "data_class_above_zone",
            Rule::LicenceForbidsUse => "licence_forbids_use",
            Rule::LicenceMissing => "licence_missing",
            Rule::Unhealthy => "unhealthy",
            Rule::ContextTooSmall => "context_too_small",
            Rule::CapabilityMissing => "capability_missing",
            Rule::PinnedMismatch => "pinned_mismatch",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a candidate was refused, in detail; renders as a human-readable message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request's class is above the zone's ceiling.
    ClassAboveZone {
        /// The request's class.
        class: DataClass,
        /// The candidate's zone.
        zone: Zone,
        /// The zone's ceiling.
        ceiling: DataClass,
    },
    /// A licence rule refused.
    Licence(LicenceRefusal),
    /// The backend is unhealthy.
    Unhealthy,
    /// Tokens needed versus the context window.
    ContextTooSmall {
        /// Prompt plus completion tokens.
        needed: u64,
        /// The model's window.
        window: u32,
    },
    /// No streaming support.
    NoStreaming,
    /// No tool support.
    NoTools,
    /// No image, audio or file input.
    NoMultimodal,
    /// The model cannot keep the answer to the requested JSON form.
    NoStructuredOutput {
        /// The form asked for.
        form: OutputForm,
    },
    /// An embedding model for a completion, or a chat model for embeddings.
    WrongKind {
        /// Whether the request asks for embeddings.
        embeddings: bool,
    },
    /// An embeddings request whose class is above the zone's ceiling: redaction would embed
    /// placeholders instead of the document, so it is not an option.
    NoRedactedEmbeddings {
        /// The request's class.
        class: DataClass,
        /// The candidate's zone.
        zone: Zone,
    },
    /// Parts that cannot be redacted are above the zone's ceiling.
    OpaqueAboveZone {
        /// The class given to parts that cannot be scanned.
        class: DataClass,
        /// The candidate's zone.
        zone: Zone,
        /// The zone's ceiling.
        ceiling: DataClass,
    },
    /// Another model is pinned.
    NotPinned,
}

impl Reason {
    /// The rule this reason belongs to.
    pub fn rule(&self) -> Rule {
        match self {
            Reason::ClassAboveZone { .. }
            | Reason::OpaqueAboveZone { .. }
            | Reason::NoRedactedEmbeddings { .. } => Rule::DataClassAboveZone,
            Reason::Licence(LicenceRefusal::Missing) => Rule::LicenceMissing,
            Reason::Licence(_) => Rule::LicenceForbidsUse,
            Reason::Unhealthy => Rule::Unhealthy,
            Reason::ContextTooSmall { .. } => Rule::ContextTooSmall,
            Reason::NoStreaming
            | Reason::NoTools
            | Reason::NoMultimodal
            | Reason::NoStructuredOutput { .. }
            | Reason::WrongKind { .. } => Rule::CapabilityMissing,
            Reason::NotPinned => Rule::PinnedMismatch,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ClassAboveZone {
                class,
                zone,
                ceiling,
            } => write!(
                f,
                "{class} data may not be sent to the {zone} zone (its ceiling is {ceiling})"
            ),
            Reason::OpaqueAboveZone {
                class,
                zone,
                ceiling,
            } => write!(
                f,
                "the request has images, audio or files, treated as {class} since they cannot be \
                 scanned or redacted; the {zone} zone's ceiling is {ceiling}"
            ),
            Reason::Licence(r) => r.fmt(f),
            Reason::Unhealthy => f.write_str("backend is unhealthy"),
            Reason::ContextTooSmall { needed, window } => write!(
                f,
                "request needs {needed} tokens; the context window is {window}"
            ),
            Reason::NoStreaming => f.write_str("model does not support streaming"),
            Reason::NoTools => f.write_str("model does not support tools"),
            Reason::NoMultimodal => f.write_str("model does not take images, audio or files"),
            Reason::NoStructuredOutput { form } => match form {
                OutputForm::SchemaBeyondGrammar => f.write_str(
                    "model cannot enforce this response_format schema (it uses constraints a \
                     grammar does not express)",
                ),
                _ => f.write_str("model cannot enforce a JSON response_format"),
            },
            Reason::WrongKind { embeddings: true } => f.write_str("not an embedding model"),
            Reason::WrongKind { embeddings: false } => {
                f.write_str("an embedding model does not answer completions")
            }
            Reason::NoRedactedEmbeddings { class, zone } => write!(
                f,
                "{class} text is embedded only inside the trust boundary: the {zone} zone \
                 would need redaction, which would embed placeholders"
            ),
            Reason::NotPinned => f.write_str("the request pinned another model"),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A candidate that passed every rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Chosen {
    /// Position in the route's candidate list.
    pub index: usize,
    /// The model.
    pub model: ModelId,
    /// Detected spans must be redacted before sending (route policy `redact`).
    pub redact: bool,
}

/// A candidate refused by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// Position in the route's candidate list.
    pub index: usize,
    /// The model.
    pub model: ModelId,
    /// The first rule that refused it.
    pub rule: Rule,
    /// Why, for people.
    #[serde(rename = "message")]
    pub reason: Reason,
}

/// The candidates to try, in order, and the refused ones with their rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Candidates to try, in order.
    pub candidates: Vec<Chosen>,
    /// Candidates refused, in route order.
    pub refused: Vec<Refused>,
}

/// What the gateway should do with a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Try the candidates in order.
    Candidates,
    /// Rules refuse every candidate: fail closed with 403.
    Forbidden,
    /// Every candidate the rules allow is unhealthy: 503.
    Unavailable,
    /// Every candidate the rules allow lacks the context or capabilities the request needs: 400.
    Unsupported,
}

impl Outcome {
    /// The HTTP status to answer with (200 when there are candidates).
    pub fn status(self) -> u16 {
        match self {
            Outcome::Candidates => 200,
            Outcome::Forbidden => 403,
            Outcome::Unavailable => 503,
            Outcome::Unsupported => 400,
        }
    }
}

impl Decision {
    /// Whether to proceed, or how to fail closed.
    pub fn outcome(&self) -> Outcome {
        // Health is checked last, so an `unhealthy` refusal means every other rule passed.
        if !self.candidates.is_empty() {
            Outcome::Candidates
        } else if self.refused.iter().any(|r| r.rule == Rule::Unhealthy) {
            Outcome::Unavailable
        } else if self
            .refused
            .iter()
            .any(|r| matches!(r.rule, Rule::ContextTooSmall | Rule::CapabilityMissing))
        {
            Outcome::Unsupported
        } else {
            Outcome::Forbidden
        }
    }

    /// A one-line summary of why nothing is available, for error bodies.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for (i, r) in self.refused.iter().enumerate() {
            if i > 0 {
                s.push_str("; ");
            }
            s.push_str(&format!("candidate {}: {} ({})", r.index, r.rule, r.reason));
        }
        s
    }
}

/// The first rule refusing one candidate, or whether it needs redaction.
fn judge(f: &Facts, model: ModelId) -> Result<bool, Reason> {
    let m = f.catalog.get(model);
    if f.pinned.is_some_and(|p| p != model) {
        return Err(Reason::NotPinned);
    }
    licence::check(m.licence, &m.facts, f.tenant).map_err(Reason::Licence)?;
    if f.needs.embeddings != m.embeddings {
        return Err(Reason::WrongKind {
            embeddings: f.needs.embeddings,
        });
    }
    let ceiling = f.ceilings.ceiling(m.zone);
    let redact = f.class > ceiling;
    if redact && f.needs.embeddings {
        return Err(Reason::NoRedactedEmbeddings {
            class: f.class,
            zone: m.zone,
        });
    }
    if redact && !(m.zone == Zone::External && f.route.action(f.class) == ClassAction::Redact) {
        return Err(Reason::ClassAboveZone {
            class: f.class,
            zone: m.zone,
            ceiling,
        });
    }
    if let Some(opaque) = f.needs.opaque_class.filter(|c| *c > ceiling) {
        return Err(Reason::OpaqueAboveZone {
            class: opaque,
            zone: m.zone,
            ceiling,
        });
    }
    if f.needs.stream && !m.streaming {
        return Err(Reason::NoStreaming);
    }
    if f.needs.tools && !m.tools {
        return Err(Reason::NoTools);
    }
    if f.needs.multimodal && !m.facts.multimodal {
        return Err(Reason::NoMultimodal);
    }
    if !m.structured.keeps(f.needs.output) {
        return Err(Reason::NoStructuredOutput {
            form: f.needs.output,
        });
    }
    let needed = u64::from(f.needs.prompt_tokens) + u64::from(f.needs.max_output_tokens);
    if needed > u64::from(m.context_window) {
        return Err(Reason::ContextTooSmall {
            needed,
            window: m.context_window,
        });
    }
    if !live(f, model).healthy {
        return Err(Reason::Unhealthy);
    }
    Ok(redact)
}

fn live(f: &Facts, model: ModelId) -> Live {
    f.live.get(model.index()).copied().unwrap_or_default()
}

/// Decides which candidates may serve the request, in order. Pure: same facts, same decision.
pub fn decide(f: &Facts) -> Decision {
    let n = f.route.candidates.len();
    let mut d = Decision {
        candidates: Vec::with_capacity(n),
        refused: Vec::new(),
    };
    for (index, &model) in f.route.candidates.iter().enumerate() {
        match judge(f, model) {
            Ok(redact) => d.candidates.push(Chosen {
                index,
                model,
                redact,
            }),
            Err(reason) => d.refused.push(Refused {
                index,
                model,
                rule: reason.rule(),
                reason,
            }),
        }
    }
    // Stable sorts keep config order among equals.
    match f.route.strategy {
        Strategy::Priority => {}
        Strategy::LocalFirst => d.candidates.sort_by_key(|c| f.catalog.get(c.model).zone),
        Strategy::Cheapest => {
            let cost = |c: &Chosen| {
                let p = f.catalog.get(c.model).price;
                p.input_per_mtok * f64::from(f.needs.prompt_tokens)
                    + p.output_per_mtok * f64::from(f.needs.max_output_tokens.max(1))
            };
            d.candidates.sort_by(|a, b| cost(a).total_cmp(&cost(b)));
        }
        Strategy::LowestLatency => {
            let key = |c: &Chosen| live(f, c.model).latency_ms.unwrap_or(f32::INFINITY);
            d.candidates.sort_by(|a, b| key(a).total_cmp(&key(b)));
        }
    }
    d
}

#[cfg(test)]
mod tests;
