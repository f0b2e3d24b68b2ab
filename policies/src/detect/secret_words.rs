//! The words that put the secret matchers to work: vendor prefixes (`ghp_`, `SG.`), the
//! words for a password in the languages served, and names a secret is assigned to.

/// Vendor prefixes and phrases this module adds to the automaton as `Anchor::Prefix` or
/// name anchors, beside the shared table's.
pub(crate) fn anchor_table() -> Vec<(&'static str, super::Anchor)> {
    use super::Anchor::{PasswordName, Prefix, SecretName};
    const PREFIXES: [&str; 20] = [
        "1//0",
        "glpat-",
        "SG.",
        "npm_",
        "hf_",
        "shpat_",
        "shpss_",
        "shpca_",
        "shppa_",
        "pypi-",
        "xapp-",
        "key-",
        "AccountKey=",
        "hooks.slack.com/",
        "curl ",
        "Basic ",
        "dop_v1_",
        "glptt-",
        "mysql",
        "live_",
    ];
    const PASSWORD_WORDS: [&str; 42] = [
        "wachtwoord",
        "senha",
        "parola d'ordine",
        "mot de passe",
        "passwort",
        "passcode",
        // Credential labels followed by `user / password` ("laptop login: rpark / …").
        "login: ",
        "logins: ",
        "credentials: ",
        "creds: ",
        "zugangsdaten: ",
        "identifiants : ",
        "identifiants: ",
        "credenciales: ",
        "credenziali: ",
        "inloggegevens: ",
        "credenciais: ",
        // Spanish chat's `la pass del router`.
        "la pass del",
        "la pass de",
        // Credentials given with a login ("log into the grafana admin with admin / …").
        "log into",
        "log in with",
        "login with",
        "sign in with",
        "logged in with",
        "einloggen mit",
        "anmelden mit",
        // Wi-fi keys are passwords typed in chat ("le code wifi c'est …").
        "code wifi",
        "code wi-fi",
        "code du wifi",
        "clé wifi",
        "wifi code",
        "wlan-schlüssel",
        "codice wifi",
        "clave wifi",
        // The key of a WPA network, as a router's label or a host's welcome sheet names it.
        "clé wpa",
        "wpa key",
        "wpa-key",
        "wpa-schlüssel",
        "clave wpa",
        "chiave wpa",
        "chave wpa",
        "wpa-sleutel",
    ];
    let mut t: Vec<(&'static str, super::Anchor)> = PREFIXES.iter().map(|p| (*p, Prefix)).collect();
    t.extend(PASSWORD_WORDS.iter().map(|p| (*p, PasswordName)));
    t.extend(["private_key_id", "client_secret", "refresh_token"].map(|p| (p, SecretName)));
    t
}
