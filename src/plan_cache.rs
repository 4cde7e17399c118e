//! Finding a captured graph's plan: by its structure; else by its structure without its float
//! constants' values, a plan made for other values that serves these too (substituted into
//! its kernels' uniforms: `kiln_ir::generic`); else by lowering it. A structure met with a
//! second set of float constants is probed once (two more lowerings) for such a plan, so that
//! a training step whose optimizer scalars change each step is lowered twice, not every step.

use crate::compile;
use crate::runtime::{exec, CachedPlan, Generic, GpuContext};
use crate::{Device, Result};
use kiln_ir::generic::{folds_a_slot, probes, with_float_consts, ConstMap};
use kiln_ir::lower::Program;
use kiln_ir::Graph;
use std::sync::Arc;

/// A plan to run, with the uniforms that replace its prepared ones (one per prepared call,
/// `None` where the prepared one serves; empty for a plan of these very constants).
pub(crate) struct Found {
    pub plan: Arc<CachedPlan>,
    pub uniforms: Vec<Option<wgpu::Buffer>>,
}

/// The plan of `graph` on `ctx`, from the caches or lowered and prepared (and kept).
pub(crate) fn plan(ctx: &GpuContext, device: &Device, graph: &Graph) -> Result<Found> {
    let key = (graph.structure(), device.fusion(), ctx.schedule());
    if let Some(plan) = ctx.cached_plan(&key) {
        ctx.count(|c| c.plan_hits += 1);
        return Ok(Found {
            plan,
            uniforms: Vec::new(),
        });
    }
    let (generic, values) = graph.generic_structure();
    let gkey = (generic, key.1, key.2);
    // A structure's slots are where it holds NaN; a graph with a NaN constant of its own
    // there has fewer slots, and is not the graph the plan was made for.
    let known = match values.is_empty() {
        true => None,
        false => ctx.generic_plan(&gkey).filter(|g| match g {
            Generic::Plan(_, map) => map.slots() == values.len(),
            Generic::Seen | Generic::PerValues => true,
        }),
    };
    if let Some(Generic::Plan(plan, map)) = &known {
        let uniforms = exec::generic_uniforms(ctx, &plan.program, &plan.prepared, map, &values)?;
        ctx.count(|c| {
            c.plan_hits += 1;
            c.plan_generic_hits += 1;
        });
        return Ok(Found {
            plan: plan.clone(),
            uniforms,
        });
    }
    ctx.count(|c| c.plan_misses += 1);
    let (_, program) = compile::lower(graph, device)?;
    let prepared = exec::prepare(ctx, &program, &[])?;
    let plan = Arc::new(CachedPlan { program, prepared });
    ctx.keep_plan(key, plan.clone());
    match known {
        None if !values.is_empty() => ctx.keep_generic_plan(gkey, Generic::Seen),
        Some(Generic::Seen) => {
            let g = match probe(device, graph, &plan.program, &values) {
                Some(map) => Generic::Plan(plan.clone(), Arc::new(map)),
                None => Generic::PerValues,
            };
            ctx.count(|c| {
                c.plans_probed += 1;
                c.plans_made_generic += u64::from(matches!(g, Generic::Plan(..)));
            });
            ctx.keep_generic_plan(gkey, g);
        }
        None | Some(Generic::Plan(..)) | Some(Generic::PerValues) => {}
    }
    Ok(Found {
        plan,
        uniforms: Vec::new(),
    })
}

/// The map that makes `program` (lowered from `graph`, whose float constants are `values`)
/// serve any values, where the probes show that its passes did not read them.
fn probe(device: &Device, graph: &Graph, program: &Program, values: &[f64]) -> Option<ConstMap> {
    let n = values.len();
    if let Some(f) = folds_a_slot(graph) {
        let op = graph.node(f).op.name();
        log::debug!("kiln: a plan per set of its {n} float constants' values: {op} folds one");
        return None;
    }
    let (Some(pa), Some(pb)) = (probes(n, false), probes(n, true)) else {
        log::debug!("kiln: {n} float constants, too many to probe for a generic plan");
        return None;
    };
    let lowered = |v: &[f64]| -> Result<Program> {
        Ok(compile::lower(&with_float_consts(graph, v)?, device)?.1)
    };
    let shown = match (lowered(&pa), lowered(&pb)) {
        (Ok(a), Ok(b)) => ConstMap::probe((program, values), (&a, &pa), (&b, &pb)),
        (Err(e), _) | (_, Err(e)) => {
            // The graph lowered with its own values: one that fails with the probes' is a
            // fault of kiln's to report, and the graph keeps a plan per set of values.
            log::warn!("kiln: the probe values of {n} float constants did not lower: {e}");
            return None;
        }
    };
    match shown {
        Ok(map) => {
            log::debug!("kiln: a plan serves any values of its {n} float constants");
            Some(map)
        }
        Err(why) => {
            log::debug!("kiln: a plan per set of its {n} float constants' values: {why:?}");
            None
        }
    }
}
