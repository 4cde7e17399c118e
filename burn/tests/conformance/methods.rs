//! The methods of Burn's op traits against this suite: every method must be called by a
//! conformance test (`B::method(` in this folder) or be listed in `PENDING` with why. A
//! pending method that gains a test must leave the list, so the list only shrinks.

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

/// Methods without a conformance test yet. All are Burn's defaults, lowered through the tested
/// ops: the quantized `q_*` math (dequantize, the float op, quantize again), the 1-D pools and
/// the convolutions' gradients (through the 2-D forms and transposed convolutions), batch
/// norm, CTC loss, grid sampling, fold/unfold, the autodiff flags and the transaction. Two
/// kinds read data back by design: `*_mask_select` and `bool_argwhere` (an output shape that
/// depends on the data).
const PENDING: &[&str] = &[
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "batch_norm",
    "batch_norm_train",
    "batch_norm_train_backward",
    "bool_argwhere",
    "bool_mask_select",
    "conv1d_bias_backward",
    "conv1d_weight_backward",
    "conv1d_x_backward",
    "conv3d_bias_backward",
    "conv3d_weight_backward",
    "conv3d_x_backward",
    "conv_transpose1d_bias_backward",
    "conv_transpose1d_weight_backward",
    "conv_transpose1d_x_backward",
    "conv_transpose2d_bias_backward",
    "conv_transpose2d_weight_backward",
    "conv_transpose2d_x_backward",
    "conv_transpose3d_bias_backward",
    "conv_transpose3d_weight_backward",
    "conv_transpose3d_x_backward",
    "ctc_loss",
    "ctc_loss_backward",
    "float_grid_sample_2d",
    "float_is_require_grad",
    "float_mask_select",
    "float_set_require_grad",
    "fold4d",
    "has_ctc_loss_backward",
    "int_mask_select",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool1d_with_indices_backward",
    "q_argsort",
    "q_argtopk",
    "q_is_require_grad",
    "q_max_dim_with_indices",
    "q_min_dim_with_indices",
    "q_set_require_grad",
    "q_sort_with_indices",
    "q_topk_with_indices",
    "tr_execute",
    "unfold4d",
];

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
    let pending: BTreeSet<String> = PENDING.iter().map(|s| s.to_string()).collect();
    let missing: Vec<&String> = all
        .iter()
        .filter(|m| !called.contains(*m) && !pending.contains(*m))
        .collect();
    let stale: Vec<&String> = pending
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
        "pending methods that are tested now or gone: {stale:?}"
    );
}
