//! Tenants: who sends requests and what they declare about their use of models.

use crate::class::DataClass;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a tenant uses models for. The licence rules map each use onto every licence's terms
/// (see [`crate::licence`] for the mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Use {
    /// A product or service aimed at revenue, offered to customers or the public.
    Commercial,
    /// The organisation's own production use (employee tools, internal automation).
    Internal,
    /// Scientific or non-commercial research.
    Research,
    /// Testing and evaluating models, outside production.
    Evaluation,
    /// An individual's private, non-commercial use.
    Personal,
}

impl Use {
    /// Every use.
    pub const ALL: [Use; 5] = [
        Use::Commercial,
        Use::Internal,
        Use::Research,
        Use::Evaluation,
        Use::Personal,
    ];

    /// The use's name as written in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Use::Commercial => "commercial",
            Use::Internal => "internal",
            Use::Research => "research",
            Use::Evaluation => "evaluation",
            Use::Personal => "personal",
        }
    }
}

impl fmt::Display for Use {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a tenant declares about itself, as read from the gateway config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantProfile {
    /// What the tenant uses models for.
    #[serde(rename = "use")]
    pub use_: Use,
    /// Monthly active users of the tenant's products (with affiliates); `None` means not declared.
    #[serde(default)]
    pub monthly_active_users: Option<u64>,
    /// Where the tenant is domiciled: "EU", "EEA", or an ISO 3166 alpha-2 country code.
    #[serde(default)]
    pub region: Option<String>,
    /// Whether the tenant uses model outputs to train or improve other models.
    #[serde(default)]
    pub trains_models: bool,
    /// The data class every request of the tenant has at least.
    #[serde(default = "default_class")]
    pub default_class: DataClass,
}

fn default_class() -> DataClass {
    DataClass::Internal
}

impl TenantProfile {
    /// A profile with only a use declared.
    pub fn new(use_: Use) -> Self {
        TenantProfile {
            use_,
            monthly_active_users: None,
            region: None,
            trains_models: false,
            default_class: default_class(),
        }
    }

    /// Whether the tenant is domiciled in the European Union.
    pub fn in_eu(&self) -> bool {
        self.region.as_deref().is_some_and(is_eu)
    }

    /// Whether the tenant is in the EEA, Switzerland or the UK.
    pub fn in_eea_ch_uk(&self) -> bool {
        self.region.as_deref().is_some_and(|r| {
            is_eu(r)
                || ["EEA", "IS", "LI", "NO", "CH", "GB", "UK"]
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(r.trim()))
        })
    }
}

/// The 27 EU member states (ISO 3166 alpha-2; Greece also as "EL", the EU's own code).
const EU_MEMBERS: [&str; 28] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "EL", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// Whether a region string names the EU or one of its member states.
pub fn is_eu(region: &str) -> bool {
    let r = region.trim();
    r.eq_ignore_ascii_case("EU") || EU_MEMBERS.iter().any(|c| c.eq_ignore_ascii_case(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eu_regions() {
        assert!(is_eu("EU"));
        assert!(is_eu("de"));
        assert!(is_eu("FR"));
        assert!(!is_eu("US"));
        assert!(!is_eu("CH"));
        let mut t = TenantProfile::new(Use::Commercial);
        t.region = Some("NO".into());
        assert!(!t.in_eu());
        assert!(t.in_eea_ch_uk());
    }

    #[test]
    fn profile_deserializes_with_defaults() {
        let t: TenantProfile = toml::from_str("use = \"research\"\nregion = \"DE\"").unwrap();
        assert_eq!(t.use_, Use::Research);
        assert!(t.in_eu());
        assert!(!t.trains_models);
        assert_eq!(t.default_class, DataClass::Internal);
        assert!(toml::from_str::<TenantProfile>("use = \"sales\"").is_err());
        assert!(toml::from_str::<TenantProfile>("use = \"research\"\nfoo = 1").is_err());
    }
}
