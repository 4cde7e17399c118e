//! The register-tiled kernel of the matmul template (`block`, `block_n` of 4 or 8; see
//! [`crate::matmul`]'s module doc).

use crate::code::Code;
use crate::matmul::{tile, Dims, THREADS};

/// Rows of tiles a group of consecutive workgroups of the register-tiled kernel covers.
const SWIZZLE: u32 = 8;

/// How the register-tiled kernel stages one operand.
struct Operand {
    /// Its prefetch registers (`pa0`, `pa1`, ...).
    reg: &'static str,
    /// Its slot function: vector `v` of a slice -> (k, vector within the tile's edge).
    slot: &'static str,
    /// The run-time flag that picks the staging order.
    flag: &'static str,
    /// The tile's first row (A) or column (B).
    origin: &'static str,
    /// Vectors each invocation stages per slice.
    per: u32,
    /// Vectors per `k` in the workgroup tile.
    stride: u32,
    /// The workgroup tile.
    tile: &'static str,
    /// The unchecked and checked element accessors.
    access: (&'static str, &'static str),
    /// The accessor `f` at edge position `x` and depth `k`.
    at: fn(&str, &str) -> String,
}

/// The register-tiled kernel: a `16 * bm` x `16 * bn` tile per workgroup, `bm x bn`
/// outputs per invocation.
///
/// Workgroup memory holds a `bk`-deep slice of A as `ta[k * (TM/4 + 1) + row/4]` (one padding
/// vector per `k` spreads the transposing writes over banks) and of B as
/// `tb[k * TN/4 + col/4]`. Invocation `(x, y)` owns rows `g * 64 + 4y + 0..4` for
/// `g < bm / 4` and columns `g * 64 + 4x + 0..4` for `g < bn / 4`, so the vectors it reads
/// are adjacent to its neighbours'.
pub(crate) fn tiled(b: &mut Code, d: &Dims, (bm, bn): (u32, u32), unroll: u32, bk: u32) {
    let kk = &d.kk;
    let (tm, tn) = (tile(bm), tile(bn));
    let (sa, sb) = (tm / 4 + 1, tn / 4);
    let (gm, gn) = (bm / 4, bn / 4);
    // Vectors of each operand slice each invocation stages.
    let per_a = bk * tm / 4 / (THREADS * THREADS);
    let per_b = bk * tn / 4 / (THREADS * THREADS);
    // Grouped tile order: consecutive workgroups walk `SWIZZLE` rows of tiles column by
    // column, so that the A rows and B columns they read stay in L2 (a bijection on the grid).
    let g = SWIZZLE;
    writeln!(
        b,
        "    let gid = wid.y * nwg.x + wid.x;\n    \
         let per_group = {g}u * nwg.x;\n    \
         let first = (gid / per_group) * {g}u;\n    \
         let rows = min(nwg.y - first, {g}u);\n    \
         let row0 = (first + (gid % per_group) % rows) * {tm}u;\n    \
         let col0 = ((gid % per_group) / rows) * {tn}u;"
    );
    writeln!(b, "    let flat = lid.y * {THREADS}u + lid.x;");
    for i in 0..bm {
        for g in 0..gn {
            writeln!(b, "    var acc{i}_{g} = vec4<f32>(0.0);");
        }
    }
    for p in 0..per_a {
        writeln!(b, "    var pa{p}: vec4<f32>;");
    }
    for p in 0..per_b {
        writeln!(b, "    var pb{p}: vec4<f32>;");
    }
    // Staging: vector `v` of a slice holds four adjacent rows of A at one `k`, or four adjacent
    // columns of B. Consecutive invocations take consecutive `k` where the operand is
    // contiguous along `k` (row-major A, transposed B), else consecutive vectors, so that
    // global reads coalesce either way; `a_slot`/`b_slot` give (k, vector).
    let (m, n) = (&d.m, &d.n);
    writeln!(
        b,
        "    let acm = {} == 1 && {} != 1;\n    let bkm = {} == 1 && {} != 1;",
        d.sam, d.sak, d.sbk, d.sbn
    );
    let mut fetch = Code::new();
    writeln!(
        fetch,
        "      let inside = row0 + {tm}u <= {m} && col0 + {tn}u <= {n} && t + {bk}u <= {kk};"
    );
    let operands = [
        Operand {
            reg: "pa",
            slot: "a_slot",
            flag: "acm",
            origin: "row0",
            per: per_a,
            stride: sa,
            tile: "ta",
            access: ("a_in", "a_at"),
            at: |f, x| format!("{f}(abase, {x}, k)"),
        },
        Operand {
            reg: "pb",
            slot: "b_slot",
            flag: "bkm",
            origin: "col0",
            per: per_b,
            stride: sb,
            tile: "tb",
            access: ("b_in", "b_at"),
            at: |f, x| format!("{f}(bbase, k, {x})"),
        },
    ];
    let mut stage = Code::new();
    for op in &operands {
        let Operand {
            reg,
            slot,
            flag,
            origin,
            tile,
            stride,
            ..
        } = op;
        let four = |f: &str| -> String {
            (0..4)
                .map(|j| (op.at)(f, &format!("x + {j}u")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for p in 0..op.per {
            let v = format!("flat + {}u", p * THREADS * THREADS);
            writeln!(
                fetch,
                "      {{\n        let s = {slot}({v}, {flag});\n        let k = t + s.x;\n        let x = {origin} + s.y * 4u;"
            );
            writeln!(
                fetch,
                "        if (inside) {{\n          {reg}{p} = vec4<f32>({});\n        }} else {{\n          {reg}{p} = vec4<f32>({});\n        }}\n      }}",
                four(op.access.0),
                four(op.access.1)
            );
            writeln!(
                stage,
                "      {{\n        let s = {slot}({v}, {flag});\n        {tile}[s.x * {stride}u + s.y] = {reg}{p};\n      }}"
            );
        }
    }
    // Prologue: stage the first slice.
    b.push_str("    {\n      let t = 0u;\n");
    b.append(fetch.clone());
    b.append(stage.clone());
    b.push_str("    }\n");
    writeln!(b, "    workgroupBarrier();");
    writeln!(b, "    for (var t0 = 0u; t0 < {kk}; t0 = t0 + {bk}u) {{");
    writeln!(b, "      let t = t0 + {bk}u;");
    writeln!(b, "      let more = t < {kk};");
    b.push_str("      if (more) {\n");
    b.append(fetch);
    b.push_str("      }\n");
    // `unroll` steps of the slice written out per iteration: more independent FMAs between
    // loop branches, up to 8 (writing out a whole slice grows the code past what pays; the
    // measurements are in docs/journal/). Rounded down to a power of two, so that it divides
    // the slice's depth.
    let unroll = 1u32 << (31 - unroll.clamp(1, bk).leading_zeros());
    writeln!(
        b,
        "      for (var q0 = 0u; q0 < {bk}u; q0 = q0 + {unroll}u) {{"
    );
    for qu in 0..unroll {
        writeln!(b, "      {{\n        let q = q0 + {qu}u;");
        for g in 0..gm {
            writeln!(
                b,
                "        let a{g} = ta[q * {sa}u + {}u + lid.y];",
                g * THREADS
            );
        }
        for g in 0..gn {
            writeln!(
                b,
                "        let b{g} = tb[q * {sb}u + {}u + lid.x];",
                g * THREADS
            );
        }
        for i in 0..bm {
            let (ga, comp) = (i / 4, ["x", "y", "z", "w"][(i % 4) as usize]);
            for g in 0..gn {
                writeln!(
                    b,
                    "        acc{i}_{g} = fma(vec4<f32>(a{ga}.{comp}), b{g}, acc{i}_{g});"
                );
            }
        }
        writeln!(b, "      }}");
    }
    writeln!(b, "      }}");
    writeln!(b, "      workgroupBarrier();");
    b.push_str("      if (more) {\n");
    b.append(stage);
    b.push_str("      }\n");
    writeln!(b, "      workgroupBarrier();");
    writeln!(b, "    }}");
    // Epilogue: every output of the block.
    for i in 0..bm {
        let row = format!("row0 + {}u + lid.y * 4u + {}u", i / 4 * THREADS * 4, i % 4);
        for g in 0..gn {
            for (j, comp) in ["x", "y", "z", "w"].iter().enumerate() {
                let col = format!("col0 + {}u + lid.x * 4u + {j}u", g * THREADS * 4);
                writeln!(b, "    epilogue(bt, {row}, {col}, acc{i}_{g}.{comp});");
            }
        }
    }
}
