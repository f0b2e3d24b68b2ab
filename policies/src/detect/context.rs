//! The shared anchor table and the matchers of secret anchors. Identifier keywords are
//! matched in `ids` and people cues in `people`; the scan routes each anchor there.

use super::secrets;
use super::{Anchor, Sink};

/// Every anchor the automaton looks for (ASCII case-insensitive, leftmost-longest).
pub(crate) fn anchor_table() -> Vec<(&'static str, Anchor)> {
    use Anchor::*;
    let mut t = Vec::new();
    let mut add = |words: &[&'static str], a: Anchor| t.extend(words.iter().map(|w| (*w, a)));
    add(
        &[
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "sk-",
            "xoxb-",
            "xoxp-",
            "xoxa-",
            "xoxr-",
            "xoxs-",
            "xoxe-",
            "AIza",
            "sk_live_",
            "sk_test_",
            "rk_live_",
            "rk_test_",
            "whsec_",
            "eyJ",
            "-----BEGIN",
        ],
        Prefix,
    );
    add(&["://"], Url);
    add(
        &[
            "password",
            "passwd",
            "pwd",
            "pass",
            "passwort",
            "kennwort",
            "contraseña",
            "contrasena",
            "mot de passe",
            "mdp",
            // Chat's short form ("wifi is BlueHouse_Guest pw cobalt-Pickle-036").
            "pw",
            "clave",
            // SSSD's and OpenLDAP's bind password: `ldap_default_authtok = …`, `bindpw`.
            "authtok",
            "bindpw",
        ],
        PasswordName,
    );
    add(
        &[
            "secret",
            "token",
            "api_key",
            "apikey",
            "api-key",
            "key",
            "auth",
            "credential",
            "bearer",
            "passphrase",
        ],
        SecretName,
    );
    add(
        &[
            "passport",
            "reisepass",
            "passnummer",
            "passeport",
            "pasaporte",
            "personalausweis",
            "ausweisnummer",
            "id card",
            "identity card",
            "carte d'identité",
            "dni",
            "d.n.i.",
            "nie",
            "nif",
            "steuer-id",
            "steuer_id",
            "steuerid",
            "steuer id",
            "steuerliche id",
            "steueridentifikationsnummer",
            "tax id",
            "national id",
            "driver's license",
            "driver's licence",
            "driving licence",
            "führerschein",
            "permis de conduire",
            "sécurité sociale",
            "sozialversicherungsnummer",
            "seguridad social",
        ],
        IdDocument,
    );
    // "You asked for my social": spoken English drops "security".
    add(
        &[
            "ssn",
            "social security",
            "my social",
            "your social",
            "his social",
            "her social",
        ],
        Ssn,
    );
    add(
        &[
            "phone",
            "tel",
            "tel.",
            "telephone",
            "mobile",
            "cell",
            "handy",
            "telefon",
            "mobil",
            "téléphone",
            "tél",
            "tél.",
            "portable",
            "teléfono",
            "móvil",
            "movil",
            "whatsapp",
            "fax",
            "call me",
            "rufnummer",
        ],
        PhoneWord,
    );
    t
}

/// Runs the matcher for an anchor found at `s..e`.
pub(crate) fn on_anchor(b: &[u8], s: usize, e: usize, anchor: Anchor, sink: &mut Sink) {
    match anchor {
        Anchor::Prefix => secrets::prefixed(b, s, sink),
        Anchor::Url => super::vendors::url_password(b, s, sink),
        Anchor::PasswordName => secrets::assignment(b, s, e, true, sink),
        Anchor::SecretName => secrets::assignment(b, s, e, false, sink),
        // Identifier and code words are routed to `ids` and people cues to `people` by the
        // scan.
        Anchor::IdDocument
        | Anchor::PinWord
        | Anchor::Ssn
        | Anchor::PhoneWord
        | Anchor::Continuation
        | Anchor::People(_) => {}
    }
}
