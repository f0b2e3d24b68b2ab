//! Secrets: vendor-prefixed keys and tokens, JWTs, PEM private keys, passwords in URLs and
//! secrets assigned to secret-looking names.

use super::secret_values::{
    app_password_end, code_like, default_literal, key_material, query_param_at, strong_after,
    value_at,
};
use super::text::{contains_ci, is_alnum, line_after, run_end, run_start};
use super::validate::{
    char_classes, entropy, is_documented_example, is_hex, is_placeholder, is_uuid, looks_random,
    token_char,
};
use super::vendors::{
    basic_auth, curl_user, is_default_password, mysql_password, slack_hook, vendor_prefix,
    vendor_token,
};
use super::{Kind, Sink};

/// A token starting with a vendor prefix at `s` (matched case-insensitively; checked here
/// case-sensitively).
pub(crate) fn prefixed(b: &[u8], s: usize, sink: &mut Sink) {
    if s > 0 && is_alnum(b[s - 1]) {
        return;
    }
    let rest = &b[s..];
    // `live_` starts Mollie's keys, and is also the middle of Stripe's `pk_live_`.
    if rest.starts_with(b"live_") && s > 0 && matches!(b[s - 1], b'_' | b'-') {
        return;
    }
    if rest.starts_with(b"-----BEGIN") {
        return pem(b, s, sink);
    }
    if rest.starts_with(b"eyJ") {
        return jwt(b, s, sink);
    }
    if rest.starts_with(b"curl ") {
        return curl_user(b, s, sink);
    }
    if rest.starts_with(b"mysql") {
        return mysql_password(b, s, sink);
    }
    if rest.starts_with(b"redis-cli") {
        return super::vendors::redis_password(b, s, sink);
    }
    if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b".pgpass") {
        return super::vendors::pgpass_passwords(b, s, sink);
    }
    if rest.starts_with(b"docker login") || rest.starts_with(b"sshpass ") {
        return super::vendors::login_password(b, s, sink);
    }
    if rest.starts_with(b"login(") {
        return super::vendors::login_call(b, s + 6, sink);
    }
    if rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"twilio") {
        return super::vendors::twilio_token(b, s, sink);
    }
    if rest.starts_with(b"Basic ") {
        return basic_auth(b, s + 6, sink);
    }
    if rest.starts_with(b"hooks.slack.com/") {
        return slack_hook(b, s, sink);
    }
    if rest.starts_with(b"AccountKey=") {
        let vs = s + 11;
        let ve = run_end(b, vs, |c| is_alnum(c) || matches!(c, b'+' | b'/' | b'='));
        if ve - vs >= 40 && looks_random(&b[vs..ve]) {
            sink.push(Kind::GenericSecret, vs, ve);
        }
        return;
    }
    if rest.starts_with(b"1//0") {
        // A Google OAuth refresh token: `1//0` and a long base64url body.
        let ve = run_end(b, s + 4, token_char);
        let body = &b[s + 4..ve];
        if body.len() >= 40 && looks_random(body) {
            sink.push(Kind::GenericSecret, s, ve);
        }
        return;
    }
    if rest.starts_with(b"SG.") {
        let ve = run_end(b, s, |c| token_char(c) || c == b'.');
        let parts: Vec<&[u8]> = b[s..ve].split(|c| *c == b'.').collect();
        if parts.len() == 3
            && parts[1].len() >= 16
            && parts[2].len() >= 30
            && looks_random(parts[2])
        {
            sink.push(Kind::GenericSecret, s, ve);
        }
        return;
    }
    let end = run_end(b, s, token_char);
    let tok = &b[s..end];
    let body = |p: usize| &tok[p.min(tok.len())..];
    let kind = if [b"AKIA", b"ASIA", b"ABIA", b"ACCA"]
        .iter()
        .any(|p| tok.starts_with(*p))
    {
        let upper = |t: &[u8]| {
            t.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        };
        if tok.len() == 20 && upper(tok) {
            let secret = aws_secret_near(b, end);
            // Key ids are base32: about one in thirty has no digit at all, and is then told
            // from an upper-case word by the secret key beside it.
            let base32 = body(4)
                .iter()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(c));
            if looks_random(body(4))
                || (secret.is_some() && base32 && super::validate::entropy(body(4)) >= 3.0)
            {
                sink.push(Kind::AwsAccessKey, s, end);
                if let Some((i, e)) = secret {
                    sink.push(Kind::AwsSecretKey, i, e);
                }
            }
        }
        return;
    } else if [b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"]
        .iter()
        .any(|p| tok.starts_with(*p))
    {
        (body(4).len() >= 30 && body(4).iter().all(|c| is_alnum(*c)))
            .then_some((Kind::GithubToken, 4))
    } else if tok.starts_with(b"github_pat_") {
        (body(11).len() >= 40).then_some((Kind::GithubToken, 11))
    } else if tok.starts_with(b"sk-ant-") {
        (tok.len() >= 40).then_some((Kind::AnthropicKey, 7))
    } else if tok.starts_with(b"sk-") {
        (tok.len() >= 23).then_some((Kind::OpenaiKey, 3))
    } else if tok.starts_with(b"xox")
        && tok.len() > 5
        && b"bpares".contains(&tok[3])
        && tok[4] == b'-'
    {
        (tok.len() >= 20).then_some((Kind::SlackToken, 5))
    } else if tok.starts_with(b"xapp-") {
        (tok.len() >= 30).then_some((Kind::SlackToken, 5))
    } else if let Some(p) = vendor_prefix(tok) {
        Some((Kind::GenericSecret, p))
    } else if tok.starts_with(b"AIza") {
        if tok.len() < 39 {
            // A key wrapped onto the next line, alone there (copied from a PDF).
            if let Some(ne) = wrapped(b, end).filter(|ne| tok.len() + ne - end - 1 == 39) {
                if looks_random(&b[s + 4..end]) {
                    sink.push(Kind::GoogleApiKey, s, ne);
                }
                return;
            }
        }
        (tok.len() == 39).then_some((Kind::GoogleApiKey, 4))
    } else if [b"sk_live_", b"sk_test_", b"rk_live_", b"rk_test_"]
        .iter()
        .any(|p| tok.starts_with(*p))
    {
        (body(8).len() >= 16 && body(8).iter().all(|c| is_alnum(*c)))
            .then_some((Kind::StripeKey, 8))
    } else if tok.starts_with(b"whsec_") {
        // A webhook signing secret: whoever holds it can forge Stripe's events.
        (body(6).len() >= 24 && body(6).iter().all(|c| is_alnum(*c)))
            .then_some((Kind::StripeKey, 6))
    } else {
        None
    };
    if let Some((kind, p)) = kind {
        let v = body(p);
        let mixed = v.iter().any(u8::is_ascii_uppercase) && v.iter().any(u8::is_ascii_lowercase);
        // A vendor's prefix already says "key": a mixed-case body of high entropy is random
        // without a digit (`sk_live_ltLQEWVyYFVajGaurEqCtCok`).
        let random = looks_random(v) || (mixed && entropy(v) >= 3.5 && !is_placeholder(v));
        if random && !is_documented_example(tok) {
            sink.push(kind, s, end);
        }
    }
}

/// The end of the token that fills the line after a token ending at `end` with a line break.
fn wrapped(b: &[u8], end: usize) -> Option<usize> {
    if b.get(end) != Some(&b'\n') {
        return None;
    }
    let ne = run_end(b, end + 1, token_char);
    let alone = matches!(b.get(ne), None | Some(b'\n' | b'\r'));
    (ne > end + 1 && alone).then_some(ne)
}

/// An AWS secret access key (40 base64 characters) within a few lines after a key id.
fn aws_secret_near(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let end = (from + 300).min(b.len());
    let b64 = |c: u8| is_alnum(c) || c == b'/' || c == b'+';
    let mut i = from;
    while i < end {
        if !b64(b[i]) {
            i += 1;
            continue;
        }
        let e = run_end(b, i, b64);
        let v = &b[i..e];
        if e - i == 40 && char_classes(v) >= 3 && looks_random(v) {
            return Some((i, e));
        }
        i = e;
    }
    None
}

fn jwt(b: &[u8], s: usize, sink: &mut Sink) {
    let end = run_end(b, s, |c| token_char(c) || c == b'.');
    let tok = &b[s..end];
    let mut parts = tok.split(|c| *c == b'.');
    let (Some(h), Some(p), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    if h.len() >= 10
        && p.starts_with(b"eyJ")
        && p.len() >= 10
        && sig.len() >= 16
        && !is_documented_example(sig)
        && !is_documented_example(p)
    {
        let sig_end = s + h.len() + p.len() + sig.len() + 2;
        sink.push(Kind::Jwt, s, sig_end);
    }
}

fn pem(b: &[u8], s: usize, sink: &mut Sink) {
    // The header ends at its closing dashes: in a string literal the line break after it
    // may be an escaped `\n`.
    let line_end = line_after(b, s, 80);
    let header_end =
        memchr::memmem::find(&b[s + 10..line_end], b"-----").map_or(line_end, |p| s + 10 + p + 5);
    let header = &b[s..header_end];
    if !contains_ci(header, "PRIVATE KEY") {
        return;
    }
    let body_start = header_end;
    let end_marker = memchr::memmem::find(&b[body_start..], b"-----END").map(|p| body_start + p);
    let body_end = end_marker.unwrap_or(b.len());
    let body = &b[body_start..body_end];
    let b64 = body
        .iter()
        .filter(|c| is_alnum(**c) || **c == b'+' || **c == b'/')
        .count();
    if b64 < 64 || contains_ci(body, "...") || is_placeholder_body(body) {
        return;
    }
    let end = end_marker.map_or(b.len(), |e| line_after(b, e, 80));
    sink.push(Kind::PrivateKey, s, end);
}

fn is_placeholder_body(body: &[u8]) -> bool {
    contains_ci(body, "your")
        || contains_ci(body, "xxxx")
        || contains_ci(body, "redacted")
        || contains_ci(body, "placeholder")
}

/// Splits a name into lowercase segments at `_`, `-`, `.` and camelCase boundaries and
/// passes the last two to `f`.
fn last_segments(name: &[u8]) -> ([u8; 32], usize, [u8; 32], usize) {
    let mut segs: [([u8; 32], usize); 2] = [([0; 32], 0), ([0; 32], 0)];
    let mut cur = ([0u8; 32], 0usize);
    let mut prev_lower = false;
    let flush = |cur: &mut ([u8; 32], usize), segs: &mut [([u8; 32], usize); 2]| {
        if cur.1 > 0 {
            segs[0] = segs[1];
            segs[1] = *cur;
            cur.1 = 0;
        }
    };
    for &c in name {
        let boundary =
            matches!(c, b'_' | b'-' | b'.' | b' ') || (c.is_ascii_uppercase() && prev_lower);
        if boundary {
            flush(&mut cur, &mut segs);
        }
        if c.is_ascii_alphanumeric() && cur.1 < 32 {
            cur.0[cur.1] = c.to_ascii_lowercase();
            cur.1 += 1;
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    flush(&mut cur, &mut segs);
    (segs[0].0, segs[0].1, segs[1].0, segs[1].1)
}

fn secret_name(name: &[u8]) -> bool {
    let (p, pn, l, ln) = last_segments(name);
    let (prev, last) = (&p[..pn], &l[..ln]);
    const ENDINGS: [&[u8]; 4] = [b"secret", b"token", b"apikey", b"passphrase"];
    const WHOLE: [&[u8]; 5] = [
        b"auth",
        b"authorization",
        b"bearer",
        b"credential",
        b"credentials",
    ];
    const KEY_QUALIFIERS: [&[u8]; 12] = [
        b"api",
        b"secret",
        b"access",
        b"private",
        b"signing",
        b"encryption",
        b"master",
        b"client",
        b"app",
        b"service",
        b"auth",
        b"subscription",
    ];
    ENDINGS.iter().any(|e| last.ends_with(e))
        || WHOLE.contains(&last)
        || (last == b"id" && prev == b"key" && contains_ci(name, "private_key"))
        || (last == b"key" && KEY_QUALIFIERS.contains(&prev))
}

/// `password: SecretStr` in a model or interface: the field's type, not its value.
fn type_name(v: &[u8], quoted: bool) -> bool {
    const ENDINGS: [&str; 8] = [
        "Str", "String", "Bytes", "Field", "Type", "Input", "Value", "Secret",
    ];
    !quoted
        && v.first().is_some_and(u8::is_ascii_uppercase)
        && v.iter().all(u8::is_ascii_alphabetic)
        && ENDINGS.iter().any(|e| v.ends_with(e.as_bytes()))
}

fn password_name(name: &[u8]) -> bool {
    const ENDINGS: [&str; 15] = [
        "authtok",
        "bindpw",
        "clave",
        "palavra-passe",
        "password",
        "passwd",
        "pwd",
        "pass",
        "passwort",
        "kennwort",
        "contraseña",
        "contrasena",
        "wachtwoord",
        "senha",
        "passcode",
    ];
    let n = name.len();
    ENDINGS
        .iter()
        .any(|e| n >= e.len() && name[n - e.len()..].eq_ignore_ascii_case(e.as_bytes()))
        || name.eq_ignore_ascii_case(b"mdp")
        || name.eq_ignore_ascii_case(b"pw")
}

/// A value assigned to a name containing the anchor at `s..e`: `password = "..."`,
/// `API_TOKEN: ...`, `"client_secret": "..."`, or in prose "my password is ...".
pub(crate) fn assignment(b: &[u8], s: usize, e: usize, password: bool, sink: &mut Sink) {
    let id_char = |c: u8| token_char(c) || c == b'.' || c >= 0x80;
    // A phrase, or a compound such as `WLAN-Schlüssel`, names a password by itself.
    let multiword = b[s..e].contains(&b' ') || (password && b[s..e].contains(&b'-'));
    let (is, ie) = if multiword {
        (s, e)
    } else {
        (run_start(b, s, id_char), run_end(b, e, id_char))
    };
    let name = &b[is..ie];
    // `db.password.hex`, `API_KEY_B64`: the name of an encoded value is still its name.
    let core = [".hex", "_hex", ".b64", "_b64", ".base64", "_base64"]
        .iter()
        .find_map(|x| {
            let n = name.len();
            (n > x.len() && name[n - x.len()..].eq_ignore_ascii_case(x.as_bytes()))
                .then(|| &name[..n - x.len()])
        })
        .unwrap_or(name);
    let named = multiword
        || if password {
            password_name(core)
        } else {
            secret_name(core)
        };
    // `arn:aws:secretsmanager:…:secret:prod/db-AbC123`: a resource type in an ARN, and the
    // secret's name after it.
    let arn = is > 0
        && b[is - 1] == b':'
        && b[run_start(b, is, |c| {
            !c.is_ascii_whitespace() && !matches!(c, b'"' | b'\'')
        })..]
            .starts_with(b"arn:");
    if !named || arn {
        return;
    }
    let mut j = ie;
    if matches!(b.get(j), Some(b'"' | b'\'' | b'`')) {
        j += 1;
    }
    // `config["MAIL_PASSWORD"] = ...`, `Wachtwoord (tijdelijk): ...`.
    if b.get(j) == Some(&b']') {
        j += 1;
    }
    j = run_end(b, j, |c| c == b' ' || c == b'\t');
    if b.get(j) == Some(&b'(') {
        let close = line_after(b, j, 40);
        if let Some(p) = memchr::memchr(b')', &b[j..close]) {
            j = run_end(b, j + p + 1, |c| c == b' ' || c == b'\t');
        }
    }
    // `<password>...</password>`; a bare `<password>` is a placeholder's.
    if b.get(j) == Some(&b'>') && is > 0 && b[is - 1] == b'<' {
        let ve = run_end(b, j + 1, |c| c != b'<' && c != b'\n');
        let v = &b[j + 1..ve];
        let closed = b[ve..].starts_with(b"</");
        if password && closed && v.len() >= 6 && !is_placeholder(v) && !is_default_password(v) {
            sink.push(Kind::Password, j + 1, ve);
        }
        return;
    }
    let quoted_name = is > 0 && matches!(b[is - 1], b'"' | b'\'' | b'`');
    let prose;
    match b.get(j) {
        // `define('DB_PASSWORD', '…')`, `config.set("api_key", "…")`: a quoted name and its
        // value as the next argument.
        Some(b',') if quoted_name => {
            j += 1;
            prose = false;
        }
        Some(b'=') | Some(b':') => {
            j += 1;
            if matches!(b.get(j), Some(b'=' | b'>')) {
                j += 1;
            }
            prose = false;
        }
        _ if password => {
            let w_end = run_end(b, j, super::text::is_letter);
            const LINKS: [&str; 12] = [
                "is", "ist", "lautet", "est", "es", "was", "è", "é", "era", "était", "war", "são",
            ];
            if !LINKS
                .iter()
                .any(|l| l.as_bytes().eq_ignore_ascii_case(&b[j..w_end]))
            {
                // `pass` and `pwd` in prose are too often the verb or a label of something
                // else ("when I pass pk_test_…"); they need `=` or `:`.
                if !name.eq_ignore_ascii_case(b"pass") && !name.eq_ignore_ascii_case(b"pwd") {
                    strong_after(b, j, sink);
                }
                return;
            }
            j = w_end;
            if b.get(j) == Some(&b':') {
                j += 1;
            }
            prose = true;
        }
        // `aws configure set aws_secret_access_key GtvC…`: an identifier and its value as a
        // command line's next argument.
        _ if !multiword && j == ie + 1 && b[ie] == b' ' && name.contains(&b'_') => {
            prose = false;
        }
        _ => return,
    }
    j = run_end(b, j, |c| c == b' ' || c == b'\t');
    let (mut vs, mut ve, quoted) = value_at(b, j);
    if vs == ve && b.get(j) == Some(&b'&') {
        // `password=&5cSM...`: a value that starts with the query delimiter.
        ve = run_end(b, j, |c| !c.is_ascii_whitespace());
        while ve > vs && matches!(b[ve - 1], b'.' | b',') {
            ve -= 1;
        }
    } else if !quoted && b.get(ve) == Some(&b'&') && !query_param_at(b, ve + 1) {
        // `password: UR8&?XW5db@@H15r&o` in YAML: `&` is part of the value unless a query
        // parameter (`&user=…`) follows it.
        ve = run_end(b, ve, |c| !c.is_ascii_whitespace());
    }
    if password && !quoted && !prose {
        if let Some(e) = app_password_end(b, vs) {
            sink.push(Kind::Password, vs, e);
            return;
        }
    }
    if !password
        && matches!(&b[vs..ve], v if v.eq_ignore_ascii_case(b"Bearer") || v.eq_ignore_ascii_case(b"Basic") || v.eq_ignore_ascii_case(b"Token"))
    {
        (vs, ve, _) = value_at(b, run_end(b, ve, |c| c == b' '));
    }
    if prose {
        while ve > vs && matches!(b[ve - 1], b'.' | b',' | b'!' | b'?') {
            ve -= 1;
        }
    }
    // `bytes.fromhex("4672…").decode()`, `$(echo '…' | base64 -d)`: a password hidden in an
    // encoding is the password.
    if password && !quoted {
        if let Some((ls, le)) = super::secret_values::decoded_literal(b, vs) {
            sink.push(Kind::Password, ls, le);
            return;
        }
    }
    if !quoted && code_like(&b[vs..ve]) {
        // `os.environ.get("DJANGO_SECRET", "i-m(@h0c…")`: a lookup whose default is a literal
        // is that literal whenever the variable is unset.
        match default_literal(b, vs) {
            Some((ds, de)) => (vs, ve) = (ds, de),
            None => return,
        }
    }
    let v = &b[vs..ve];
    if v.is_empty() || is_placeholder(v) || is_documented_example(v) || stripe_object_id(v) {
        return;
    }
    // A Kubernetes secret's `data:` holds values base64-encoded: `Y2hhbmdlbWU=` is the
    // chart's `changeme`.
    if password
        && super::blobs::decode_text(v)
            .is_some_and(|t| is_default_password(t.as_bytes()) || is_placeholder(t.as_bytes()))
    {
        return;
    }
    // `clave` is Spanish for any key (`clave=catalogo:categoria:5` in a cache log): only a
    // value that looks like a password counts.
    if name.eq_ignore_ascii_case(b"clave") && (v.contains(&b':') || char_classes(v) < 3) {
        return;
    }
    if password {
        let variable = !quoted && v.iter().all(|c| c.is_ascii_lowercase() || *c == b'_');
        // `PWD=/srv/app` in a sudo log is the working directory.
        let path = v.first() == Some(&b'/')
            && v.iter().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'/' | b'.' | b'_' | b'-')
            });
        if path || type_name(&b[vs..ve], quoted) {
            return;
        }
        let strong = char_classes(v) >= 2 && (!prose || v.iter().any(|c| !c.is_ascii_alphabetic()));
        if v.len() >= 6
            && !variable
            && !is_default_password(v)
            && !vendor_token(v)
            && !key_material(v)
            && (strong || (quoted && v.len() >= 10))
        {
            sink.push(Kind::Password, vs, ve);
        }
    } else {
        // Hex keys (Datadog's 32 characters) have at most 16 symbols to spread over: they
        // are allowed a lower entropy than mixed-case ones.
        let hex_key = is_hex(v) && v.len() >= 32;
        let random = v.len() >= 16
            && entropy(v) >= if hex_key { 3.0 } else { 3.2 }
            && (char_classes(v) >= 2 || hex_key)
            && !is_uuid(v)
            && !v.iter().all(u8::is_ascii_digit);
        if random {
            let aws = contains_ci(name, "aws") || contains_ci(name, "secret_access");
            let kind = if aws && v.len() == 40 {
                Kind::AwsSecretKey
            } else {
                Kind::GenericSecret
            };
            sink.push(kind, vs, ve);
        }
    }
}

/// A Stripe object's id (`tok_1OqY2bLkdIwHu7ix`, `cus_…`, `pm_…`): a reference the API hands
/// to browsers, not a credential. A PaymentIntent's `…_secret_…` is one.
fn stripe_object_id(v: &[u8]) -> bool {
    const PREFIXES: [&str; 9] = [
        "tok_", "pm_", "card_", "cus_", "ch_", "pi_", "src_", "seti_", "evt_",
    ];
    PREFIXES.iter().any(|p| v.starts_with(p.as_bytes()))
        && !super::text::contains_ci(v, "_secret_")
        && v[v.iter().position(|c| *c == b'_').unwrap_or(0) + 1..]
            .iter()
            .all(u8::is_ascii_alphanumeric)
}
