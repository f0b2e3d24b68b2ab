//! The admin token: `[server] admin_token_env` names the variable holding it. Clients send it
//! as `Authorization: Bearer TOKEN` (scrapers, scripts) or as the password of HTTP Basic
//! (browsers prompt for it after a 401 with `WWW-Authenticate: Basic`; any user name).

use crate::config::env::EnvSource;
use crate::config::Server;
use sha2::{Digest, Sha256};

/// The `WWW-Authenticate` challenge sent with a 401, so a browser asks for the token.
pub const CHALLENGE: &str = "Basic realm=\"tollgate admin\", charset=\"UTF-8\"";

/// How the admin listener authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum AdminAuth {
    /// No `admin_token_env`: `/metrics` is open as before, and the spend page refuses to serve.
    Open,
    /// Requests must carry the token whose SHA-256 this is.
    Token([u8; 32]),
    /// A variable is named but holds nothing (`check-config` reports it): every request is
    /// refused rather than served unauthenticated.
    Unavailable,
}

impl std::fmt::Debug for AdminAuth {
    // The digest stays out of logs too.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AdminAuth::Open => "AdminAuth::Open",
            AdminAuth::Token(_) => "AdminAuth::Token(..)",
            AdminAuth::Unavailable => "AdminAuth::Unavailable",
        })
    }
}

/// Whether a request may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token is configured.
    Open,
    /// The request carries the token.
    Granted,
    /// A token is required and the request does not carry it.
    Denied,
}

impl AdminAuth {
    /// Reads the token from the variable `server.admin_token_env` names, surrounding white
    /// space removed (as `check-config` reads it).
    pub fn from_config(server: &Server, env: &dyn EnvSource) -> AdminAuth {
        match server.admin_token_env.as_deref() {
            None => AdminAuth::Open,
            Some(var) => match env.var(var) {
                Some(t) if !t.trim().is_empty() => AdminAuth::Token(digest(t.trim().as_bytes())),
                _ => AdminAuth::Unavailable,
            },
        }
    }

    /// Whether a token is configured (the spend page is served only then).
    pub fn is_required(&self) -> bool {
        !matches!(self, AdminAuth::Open)
    }

    /// Checks a request's `Authorization` header value.
    pub fn check(&self, authorization: Option<&[u8]>) -> Access {
        let expected = match self {
            AdminAuth::Open => return Access::Open,
            AdminAuth::Unavailable => return Access::Denied,
            AdminAuth::Token(d) => d,
        };
        match authorization.and_then(presented_token) {
            Some(token) if same_digest(&digest(&token), expected) => Access::Granted,
            _ => Access::Denied,
        }
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Compares two digests in time independent of where they differ. Comparing digests rather
/// than tokens also keeps the token's length from showing in the timing.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The token of `Bearer TOKEN`, or the password of `Basic base64(user:password)`; schemes are
/// case-insensitive (RFC 9110 §11.1).
fn presented_token(header: &[u8]) -> Option<Vec<u8>> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, rest) = header.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64_decode(rest)?;
        let colon = decoded.iter().position(|b| *b == b':')?;
        let password = std::str::from_utf8(&decoded[colon + 1..]).ok()?;
        return Some(password.trim().as_bytes().to_vec());
    }
    None
}

/// Standard base64 with optional padding (what browsers send for Basic credentials).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone sextet cannot end a valid encoding.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::MapEnv;

    fn auth(var: Option<&str>, env: &[(&str, &str)]) -> AdminAuth {
        // `from_toml_str` would check the variable against the process environment: name it
        // on the checked section instead.
        let mut server = crate::config::from_toml_str("[server]\nlisten = \"127.0.0.1:0\"\n")
            .unwrap()
            .server;
        server.admin_token_env = var.map(str::to_string);
        AdminAuth::from_config(&server, &MapEnv::of(env.iter().copied()))
    }

    fn basic(user_password: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = user_password.as_bytes();
        let mut out = String::from("Basic ");
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out.into_bytes()
    }

    #[test]
    fn bearer_and_basic_password_are_accepted_and_nothing_else() {
        let a = auth(Some("ADMIN_TOKEN"), &[("ADMIN_TOKEN", " s3cret-tok ")]);
        assert!(a.is_required());
        assert_eq!(a.check(Some(b"Bearer s3cret-tok")), Access::Granted);
        assert_eq!(a.check(Some(b"bearer   s3cret-tok ")), Access::Granted);
        assert_eq!(a.check(Some(&basic("finance:s3cret-tok"))), Access::Granted);
        assert_eq!(a.check(Some(&basic(":s3cret-tok"))), Access::Granted);
        assert_eq!(a.check(Some(&basic("anyone:pa:ss"))), Access::Denied);
        for bad in [
            &b"Bearer s3cret-to"[..],
            b"Bearer s3cret-tokk",
            b"s3cret-tok",
            b"Token s3cret-tok",
            b"Basic !!!",
            b"Bearer ",
            b"",
        ] {
            assert_eq!(a.check(Some(bad)), Access::Denied, "{bad:?}");
        }
        assert_eq!(a.check(Some(&basic("s3cret-tok:"))), Access::Denied);
        assert_eq!(a.check(None), Access::Denied);
    }

    #[test]
    fn no_variable_is_open_and_an_empty_one_refuses_everything() {
        let open = auth(None, &[]);
        assert!(!open.is_required());
        assert_eq!(open.check(None), Access::Open);
        for env in [&[][..], &[("ADMIN_TOKEN", "")], &[("ADMIN_TOKEN", "  ")]] {
            let a = auth(Some("ADMIN_TOKEN"), env);
            assert_eq!(a, AdminAuth::Unavailable);
            assert_eq!(a.check(Some(b"Bearer ")), Access::Denied);
            assert_eq!(a.check(None), Access::Denied);
        }
        assert_eq!(
            format!("{:?}", auth(Some("T"), &[("T", "x")])),
            "AdminAuth::Token(..)"
        );
    }

    #[test]
    fn base64_decodes_padded_and_unpadded_and_refuses_junk() {
        assert_eq!(base64_decode("YTpi").unwrap(), b"a:b");
        assert_eq!(base64_decode("YTpiYw==").unwrap(), b"a:bc");
        assert_eq!(base64_decode("YTpiYw").unwrap(), b"a:bc");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("YTpiY").is_none());
        assert!(base64_decode("YT*i").is_none());
        assert!(same_digest(&digest(b"x"), &digest(b"x")));
        assert!(!same_digest(&digest(b"x"), &digest(b"y")));
    }
}
