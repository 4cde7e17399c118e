//! Device quirks as data: where an adapter departs from what WGSL promises, matched on the
//! adapter's name, each row with the measurement that found it.

use kiln_ir::passes::LoopLimits;

/// What kiln must work around on one adapter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Loop trips one shader invocation may run in all, over every loop it enters, before the
    /// driver ends its loops early without a word (`None`: no such limit).
    pub loop_budget: Option<u32>,
}

/// `(substring of the adapter name, its quirks)`; the first match applies.
///
/// - llvmpipe (lavapipe): every loop stops once the invocation has run about 16,384 loop
///   trips in all (Mesa's `LP_MAX_TGSI_LOOP_ITERATIONS` limiter, decremented for the whole
///   invocation). Measured on Mesa 22.3 (LLVM 15): a row sum of vec4 steps was right up to
///   16,381 steps per invocation and stuck past it, at workgroups of 16 and 64 alike; two row
///   passes of 8,203 steps each failed together.
const QUIRKS: &[(&str, Quirks)] = &[(
    "llvmpipe",
    Quirks {
        loop_budget: Some(16_384),
    },
)];

/// The quirks of the adapter named `name`.
pub fn quirks(name: &str) -> Quirks {
    let name = name.to_lowercase();
    QUIRKS
        .iter()
        .find(|(k, _)| name.contains(k))
        .map(|(_, q)| *q)
        .unwrap_or_default()
}

/// The graph sizes one kernel may loop over within a loop budget, for the split passes.
///
/// - A reduction kernel has at least [`kiln_codegen::MIN_REDUCE_WORKGROUP`] invocations per
///   row, so a pass over a row of `n` elements costs each at most `n / 16` trips; rows of at
///   most half the budget leave room for 32 such passes (stages, outputs and their
///   workgroup trees), more than any fused row kernel makes. A scan kernel makes two passes
///   over its line and one workgroup tree, and splits at the same length.
/// - A matmul kernel loops about once per element of its inner dimension at worst (the
///   one-output-per-invocation kernel steps through `k` in slices and then within each
///   slice: `k * (1 + 1/16)` trips), so half the budget leaves room for that and its
///   batch loop.
/// - An attention kernel's trips are counted by `kiln_ir::passes::attention_trips` (the
///   template's contract); half the budget leaves room for its other loops.
pub fn loop_limits(q: &Quirks) -> LoopLimits {
    match q.loop_budget {
        None => LoopLimits::default(),
        Some(b) => {
            let half = (b / 2) as usize;
            LoopLimits {
                max_row: Some(half.max(1)),
                max_k: Some(half.max(1)),
                attention_trips: Some(half.max(1)),
                attention_head: None,
                whole_decode_keys: 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llvmpipe_has_a_loop_budget_and_others_none() {
        let l = quirks("llvmpipe (LLVM 15.0.6, 256 bits)");
        assert_eq!(l.loop_budget, Some(16_384));
        assert_eq!(quirks("NVIDIA H200"), Quirks::default());
        let lim = loop_limits(&l);
        assert_eq!(lim.max_row, Some(8192));
        assert_eq!(lim.max_k, Some(8192));
        assert_eq!(lim.attention_trips, Some(8192));
        assert_eq!(loop_limits(&Quirks::default()), LoopLimits::default());
    }
}
