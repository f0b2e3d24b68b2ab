//! Properties of what the gateway parses from outside: the request-head check never panics,
//! reads a well-formed head exactly, and never takes a prefix of one for something else; the
//! config loader never panics, whatever the file holds. Bounded by proptest's case count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::time::Duration;
use tollgate::config::{self, ConnLimits};
use tollgate::conn::head::{scan, Body, Scan};

fn limits() -> ConnLimits {
    ConnLimits {
        max_connections: 16,
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        body_min_rate: 1024,
        max_header_bytes: 64 * 1024,
        max_headers: 100,
        max_uri_bytes: 8 * 1024,
    }
}

/// A well-formed head, and the body length it declares.
fn head() -> impl Strategy<Value = (Vec<u8>, Option<u64>)> {
    let method = prop_oneof![Just("GET"), Just("POST"), Just("HEAD"), Just("DELETE")];
    let target = "/[a-z0-9/._-]{0,40}(\\?[a-z=&]{0,20})?";
    let field = ("x-[a-z]{1,10}", "[ -~&&[^:]]{0,30}");
    (
        method,
        target,
        prop::collection::vec(field, 0..10),
        prop::option::of(0u64..100_000),
        any::<bool>(),
    )
        .prop_map(|(m, t, fields, length, lf_only)| {
            let eol = if lf_only { "\n" } else { "\r\n" };
            let mut h = format!("{m} {t} HTTP/1.1{eol}host: tollgate{eol}");
            for (n, v) in fields {
                h.push_str(&format!("{n}: {}{eol}", v.trim()));
            }
            if let Some(n) = length {
                h.push_str(&format!("content-length: {n}{eol}"));
            }
            h.push_str(eol);
            (h.into_bytes(), length)
        })
}

proptest! {
    #[test]
    fn the_head_check_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), h2c in any::<bool>()) {
        let _ = scan(&bytes, &limits(), h2c);
    }

    #[test]
    fn a_well_formed_head_is_read_exactly_and_its_prefixes_wait(
        (head, length) in head(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = head.clone();
        bytes.extend_from_slice(&body);
        let expected = match length {
            None | Some(0) => Body::Empty,
            Some(n) => Body::Length(n),
        };
        prop_assert_eq!(
            scan(&bytes, &limits(), true).unwrap(),
            Scan::Http1 { len: head.len(), body: expected }
        );
        for cut in 0..head.len() {
            prop_assert_eq!(scan(&head[..cut], &limits(), true).unwrap(), Scan::Partial);
        }
    }

    #[test]
    fn the_config_loader_takes_any_text(text in "[ -~\n]{0,400}") {
        let _ = config::from_toml_str(&text);
    }

    #[test]
    fn the_config_loader_takes_any_mix_of_known_keys(
        lines in prop::collection::vec(prop_oneof![
            Just("[server]".to_string()),
            Just("[backends.a]".to_string()),
            Just("[routes.r]".to_string()),
            Just("[tenants.t]".to_string()),
            Just("[zones]".to_string()),
            Just("[detect]".to_string()),
            Just("[ledger]".to_string()),
            Just("[budgets]".to_string()),
            "(listen|kind|zone|base_url|candidates|strategy|max_connections|max_headers|threads|local|external|path|models|concurrency) = (\"[a-z0-9:/.]{0,12}\"|[0-9]{1,6}|true|\\[\\]|\\{ \\})".prop_map(String::from),
        ], 0..16),
    ) {
        let _ = config::from_toml_str(&lines.join("\n"));
    }
}
