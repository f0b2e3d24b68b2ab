//! Running the headless-browser scripts in `tests/browser/` (playwright-core driving the
//! system's Chromium) against a gateway: each prints one JSON object with what the page showed.

use serde_json::Value;

/// Where `scripts/setup.sh` installs Chromium; the scripts launch exactly this executable.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs `node tests/browser/SCRIPT ARGS…` and reads its JSON. Async, so the fake upstreams of
/// the calling test keep serving on its runtime meanwhile.
pub async fn run(script: &str, args: &[String]) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/browser");
    assert!(
        std::path::Path::new(CHROMIUM).is_file(),
        "no {CHROMIUM}: run scripts/setup.sh to install chromium"
    );
    assert!(
        std::path::Path::new(dir)
            .join("node_modules/playwright-core/package.json")
            .is_file(),
        "no playwright-core in {dir}: run scripts/setup.sh"
    );
    let out = tokio::process::Command::new("node")
        .arg(format!("{dir}/{script}"))
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run node (run scripts/setup.sh first): {e}"));
    assert!(
        out.status.success(),
        "node {script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("node {script} printed no JSON object: {e}"))
}
