//! Tollgate's policy layer: pure functions and data, no I/O, no async, no clock.
//!
//! Everything the gateway decides about where a request may go is computed here from inputs
//! it is given, so every rule can be unit-tested, property-tested and benchmarked alone.

pub mod class;
pub mod detect;
pub mod licence;
pub mod tenant;

pub use class::{effective_class, DataClass, UnknownClass, Zone, ZoneCeilings};
pub use detect::{Detections, Detector, DetectorConfig, Finding, Kind};
pub use licence::{Licence, LicenceRefusal, ModelFacts, Openness, UnknownLicence};
pub use tenant::{TenantProfile, Use};
