//! `scripts/setup.sh` probes for exactly what the build loads and runs. Each probe runs here
//! against a made-up machine (a temporary root directory), so a probe that a near-miss file
//! satisfies (`libclang-cpp.so.14` is not `libclang.so`) fails this test instead of a fresh
//! machine's build.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn script() -> String {
    format!("{}/../scripts/setup.sh", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `snippet` with the script's functions loaded (and nothing installed or run).
fn bash(snippet: &str, root: &Path) -> (bool, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}'; {snippet}", script()))
        .env("TOLLGATE_SETUP_SOURCE_ONLY", "1")
        .env("ROOT", root)
        .env_remove("LIBCLANG_PATH")
        .output()
        .expect("run bash");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn touch(root: &Path, rel: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, b"").unwrap();
}

fn executable(root: &Path, rel: &str) {
    touch(root, rel);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn missing(root: &Path) -> Vec<String> {
    let (ok, out) = bash("missing_packages \"$ROOT\"", root);
    assert!(ok, "{out}");
    out.lines().map(str::to_string).collect()
}

#[test]
fn libclang_cpp_alone_is_not_libclang() {
    // What a fresh Debian 12 image ships: the C++ interface only.
    let root = tempfile::tempdir().unwrap();
    touch(root.path(), "usr/lib/x86_64-linux-gnu/libclang-cpp.so.14");
    touch(root.path(), "usr/lib/llvm-14/lib/libclang-cpp.so.14");
    let (found, _) = bash("probe_libclang \"$ROOT\"", root.path());
    assert!(!found, "libclang-cpp.so.14 must not count as libclang");
    assert!(missing(root.path()).contains(&"libclang-dev".to_string()));
}

#[test]
fn each_form_of_libclang_that_bindgen_loads_is_found() {
    for rel in [
        "usr/lib/llvm-14/lib/libclang.so",
        "usr/lib/llvm-16/lib/libclang.so.1",
        "usr/lib/x86_64-linux-gnu/libclang-14.so.1",
        "usr/lib/aarch64-linux-gnu/libclang-15.so",
        "usr/lib64/libclang.so.18.1",
    ] {
        let root = tempfile::tempdir().unwrap();
        touch(root.path(), rel);
        let (found, out) = bash("probe_libclang \"$ROOT\"", root.path());
        assert!(found, "{rel} not found: {out}");
    }
}

#[test]
fn clang_headers_are_probed_apart_from_the_library() {
    let root = tempfile::tempdir().unwrap();
    touch(root.path(), "usr/lib/llvm-14/lib/libclang.so.1");
    assert!(missing(root.path()).contains(&"libclang-dev".to_string()));
    touch(
        root.path(),
        "usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h",
    );
    assert!(!missing(root.path()).contains(&"libclang-dev".to_string()));
}

#[test]
fn programs_must_be_executables_with_their_exact_names() {
    let root = tempfile::tempdir().unwrap();
    // Near misses: a non-executable file, and a longer name.
    touch(root.path(), "usr/bin/cmake");
    executable(root.path(), "usr/bin/cmake-gui");
    executable(root.path(), "usr/bin/prometheus-node-exporter");
    let m = missing(root.path());
    for pkg in [
        "cmake",
        "make",
        "g++",
        "prometheus",
        "python3",
        "npm",
        "curl",
        "chromium",
        "redis-server",
        "postgresql",
    ] {
        assert!(
            m.contains(&pkg.to_string()),
            "{pkg} should be missing: {m:?}"
        );
    }
    assert_eq!(
        m.iter().filter(|p| *p == "prometheus").count(),
        1,
        "each package once"
    );
}

#[test]
fn a_postgresql_client_alone_is_not_a_server() {
    // `psql` (postgresql-client) is on many machines; the tests need initdb and postgres.
    let root = tempfile::tempdir().unwrap();
    executable(root.path(), "usr/bin/psql");
    executable(root.path(), "usr/lib/postgresql/15/bin/pg_dump");
    assert!(missing(root.path()).contains(&"postgresql".to_string()));
}

#[test]
fn a_complete_machine_lacks_nothing() {
    let root = tempfile::tempdir().unwrap();
    for bin in [
        "cmake",
        "make",
        "c++",
        "prometheus",
        "promtool",
        "python3",
        "npm",
        "curl",
        "redis-server",
    ] {
        executable(root.path(), &format!("usr/bin/{bin}"));
    }
    executable(root.path(), "usr/lib/postgresql/15/bin/initdb");
    executable(root.path(), "usr/lib/postgresql/15/bin/postgres");
    touch(root.path(), "usr/lib/llvm-14/lib/libclang.so");
    touch(root.path(), "usr/lib/llvm-14/lib/clang/14/include/stddef.h");
    executable(root.path(), "usr/bin/chromium");
    dpkg_status(root.path(), &[("chromium", "install ok installed")]);
    assert_eq!(missing(root.path()), Vec::<String>::new());
}

/// Writes ROOT's dpkg status database with these packages and states.
fn dpkg_status(root: &Path, packages: &[(&str, &str)]) {
    let stanzas: Vec<String> = packages
        .iter()
        .map(|(name, status)| {
            format!(
                "Package: {name}\nStatus: {status}\nArchitecture: amd64\nVersion: 1\n\
                 Maintainer: x <x@example.org>\nDescription: x\n"
            )
        })
        .collect();
    let dir = root.join("var/lib/dpkg");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("status"), stanzas.join("\n")).unwrap();
}

#[test]
fn chromium_counts_only_when_dpkg_has_it_installed_and_it_runs() {
    let chromium_missing = |root: &Path| missing(root).contains(&"chromium".to_string());
    let root = tempfile::tempdir().unwrap();
    executable(root.path(), "usr/bin/chromium");
    // A removed package whose config files remain: `dpkg -s` succeeds, yet nothing runs.
    dpkg_status(
        root.path(),
        &[
            ("chromium-common", "install ok installed"),
            ("chromium", "deinstall ok config-files"),
        ],
    );
    assert!(chromium_missing(root.path()));
    dpkg_status(root.path(), &[("chromium", "install ok half-configured")]);
    assert!(chromium_missing(root.path()));
    dpkg_status(root.path(), &[("chromium", "install ok installed")]);
    assert!(!chromium_missing(root.path()));
    // Installed by dpkg but its executable gone: still missing.
    std::fs::remove_file(root.path().join("usr/bin/chromium")).unwrap();
    assert!(chromium_missing(root.path()));
}
