//! E-mail addresses outside the reserved domains, and public IPv6 addresses.

use super::text::{ends_token, is_alnum, run_end, run_start, starts_token};
use super::validate::ipv6_public;
use super::{Kind, Sink};

/// The address around the `@` at `at`; returns where scanning resumes.
pub(crate) fn email(b: &[u8], at: usize, sink: &mut Sink) -> usize {
    let local_ok = |c: u8| is_alnum(c) || b"._%+-".contains(&c);
    let mut ls = run_start(b, at, local_ok);
    while ls < at && !is_alnum(b[ls]) {
        ls += 1;
    }
    let mut de = run_end(b, at + 1, |c| is_alnum(c) || c == b'.' || c == b'-');
    while de > at + 1 && !is_alnum(b[de - 1]) {
        de -= 1;
    }
    if ls == at || at - ls > 64 || de <= at + 1 {
        return at + 1;
    }
    let local = &b[ls..at];
    let domain = &b[at + 1..de];
    let Some(dot) = domain.iter().rposition(|c| *c == b'.') else {
        return de;
    };
    let tld = &domain[dot + 1..];
    let labels_ok = domain
        .split(|c| *c == b'.')
        .all(|l| !l.is_empty() && l[0] != b'-');
    // `ssh admin@85.12.0.7`: a host given by its address is read as one, by the digit
    // matchers after the `@`.
    if domain.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return at + 1;
    }
    if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) || !labels_ok {
        return de;
    }
    // `scheme://user:pass@host` is a URL's user info, not an address; `mailto:` is fine,
    // and so is a user that is an address itself, before its password and the host
    // (`smtp://info@shop.de:pw@smtp.host`).
    let user_is_address = b.get(de) == Some(&b':')
        && b[de..]
            .iter()
            .take_while(|c| !matches!(c, b'/' | b' ' | b'\n' | b'"' | b'\''))
            .any(|c| *c == b'@');
    let in_url = ls > 0
        && matches!(b[ls - 1], b':' | b'/')
        && !(ls >= 7 && b[ls - 7..ls].eq_ignore_ascii_case(b"mailto:"))
        && !user_is_address;
    let ssh = b.get(de) == Some(&b':') && local == b"git";
    if !in_url && !ssh && !reserved_email(local, domain, tld) {
        sink.push(Kind::Email, ls, de);
    }
    de
}

/// RFC 2606 / 6761 reserved domains, obvious placeholders, system mailboxes and file names
/// such as `logo@2x.png`.
fn reserved_email(local: &[u8], domain: &[u8], tld: &[u8]) -> bool {
    use super::text::{contains_ci, word_in};
    const FILE_EXT: [&str; 18] = [
        "png", "jpg", "jpeg", "gif", "svg", "webp", "js", "ts", "css", "py", "rs", "go", "json",
        "yaml", "yml", "html", "lock", "txt",
    ];
    const RESERVED_TLD: [&str; 5] = ["example", "test", "invalid", "localhost", "local"];
    // systemd's template units: `postgresql@15-main.service`, `getty@tty1.service`.
    const UNIT_SUFFIX: [&str; 6] = ["service", "socket", "timer", "target", "mount", "slice"];
    const SYSTEM: [&str; 8] = [
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "mailer-daemon",
        "postmaster",
        "notifications",
        // `git@github.com:org/repo.git`: the SSH user of a code host, not a mailbox.
        "git",
    ];
    let first_label = domain.split(|c| *c == b'.').next().unwrap_or(domain);
    let base = domain
        .iter()
        .rposition(|c| *c == b'.')
        .and_then(|last| {
            domain[..last]
                .iter()
                .rposition(|c| *c == b'.')
                .map(|p| &domain[p + 1..])
        })
        .unwrap_or(domain);
    // Service-account identities are machines, not people.
    let machine = domain.len() >= 19
        && domain[domain.len() - 19..].eq_ignore_ascii_case(b"gserviceaccount.com");
    machine
        || word_in(tld, &FILE_EXT)
        || word_in(tld, &RESERVED_TLD)
        || word_in(tld, &UNIT_SUFFIX)
        || word_in(base, &["example.com", "example.org", "example.net"])
        // `example.de`, `example.fr`: the reserved name's habit carried to country domains.
        || base
            .split(|c| *c == b'.')
            .next()
            .is_some_and(|sld| sld.eq_ignore_ascii_case(b"example"))
        || word_in(
            first_label,
            &[
                "domain",
                "yourdomain",
                "yourcompany",
                "mydomain",
                "company",
                "email",
            ],
        )
        || word_in(local, &SYSTEM)
        || contains_ci(local, "your")
        || local.iter().all(|c| c.eq_ignore_ascii_case(&b'x'))
}

/// The IPv6 address around the `:` at `c`; returns where scanning resumes.
pub(crate) fn ipv6(b: &[u8], c: usize, sink: &mut Sink) -> usize {
    let v6 = |x: u8| x.is_ascii_hexdigit() || x == b':' || x == b'.';
    let near = |k: usize| {
        b.get(k)
            .is_some_and(|x| x.is_ascii_hexdigit() || *x == b':')
    };
    if c == 0 || !near(c - 1) || !near(c + 1) {
        return c + 1;
    }
    let s = run_start(b, c, v6);
    let mut e = run_end(b, c, v6);
    while e > s && b[e - 1] == b'.' {
        e -= 1;
    }
    let region = &b[s..e];
    let colons = region.iter().filter(|x| **x == b':').count();
    if colons < 2 || region.len() > 45 || !starts_token(b, s) || !ends_token(b, e) {
        return e;
    }
    if let Some(addr) = std::str::from_utf8(region)
        .ok()
        .and_then(|t| t.parse::<std::net::Ipv6Addr>().ok())
    {
        // Public resolvers (Google, Cloudflare, Quad9) are infrastructure, not a person.
        let resolver = matches!(
            addr.segments(),
            [0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888 | 0x8844]
                | [0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111 | 0x1001]
                | [0x2620, 0xfe, 0, 0, 0, 0, 0, 0xfe | 0x9]
        );
        if ipv6_public(&addr) && !resolver {
            sink.push(Kind::IpAddress, s, e);
        }
    }
    e
}
