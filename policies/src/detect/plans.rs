//! Numbering plans from libphonenumber's metadata (shipped inside the `phonenumber` crate),
//! compiled once per detector. The crate's own parser recompiles patterns through a small
//! shared cache (tens of microseconds a number); here each region's number-type patterns are
//! compiled on first use and a number is checked with a few anchored matches.

use phonenumber::metadata::DATABASE;
use regex::Regex;
use std::sync::OnceLock;

/// Regions whose plans the detector knows: the languages served and the countries their
/// speakers most often write numbers for.
pub(crate) const REGIONS: [&str; 48] = [
    "US", "CA", "GB", "IE", "DE", "AT", "CH", "LI", "FR", "BE", "LU", "MC", "ES", "AD", "IT", "SM",
    "VA", "NL", "PT", "BR", "AR", "MX", "CO", "CL", "PE", "DK", "SE", "NO", "FI", "IS", "PL", "CZ",
    "SK", "HU", "RO", "GR", "HR", "SI", "TR", "JP", "CN", "IN", "AU", "NZ", "ZA", "MA", "AE", "IL",
];

/// One region's plan.
struct Plan {
    id: &'static str,
    code: u16,
    national_prefix: Option<String>,
    /// `(anchored pattern, possible lengths)` per number type, compiled on first use.
    types: OnceLock<Vec<(Regex, Vec<u16>)>>,
}

/// The plans of [`REGIONS`].
pub(crate) struct Plans {
    plans: Vec<Plan>,
}

impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plans")
            .field("regions", &self.plans.len())
            .finish()
    }
}

impl Plans {
    /// Reads the regions' metadata (patterns are compiled lazily).
    pub(crate) fn new() -> Plans {
        let plans = REGIONS
            .iter()
            .filter_map(|id| {
                let meta = DATABASE.by_id(*id)?;
                Some(Plan {
                    id,
                    code: meta.country_code(),
                    national_prefix: meta.national_prefix().map(str::to_string),
                    types: OnceLock::new(),
                })
            })
            .collect();
        Plans { plans }
    }

    /// Whether `national` (digits, trunk prefix included) is valid in region `id`.
    pub(crate) fn valid_in(&self, id: &str, national: &[u8]) -> bool {
        self.plans
            .iter()
            .find(|p| p.id == id)
            .is_some_and(|p| p.valid_national(national))
    }

    /// Whether `digits` (country code first) is a valid international number.
    pub(crate) fn valid_international(&self, digits: &[u8]) -> bool {
        (1..=3).any(|cc| {
            if digits.len() <= cc + 3 {
                return false;
            }
            let code = super::text::number(&digits[..cc]);
            let nsn = &digits[cc..];
            self.plans
                .iter()
                .filter(|p| u64::from(p.code) == code)
                .any(|p| p.valid_nsn(nsn))
        })
    }
}

impl Plan {
    fn valid_national(&self, national: &[u8]) -> bool {
        match &self.national_prefix {
            Some(p) if national.starts_with(p.as_bytes()) => self.valid_nsn(&national[p.len()..]),
            // Without its trunk 0 a national number of a trunk-prefix country is written only
            // by mistake (Italy keeps the 0 inside the number and has no prefix); NANP's `1`
            // is optional. Brazil dials its 0 with a carrier code and never writes it:
            // `(11) 95073-9109`.
            Some(p) if p == "0" && self.id != "BR" => false,
            _ => self.valid_nsn(national),
        }
    }

    fn valid_nsn(&self, nsn: &[u8]) -> bool {
        let Ok(s) = std::str::from_utf8(nsn) else {
            return false;
        };
        let len = nsn.len() as u16;
        self.types()
            .iter()
            .any(|(re, lens)| (lens.is_empty() || lens.contains(&len)) && re.is_match(s))
    }

    fn types(&self) -> &[(Regex, Vec<u16>)] {
        self.types.get_or_init(|| {
            let Some(meta) = DATABASE.by_id(self.id) else {
                return Vec::new();
            };
            let general = meta.descriptors().general().possible_length().to_vec();
            let d = meta.descriptors();
            [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.uan(),
                d.pager(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|desc| {
                // The metadata's patterns are laid out with whitespace, as in the XML.
                let re =
                    regex::RegexBuilder::new(&format!("^(?:{})$", desc.national_number().as_str()))
                        .ignore_whitespace(true)
                        .build()
                        .ok()?;
                let lens = if desc.possible_length().is_empty() {
                    general.clone()
                } else {
                    desc.possible_length().to_vec()
                };
                Some((re, lens))
            })
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_validate_national_and_international() {
        let p = Plans::new();
        assert!(p.valid_in("DE", b"015123456789"));
        assert!(p.valid_in("FR", b"0612345678"));
        assert!(p.valid_in("ES", b"612345678"));
        assert!(p.valid_in("US", b"2128675309"));
        assert!(p.valid_in("JP", b"09012345678"));
        assert!(p.valid_in("IT", b"3471234567"));
        assert!(!p.valid_in("DE", b"15123456789"));
        assert!(!p.valid_in("US", b"1234567890"));
        assert!(p.valid_international(b"4915123456789"));
        assert!(p.valid_international(b"442079460958"));
        assert!(p.valid_international(b"13193817931"));
        assert!(!p.valid_international(b"999123456"));
    }
}
