//! The per-op lines of `docs/OPS.md`, rendered from the op tables. A test compares them with
//! the marked blocks of that file; `KILN_BLESS=1` rewrites the blocks.

use super::reduce::{Finish, ReduceRule};
use super::unary::UnaryRule;
use super::{ALL_BINARY, ALL_REDUCE, ALL_UNARY};
use crate::DType;

/// The table of unary ops: name, accepted dtypes, result dtype, f32 tolerance.
pub fn unary_table() -> String {
    let mut s =
        String::from("| op | dtypes | result | f32 tol (atol, rtol) |\n|---|---|---|---|\n");
    for op in ALL_UNARY {
        let spec = op.spec();
        let result = match spec.rule {
            UnaryRule::Map(_) => "same",
            UnaryRule::Test(_) => "bool",
        };
        let mut tol = spec.tol.describe();
        if let Some(r) = spec.left_tail_rtol {
            tol.push_str(&format!("; for `x < 0` also relative {r:e} alone"));
        }
        s.push_str(&format!(
            "| `{}` | {} | {result} | {tol} |",
            spec.name,
            op.accepts().name()
        ));
        s.push('\n');
    }
    s
}

/// The table of binary ops: name, accepted dtypes, result dtype, f32 tolerance.
pub fn binary_table() -> String {
    let mut s =
        String::from("| op | dtypes | result | f32 tol (atol, rtol) |\n|---|---|---|---|\n");
    for op in ALL_BINARY {
        let result = if op.is_predicate() { "bool" } else { "same" };
        s.push_str(&format!(
            "| `{}` | {} | {result} | {} |",
            op.name(),
            op.accepts().name(),
            op.spec().tol.describe()
        ));
        s.push('\n');
    }
    s
}

/// The table of reductions: name, accepted dtypes, result, value of an empty reduction, how
/// a long row splits, f32 tolerance for `n` reduced elements.
pub fn reduce_table() -> String {
    let mut s = String::from(
        "| op | dtypes | result | empty | split tail | f32 tol (atol, rtol), n elements |\n|---|---|---|---|---|---|\n",
    );
    for op in ALL_REDUCE {
        let spec = op.spec();
        let (result, empty, tail) = match spec.rule {
            ReduceRule::Fold { finish, split, .. } => {
                let empty = match (op.has_empty_value(), op.identity(DType::F32), finish) {
                    (false, _, _) => "error".to_string(),
                    (true, Some(v), Finish::Total) => format!("{v}"),
                    (true, Some(_), Finish::DivideByCount) => "NaN".to_string(),
                    (true, None, _) => "identity".to_string(),
                };
                let tail = match split.tail {
                    Some(b) => format!("`{}`", b.name()),
                    None => "flattened, padded".to_string(),
                };
                ("same", empty, tail)
            }
            ReduceRule::Arg { .. } => ("i32", "error".to_string(), "flattened, padded".to_string()),
        };
        s.push_str(&format!(
            "| `{}` | {} | {result} | {empty} | {tail} | {} |",
            spec.name,
            op.accepts().name(),
            spec.tol.describe()
        ));
        s.push('\n');
    }
    s
}

/// Each generated block of `docs/OPS.md`: its marker name and text.
pub fn blocks() -> [(&'static str, String); 3] {
    [
        ("unary", unary_table()),
        ("binary", binary_table()),
        ("reduce", reduce_table()),
    ]
}

/// `doc` with the block `name` replaced by `text`; `None` if the markers are missing.
pub fn replace_block(doc: &str, name: &str, text: &str) -> Option<String> {
    let begin = format!("<!-- generated: {name} -->\n");
    let end = format!("<!-- end generated: {name} -->");
    let a = doc.find(&begin)? + begin.len();
    let b = a + doc[a..].find(&end)?;
    Some(format!("{}{text}{}", &doc[..a], &doc[b..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-op lines of docs/OPS.md are the tables' (`KILN_BLESS=1` rewrites them).
    #[test]
    fn ops_md_lists_every_op_of_the_tables() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/OPS.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let mut want = doc.clone();
        for (name, text) in blocks() {
            want = replace_block(&want, name, &text)
                .unwrap_or_else(|| panic!("docs/OPS.md has no generated block `{name}`"));
        }
        if std::env::var("KILN_BLESS").as_deref() == Ok("1") {
            std::fs::write(&path, &want).unwrap();
        } else {
            assert!(
                doc == want,
                "docs/OPS.md's op lists differ from the op tables (run with KILN_BLESS=1 and review the diff)"
            );
        }
    }
}
