//! Data classes and trust zones: how sensitive a request is, and where it may therefore go.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How sensitive a request's content is, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataClass {
    /// May be published.
    Public,
    /// For the organisation's eyes; fine for vetted processors.
    Internal,
    /// Personal data and business secrets.
    Confidential,
    /// Credentials, government and financial identifiers, health data.
    Restricted,
}

impl DataClass {
    /// Every class, least sensitive first.
    pub const ALL: [DataClass; 4] = [
        DataClass::Public,
        DataClass::Internal,
        DataClass::Confidential,
        DataClass::Restricted,
    ];

    /// The class's name as written in configs, headers and records.
    pub fn as_str(self) -> &'static str {
        match self {
            DataClass::Public => "public",
            DataClass::Internal => "internal",
            DataClass::Confidential => "confidential",
            DataClass::Restricted => "restricted",
        }
    }
}

impl fmt::Display for DataClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown data-class name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data class '{0}': expected one of public, internal, confidential, restricted")]
pub struct UnknownClass(pub String);

impl FromStr for DataClass {
    type Err = UnknownClass;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataClass::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownClass(s.to_string()))
    }
}

/// Where a backend runs, relative to the organisation's trust boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// Inside the gateway process itself.
    OnDevice,
    /// Servers inside the organisation.
    Local,
    /// Third-party APIs outside the organisation.
    External,
}

impl Zone {
    /// Every zone, most trusted first.
    pub const ALL: [Zone; 3] = [Zone::OnDevice, Zone::Local, Zone::External];

    /// The zone's name as written in configs and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::OnDevice => "on_device",
            Zone::Local => "local",
            Zone::External => "external",
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The highest data class each trust zone may receive (`[zones]` in the gateway config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZoneCeilings {
    /// Ceiling for models inside the gateway process.
    pub on_device: DataClass,
    /// Ceiling for servers inside the organisation.
    pub local: DataClass,
    /// Ceiling for third-party APIs.
    pub external: DataClass,
}

impl Default for ZoneCeilings {
    fn default() -> Self {
        ZoneCeilings {
            on_device: DataClass::Restricted,
            local: DataClass::Restricted,
            external: DataClass::Internal,
        }
    }
}

impl ZoneCeilings {
    /// The highest class `zone` may receive.
    pub fn ceiling(&self, zone: Zone) -> DataClass {
        match zone {
            Zone::OnDevice => self.on_device,
            Zone::Local => self.local,
            Zone::External => self.external,
        }
    }

    /// Whether a request of class `class` may be sent to `zone` as it is.
    pub fn allows(&self, zone: Zone, class: DataClass) -> bool {
        class <= self.ceiling(zone)
    }
}

/// The class a request is handled as: the highest of what the client declared (the
/// `x-tollgate-data-class` header), the tenant's default and what detection found.
///
/// A client can raise its class this way but never lower it below the tenant default or the
/// detected content. A declared value that is not a class name is an error, not "no class".
pub fn effective_class(
    declared: Option<&str>,
    tenant_default: DataClass,
    detected: Option<DataClass>,
) -> Result<DataClass, UnknownClass> {
    let declared = declared.map(str::parse::<DataClass>).transpose()?;
    Ok([declared, Some(tenant_default), detected]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(tenant_default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_ordered_and_parse_back() {
        assert!(DataClass::Public < DataClass::Internal);
        assert!(DataClass::Confidential < DataClass::Restricted);
        for c in DataClass::ALL {
            assert_eq!(c.as_str().parse::<DataClass>(), Ok(c));
        }
        assert_eq!("RESTRICTED".parse::<DataClass>(), Ok(DataClass::Restricted));
        assert!("secret".parse::<DataClass>().is_err());
    }

    #[test]
    fn effective_class_only_goes_up() {
        use DataClass::*;
        assert_eq!(effective_class(None, Internal, None), Ok(Internal));
        assert_eq!(
            effective_class(Some("public"), Internal, None),
            Ok(Internal)
        );
        assert_eq!(
            effective_class(Some("restricted"), Public, None),
            Ok(Restricted)
        );
        assert_eq!(
            effective_class(Some("public"), Public, Some(Confidential)),
            Ok(Confidential)
        );
        assert!(effective_class(Some("top-secret"), Public, None).is_err());
    }

    #[test]
    fn zone_ceilings_default_and_deserialize() {
        let d = ZoneCeilings::default();
        assert!(d.allows(Zone::External, DataClass::Internal));
        assert!(!d.allows(Zone::External, DataClass::Confidential));
        assert!(d.allows(Zone::Local, DataClass::Restricted));
        let z: ZoneCeilings = toml::from_str("external = \"public\"").unwrap();
        assert_eq!(z.external, DataClass::Public);
        assert_eq!(z.local, DataClass::Restricted);
        assert!(toml::from_str::<ZoneCeilings>("extern = \"public\"").is_err());
    }
}
