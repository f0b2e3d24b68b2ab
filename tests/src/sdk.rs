//! Running the official client SDKs' scripts in `tests/sdk/` against a gateway: each prints one
//! JSON object with what the SDK saw.

use serde_json::Value;

/// Runs `program` (`python3`, `node`) on `tests/sdk/SCRIPT` with `args`, and reads its JSON.
/// Async, so the fake upstreams of the calling test keep serving on its runtime meanwhile.
pub async fn run(program: &str, script: &str, args: &[String]) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk");
    let out = tokio::process::Command::new(program)
        .arg(format!("{dir}/{script}"))
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {program} (run scripts/setup.sh first): {e}"));
    assert!(
        out.status.success(),
        "{program} {script} failed (run scripts/setup.sh to install the SDKs):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{program} {script} printed no JSON object: {e}"))
}
