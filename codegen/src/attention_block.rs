//! The block form of the attention template ([`crate::attention`]): the workgroup's
//! [`THREADS`] invocations share a block of up to 16 query rows. Each tile's scores are
//! computed once into workgroup memory, a block of rows by keys per invocation, and the
//! products with V are split by rows and vectors of columns; the row maxima and sums go
//! through workgroup memory (steps 2 to 5 of the template).

use crate::attention::{scored, visible, Operands, THREADS};
use crate::code::Code;

/// Invocations' blocks of scores for `rows` x `keys` tiles: `(rows per block, keys per
/// block)`, as square as 8 scores allow, at most 2 rows; every invocation has one where the
/// tile has at least [`THREADS`] scores.
pub fn score_block(rows: u32, keys: u32) -> (u32, u32) {
    let per = (rows * keys / THREADS).max(1);
    let rb = per.min(rows).min(2);
    (rb, per / rb)
}

/// The scores of one tile: invocation `(tr, tc)` computes rows `tr * RB ..` by keys
/// `tc + TC * b`, its `RB + CB` staged vectors per step of the dot products feeding `RB * CB`
/// vector FMAs (over the padded head, whose padding is zero); each score is `-inf` where the
/// row, the key or the causal rule leaves it out.
pub(crate) fn scores(
    c: &mut Code,
    rows: u32,
    keys: u32,
    ops: &Operands,
    mask: Option<&str>,
    diag: &str,
) {
    let (rb, cb) = score_block(rows, keys);
    let (tr, tc) = (rows / rb, keys / cb);
    writeln!(
        c,
        "    if (lid < {}u) {{\n      let tr = lid / {tc}u;\n      let tc = lid % {tc}u;",
        tr * tc
    );
    for a in 0..rb {
        for b in 0..cb {
            writeln!(c, "      var s{a}_{b} = vec4<f32>(0.0);");
        }
    }
    writeln!(c, "      for (var q = 0u; q < H4; q = q + 1u) {{");
    for a in 0..rb {
        writeln!(c, "        let qa{a} = qs[(tr * {rb}u + {a}u) * QS + q];");
    }
    for b in 0..cb {
        writeln!(c, "        let kb{b} = ks[(tc + {}u) * QS + q];", tc * b);
    }
    for a in 0..rb {
        for b in 0..cb {
            writeln!(c, "        s{a}_{b} = fma(qa{a}, kb{b}, s{a}_{b});");
        }
    }
    c.push_str("      }\n");
    for a in 0..rb {
        for b in 0..cb {
            writeln!(
                c,
                "      {{\n        let rr = tr * {rb}u + {a}u;\n        let j = tc + {}u;\n        let i = i0 + rr;\n        let key = t0 + j;\n        \
                 let sd = (s{a}_{b}.x + s{a}_{b}.y) + (s{a}_{b}.z + s{a}_{b}.w);",
                tc * b
            );
            let ok = visible("i < sq", ops.causal, diag);
            match mask {
                Some(_) => writeln!(
                    c,
                    "        var sc = ninf;\n        {}\n        ps[rr * PS + j] = sc;\n      }}",
                    scored("sc", "sd", &ok, mask)
                ),
                None => writeln!(
                    c,
                    "        {}\n      }}",
                    scored("ps[rr * PS + j]", "sd", &ok, mask)
                ),
            }
        }
    }
    c.push_str("    }\n");
}

/// The scalar form's step 4 and 5 for each tile: `p = exp(s - m)` in place, then each
/// invocation's `rp` rows by every `g`-th vector of columns (`per` of them) rescaled and
/// given `p * v` over the tile, the rows' sums `l` kept by their first invocation; then the
/// tile loop and a barrier are closed.
pub(crate) fn values(c: &mut Code, rp: u32, per: u32, g: u32) {
    writeln!(
        c,
        "    for (var x = lid; x < BQ * BK; x = x + T) {{\n      let m = mrow[x / BK];\n      let pa = (x / BK) * PS + x % BK;\n      ps[pa] = select(exp(ps[pa] - m), 0.0, m == ninf);\n    }}\n    workgroupBarrier();"
    );
    for a in 0..rp {
        writeln!(c, "    let cr{a} = crow[r + {a}u];\n    var lsum{a} = 0.0;");
        for u in 0..per {
            writeln!(c, "    acc{a}_{u} = acc{a}_{u} * cr{a};");
        }
    }
    writeln!(c, "    for (var j = 0u; j < BK; j = j + 1u) {{");
    for a in 0..rp {
        writeln!(
            c,
            "      let p{a} = ps[(r + {a}u) * PS + j];\n      lsum{a} = lsum{a} + p{a};"
        );
    }
    for u in 0..per {
        writeln!(
            c,
            "      let v{u} = vs[j * H4 + min(g + {}u, H4 - 1u)];",
            u * g
        );
        for a in 0..rp {
            writeln!(
                c,
                "      acc{a}_{u} = fma(vec4<f32>(p{a}), v{u}, acc{a}_{u});"
            );
        }
    }
    c.push_str("    }\n    if (g == 0u) {\n");
    for a in 0..rp {
        writeln!(
            c,
            "      lrow[r + {a}u] = lrow[r + {a}u] * cr{a} + lsum{a};"
        );
    }
    c.push_str("    }\n  }\n  workgroupBarrier();\n");
}
