//! The matmul template: 16x16 output tiles, operands staged through workgroup memory, any
//! strides (transposed operands read in place), batches over the grid's z dimension.

use crate::emit::Emitter;
use crate::params::Param;
use crate::types::{self, info};
use crate::CodegenError;
use kiln_ir::DType;
use std::fmt::Write;

/// Tile edge.
pub const TILE: u32 = 16;

/// The `main` function (and workgroup tiles) of a matmul kernel.
pub fn main(
    e: &mut Emitter,
    (la, ra): (usize, Option<DType>),
    (lb, rb): (usize, Option<DType>),
    dtype: DType,
) -> Result<String, CodegenError> {
    let k = e.k;
    // A cast fused into a load rounds each element as it enters the tile.
    let mut round = |r: Option<DType>| -> (String, String) {
        match r.and_then(|d| info(d).round) {
            Some(f) => {
                e.use_helpers(&[f]);
                (format!("{f}("), ")".to_string())
            }
            None => (String::new(), String::new()),
        }
    };
    let (ra0, ra1) = round(ra);
    let (rb0, rb1) = round(rb);
    let r = k.shape.rank();
    let (ia, ib) = (k.loads[la].input, k.loads[lb].input);
    let m = e.params.u32(Param::Dim(r - 2));
    let n = e.params.u32(Param::Dim(r - 1));
    let kk = e.params.u32(Param::LoadDim(la, r - 1));
    let nb = e.params.u32(Param::Batch);
    let (sam, sak) = (
        e.params.i32(Param::Stride(la, r - 2)),
        e.params.i32(Param::Stride(la, r - 1)),
    );
    let (sbk, sbn) = (
        e.params.i32(Param::Stride(lb, r - 2)),
        e.params.i32(Param::Stride(lb, r - 1)),
    );
    let mut b = String::new();
    let _ = writeln!(b, "var<workgroup> ta: array<array<f32, {TILE}>, {TILE}>;");
    let _ = writeln!(b, "var<workgroup> tb: array<array<f32, {TILE}>, {TILE}>;");
    let _ = writeln!(
        b,
        "@compute @workgroup_size({TILE}, {TILE})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {{"
    );
    let _ = writeln!(b, "  let row = wid.y * {TILE}u + lid.y;");
    let _ = writeln!(b, "  let col = wid.x * {TILE}u + lid.x;");
    let _ = writeln!(b, "  for (var bt = wid.z; bt < {nb}; bt = bt + nwg.z) {{");
    // Batch coordinates and base addresses.
    let mut abase = e.params.i32(Param::Offset(la));
    let mut bbase = e.params.i32(Param::Offset(lb));
    if r > 2 {
        let _ = writeln!(b, "    var rem_b = bt;");
        for d in (0..r - 2).rev() {
            let dim = e.params.u32(Param::Dim(d));
            let _ = writeln!(
                b,
                "    let c{d} = rem_b % {dim};\n    rem_b = rem_b / {dim};"
            );
            let sa = e.params.i32(Param::Stride(la, d));
            let sb = e.params.i32(Param::Stride(lb, d));
            let _ = write!(abase, " + i32(c{d}) * {sa}");
            let _ = write!(bbase, " + i32(c{d}) * {sb}");
        }
    }
    let _ = writeln!(b, "    let abase = {abase};\n    let bbase = {bbase};");
    let _ = writeln!(b, "    var acc = 0.0;");
    let _ = writeln!(b, "    for (var t = 0u; t < {kk}; t = t + {TILE}u) {{");
    let _ = writeln!(b, "      let ka = t + lid.x;\n      let kb = t + lid.y;");
    let _ = writeln!(
        b,
        "      ta[lid.y][lid.x] = select(0.0, {ra0}in{ia}[u32(select(0, abase + i32(row) * {sam} + i32(ka) * {sak}, row < {m} && ka < {kk}))]{ra1}, row < {m} && ka < {kk});"
    );
    let _ = writeln!(
        b,
        "      tb[lid.y][lid.x] = select(0.0, {rb0}in{ib}[u32(select(0, bbase + i32(kb) * {sbk} + i32(col) * {sbn}, col < {n} && kb < {kk}))]{rb1}, col < {n} && kb < {kk});"
    );
    let _ = writeln!(b, "      workgroupBarrier();");
    let _ = writeln!(
        b,
        "      for (var q = 0u; q < {TILE}u; q = q + 1u) {{ acc = acc + ta[lid.y][q] * tb[q][lid.x]; }}"
    );
    let _ = writeln!(b, "      workgroupBarrier();\n    }}");
    // The epilogue: every output is an expression of the product and loads at (row, col).
    let val = match info(dtype).round {
        Some(rf) => {
            e.use_helpers(&[rf]);
            format!("{rf}(acc)")
        }
        None => "acc".into(),
    };
    let _ = writeln!(b, "    if (row < {m} && col < {n}) {{");
    let _ = writeln!(b, "      let red0: f32 = {val};");
    let _ = writeln!(b, "      let i = bt * {m} * {n} + row * {n} + col;");
    let _ = writeln!(
        b,
        "      let c{} = row;\n      let c{} = col;",
        r - 2,
        r - 1
    );
    let roots: Vec<usize> = k.outputs.iter().map(|o| o.expr).collect();
    e.exprs(&mut b, "      ", "i", &roots)?;
    for (o, out) in k.outputs.iter().enumerate() {
        let _ = writeln!(
            b,
            "      out{o}[i] = {};",
            types::to_storage(&format!("e{}", out.expr), out.dtype)
        );
    }
    let _ = writeln!(b, "    }}");
    b.push_str("  }\n}\n");
    Ok(b)
}
