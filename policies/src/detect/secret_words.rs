//! The words that put the secret matchers to work: vendor prefixes (`ghp_`, `SG.`), the
//! words for a password in the languages served, names a secret is assigned to, and the
//! words for door, alarm and key-safe codes.

/// Vendor prefixes and phrases the secret matchers add to the main automaton as
/// `Anchor::Prefix` or name anchors, beside the shared table's.
pub(crate) fn anchor_table() -> Vec<(&'static str, super::Anchor)> {
    use super::Anchor::{PasswordName, Prefix, SecretName};
    const PREFIXES: [&str; 26] = [
        "1//0",
        // `smtp.login("user", "password")`, as Python's smtplib, imaplib and ftplib take it.
        "login(",
        // Twilio's auth token is bare hex: it is told by the account SID beside it.
        "twilio",
        // The file, not `PGPASSWORD`, which the password words take.
        ".pgpass",
        "redis-cli",
        "docker login",
        "sshpass ",
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

/// Words announcing a code that opens a door, an alarm or a key safe, or a card's PIN: a
/// few digits that are as much a password as any ("de alarmcode is 1546"). `pin` alone is
/// also the Dutch card payment and a version pin, so it comes with `code`.
#[rustfmt::skip]
pub(crate) const PIN_WORDS: &[&str] = &[
    "alarm code", "door code", "gate code", "entry code", "key safe", "keysafe", "lockbox",
    "pin code", "pincode", "pin-code", "code pin", "alarmcode", "türcode", "torcode",
    "zugangscode", "tresorcode", "schlüsseltresor", "schlüsselsafe", "alarmanlage", "digicode",
    "code d'accès", "code de l'alarme", "code alarme", "code du portail", "boîte à clés",
    "código de acceso", "código de la alarma", "código de alarma", "código del portal",
    "caja de llaves", "código pin", "codice di accesso", "codice dell'allarme",
    "codice allarme", "codice del portone", "codice pin", "toegangscode", "sleutelkluis",
    "deurcode", "poortcode", "código de acesso", "código do alarme", "código do portão",
    "cofre de chaves",
];
