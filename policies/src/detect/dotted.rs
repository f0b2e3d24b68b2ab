//! Dotted quads: an IPv4 address, or a version, an OID or a resolver that reads like one
//! (`Chrome/124.0.6383.108`, "updated 4.18.2.1 to 4.19.0.3", `8.8.8.8`).

use super::groups::Groups;
use super::text::{ends_token, is_alnum, number, run_end};
use super::validate::ipv4_public;
use super::{Kind, Sink};

/// Whether the dotted quad at `i..end` reads as a version: a version word on its line,
/// another dotted number on the line that is no address (`124.0.6383.108`), or a table
/// column about versions.
fn version_like(b: &[u8], i: usize, end: usize, sink: &Sink) -> bool {
    if version_words_near(b, i, end, sink) || sibling_version(b, i, sink) {
        return true;
    }
    let (ls, le) = line_around(b, i, end);
    let line = &b[ls..le];
    if super::columns::column_label(b, i, &sink.tables).is_some_and(|h| {
        [
            "version", "ver", "build", "agent", "os", "release", "firmware", "chrome", "office",
        ]
        .iter()
        .any(|w| super::text::contains_ci(h, w))
    }) {
        return true;
    }
    // Another dotted number on the line with a part above 255 or more than four parts; a
    // log line's date (`12.06.2024 19:41:03 … IP 192.134.76.149`) is none.
    line.split(|c| !(c.is_ascii_digit() || *c == b'.'))
        .filter(|t| t.iter().filter(|c| **c == b'.').count() >= 2)
        .any(|t| {
            let parts: Vec<&[u8]> = t.split(|c| *c == b'.').filter(|p| !p.is_empty()).collect();
            let date = parts.len() == 3
                && parts[2].len() == 4
                && (1..=31).contains(&number(parts[0]))
                && (1..=12).contains(&number(parts[1]))
                && parts[..2].iter().all(|p| p.len() <= 2);
            !date && (parts.len() > 4 || parts.iter().any(|p| p.len() > 3 || number(p) > 255))
        })
}

/// The line holding `i..end`, at most 200 bytes either side.
fn line_around(b: &[u8], i: usize, end: usize) -> (usize, usize) {
    let ls = memchr::memrchr(b'\n', &b[..i])
        .map_or(0, |p| p + 1)
        .max(i.saturating_sub(200));
    let le = memchr::memchr(b'\n', &b[end..])
        .map_or(b.len(), |p| end + p)
        .min(end + 200);
    (ls, le)
}

/// Whether a version word stands next to the dotted number at `i..end`.
fn version_words_near(b: &[u8], i: usize, end: usize, sink: &Sink) -> bool {
    let (ls, le) = line_around(b, i, end);
    let line = &b[ls..le];
    // Version words sit next to the number ("upgrade to", ".NET 4.8.1.0", "versie"), or a
    // line or two above a list item (`oids:` then `- 2.5.4.3`, `oids: ["1.3.6.1", …]`).
    let item = line.iter().find(|c| **c != b' ') == Some(&b'-') || b[ls..i].contains(&b'[');
    let above = if !item {
        ls
    } else {
        b[..ls.saturating_sub(1)]
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, c)| **c == b'\n')
            .nth(1)
            .map_or(0, |(p, _)| p + 1)
            .max(i.saturating_sub(240))
    };
    let near = &b[i.saturating_sub(120).max(above)..(end + 40).min(le)];
    // Stems of five letters or more may start a longer word; shorter ones stand alone;
    // `.net`, `==`, `v.` are marks anywhere.
    sink.versions.find_iter(near).any(|m| {
        let (s, e) = (m.start(), m.end());
        let stem = &near[s..e];
        !stem[0].is_ascii_alphabetic()
            || stem.ends_with(b".")
            || (super::text::starts_token(near, s)
                && (e - s >= 5 || super::text::ends_token(near, e)))
    })
}

/// Whether a dotted quad with the same first part, read as a version by its words, stands
/// within a few lines before `i`: "updated 4.18.2.1 to 4.19.0.3" then "2 still on 4.17.9.12".
fn sibling_version(b: &[u8], i: usize, sink: &Sink) -> bool {
    let first = run_end(b, i, |c| c.is_ascii_digit());
    let major = &b[i..first];
    let lo = i.saturating_sub(400);
    let mut k = i;
    while let Some(p) = b[lo..k]
        .windows(major.len() + 1)
        .rposition(|w| w[..major.len()] == *major && w[major.len()] == b'.')
    {
        let s = lo + p;
        k = s;
        if s > 0 && (b[s - 1].is_ascii_digit() || b[s - 1] == b'.') {
            continue;
        }
        let e = run_end(b, s, |c| c.is_ascii_digit() || c == b'.');
        let quad = b[s..e].iter().filter(|c| **c == b'.').count() == 3;
        if quad && version_words_near(b, s, e, sink) {
            return true;
        }
    }
    false
}

/// Public DNS resolvers: infrastructure everyone uses, not anyone's address.
const RESOLVERS: [[u8; 4]; 10] = [
    [8, 8, 8, 8],
    [8, 8, 4, 4],
    [1, 1, 1, 1],
    [1, 0, 0, 1],
    [9, 9, 9, 9],
    [149, 112, 112, 112],
    [208, 67, 222, 222],
    [208, 67, 220, 220],
    [64, 6, 64, 6],
    [94, 140, 14, 14],
];

#[inline]
pub(crate) fn ipv4(b: &[u8], i: usize, g: &Groups, sink: &mut Sink) -> Option<usize> {
    // Exactly four dotted groups; what follows a different separator is another value
    // (`213.58.120.119 - 2024-06-09`).
    let dotted = g.count >= 4 && g.seps_all(4, b'.') && (g.count == 4 || g.sep[3] != b'.');
    if !dotted || !g.lens(4).all(|l| (1..=3).contains(&l)) {
        return None;
    }
    let mut o = [0u8; 4];
    for (k, octet) in o.iter_mut().enumerate() {
        let (s, e) = g.span[k];
        let v = number(&b[s..e]);
        if v > 255 || (e - s > 1 && b[s] == b'0') {
            return Some(g.end(3));
        }
        *octet = v as u8;
    }
    let end = g.end(3);
    let followed_by_word = end + 1 < b.len() && b[end] == b'.' && is_alnum(b[end + 1]);
    // `Chrome/124.0.0.0`: a product's version in a user agent.
    let product = i >= 2 && b[i - 1] == b'/' && b[i - 2].is_ascii_alphanumeric();
    // `85.12.0.0` names a network, not a host; `2.4.0.0` is a version more often still.
    let network = o[2] == 0 && o[3] == 0;
    // `1.3.6.1` is the SNMP internet arc (`snmpwalk … 1.3.6.1`), never a host.
    let oid = o == [1, 3, 6, 1];
    if ipv4_public(o)
        && !network
        && !oid
        && !RESOLVERS.contains(&o)
        && !followed_by_word
        && !product
        && ends_token(b, end)
        && (address_label(b, i) || ip_said_before(b, i) || !version_like(b, i, end, sink))
    {
        sink.push(Kind::IpAddress, i, end);
    }
    Some(end)
}

/// Whether the sentence says an IP address comes, a few words before the quad at `i` ("on
/// whatismyip I see 65.155.73.98", "mijn IP-adres is …"): that outweighs an "app" further
/// back.
fn ip_said_before(b: &[u8], i: usize) -> bool {
    let lo = i.saturating_sub(40);
    // Only words, no number, between it and the quad: `ip=172.17.89.86 versie 8.16.17.112`
    // names the first quad, not the version after it.
    let since_digit = b[lo..i]
        .iter()
        .rposition(u8::is_ascii_digit)
        .map_or(lo, |p| lo + p + 1);
    super::text::words(b, since_digit, i)
        .any(|w| super::text::word_in(w, &["ip", "ipv4", "whatismyip", "myip", "ipadres"]))
}

/// Whether the quad at `i` is the value of a key that names an address (`SRC=`, `client_ip:`,
/// `remote_addr=`), as firewall and access logs write it: then no version word on the line
/// (a `kernel:` tag) makes it a version.
fn address_label(b: &[u8], i: usize) -> bool {
    let mut k = i;
    if k > 0 && b[k - 1] == b' ' {
        k -= 1;
    }
    if k == 0 || !matches!(b[k - 1], b'=' | b':') {
        return false;
    }
    let ks = super::text::run_start(b, k - 1, |c| is_alnum(c) || c == b'_' || c == b'-');
    let key = &b[ks..k - 1];
    let last = key
        .rsplit(|c| matches!(c, b'_' | b'-'))
        .next()
        .unwrap_or(key);
    [
        "src", "dst", "ip", "addr", "address", "client", "remote", "peer", "source", "saddr",
        "daddr", "host", "from",
    ]
    .iter()
    .any(|w| last.eq_ignore_ascii_case(w.as_bytes()))
}

/// Words before a dotted quad that make it a version or an OID rather than an address.
pub(crate) const VERSION_WORDS: &[&str] = &[
    "version",
    "ver.",
    "upgrade",
    "release",
    "firmware",
    "build",
    "driver",
    "kernel",
    "package",
    "sdk",
    "patch",
    "update",
    "oid",
    "snmp",
    "mib",
    "assembly",
    "fileversion",
    "v.",
    "bump",
    "changelog",
    "npm",
    "pip",
    "==",
    "versie",
    "versión",
    "versione",
    "versão",
    "runtime",
    ".net",
    "installer",
    "setup",
    "image",
    "ios",
    "plugin",
    "rollback",
    "downgrade",
    "agent",
    "app",
    "software",
    "binary",
    "dll",
    "jar",
    "nuget",
    "maven",
    "gradle",
    "protocol",
    "atualiz",
    "aktualisier",
    "mettre à jour",
    "mise à jour",
    "actualiz",
    "aggiorna",
    "bijwerken",
    "bijgewerkt",
    "firefox",
    "browser",
    "oids",
    // Libraries in a dependency audit ("openssl 3.0.13.1 and libcurl 8.5.0.0").
    "openssl",
    "libcurl",
    "sbom",
    "dependenc",
    // Certificate extensions are named by OID ("the extension 2.5.29.17").
    "extens",
    "estension",
    "erweiterung",
];
