//! `tollgate reload --admin URL`: `POST /reload` to a running gateway's admin listener.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

/// Asks the gateway at `admin` (`http://HOST:PORT`) to reload its config; the token, when the
/// admin listener needs one, is read from the variable `token_env` names.
pub fn reload(admin: &str, token_env: Option<&str>) -> ExitCode {
    let Some(host) = admin
        .strip_prefix("http://")
        .map(|h| h.trim_end_matches('/'))
        .filter(|h| !h.is_empty() && !h.contains('/'))
    else {
        eprintln!("tollgate: --admin must be http://HOST:PORT (the admin listener), not '{admin}'");
        return ExitCode::FAILURE;
    };
    let token = match token_env.map(|v| (v, std::env::var(v))) {
        Some((_, Ok(t))) => Some(t),
        Some((v, Err(_))) => {
            eprintln!("tollgate: the variable {v} (--token-env) is not set");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    match post(host, token.as_deref()) {
        Ok((200, body)) => {
            print!("{body}");
            ExitCode::SUCCESS
        }
        Ok((status, body)) => {
            eprint!("tollgate: reload refused (HTTP {status}):\n{body}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tollgate: cannot reach the admin listener at {admin}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn post(host: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(host)?;
    // A reload may load models: give it time, but not forever.
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "POST /reload HTTP/1.0\r\nHost: {host}\r\n{auth}Content-Length: 0\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}
