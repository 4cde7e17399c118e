//! Graphs and shader readings the codegen tests share (each test crate uses a part).
#![allow(dead_code)]

use kiln_ir::ops::{BinaryOp, ReduceOp, ViewOp};
use kiln_ir::quant::BlockFormat;
use kiln_ir::{DType, Graph, NodeId, Op, Shape};
use smallvec::smallvec;

/// `x[m, k] @ W^T` with `W` `[n, k]` in `f`'s blocks, decoded by a cast: a decode step's
/// linear layer on a GGUF weight.
pub fn x_wt(f: BlockFormat, m: usize, k: usize, n: usize) -> Graph {
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[m, k])).unwrap();
    let t = wt(&mut g, f, n, k);
    let y = g.add(Op::Matmul, &[x, t]).unwrap();
    g.mark_output(y);
    g
}

/// The fused matmul kernel of [`x_wt`]`(f, m, k, n)`.
pub fn x_wt_kernel(f: BlockFormat, m: usize, k: usize, n: usize) -> kiln_ir::Kernel {
    let g = x_wt(f, m, k, n);
    let prog = kiln_ir::lower::lower(&g, &kiln_ir::lower::FusionOptions::default()).unwrap();
    prog.calls
        .iter()
        .find(|c| c.kernel.matmul_k().is_some())
        .expect("a matmul kernel")
        .kernel
        .clone()
}

/// Workgroups over `x` and `y`, and over `z`, of kernel `k`'s grid under schedule `s`.
pub fn grid(k: &kiln_ir::Kernel, s: &kiln_codegen::Schedule) -> (u32, u32) {
    let [x, y, z] = kiln_codegen::generate(k, s, &kiln_codegen::Target::default())
        .unwrap()
        .grid(k, 65535)
        .unwrap();
    (x * y, z)
}

/// `W^T` `[k, n]` of an input `W` `[n, k]` in `f`'s blocks, decoded by a cast.
pub fn wt(g: &mut Graph, f: BlockFormat, n: usize, k: usize) -> NodeId {
    let w = g.input(DType::Quant(f), Shape::new(&[n, k])).unwrap();
    let c = g.add(Op::Cast(DType::F32), &[w]).unwrap();
    g.add(Op::View(ViewOp::Permute(smallvec![1, 0])), &[c])
        .unwrap()
}

/// `op` over the last axis of `x` (of `shape`), kept and broadcast back over it: a per-row
/// value read elementwise.
pub fn row_value(g: &mut Graph, op: ReduceOp, x: NodeId, shape: &Shape) -> NodeId {
    let r = g
        .add(
            Op::Reduce {
                op,
                axes: smallvec![shape.rank() - 1],
                keepdim: true,
            },
            &[x],
        )
        .unwrap();
    g.add(Op::View(ViewOp::Expand(shape.clone())), &[r])
        .unwrap()
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

/// `attention(x * c + gather(x, partner) * c, k, v, mask)` over `[2, 3, sq, d]` queries and 33
/// keys (one table `c` for both terms: the queries' buffers and k's, v's and the mask's fit
/// the default 8 bindings with a binding to spare).
pub fn rotated_attention(dt: DType, d: usize, sq: usize, causal: bool) -> Graph {
    use kiln_ir::ops::Attention;
    let mut g = Graph::new();
    let qs = Shape::new(&[2, 3, sq, d]);
    let x = g.input(dt, qs.clone()).unwrap();
    let c = g.input(dt, qs.clone()).unwrap();
    let idx = g.input(DType::I32, qs).unwrap();
    let xr = g.add(Op::Gather { axis: 3 }, &[x, idx]).unwrap();
    let xc = g.add(Op::Binary(BinaryOp::Mul), &[x, c]).unwrap();
    let rs = g.add(Op::Binary(BinaryOp::Mul), &[xr, c]).unwrap();
    let q = g.add(Op::Binary(BinaryOp::Add), &[xc, rs]).unwrap();
    let k = g.input(dt, Shape::new(&[2, 3, 33, d])).unwrap();
    let v = g.input(dt, Shape::new(&[2, 3, 33, d])).unwrap();
    let m = g.input(dt, Shape::new(&[2, 3, sq, 33])).unwrap();
    let y = g
        .add(Op::Attention(Attention::new(0.125, causal)), &[q, k, v, m])
        .unwrap();
    g.mark_output(y);
    g
}
