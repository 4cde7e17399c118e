//! The compiler pipeline from a captured graph to a lowered program: verify, then lower
//! (movement ops folded into views, one kernel per computing op).

use crate::Result;
use kiln_ir::lower::{lower_unfused, Program};
use kiln_ir::Graph;

/// Compiles a graph into kernel launches.
pub fn lower(graph: &Graph) -> Result<Program> {
    if cfg!(debug_assertions) {
        graph.verify()?;
    }
    let prog = lower_unfused(graph)?;
    log::debug!(
        "kiln: lowered {} nodes into {} kernels",
        graph.len(),
        prog.calls.len()
    );
    Ok(prog)
}
