//! The methods of Burn's op traits against this suite: every method must be called by a
//! conformance test (`B::method(` in this folder) or be listed in `NEVER_CALLED` with why.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The op traits' files in burn-backend.
const TRAITS: [&str; 7] = [
    "src/backend/ops/tensor.rs",
    "src/backend/ops/int_tensor.rs",
    "src/backend/ops/bool_tensor.rs",
    "src/backend/ops/modules/base.rs",
    "src/backend/ops/qtensor.rs",
    "src/backend/ops/activation.rs",
    "src/backend/ops/transaction.rs",
];

/// Methods a conformance test may not call, with why. Only one: `ctc_loss_backward`, which
/// Burn calls only on a backend whose `has_ctc_loss_backward()` is true; kiln's (tested in
/// `defaults.rs`) is false, like Flex's, so autodiff differentiates `ctc_loss`'s own tensor ops,
/// and both backends keep Burn's default, which is `unreachable!`.
const NEVER_CALLED: &[&str] = &["ctc_loss_backward"];

/// burn-backend's source folder, from `cargo metadata`.
fn burn_backend_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo metadata");
    let json = String::from_utf8(out.stdout).expect("utf-8 metadata");
    let at = json
        .find("burn-backend-0.22.1/Cargo.toml")
        .expect("burn-backend 0.22.1 in the metadata");
    let start = json[..at].rfind('"').expect("a path") + 1;
    let end = at + json[at..].find('"').expect("a path");
    let manifest = PathBuf::from(&json[start..end]);
    manifest.parent().expect("the crate folder").to_path_buf()
}

/// The methods of a trait file: `fn name` at the trait's indentation.
fn methods(src: &str) -> Vec<String> {
    src.lines()
        .filter_map(|l| {
            let rest = l
                .strip_prefix("    fn ")
                .or_else(|| l.strip_prefix("    async fn "))?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            Some(name)
        })
        .collect()
}

/// The methods this suite calls through the trait.
fn called(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("the suite's folder") {
        let path = entry.expect("an entry").path();
        if path.file_name().is_some_and(|n| n == "methods.rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("a test file");
        let mut rest = src.as_str();
        while let Some(i) = rest.find("B::") {
            rest = &rest[i + 3..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
        // The suite's own macros take method names as arguments (`unary! { float_exp(..) }`):
        // the words inside their invocations count.
        for body in macro_arguments(&src) {
            for word in body.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                out.insert(word.to_string());
            }
        }
    }
    out
}

/// The text inside each invocation of the suite's own macros (not `conform!`, whose body
/// calls through `B::`, nor std's).
fn macro_arguments(src: &str) -> Vec<&str> {
    const OTHERS: [&str; 8] = [
        "conform",
        "vec",
        "format",
        "assert",
        "assert_eq",
        "panic",
        "macro_rules",
        "writeln",
    ];
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while let Some(k) = src[i..].find('!') {
        let bang = i + k;
        i = bang + 1;
        let name_start = src[..bang]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        let name = &src[name_start..bang];
        let open = src[i..].trim_start();
        let Some(first) = open.chars().next() else {
            break;
        };
        if name.is_empty() || OTHERS.contains(&name) || !(first == '{' || first == '(') {
            continue;
        }
        let start = src.len() - open.len();
        let mut depth = 0usize;
        for (j, &b) in bytes.iter().enumerate().skip(start) {
            match b {
                b'{' | b'(' => depth += 1,
                b'}' | b')' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(&src[start..=j]);
                        i = j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn every_method_has_a_conformance_test() {
    let root = burn_backend_dir();
    let mut all = BTreeSet::new();
    for f in TRAITS {
        let src = std::fs::read_to_string(root.join(f)).expect("a trait file");
        all.extend(methods(&src));
    }
    assert!(
        all.len() > 300,
        "only {} methods found: the trait files moved?",
        all.len()
    );
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let called = called(&suite);
    let never: BTreeSet<String> = NEVER_CALLED.iter().map(|s| s.to_string()).collect();
    let missing: Vec<&String> = all
        .iter()
        .filter(|m| !called.contains(*m) && !never.contains(*m))
        .collect();
    let stale: Vec<&String> = never
        .iter()
        .filter(|m| called.contains(*m) || !all.contains(*m))
        .collect();
    assert!(
        missing.is_empty(),
        "{} methods without a conformance test: {missing:?}",
        missing.len()
    );
    assert!(
        stale.is_empty(),
        "methods listed as never called that are called now or gone: {stale:?}"
    );
}
