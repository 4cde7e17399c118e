//! The compiler pipeline from a captured graph to a lowered program: verify, the graph passes
//! (`kiln_ir::passes::pipeline`, verified after each in debug builds), then lower
//! (movement ops folded into views, ops fused into kernels by the rules of `docs/FUSION.md`).

use crate::{Device, Result};
use kiln_ir::lower::{lower as lower_graph, Program};
use kiln_ir::{passes, Graph};

/// Compiles a graph into kernel launches for `device`. Returns the optimized graph (whose node
/// ids the program's calls refer to) and the program.
pub fn lower(graph: &Graph, device: &Device) -> Result<(Graph, Program)> {
    let verify = cfg!(debug_assertions);
    if verify {
        graph.verify()?;
    }
    let optimized = passes::run_pipeline(
        graph,
        &passes::pipeline(device.loop_limits(), device.fuse_attention()),
        verify,
    )?;
    let graph = &optimized;
    let prog = lower_graph(graph, &device.fusion_options())?;
    if log::log_enabled!(log::Level::Debug) {
        log::debug!(
            "kiln: lowered {} nodes into {} kernels (fusion {})",
            graph.len(),
            prog.calls.len(),
            if device.fusion() { "on" } else { "off" }
        );
        for (i, c) in prog.calls.iter().enumerate() {
            log::debug!("kiln: kernel {i}: {} ({})", c.kernel.name, c.reason);
            for (n, why) in &c.boundaries {
                log::debug!(
                    "kiln:   reads {} from memory: {why}",
                    graph.node(*n).op.name()
                );
            }
        }
    }
    Ok((optimized, prog))
}
