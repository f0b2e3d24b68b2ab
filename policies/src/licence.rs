//! The built-in licence catalogue and the rule deciding whether a tenant's use is permitted.
//!
//! Facts come from `reference/licences.md`; a fact marked unknown there is [`Perm::Unknown`]
//! here and is refused like a prohibition (fail closed) until someone verifies it.
//!
//! How a tenant's declared [`Use`] maps onto licence terms:
//! - `commercial`: revenue-aimed products or services. Refused by non-commercial,
//!   research-only and non-production licences, above MAU caps, and where commercial hosting
//!   terms are unverified (Falcon 180B).
//! - `internal`: the organisation's own production use. A company's internal use serves its
//!   commercial advantage, so non-commercial (CC-BY-NC), research-only (MRL, Qwen research)
//!   and non-production (MNPL) licences refuse it; MAU caps apply to it as to `commercial`.
//! - `research`: permitted by every catalogued licence.
//! - `evaluation`: testing models outside production. Permitted where the licence names
//!   evaluation or testing (Qwen research, MNPL) or does not restrict use; refused under
//!   CC-BY-NC (an organisation's evaluation aims at commercial advantage) and MRL (which
//!   excludes revenue-aimed tests).
//! - `personal`: an individual's private, non-commercial use. Permitted by CC-BY-NC and MNPL
//!   (which names personal use); refused by research-only licences (MRL, Qwen research).

use crate::tenant::{TenantProfile, Use};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether something is permitted, forbidden, or not verified (treated as forbidden).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Perm {
    /// Permitted.
    Yes,
    /// Forbidden.
    No,
    /// Not verified from a primary source: refused.
    Unknown,
}

/// One licence's facts, as far as they matter for routing.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Licence {
    /// Stable id (SPDX, Hugging Face licence id, or a slug), matched case-sensitively.
    pub id: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// Permission per use, in the order of [`Use::ALL`].
    pub uses: [Perm; 5],
    /// Monthly-active-user cap above which a separate licence is needed.
    pub mau_cap: Option<u64>,
    /// Whether the MAU cap applies to every use, not only commercial and internal ones.
    pub mau_cap_all_uses: bool,
    /// Whether outputs may be used to train or improve other models.
    pub outputs_may_train: Perm,
    /// Rights for multimodal models are not granted to EU-domiciled licensees.
    pub eu_multimodal_clause: bool,
    /// Tenants in the EEA, Switzerland or the UK must not be served under these terms.
    pub excludes_eea_ch_uk: bool,
    /// Field-of-use limits, in words.
    pub field_of_use: &'static str,
    /// The `x-tollgate-licence` header value: ASCII, one line; empty when nothing is owed.
    pub header: &'static str,
    /// What else the user of the model must do.
    pub duties: &'static str,
}

impl Licence {
    /// The permission for `use_`.
    pub fn permits(&self, use_: Use) -> Perm {
        self.uses[use_ as usize]
    }

    /// The notice to attach to responses (`x-tollgate-licence`), if any.
    pub fn notice_header(&self) -> Option<&'static str> {
        (!self.header.is_empty()).then_some(self.header)
    }
}

/// What is open about a model, for the record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Openness {
    /// Weights are published.
    pub weights: bool,
    /// Training and inference code is published.
    pub code: bool,
    /// Training data is published.
    pub training_data: bool,
}

/// Facts about a model that licence rules depend on besides the licence itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelFacts {
    /// Takes images or other non-text input.
    pub multimodal: bool,
    /// What is open about it.
    pub open: Openness,
}

/// A licence id that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown licence id '{0}' (ids are case-sensitive; see the licence catalogue)")]
pub struct UnknownLicence(pub String);

/// Why a licence refuses a tenant's use of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenceRefusal {
    /// The model has no licence configured.
    Missing,
    /// The licence forbids the tenant's use.
    UseForbidden(&'static Licence, Use),
    /// Whether the licence permits the tenant's use is not verified.
    UseUnverified(&'static Licence, Use),
    /// The tenant's monthly active users exceed the licence's cap.
    AboveMauCap(&'static Licence, u64),
    /// The tenant trains models and the licence forbids training on outputs.
    OutputsMayNotTrain(&'static Licence),
    /// The tenant trains models and whether outputs may train is not verified.
    OutputTrainingUnverified(&'static Licence),
    /// EU-domiciled tenant on a multimodal model the EU clause covers.
    EuMultimodal(&'static Licence),
    /// The terms may not serve users in the EEA, Switzerland or the UK.
    RegionExcluded(&'static Licence),
}

impl fmt::Display for LicenceRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LicenceRefusal::Missing => f.write_str(
                "the model has no licence configured; set its `licence` before any use",
            ),
            LicenceRefusal::UseForbidden(l, u) => {
                write!(f, "licence {} does not permit {u} use", l.id)
            }
            LicenceRefusal::UseUnverified(l, u) => write!(
                f,
                "licence {}: {u} use is not verified as permitted, so it is refused",
                l.id
            ),
            LicenceRefusal::AboveMauCap(l, cap) => write!(
                f,
                "licence {} needs a separate licence above {cap} monthly active users",
                l.id
            ),
            LicenceRefusal::OutputsMayNotTrain(l) => write!(
                f,
                "licence {} forbids using outputs to train other models, and the tenant trains models",
                l.id
            ),
            LicenceRefusal::OutputTrainingUnverified(l) => write!(
                f,
                "licence {}: training on outputs is not verified as permitted, and the tenant trains models",
                l.id
            ),
            LicenceRefusal::EuMultimodal(l) => write!(
                f,
                "licence {} does not grant rights to multimodal models to EU-domiciled licensees",
                l.id
            ),
            LicenceRefusal::RegionExcluded(l) => write!(
                f,
                "terms {} may not serve users in the EEA, Switzerland or the UK",
                l.id
            ),
        }
    }
}

/// Whether `tenant` may use a model with `licence` and `model` facts.
pub fn check(
    licence: Option<&'static Licence>,
    model: &ModelFacts,
    tenant: &TenantProfile,
) -> Result<(), LicenceRefusal> {
    let Some(l) = licence else {
        return Err(LicenceRefusal::Missing);
    };
    match l.permits(tenant.use_) {
        Perm::Yes => {}
        Perm::No => return Err(LicenceRefusal::UseForbidden(l, tenant.use_)),
        Perm::Unknown => return Err(LicenceRefusal::UseUnverified(l, tenant.use_)),
    }
    if let (Some(cap), Some(mau)) = (l.mau_cap, tenant.monthly_active_users) {
        let applies = l.mau_cap_all_uses || matches!(tenant.use_, Use::Commercial | Use::Internal);
        if applies && mau > cap {
            return Err(LicenceRefusal::AboveMauCap(l, cap));
        }
    }
    if tenant.trains_models {
        match l.outputs_may_train {
            Perm::Yes => {}
            Perm::No => return Err(LicenceRefusal::OutputsMayNotTrain(l)),
            Perm::Unknown => return Err(LicenceRefusal::OutputTrainingUnverified(l)),
        }
    }
    if l.eu_multimodal_clause && model.multimodal && tenant.in_eu() {
        return Err(LicenceRefusal::EuMultimodal(l));
    }
    if l.excludes_eea_ch_uk && tenant.in_eea_ch_uk() {
        return Err(LicenceRefusal::RegionExcluded(l));
    }
    Ok(())
}

/// The catalogued licence with exactly this id.
pub fn lookup(id: &str) -> Result<&'static Licence, UnknownLicence> {
    CATALOGUE
        .iter()
        .find(|l| l.id == id)
        .ok_or_else(|| UnknownLicence(id.to_string()))
}

use Perm::{No, Unknown, Yes};

/// Every use permitted.
const ALL_USES: [Perm; 5] = [Yes; 5];
/// Research and personal only (commercial, internal, evaluation refused).
const NON_COMMERCIAL: [Perm; 5] = [No, No, Yes, No, Yes];
/// Research only.
const RESEARCH_ONLY: [Perm; 5] = [No, No, Yes, No, No];
/// Research and evaluation only.
const RESEARCH_EVALUATION: [Perm; 5] = [No, No, Yes, Yes, No];
/// Testing, research, personal or evaluation use outside production.
const NON_PRODUCTION: [Perm; 5] = [No, No, Yes, Yes, Yes];
/// Everything but commercial use, whose hosting terms are unverified.
const COMMERCIAL_UNVERIFIED: [Perm; 5] = [Unknown, Yes, Yes, Yes, Yes];

const LLAMA_MAU: Option<u64> = Some(700_000_000);
const QWEN_MAU: Option<u64> = Some(100_000_000);
const LLAMA_AUP: &str = "Llama acceptable use policy (no military, critical infrastructure, unlicensed legal/medical/financial practice)";
const LLAMA_DUTIES: &str = "display \"Built with Llama\"; models made with Llama materials or outputs must start their name with \"Llama\"; ship a copy of the agreement when redistributing";

const fn open(id: &'static str, name: &'static str, header: &'static str) -> Licence {
    Licence {
        id,
        name,
        uses: ALL_USES,
        mau_cap: None,
        mau_cap_all_uses: false,
        outputs_may_train: Yes,
        eu_multimodal_clause: false,
        excludes_eea_ch_uk: false,
        field_of_use: "none",
        header,
        duties: "",
    }
}

/// Every licence Tollgate knows.
pub static CATALOGUE: [Licence; 25] = [
    Licence {
        duties: "keep LICENSE and NOTICE files; mark changed files",
        ..open("Apache-2.0", "Apache License 2.0", "Apache-2.0")
    },
    Licence {
        duties: "keep the copyright and permission notice",
        ..open("MIT", "MIT License", "MIT")
    },
    Licence {
        uses: NON_COMMERCIAL,
        outputs_may_train: Unknown,
        field_of_use: "non-commercial only; Cohere C4AI acceptable use policy",
        duties: "give credit, link the licence, note changes",
        ..open(
            "CC-BY-NC-4.0",
            "Creative Commons Attribution-NonCommercial 4.0",
            "CC-BY-NC-4.0; non-commercial use only",
        )
    },
    Licence {
        mau_cap: LLAMA_MAU,
        mau_cap_all_uses: true,
        outputs_may_train: No,
        field_of_use: LLAMA_AUP,
        duties: "ship a copy of the agreement and the NOTICE when redistributing; outputs may not improve any other LLM",
        ..open(
            "llama2",
            "Llama 2 Community License",
            "llama2; Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. All Rights Reserved.",
        )
    },
    Licence {
        mau_cap: LLAMA_MAU,
        mau_cap_all_uses: true,
        outputs_may_train: No,
        field_of_use: LLAMA_AUP,
        duties: "display \"Built with Meta Llama 3\"; derived model names must begin with \"Llama 3\"; outputs may not improve other LLMs",
        ..open("llama3", "Meta Llama 3 Community License", "llama3; Built with Meta Llama 3")
    },
    Licence {
        mau_cap: LLAMA_MAU,
        mau_cap_all_uses: true,
        field_of_use: LLAMA_AUP,
        duties: LLAMA_DUTIES,
        ..open("llama3.1", "Llama 3.1 Community License", "llama3.1; Built with Llama")
    },
    Licence {
        mau_cap: LLAMA_MAU,
        mau_cap_all_uses: true,
        eu_multimodal_clause: true,
        field_of_use: LLAMA_AUP,
        duties: LLAMA_DUTIES,
        ..open("llama3.2", "Llama 3.2 Community License", "llama3.2; Built with Llama")
    },
    Licence {
        mau_cap: LLAMA_MAU,
        mau_cap_all_uses: true,
        eu_multimodal_clause: true,
        field_of_use: LLAMA_AUP,
        duties: LLAMA_DUTIES,
        ..open("llama3.3", "Llama 3.3 Community License", "llama3.3; Built with Llama")
    },
    Licence {
        mau_cap: LLAMA_MAU,
        mau_cap_all_uses: true,
        eu_multimodal_clause: true,
        field_of_use: LLAMA_AUP,
        duties: LLAMA_DUTIES,
        ..open("llama4", "Llama 4 Community License", "llama4; Built with Llama")
    },
    Licence {
        field_of_use: "Gemma Prohibited Use Policy",
        duties: "serving as a hosted API counts as distribution: pass the Gemma use restrictions on in your own terms; models distilled from Gemma stay under Gemma terms",
        ..open(
            "gemma",
            "Gemma Terms of Use",
            "gemma; Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms",
        )
    },
    Licence {
        mau_cap: QWEN_MAU,
        duties: "display \"Built with Qwen\" or \"Improved using Qwen\" for derived models; ship a copy and mark modified files",
        ..open("qwen", "Qwen License Agreement", "qwen; Built with Qwen")
    },
    Licence {
        mau_cap: QWEN_MAU,
        outputs_may_train: No,
        duties: "keep the NOTICE naming the Tongyi Qianwen licence",
        ..open(
            "tongyi-qianwen",
            "Tongyi Qianwen License Agreement",
            "tongyi-qianwen; Licensed under the Tongyi Qianwen LICENSE AGREEMENT",
        )
    },
    Licence {
        uses: RESEARCH_EVALUATION,
        field_of_use: "research or evaluation only",
        duties: "keep the NOTICE naming the Qwen RESEARCH licence; non-commercial redistribution only",
        ..open(
            "qwen-research",
            "Qwen Research License Agreement",
            "qwen-research; Licensed under the Qwen RESEARCH LICENSE AGREEMENT",
        )
    },
    Licence {
        uses: RESEARCH_ONLY,
        field_of_use: "research only; no revenue-aimed tests; no hosted or managed service by a commercial entity; outputs limited to research",
        duties: "ship a copy of the licence when redistributing",
        ..open(
            "mrl-0.1",
            "Mistral AI Research License 0.1",
            "mrl-0.1; Licensed by Mistral AI under the Mistral AI Research License",
        )
    },
    Licence {
        uses: NON_PRODUCTION,
        outputs_may_train: Unknown,
        field_of_use: "testing, research, personal or evaluation use in non-production only",
        ..open(
            "mnpl-0.1",
            "Mistral AI Non-Production License 0.1",
            "mnpl-0.1; Licensed by Mistral AI under the Mistral AI Non-Production License",
        )
    },
    Licence {
        field_of_use: "no military use; no fully automated decisions harming legal rights; no discrimination (Attachment A)",
        duties: "pass the Attachment A use restrictions on to users of a hosted service; models distilled from outputs inherit them",
        ..open(
            "deepseek-license-1.0",
            "DeepSeek License Agreement 1.0",
            "deepseek-license-1.0; Licensed under the DeepSeek License Agreement",
        )
    },
    Licence {
        uses: COMMERCIAL_UNVERIFIED,
        outputs_may_train: Unknown,
        field_of_use: "4-item acceptable use policy; hosted services may need a separate licence",
        ..open(
            "falcon-180b-tii-1.0",
            "Falcon 180B TII License 1.0",
            "falcon-180b-tii-1.0; Falcon 180B TII License",
        )
    },
    Licence {
        field_of_use: "rights may end if guardrails are bypassed (unverified)",
        duties: "ship a copy of the licence when redistributing",
        ..open(
            "nvidia-open-model",
            "NVIDIA Open Model License",
            "nvidia-open-model; Licensed by NVIDIA Corporation under the NVIDIA Open Model License",
        )
    },
    Licence {
        outputs_may_train: Unknown,
        field_of_use: "no medical advice; no law-enforcement or immigration profiling; no undisclosed machine-generated content",
        duties: "pass the use restrictions (Attachment A) on to users; keep notices",
        ..open(
            "bigscience-openrail-m",
            "BigScience OpenRAIL-M",
            "bigscience-openrail-m; use restrictions apply (Attachment A)",
        )
    },
    Licence {
        outputs_may_train: Unknown,
        field_of_use: "no medical advice; no law-enforcement or immigration profiling; no undisclosed machine-generated content",
        duties: "pass the use restrictions (Attachment A) on to users; keep notices",
        ..open(
            "bigcode-openrail-m",
            "BigCode OpenRAIL-M",
            "bigcode-openrail-m; use restrictions apply (Attachment A)",
        )
    },
    Licence {
        outputs_may_train: No,
        duties: "outputs may not be used to develop competing models",
        ..open("openai-terms", "OpenAI API terms", "")
    },
    Licence {
        outputs_may_train: No,
        duties: "outputs may not be used to train competing models",
        ..open("anthropic-terms", "Anthropic commercial terms", "")
    },
    Licence {
        outputs_may_train: Unknown,
        ..open("gemini-api-terms", "Gemini API terms (paid tier)", "")
    },
    Licence {
        outputs_may_train: Unknown,
        excludes_eea_ch_uk: true,
        duties: "Google trains on free-tier data and humans may review it; use the paid tier to serve users in the EEA, Switzerland or the UK",
        ..open("gemini-api-free-terms", "Gemini API terms (free tier)", "")
    },
    Licence {
        outputs_may_train: Unknown,
        duties: "the free tier trains on data by default unless opted out",
        ..open("mistral-terms", "Mistral La Plateforme terms", "")
    },
];

#[cfg(test)]
mod tests;
