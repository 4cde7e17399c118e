//! Validation of every kernel of a lowered program under a spread of schedules and targets
//! (the naga tests share it; included by path where used).

use kiln_codegen::{
    generate, AttentionSchedule, ElementwiseSchedule, MatmulSchedule, ReduceSchedule, Schedule,
    Target,
};
use kiln_ir::DType;

/// Each kernel of `prog` generated under four schedules (and the 16-bit targets where it
/// reads or writes 16-bit floats), validated by naga, free of non-finite constants and of
/// sizes in its text; the number of kernels.
pub fn validate_program(prog: &kiln_ir::lower::Program, what: &str) -> usize {
    for call in &prog.calls {
        let k = &call.kernel;
        // f16 stored in 16 bits (`enable f16;`) and bf16 packed two to a word, each also as
        // widened, under every schedule.
        let sixteen = k
            .inputs
            .iter()
            .chain(k.outputs.iter().map(|o| &o.dtype))
            .any(|d| matches!(d, DType::F16 | DType::BF16));
        let targets: &[bool] = if sixteen { &[false, true] } else { &[false] };
        for (wg, unroll, matmul_block, reduce_cache, f16) in [
            (64, 1, 1, 0),
            (256, 4, 8, 16),
            (128, 3, 4, 3),
            (32, 2, 1, 8),
        ]
        .into_iter()
        .flat_map(|(a, b, c, d)| targets.iter().map(move |&t| (a, b, c, d, t)))
        {
            // Attention tiles of every shape the template takes, across the rows above.
            let mut attention = AttentionSchedule {
                // The row form (64) where the head allows it, blocks of 16 where not.
                rows: Some(match wg {
                    64 => 4,
                    256 => 64,
                    128 => 1,
                    _ => 16,
                }),
                // The row form at 4 keys, and at 32 where the target has f16.
                keys: Some(match (wg, f16) {
                    (256, true) => 32,
                    _ => [64, 32, 8, 4][unroll as usize - 1],
                }),
                head: None,
                tensor_cores: false,
                // As many as the keys need where the one-row schedule takes the decode
                // form: 16 keys a tile for a whole attention; a part of a split one keeps
                // the one-row block form (8 keys).
                segments: 16,
            };
            let part = matches!(k.kind, kiln_ir::KernelKind::Attention { partial: true, .. });
            if wg == 128 && !part {
                attention.keys = Some(16);
            }
            kiln_codegen::attention::resolve(&mut attention, k, false);
            let src = generate(
                &call.kernel,
                &Schedule {
                    elementwise: ElementwiseSchedule {
                        workgroup: wg,
                        unroll,
                    },
                    reduce: ReduceSchedule {
                        workgroup: wg,
                        unroll: unroll + 1,
                        cache: reduce_cache,
                        subgroups: matmul_block == 4,
                        // Serial rows (held whole in the cache of 16) where they fit.
                        serial: if matmul_block == 8
                            && matches!(k.kind, kiln_ir::KernelKind::Reduce { .. })
                            && k.red_class() <= 16
                        {
                            16
                        } else {
                            0
                        },
                    },
                    matmul: MatmulSchedule {
                        block: Some(matmul_block),
                        block_n: (matmul_block == 8).then_some(4),
                        unroll: reduce_cache.max(1),
                        depth: Some(if matmul_block == 8 { 32 } else { 16 }),
                        // Block 1 with the subgroup gemv (wg 64) and without (wg 32).
                        gemv_subgroups: wg == 64,
                        quantized_gemv: wg != 32,
                        qgemv_rows: Some(if wg == 64 { 4 } else { 1 }),
                        qgemv_int8: wg == 64,
                        qgemv_items: if wg == 64 { 2 } else { 1 },
                        // Shapes the grid only.
                        qgemv_workgroups: 0,
                        // With the subgroup gemv, the 8-bit vector's own kernel.
                        qgemv_warps: if wg == 64 { 16 } else { 0 },
                        // The wide formats at twice as many.
                        qgemv_warps_wide: if wg == 64 { 32 } else { 0 },
                        tensor_cores: false,
                        coop_tile: None,
                        tensor_core_f32: false,
                    },
                    attention,
                },
                &Target { f16, bf16: f16 },
            )
            .unwrap_or_else(|e| panic!("{what}: codegen: {e}"));
            let module = crate::common::validated(&src.wgsl, what);
            if let Some(v) = nonfinite_constant(&module) {
                panic!(
                    "{what}: the constant {v} (browsers refuse the shader)\n{}",
                    src.wgsl
                );
            }
            assert!(
                !src.wgsl.contains("1031") && !src.wgsl.contains("1032"),
                "{what}: a size leaked into the shader text"
            );
        }
    }
    prog.calls.len()
}

/// A non-finite f32 that naga folded as a constant expression. WGSL makes those a
/// shader-creation error, which browsers' compilers (Tint) enforce and naga does not.
pub fn nonfinite_constant(module: &naga::Module) -> Option<f32> {
    let arenas = std::iter::once(&module.global_expressions)
        .chain(module.functions.iter().map(|(_, f)| &f.expressions))
        .chain(
            module
                .entry_points
                .iter()
                .map(|ep| &ep.function.expressions),
        );
    arenas
        .flat_map(|a| a.iter().map(move |(_, e)| (a, e)))
        .find_map(|(a, e)| {
            let v = match e {
                naga::Expression::Literal(naga::Literal::F32(v)) => *v,
                // `bitcast<f32>` of a constant the front end left unfolded.
                naga::Expression::As {
                    expr,
                    kind: naga::ScalarKind::Float,
                    convert: None,
                } => match a[*expr] {
                    naga::Expression::Literal(naga::Literal::U32(b)) => f32::from_bits(b),
                    naga::Expression::Literal(naga::Literal::I32(b)) => f32::from_bits(b as u32),
                    _ => return None,
                },
                _ => return None,
            };
            (!v.is_finite()).then_some(v)
        })
}
