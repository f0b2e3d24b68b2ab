//! Tollgate's policy layer: pure functions and data, no I/O, no async, no clock.
//!
//! Everything the gateway decides about where a request may go is computed here from inputs
//! it is given, so every rule can be unit-tested, property-tested and benchmarked alone.
//!
//! At startup the gateway builds a [`Catalog`] of backend models, checked [`Route`]s and one
//! [`Detector`]; per request it scans the prompt, computes the [`effective_class`], and calls
//! [`decide`] with borrowed [`Facts`].

pub mod catalog;
pub mod class;
pub mod decide;
pub mod detect;
pub mod licence;
pub mod redact;
pub mod tenant;

pub use catalog::{
    Catalog, CatalogError, CatalogModel, ClassAction, ModelId, ModelSpec, OutputForm, Price, Route,
    RouteSpec, Strategy, StructuredOutput,
};
pub use class::{effective_class, DataClass, UnknownClass, Zone, ZoneCeilings};
pub use decide::{decide, Chosen, Decision, Facts, Live, Needs, Outcome, Reason, Refused, Rule};
pub use detect::{Detections, Detector, DetectorConfig, Finding, Kind};
pub use licence::{Licence, LicenceRefusal, ModelFacts, Openness, UnknownLicence};
pub use redact::{Redactor, StreamRestorer};
pub use tenant::{TenantProfile, Use};
