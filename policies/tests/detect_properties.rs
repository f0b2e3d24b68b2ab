//! Properties of the detector over arbitrary text: normalisation, blob decoding and seam
//! scanning never panic, and every finding is a non-empty range on character boundaries of
//! its own part.

// Test fixtures: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use tollgate_policies::{Detector, DetectorConfig};

/// Text built from the pieces the detector reacts to: digits and separators, look-alike and
/// full-width characters, invisible characters, spelled markers, base64 and percent escapes.
fn tricky() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,6}",
        "[ .\\-/\n]",
        "[a-zA-Z]{1,8}",
        Just("\u{200B}".to_string()),
        Just("\u{00A0}".to_string()),
        Just("аео".to_string()),
        Just("４５６".to_string()),
        Just("٠١٢".to_string()),
        Just(" at ".to_string()),
        Just("[dot]".to_string()),
        Just("%40".to_string()),
        Just("%".to_string()),
        Just("@".to_string()),
        Just("+".to_string()),
        Just("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t".to_string()),
        Just("é".to_string()),
        Just("€".to_string()),
        Just("ﬁ".to_string()),
        Just("Steuer-ID ".to_string()),
        Just("passport ".to_string()),
        Just("password: ".to_string()),
        Just(",".to_string()),
        "\\PC{1,4}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn check(parts: &[String]) -> Result<(), TestCaseError> {
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    for f in d.scan(&refs).findings {
        let t = parts[f.part].as_str();
        prop_assert!(f.start < f.end && f.end <= t.len(), "{f:?} in {t:?}");
        prop_assert!(
            t.is_char_boundary(f.start) && t.is_char_boundary(f.end),
            "{f:?} in {t:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn offsets_are_valid_for_arbitrary_text(t in any::<String>()) {
        check(&[t])?;
    }

    #[test]
    fn offsets_are_valid_for_tricky_text(t in tricky()) {
        check(&[t])?;
    }

    #[test]
    fn offsets_are_valid_across_parts(parts in prop::collection::vec(tricky(), 1..4)) {
        check(&parts)?;
    }
}
