//! No crate of the workspace has an import cycle between its modules, and no source file grows
//! past what one reader holds in mind. A module's edges are the `crate::…` and `super::…` paths
//! its code (not its comments or tests) names; a cycle is a path of such edges back to itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Module path of a source file, relative to its crate's `src/`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut m: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(m.last().map(String::as_str), Some("lib" | "main" | "mod")) {
        m.pop();
    }
    m
}

/// The code of a file without comments and without its `#[cfg(test)]` part.
fn code(text: &str) -> String {
    let body = text.split("#[cfg(test)]").next().unwrap_or("");
    body.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` or `super::a` path in `text`, resolved to the deepest known module.
fn edges(me: &Module, text: &str, known: &BTreeSet<Module>) -> BTreeSet<Module> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(root) {
            let start = from + at;
            from = start + root.len();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let mut base: Module = if root == "crate::" {
                Vec::new()
            } else {
                // `super` of `a/b.rs` and of `a/b/mod.rs` is `a` alike.
                me[..me.len().saturating_sub(1)].to_vec()
            };
            let tail: String = text[from..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut best = base.clone();
            for seg in tail.split("::").filter(|s| !s.is_empty()) {
                base.push(seg.to_string());
                if known.contains(&base) {
                    best = base.clone();
                } else {
                    break;
                }
            }
            if &best != me && known.contains(&best) {
                out.insert(best);
            }
        }
    }
    out
}

fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    fn dfs(
        u: &Module,
        g: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
        found: &mut Vec<Vec<Module>>,
    ) {
        state.insert(u.clone(), 1);
        stack.push(u.clone());
        for v in &g[u] {
            match state.get(v) {
                Some(1) => {
                    let i = stack.iter().position(|m| m == v).unwrap();
                    let mut c = stack[i..].to_vec();
                    c.push(v.clone());
                    found.push(c);
                }
                Some(_) => {}
                None => dfs(v, g, state, stack, found),
            }
        }
        stack.pop();
        state.insert(u.clone(), 2);
    }
    let mut state = BTreeMap::new();
    let mut found = Vec::new();
    for m in graph.keys() {
        if !state.contains_key(m) {
            dfs(m, graph, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}

const CRATES: [&str; 5] = ["gateway", "policies", "adapters", "metering", "tests"];

#[test]
fn no_crate_has_an_import_cycle() {
    let mut problems = Vec::new();
    for krate in CRATES {
        let src = workspace().join(krate).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let modules: BTreeMap<Module, PathBuf> = files
            .iter()
            .map(|f| (module_of(&src, f), f.clone()))
            .collect();
        let known: BTreeSet<Module> = modules.keys().cloned().collect();
        assert!(known.len() > 1, "{krate}: no modules found");
        let graph: BTreeMap<Module, BTreeSet<Module>> = modules
            .iter()
            .map(|(m, f)| {
                let text = code(&std::fs::read_to_string(f).unwrap());
                (m.clone(), edges(m, &text, &known))
            })
            .collect();
        for c in cycles(&graph) {
            let names: Vec<String> = c
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        "lib".into()
                    } else {
                        m.join("::")
                    }
                })
                .collect();
            problems.push(format!("{krate}: {}", names.join(" -> ")));
        }
    }
    assert!(
        problems.is_empty(),
        "import cycles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    let known: BTreeSet<Module> = [vec![], vec!["a".into()], vec!["b".into()]].into();
    let a = edges(&vec!["a".into()], "use crate::b::Thing;", &known);
    let b = edges(&vec!["b".into()], "fn f() { super::a::g() }", &known);
    let graph = BTreeMap::from([
        (vec![], BTreeSet::new()),
        (vec!["a".to_string()], a),
        (vec!["b".to_string()], b),
    ]);
    assert_eq!(cycles(&graph).len(), 1);
    assert!(edges(&vec!["a".into()], &code("// see crate::b"), &known).is_empty());
}

/// Code lines (not blank, not comments) of a file up to its tests.
fn code_lines(text: &str) -> usize {
    code(text).lines().filter(|l| !l.trim().is_empty()).count()
}

#[test]
fn no_source_file_is_too_long_to_read() {
    const LIMIT: usize = 600;
    let mut long = Vec::new();
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&workspace().join(krate).join("src"), &mut files);
        for f in files {
            let n = code_lines(&std::fs::read_to_string(&f).unwrap());
            if n > LIMIT {
                long.push(format!("{} ({n} code lines)", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these files:\n{}", long.join("\n"));
}
