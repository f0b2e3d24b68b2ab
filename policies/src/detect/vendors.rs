//! Vendor credentials with a shape of their own (GitLab, npm, Hugging Face, Shopify, PyPI,
//! Mailgun, DigitalOcean tokens, Slack webhooks, Twilio auth tokens) and passwords given in
//! URLs, on command lines and in HTTP Basic auth.

use super::text::{is_alnum, line_after, run_end, run_start};
use super::validate::{is_documented_example, is_placeholder, looks_random, token_char};
use super::{Kind, Sink};

/// The length of a vendor prefix (`glpat-`, `npm_`, `hf_`, ...) that `tok` starts with, when
/// the rest has that vendor's length.
pub(crate) fn vendor_prefix(tok: &[u8]) -> Option<usize> {
    const VENDORS: [(&str, usize); 12] = [
        ("glpat-", 20),
        ("glptt-", 20),
        ("npm_", 36),
        ("hf_", 30),
        ("shpat_", 32),
        ("shpss_", 32),
        ("shpca_", 32),
        ("shppa_", 32),
        ("pypi-", 50),
        ("key-", 32),
        ("dop_v1_", 64),
        // Mollie's live API keys (its `test_` keys reach only the sandbox).
        ("live_", 30),
    ];
    VENDORS.iter().find_map(|(p, min)| {
        (tok.starts_with(p.as_bytes()) && tok.len() - p.len() >= *min).then_some(p.len())
    })
}

/// `hooks.slack.com/services/T…/B…/…` or `/workflows/…`: a webhook URL anyone can post to.
pub(crate) fn slack_hook(b: &[u8], s: usize, sink: &mut Sink) {
    let e = run_end(b, s, |c| token_char(c) || c == b'/' || c == b'.');
    let path = &b[s + 16..e];
    let segs: Vec<&[u8]> = path
        .split(|c| *c == b'/')
        .filter(|p| !p.is_empty())
        .collect();
    let real = segs.len() >= 3
        && segs[1..].iter().all(|p| p.len() >= 8)
        && segs
            .last()
            .is_some_and(|p| looks_random(p) || p.len() >= 20 && !is_placeholder(p));
    if real {
        let start = if s >= 8 && b[..s].ends_with(b"https://") {
            s - 8
        } else {
            s
        };
        sink.push(Kind::SlackToken, start, e);
    }
}

/// The value after the first of `flags` on the command line starting at `s`, without its
/// opening quote and up to a blank or a quote.
fn flag_value(b: &[u8], s: usize, flags: &[&[u8]]) -> Option<(usize, usize)> {
    // A command continued over lines with `\` is one command line.
    let mut end = line_after(b, s, 400);
    while end < b.len() && end > s && b[end - 1] == b'\\' && end - s < 1200 {
        end = line_after(b, end + 1, 400);
    }
    let line = &b[s..end];
    let (p, flag) = flags
        .iter()
        .find_map(|f| memchr::memmem::find(line, f).map(|p| (p, f)))?;
    let mut vs = s + p + flag.len();
    if matches!(b.get(vs), Some(b'\'' | b'"')) {
        vs += 1;
    }
    let ve = run_end(b, vs, |c| {
        !(c.is_ascii_whitespace() || matches!(c, b'\'' | b'"'))
    });
    Some((vs, ve))
}

/// `curl -u user:password` or `--user user:password`: the password after the colon.
pub(crate) fn curl_user(b: &[u8], s: usize, sink: &mut Sink) {
    let flags: [&[u8]; 4] = [b" -u ", b" --user ", b" -u'", b" -u\""];
    let Some((vs, ve)) = flag_value(b, s, &flags) else {
        return;
    };
    let v = &b[vs..ve];
    if let Some(colon) = v.iter().position(|c| *c == b':') {
        let pw = &v[colon + 1..];
        // Mailgun's `api:key-…` is its API key, which the prefix names better.
        let kind = if vendor_prefix(pw).is_some() {
            Kind::GenericSecret
        } else {
            Kind::Password
        };
        if concrete_password(pw) {
            sink.push(kind, vs + colon + 1, ve);
        }
    }
}

/// The password of a `login("user", "password")` call whose arguments start at `a`: two
/// string literals, the second a concrete password.
pub(crate) fn login_call(b: &[u8], a: usize, sink: &mut Sink) {
    let literal = |i: usize| -> Option<(usize, usize)> {
        let i = run_end(b, i, |c| c == b' ');
        let q = *b.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
        let e = i + 1 + memchr::memchr(q, &b[i + 1..line_after(b, i + 1, 200)])?;
        Some((i + 1, e))
    };
    let Some((_, ue)) = literal(a) else {
        return;
    };
    let comma = run_end(b, ue + 1, |c| c == b' ');
    if b.get(comma) != Some(&b',') {
        return;
    }
    if let Some((ps, pe)) = literal(comma + 1) {
        if concrete_password(&b[ps..pe]) {
            sink.push(Kind::Password, ps, pe);
        }
    }
}

/// Twilio's auth token where Twilio is named: 32 lowercase hex digits standing alone, within
/// 600 bytes of an account SID (`AC` and 32 hex digits), which tells it from a checksum.
pub(crate) fn twilio_token(b: &[u8], s: usize, sink: &mut Sink) {
    let hi = (s + 600).min(b.len());
    let lo = s.saturating_sub(600);
    let hex32 =
        |t: &[u8]| t.len() == 32 && t.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    let mut tokens = Vec::new();
    let mut sid = false;
    let mut j = lo;
    while j < hi {
        if !is_alnum(b[j]) {
            j += 1;
            continue;
        }
        let e = run_end(b, j, is_alnum);
        let t = &b[j..e];
        sid |= t.len() == 34 && t.starts_with(b"AC") && hex32(&t[2..]);
        if hex32(t) && looks_random(t) {
            tokens.push((j, e));
        }
        j = e;
    }
    if sid {
        for (ts, te) in tokens {
            sink.push(Kind::GenericSecret, ts, te);
        }
    }
}

/// `redis-cli -a 'secret'`, `redis-cli --pass secret`: the server's password on the command
/// line.
pub(crate) fn redis_password(b: &[u8], s: usize, sink: &mut Sink) {
    flag_password(b, s, &[b" -a ", b" --pass ", b" --askpass "], sink);
}

/// `docker login registry -u ci -p "secret"`, `sshpass -p secret ssh …`: a password flag.
pub(crate) fn login_password(b: &[u8], s: usize, sink: &mut Sink) {
    flag_password(b, s, &[b" -p ", b" --password ", b" --password="], sink);
}

/// The value after the first of `flags` on the command line at `s`, when it is a password.
fn flag_password(b: &[u8], s: usize, flags: &[&[u8]], sink: &mut Sink) {
    if let Some((vs, ve)) = flag_value(b, s, flags) {
        if concrete_password(&b[vs..ve]) {
            sink.push(Kind::Password, vs, ve);
        }
    }
}

/// Whether a command line's or a call's password is a real one: four characters or more, no
/// placeholder (`$PASS`, `<password>`) and no default (`root`, `guest`).
fn concrete_password(pw: &[u8]) -> bool {
    pw.len() >= 4 && !is_placeholder(pw) && !is_default_password(pw)
}

/// The passwords of a PostgreSQL password file pasted after its name (`~/.pgpass`): lines
/// `host:port:database:user:password`, the port a number or `*`.
pub(crate) fn pgpass_passwords(b: &[u8], s: usize, sink: &mut Sink) {
    let end = (s + 2000).min(b.len());
    let mut ls = line_after(b, s, 2000);
    for _ in 0..20 {
        if ls >= end {
            return;
        }
        ls += 1;
        let le = line_after(b, ls, end - ls);
        let line = &b[ls..le];
        let colons: Vec<usize> = memchr::memchr_iter(b':', line).collect();
        let port = colons.get(..2).map(|c| &line[c[0] + 1..c[1]]);
        let port_ok =
            port.is_some_and(|p| p == b"*" || (!p.is_empty() && p.iter().all(u8::is_ascii_digit)));
        if colons.len() == 4 && port_ok {
            let vs = run_end(b, ls + colons[3] + 1, |c| c == b' ').min(le);
            let pw = b[vs..le].trim_ascii_end();
            if concrete_password(pw) {
                sink.push(Kind::Password, vs, vs + pw.len());
            }
        }
        ls = le;
    }
}

/// `new mysqli("localhost", "user", "secret", "db")`, `mysqli_connect(…)`: the third
/// argument, when every argument up to it is a string literal.
fn mysqli_password(b: &[u8], open: usize, sink: &mut Sink) {
    let end = line_after(b, open, 400);
    let mut i = open;
    for arg in 0..3 {
        i = run_end(b, i, |c| c == b' ');
        let Some(&q) = b.get(i).filter(|c| matches!(c, b'"' | b'\'')) else {
            return;
        };
        let vs = i + 1;
        let Some(len) = memchr::memchr(q, &b[vs..end]) else {
            return;
        };
        let ve = vs + len;
        if arg == 2 {
            let pw = &b[vs..ve];
            if concrete_password(pw) {
                sink.push(Kind::Password, vs, ve);
            }
            return;
        }
        i = run_end(b, ve + 1, |c| c == b' ');
        if b.get(i) != Some(&b',') {
            return;
        }
        i += 1;
    }
}

/// `mysql -p'secret'`, `mysqldump -psecret`, `--password=secret`.
pub(crate) fn mysql_password(b: &[u8], s: usize, sink: &mut Sink) {
    for call in [&b"mysqli("[..], b"mysqli_connect("] {
        if b[s..].starts_with(call) {
            return mysqli_password(b, s + call.len(), sink);
        }
    }
    let end = line_after(b, s, 400);
    let line = &b[s..end];
    for flag in [&b" -p"[..], b" --password="] {
        let Some(p) = memchr::memmem::find(line, flag) else {
            continue;
        };
        let mut vs = s + p + flag.len();
        let quote = b.get(vs).copied().filter(|c| matches!(c, b'\'' | b'"'));
        if quote.is_some() {
            vs += 1;
        }
        let ve = run_end(b, vs, |c| match quote {
            Some(q) => c != q && c != b'\n',
            None => !c.is_ascii_whitespace(),
        });
        let v = &b[vs..ve];
        if concrete_password(v) {
            sink.push(Kind::Password, vs, ve);
        }
        return;
    }
}

/// `Authorization: Basic <base64 of user:password>`: the blob, when it holds a password.
pub(crate) fn basic_auth(b: &[u8], vs: usize, sink: &mut Sink) {
    use base64::Engine;
    let ve = run_end(b, vs, |c| is_alnum(c) || matches!(c, b'+' | b'/' | b'='));
    if ve - vs < 8 {
        return;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&b[vs..ve]) else {
        return;
    };
    if let Some(colon) = decoded.iter().position(|c| *c == b':') {
        let pw = &decoded[colon + 1..];
        if pw.len() >= 3 && !is_placeholder(pw) && !is_default_password(pw) {
            sink.push(Kind::Password, vs, ve);
        }
    }
}

/// Passwords that ship as defaults and so protect nothing: `postgres`, `guest`, `root`,
/// `admin`, `changeme`, `demo`, `secret`.
pub(crate) fn is_default_password(v: &[u8]) -> bool {
    // `POSTGRES_PASSWORD=postgres.` at the end of a sentence is still the default.
    let mut n = v.len();
    while n > 0 && matches!(v[n - 1], b'.' | b',' | b';' | b')') {
        n -= 1;
    }
    let v = &v[..n];
    const DEFAULTS: [&str; 16] = [
        "postgres", "guest", "root", "admin", "changeme", "demo", "secret", "password", "pass",
        "test", "user", "default", "letmein", "1234", "12345", "123456",
    ];
    DEFAULTS
        .iter()
        .any(|d| d.as_bytes().eq_ignore_ascii_case(v))
}

/// Whether a value starts with a vendor's token prefix: the prefix matcher reports it under
/// the vendor's kind, which says more than "a password".
pub(crate) fn vendor_token(v: &[u8]) -> bool {
    const PREFIXES: [&str; 15] = [
        "SG.",
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "sk-",
        "sk_live_",
        "npm_",
        "hf_",
        "pypi-",
        "key-",
    ];
    PREFIXES.iter().any(|p| v.starts_with(p.as_bytes())) || vendor_prefix(v).is_some()
}

/// `scheme://user:password@host`; `s` is the position of `://`.
pub(crate) fn url_password(b: &[u8], s: usize, sink: &mut Sink) {
    let scheme_start = run_start(b, s, |c| is_alnum(c) || c == b'+' || c == b'-' || c == b'.');
    if scheme_start == s {
        return;
    }
    let from = s + 3;
    let authority_end = run_end(b, from, |c| {
        !matches!(
            c,
            b'/' | b' ' | b'\t' | b'\n' | b'"' | b'\'' | b'<' | b'>' | b'`'
        )
    });
    // The host follows the last `@`: the user may be an address itself
    // (`smtp://info%40shop.de:pw@smtp.host`, decoded before matching).
    let Some(stop) = memchr::memrchr(b'@', &b[from..authority_end]).map(|p| from + p) else {
        return;
    };
    let Some(colon) = b[from..stop]
        .iter()
        .position(|c| *c == b':')
        .map(|p| from + p)
    else {
        return;
    };
    let pw = &b[colon + 1..stop];
    if pw.len() >= 3
        && !is_placeholder(pw)
        && !is_documented_example(pw)
        && !is_default_password(pw)
        && !vendor_token(pw)
    {
        sink.push(Kind::Password, colon + 1, stop);
    }
}
