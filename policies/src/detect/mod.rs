//! Finds personal data and secrets in prompt text and maps them to a data class.
//!
//! One pass per text part, prefiltered: an Aho-Corasick automaton finds rare anchors (secret
//! prefixes, secret-looking names, context keywords such as "date of birth") and a byte loop
//! visits only digits, `@` and `:`. Validators (Luhn, mod-97, SSN ranges, public IP ranges,
//! check digits of national ids, numbering plans, placeholders and documented example values)
//! run only at those candidates.
//!
//! Text is normalised first where it needs it (see `normalize`), encoded blobs are decoded and
//! scanned (see `blobs`), and values split across consecutive parts are found at the seams
//! (see `scan`).
//!
//! Findings carry byte offsets into the original text, never the matched text, so they are
//! safe to log.

mod context;
mod numeric;
mod people;
mod secrets;
mod text;
mod validate;

// The scan pipeline, normalisation and decoding, identifiers and numbering plans.
mod blobs;
mod chat;
mod columns;
mod dotted;
mod groups;
mod id_words;
mod idcheck;
mod ids;
mod mrz;
mod net;
mod normalize;
mod number_words;
mod phone;
mod phone_context;
mod plans;
mod scan;
mod secret_values;
mod secret_words;
mod spaced;
mod spelled;
mod split;
mod ssn;
mod vendors;

use crate::class::DataClass;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An e-mail address outside the reserved example domains.
    Email,
    /// A phone number in international or national format.
    Phone,
    /// A payment card number passing Luhn with a known issuer prefix.
    PaymentCard,
    /// An IBAN of the right length for its country, passing mod-97.
    Iban,
    /// A US social security number in a valid range.
    UsSsn,
    /// A UK national insurance number.
    UkNino,
    /// A national identity, tax or social-security number (other than a US SSN or UK NINO), or
    /// a driving licence number.
    NationalId,
    /// A passport number near a passport keyword.
    Passport,
    /// A medical record, patient, NHS or health-insurance number.
    MedicalId,
    /// A public IPv4 or IPv6 address.
    IpAddress,
    /// A street address near a person.
    StreetAddress,
    /// A date of birth.
    DateOfBirth,
    /// Health details tied to a person.
    Health,
    /// An AWS access key id.
    AwsAccessKey,
    /// An AWS secret access key.
    AwsSecretKey,
    /// A GitHub token.
    GithubToken,
    /// An OpenAI API key.
    OpenaiKey,
    /// An Anthropic API key.
    AnthropicKey,
    /// A Slack token.
    SlackToken,
    /// A Google API key.
    GoogleApiKey,
    /// A Stripe secret or restricted key.
    StripeKey,
    /// A signed JSON Web Token.
    Jwt,
    /// A PEM private key block.
    PrivateKey,
    /// A password in a connection string or assignment.
    Password,
    /// A high-entropy value assigned to a secret-looking name, or another vendor's credential.
    GenericSecret,
    /// A private person's name, reported only beside another finding: a name alone is not
    /// sensitive, but where the prompt is, its names are redacted with the rest.
    Person,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 26] = [
        Kind::Email,
        Kind::Phone,
        Kind::PaymentCard,
        Kind::Iban,
        Kind::UsSsn,
        Kind::UkNino,
        Kind::NationalId,
        Kind::Passport,
        Kind::MedicalId,
        Kind::IpAddress,
        Kind::StreetAddress,
        Kind::DateOfBirth,
        Kind::Health,
        Kind::AwsAccessKey,
        Kind::AwsSecretKey,
        Kind::GithubToken,
        Kind::OpenaiKey,
        Kind::AnthropicKey,
        Kind::SlackToken,
        Kind::GoogleApiKey,
        Kind::StripeKey,
        Kind::Jwt,
        Kind::PrivateKey,
        Kind::Password,
        Kind::GenericSecret,
        Kind::Person,
    ];

    /// Stable snake_case name, for metrics labels and the explain endpoint.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::PaymentCard => "payment_card",
            Kind::Iban => "iban",
            Kind::UsSsn => "us_ssn",
            Kind::UkNino => "uk_nino",
            Kind::NationalId => "national_id",
            Kind::Passport => "passport",
            Kind::MedicalId => "medical_id",
            Kind::IpAddress => "ip_address",
            Kind::StreetAddress => "street_address",
            Kind::DateOfBirth => "date_of_birth",
            Kind::Health => "health",
            Kind::AwsAccessKey => "aws_access_key",
            Kind::AwsSecretKey => "aws_secret_key",
            Kind::GithubToken => "github_token",
            Kind::OpenaiKey => "openai_key",
            Kind::AnthropicKey => "anthropic_key",
            Kind::SlackToken => "slack_token",
            Kind::GoogleApiKey => "google_api_key",
            Kind::StripeKey => "stripe_key",
            Kind::Jwt => "jwt",
            Kind::PrivateKey => "private_key",
            Kind::Password => "password",
            Kind::GenericSecret => "generic_secret",
            Kind::Person => "person",
        }
    }

    /// Rank used to pick between overlapping findings.
    fn specificity(self) -> u8 {
        match self {
            Kind::GenericSecret | Kind::Person => 0,
            Kind::Email | Kind::Phone | Kind::NationalId | Kind::IpAddress => 1,
            Kind::StreetAddress | Kind::DateOfBirth | Kind::Health => 1,
            _ => 2,
        }
    }

    /// The placeholder stem used by redaction (`[EMAIL_1]`).
    pub fn label(self) -> &'static str {
        match self {
            Kind::Email => "EMAIL",
            Kind::Phone => "PHONE",
            Kind::PaymentCard => "CARD",
            Kind::Iban => "IBAN",
            Kind::UsSsn => "SSN",
            Kind::UkNino => "NINO",
            Kind::NationalId => "ID",
            Kind::Passport => "PASSPORT",
            Kind::MedicalId => "MEDICAL_ID",
            Kind::Person => "PERSON",
            Kind::IpAddress => "IP",
            Kind::StreetAddress => "ADDRESS",
            Kind::DateOfBirth => "DOB",
            Kind::Health => "HEALTH",
            _ => "SECRET",
        }
    }

    /// The class a finding of this kind gives a request unless configured otherwise:
    /// secrets, government and financial identifiers and health details are restricted,
    /// other personal data confidential.
    pub fn default_class(self) -> DataClass {
        match self {
            Kind::Email
            | Kind::Phone
            | Kind::IpAddress
            | Kind::StreetAddress
            | Kind::DateOfBirth
            | Kind::Person => DataClass::Confidential,
            _ => DataClass::Restricted,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Detector settings (`[detect]` in the gateway config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Class overrides per kind, e.g. `ip_address = "internal"`.
    pub classes: BTreeMap<Kind, DataClass>,
    /// Kinds not to look for.
    pub disabled: Vec<Kind>,
    /// The class of request parts that cannot be scanned (images, audio, files, unknown part
    /// types). Confidential by default, so that by default an image never reaches an external
    /// backend: nothing can tell what it shows.
    pub unscannable: DataClass,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            classes: BTreeMap::new(),
            disabled: Vec::new(),
            unscannable: DataClass::Confidential,
        }
    }
}

/// One thing found: its kind and where, as byte offsets into text part `part`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// Index of the text part it was found in.
    pub part: usize,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

/// Everything found in a request, and the class it implies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Detections {
    /// Findings ordered by part, then offset; never overlapping within a part.
    pub findings: Vec<Finding>,
    /// The highest class of any finding; `None` when nothing was found.
    pub class: Option<DataClass>,
}

impl Detections {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// The findings in text part `part`.
    pub fn in_part(&self, part: usize) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.part == part)
    }
}

/// What an anchor found by the automaton asks the scanner to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// A case-sensitive secret prefix such as `ghp_`.
    Prefix,
    /// `://`, the start of a URL that may carry a password.
    Url,
    /// A name that a password may be assigned to.
    PasswordName,
    /// A name that a secret may be assigned to.
    SecretName,
    /// A birth label or word, judged by the people matchers once names are known.
    People(people::Cue),
    /// Words announcing an identity-document number.
    IdDocument,
    /// Words announcing a US social security number.
    Ssn,
    /// Words announcing a phone number.
    PhoneWord,
    /// Words saying a value given in pieces continues ("the rest is").
    Continuation,
    /// Words announcing an alarm, door or key-safe code, or a card's PIN.
    PinWord,
}

/// Compiled detector; build once at startup and share.
#[derive(Debug, Clone)]
pub struct Detector {
    anchors: AhoCorasick,
    anchor_kinds: Vec<Anchor>,
    /// Index of the first spelling-layer marker among `anchors`' patterns.
    spelling_from: usize,
    id_anchors: AhoCorasick,
    id_anchor_kinds: Vec<Anchor>,
    versions: AhoCorasick,
    class_of: [DataClass; Kind::ALL.len()],
    enabled: [bool; Kind::ALL.len()],
    plans: std::sync::Arc<plans::Plans>,
}

/// Errors building a detector.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the detector's keyword automaton: {0}")]
pub struct BuildError(#[from] aho_corasick::BuildError);

impl Detector {
    /// Compiles the detector.
    pub fn new(config: &DetectorConfig) -> Result<Detector, BuildError> {
        // Secret prefixes and names beside the shared table; then the markers of the spelling
        // layer, which are told apart by index (from `spelling_from` on), not by anchor kind.
        let mut extra = secret_words::anchor_table();
        let marker = Anchor::Prefix;
        let spelled_markers = spelled::ANCHORS
            .iter()
            .chain(number_words::ANCHORS.iter())
            .map(|w| (*w, marker));
        let mut table = context::anchor_table();
        table.extend(people::anchor_table());
        table.append(&mut extra);
        let spelling_from = table.len();
        table.extend(spelled_markers);
        let build = |t: &[(&str, Anchor)]| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::DFA))
                // Anchors start with most letters in either case, so a prefilter only adds
                // work.
                .prefilter(false)
                .build(t.iter().map(|(p, _)| p))
        };
        let anchors = build(&table)?;
        // Identifier keywords announce values with digits: a second, smaller automaton that
        // only texts with digits pay for, so the main one stays small and fast.
        let mut id_table = id_words::anchor_table();
        id_table.extend(split::anchor_table());
        // A door or alarm code is digits too.
        id_table.extend(
            secret_words::PIN_WORDS
                .iter()
                .map(|w| (*w, Anchor::PinWord)),
        );
        let id_anchors = build(&id_table)?;
        let mut class_of = Kind::ALL.map(Kind::default_class);
        for (kind, class) in &config.classes {
            class_of[*kind as usize] = *class;
        }
        let mut enabled = [true; Kind::ALL.len()];
        for kind in &config.disabled {
            enabled[*kind as usize] = false;
        }
        Ok(Detector {
            anchors,
            anchor_kinds: table.iter().map(|(_, a)| *a).collect(),
            spelling_from,
            id_anchors,
            id_anchor_kinds: id_table.iter().map(|(_, a)| *a).collect(),
            versions: AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(dotted::VERSION_WORDS)?,
            class_of,
            enabled,
            plans: std::sync::Arc::new(plans::Plans::new()),
        })
    }

    /// The class a finding of `kind` gives a request.
    pub fn class_of(&self, kind: Kind) -> DataClass {
        self.class_of[kind as usize]
    }

    /// Scans every text part of a request (message contents, tool arguments, names).
    pub fn scan(&self, parts: &[&str]) -> Detections {
        self.scan_parts(parts.iter().copied().enumerate())
    }

    /// Scans `(part index, text)` pairs; a value split across two consecutive pairs is
    /// reported in both.
    pub fn scan_parts<'t>(&self, parts: impl IntoIterator<Item = (usize, &'t str)>) -> Detections {
        let mut out = Detections {
            findings: self.scan_all(parts),
            class: None,
        };
        out.class = out.findings.iter().map(|f| self.class_of(f.kind)).max();
        out
    }
}

/// Collects findings of enabled kinds for one text part.
pub(crate) struct Sink<'a> {
    part: usize,
    out: &'a mut Vec<Finding>,
    enabled: &'a [bool; Kind::ALL.len()],
    /// Numbering plans the phone matchers validate against.
    pub(crate) plans: &'a plans::Plans,
    /// What the table lookups learnt about this text so far.
    pub(crate) tables: Tables,
    /// Words that make a dotted quad a version.
    pub(crate) versions: &'a AhoCorasick,
}

/// The last table line resolved in a text: `(line start, its block's first line, delimiter)`,
/// so walking up to a table's header costs each line once per text.
pub(crate) type Tables = std::cell::Cell<(usize, usize, u8)>;

impl Sink<'_> {
    /// Records a finding at `start..end`.
    pub(crate) fn push(&mut self, kind: Kind, start: usize, end: usize) {
        if self.enabled[kind as usize] && start < end {
            self.out.push(Finding {
                kind,
                part: self.part,
                start,
                end,
            });
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_documents;
#[cfg(test)]
mod tests_id_keywords;
#[cfg(test)]
mod tests_ids;
#[cfg(test)]
mod tests_phones;
#[cfg(test)]
mod tests_pieces;
