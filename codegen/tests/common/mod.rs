//! Graphs and shader readings the codegen tests share (each test crate uses a part).
#![allow(dead_code)]

use kiln_ir::ops::ViewOp;
use kiln_ir::quant::BlockFormat;
use kiln_ir::{DType, Graph, Op, Shape};
use smallvec::smallvec;

/// `x[m, k] @ W^T` with `W` `[n, k]` in `f`'s blocks, decoded by a cast: a decode step's
/// linear layer on a GGUF weight.
pub fn x_wt(f: BlockFormat, m: usize, k: usize, n: usize) -> Graph {
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[m, k])).unwrap();
    let w = g.input(DType::Quant(f), Shape::new(&[n, k])).unwrap();
    let c = g.add(Op::Cast(DType::F32), &[w]).unwrap();
    let t = g
        .add(Op::View(ViewOp::Permute(smallvec![1, 0])), &[c])
        .unwrap();
    let y = g.add(Op::Matmul, &[x, t]).unwrap();
    g.mark_output(y);
    g
}

/// Bytes of the `var<workgroup>` declarations of a shader (the forms the matmul template
/// writes: `array<f32, N>`, `array<vec4<f32>, N>`, `array<vec4<u32>, N>`,
/// `array<array<f32, 16>, 16>`).
pub fn declared(wgsl: &str) -> u32 {
    wgsl.lines()
        .filter_map(|l| l.strip_prefix("var<workgroup> "))
        .map(|l| {
            let n: u32 = l
                .rsplit(", ")
                .next()
                .and_then(|t| t.trim_end_matches(">;").parse().ok())
                .unwrap_or_else(|| panic!("unparsed declaration {l}"));
            if l.contains("vec4<f32>") || l.contains("vec4<u32>") {
                16 * n
            } else if l.contains("array<array<f32, 16>") {
                4 * 16 * n
            } else {
                4 * n
            }
        })
        .sum()
}

/// `wgsl` parsed and validated by naga with every capability, or a panic naming `what` (the
/// shader follows a parse error).
pub fn validated(wgsl: &str, what: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(wgsl)
        .unwrap_or_else(|e| panic!("{what}: parse: {}\n{wgsl}", e.emit_to_string(wgsl)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{what}: validate: {e:?}\n{wgsl}"));
    module
}
