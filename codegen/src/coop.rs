//! The tensor-core matmul template: wgpu's cooperative matrices (`coop_mat16x16`, f16 x f16
//! with f32 accumulation, WGSL extension `wgpu_cooperative_matrix`), for adapters that list
//! that configuration and run subgroups of exactly 32 invocations (the schedule's
//! `matmul.tensor_cores`, kept only there by `schedule::limits::sanitize`).
//!
//! A workgroup of `wm x wn` subgroups computes a `bm x bn` output tile ([`CoopTile`]); each
//! subgroup owns a `bm / wm x bn / wn` block of it as `16 x 16` accumulators. Each step stages
//! a `bk`-deep slice of both operands in workgroup memory as f16 (through their views, bounds
//! checked, zero outside; f32 operands rounded to f16 where the schedule allows it), then each
//! subgroup loads its fragments with `coopLoadT` and multiplies them into its accumulators.
//! The epilogue stores one accumulator at a time to the subgroup's `16 x 16` f32 scratch in
//! workgroup memory, where its invocations apply the fused epilogue (bias, activation,
//! residual, cast: the matmul template's `epilogue`) element by element.
//!
//! Rules this code keeps (`../shared/notes/tensor-cores.md`):
//! - every argument of a cooperative store is a `let` or a constant (naga 30.0.2's SPIR-V
//!   writer panics on expressions computed inside the call);
//! - cooperative calls sit in uniform control flow: the loops around them run on uniform
//!   bounds, and a subgroup's index (the `subgroup_id` built-in, so that no mapping of
//!   invocations to subgroups is assumed) only addresses memory.

use crate::code::Code;
use crate::emit::Emitter;
use crate::matmul::Dims;
use crate::CodegenError;
use kiln_ir::{DType, Kernel, KernelKind};

/// The invocations of a subgroup the template is written for.
pub const SUBGROUP: u32 = 32;

/// The edge of a cooperative matrix.
pub const FRAG: u32 = 16;

/// One tile shape of the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoopTile {
    /// Output rows per workgroup.
    pub bm: u32,
    /// Output columns per workgroup.
    pub bn: u32,
    /// Subgroups along the rows.
    pub wm: u32,
    /// Subgroups along the columns.
    pub wn: u32,
    /// Depth of the staged slices (a multiple of 16).
    pub bk: u32,
    /// Register double buffering: the next slice is read from memory into registers while
    /// the current one is multiplied, and written to workgroup memory after.
    pub double: bool,
}

impl CoopTile {
    /// Invocations per workgroup.
    pub fn threads(&self) -> u32 {
        self.wm * self.wn * SUBGROUP
    }

    /// Accumulators per subgroup, along rows and columns.
    pub fn frags(&self) -> (u32, u32) {
        (self.bm / self.wm / FRAG, self.bn / self.wn / FRAG)
    }

    /// Row strides of the staged slices (padded by 8 halves against bank conflicts).
    fn lds(&self) -> (u32, u32) {
        (self.bk + 8, self.bn + 8)
    }

    /// Bytes of workgroup memory: both f16 slices and each subgroup's f32 scratch.
    pub fn workgroup_bytes(&self) -> u32 {
        let (lda, ldb) = self.lds();
        2 * (self.bm * lda + self.bk * ldb) + 4 * self.wm * self.wn * FRAG * FRAG
    }
}

/// The tile shapes (`MatmulSchedule::coop_tile` indexes this table): 64 x 64 with 4
/// subgroups of 2 x 2 accumulators; 128 x 128 with 8 subgroups of 4 x 2; 128 x 64 with 8
/// subgroups of 2 x 2; the first two with 16-deep slices; and the first two without double
/// buffering.
pub const COOP_TILES: [CoopTile; 7] = [
    coop_tile(64, 64, 2, 2, 32, true),
    coop_tile(128, 128, 2, 4, 32, true),
    coop_tile(128, 64, 4, 2, 32, true),
    coop_tile(64, 64, 2, 2, 16, true),
    coop_tile(128, 128, 2, 4, 16, true),
    coop_tile(64, 64, 2, 2, 32, false),
    coop_tile(128, 128, 2, 4, 32, false),
];

/// A row of [`COOP_TILES`]: `bm, bn, wm, wn, bk, double`.
const fn coop_tile(bm: u32, bn: u32, wm: u32, wn: u32, bk: u32, double: bool) -> CoopTile {
    CoopTile {
        bm,
        bn,
        wm,
        wn,
        bk,
        double,
    }
}

/// The statement storing cooperative matrix `frag` row-major at `array[at]`, rows `stride`
/// apart (`at` and `stride` WGSL expressions): its arguments bound to `let`s first, the rule
/// that avoids naga 30.0.2's SPIR-V writer panic (`../shared/notes/tensor-cores.md`).
pub(crate) fn store(frag: &str, array: &str, at: &str, stride: &str) -> String {
    format!("{{ let at = {at}; let stride = {stride}; coopStoreT({frag}, &{array}[at], stride); }}")
}

/// The tile `coop_tile` names, or a schedule error.
pub fn tile(coop_tile: Option<u32>) -> Result<CoopTile, CodegenError> {
    coop_tile
        .and_then(|t| COOP_TILES.get(t as usize).copied())
        .ok_or_else(|| {
            CodegenError::Schedule(format!(
                "tensor-core tile {coop_tile:?}: not one of the {} in coop::COOP_TILES",
                COOP_TILES.len()
            ))
        })
}

/// Whether an operand of dtype `input`, rounded to `round` on load, is exact in f16, or may
/// be rounded to it (`f32_ok`).
fn operand_ok(input: DType, round: Option<DType>, f32_ok: bool) -> bool {
    match (input, round) {
        (_, Some(DType::F16)) | (DType::F16, None) => !input.is_quantized(),
        (DType::F32 | DType::BF16, None) | (DType::F32, Some(DType::BF16)) => f32_ok,
        _ => false,
    }
}

/// Whether the tensor-core template may compute matmul kernel `k`: both operands exact in
/// f16 (or f32 operands where `f32_ok`, the opt-in precision), and both output edges at
/// least 16 (thinner products take the gemv path).
pub fn eligible(k: &Kernel, f32_ok: bool) -> bool {
    let KernelKind::Matmul {
        a,
        b,
        a_round,
        b_round,
        ..
    } = &k.kind
    else {
        return false;
    };
    let r = k.shape.rank();
    let (m, n) = (k.shape.0[r - 2], k.shape.0[r - 1]);
    let ia = k.input(k.load(*a).input);
    let ib = k.input(k.load(*b).input);
    m >= FRAG as usize
        && n >= FRAG as usize
        && operand_ok(ia, *a_round, f32_ok)
        && operand_ok(ib, *b_round, f32_ok)
}

/// The tile chosen by size: 128 x 128 where that grid still has 128 workgroups, 128 x 64
/// where that one does, else 64 x 64 (sizes rounded up to powers of two, as the scalar
/// template's choice).
pub fn by_size(k: &Kernel) -> u32 {
    let r = k.shape.rank();
    let p2 = |v: usize| v.max(1).next_power_of_two();
    let (m, n) = (p2(k.shape.0[r - 2]), p2(k.shape.0[r - 1]));
    let batch = p2(k.shape.0[..r - 2].iter().product());
    let groups = |t: &CoopTile| m.div_ceil(t.bm as usize) * n.div_ceil(t.bn as usize) * batch;
    if groups(&COOP_TILES[1]) >= crate::MATMUL_MIN_WORKGROUPS {
        1
    } else if groups(&COOP_TILES[2]) >= crate::MATMUL_MIN_WORKGROUPS {
        2
    } else {
        0
    }
}

/// The workgroup arrays, the entry point and the body of a tensor-core matmul, after the
/// matmul template's accessors and epilogue (in `fns`).
pub(crate) fn main(
    e: &mut Emitter,
    d: &Dims,
    t: CoopTile,
    fns: Code,
) -> Result<String, CodegenError> {
    e.enables.insert("f16");
    e.enables.insert("wgpu_cooperative_matrix");
    let k = e.k;
    let r = k.shape.rank();
    let (lda, ldb) = t.lds();
    let (fm, fn_) = t.frags();
    let (bm, bn, bk, nt) = (t.bm, t.bn, t.bk, t.threads());
    let nw = t.wm * t.wn;
    let mut c = Code::new();
    writeln!(
        c,
        "var<workgroup> ta: array<f16, {}>;\nvar<workgroup> tb: array<f16, {}>;\nvar<workgroup> tc: array<f32, {}>;",
        bm * lda,
        bk * ldb,
        nw * FRAG * FRAG
    );
    c.append(fns);
    writeln!(
        c,
        "@compute @workgroup_size({nt})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {{"
    );
    writeln!(
        c,
        "  for (var bt = wid.z; bt < {}; bt = bt + nwg.z) {{",
        d.nb
    );
    e.coords(&mut c, "    ", "bt", 0..r - 2);
    writeln!(
        c,
        "    let abase = {};\n    let bbase = {};\n    let row0 = wid.y * {bm}u;\n    let col0 = wid.x * {bn}u;\n    \
         let sr = (sg / {}u) * {}u;\n    let sc = (sg % {}u) * {}u;",
        d.abase,
        d.bbase,
        t.wn,
        fm * FRAG,
        t.wn,
        fn_ * FRAG
    );
    for i in 0..fm {
        for j in 0..fn_ {
            writeln!(c, "    var acc{i}_{j} = coop_mat16x16<f32, C>();");
        }
    }
    // Staging: invocation `lid` takes elements `lid + p * nt` of each slice; where the tile
    // and its slice lie inside both operands (a uniform test), without bounds checks.
    let (pa, pb) = (bm * bk / nt, bk * bn / nt);
    let fetch = |c: &mut Code, ind: &str, t: &str, dst: &dyn Fn(&str, u32) -> String| {
        writeln!(
            c,
            "{ind}let inside = row0 + {bm}u <= {m} && col0 + {bn}u <= {n} && {t} + {bk}u <= {kk};",
            m = d.m,
            n = d.n,
            kk = d.kk
        );
        for (branch, suffix) in [("if (inside) {", "in"), ("} else {", "at")] {
            writeln!(c, "{ind}{branch}");
            for p in 0..pa {
                writeln!(
                    c,
                    "{ind}  {{ let x = lid + {}u; {} = f16(a_{suffix}(abase, row0 + x / {bk}u, {t} + x % {bk}u)); }}",
                    p * nt,
                    dst("a", p)
                );
            }
            for p in 0..pb {
                writeln!(
                    c,
                    "{ind}  {{ let x = lid + {}u; {} = f16(b_{suffix}(bbase, {t} + x / {bn}u, col0 + x % {bn}u)); }}",
                    p * nt,
                    dst("b", p)
                );
            }
        }
        writeln!(c, "{ind}}}");
    };
    let to_tiles = |c: &mut Code, ind: &str, src: &dyn Fn(&str, u32) -> String| {
        for (tile, per, cols, ld) in [("a", pa, bk, lda), ("b", pb, bn, ldb)] {
            for p in 0..per {
                writeln!(
                    c,
                    "{ind}{{ let x = lid + {}u; t{tile}[(x / {cols}u) * {ld}u + x % {cols}u] = {}; }}",
                    p * nt,
                    src(tile, p)
                );
            }
        }
    };
    if t.double {
        for (tile, per) in [("a", pa), ("b", pb)] {
            for p in 0..per {
                writeln!(c, "    var r{tile}{p}: f16;");
            }
        }
        fetch(&mut c, "    ", "0u", &|tile, p| format!("r{tile}{p}"));
        writeln!(
            c,
            "    for (var t = 0u; t < {kk}; t = t + {bk}u) {{",
            kk = d.kk
        );
        to_tiles(&mut c, "      ", &|tile, p| format!("r{tile}{p}"));
        writeln!(
            c,
            "      workgroupBarrier();\n      if (t + {bk}u < {kk}) {{",
            kk = d.kk
        );
        fetch(&mut c, "        ", &format!("(t + {bk}u)"), &|tile, p| {
            format!("r{tile}{p}")
        });
        c.push_str("      }\n");
    } else {
        writeln!(
            c,
            "    for (var t = 0u; t < {kk}; t = t + {bk}u) {{",
            kk = d.kk
        );
        for (tile, per) in [("a", pa), ("b", pb)] {
            for p in 0..per {
                writeln!(c, "      var r{tile}{p}: f16;");
            }
        }
        fetch(&mut c, "      ", "t", &|tile, p| format!("r{tile}{p}"));
        to_tiles(&mut c, "      ", &|tile, p| format!("r{tile}{p}"));
        c.push_str("      workgroupBarrier();\n");
    }
    for s in 0..bk / FRAG {
        for i in 0..fm {
            writeln!(
                c,
                "      let a{s}_{i} = coopLoadT<coop_mat16x16<f16, A>>(&ta[(sr + {}u) * {lda}u + {}u], {lda}u);",
                i * FRAG,
                s * FRAG
            );
        }
        for j in 0..fn_ {
            writeln!(
                c,
                "      let b{s}_{j} = coopLoadT<coop_mat16x16<f16, B>>(&tb[{}u * {ldb}u + sc + {}u], {ldb}u);",
                s * FRAG,
                j * FRAG
            );
        }
        for i in 0..fm {
            for j in 0..fn_ {
                writeln!(
                    c,
                    "      acc{i}_{j} = coopMultiplyAdd(a{s}_{i}, b{s}_{j}, acc{i}_{j});"
                );
            }
        }
    }
    writeln!(c, "      workgroupBarrier();\n    }}");
    // One accumulator at a time through the subgroup's scratch; the store's arguments are
    // `let`s (the naga rule above).
    writeln!(c, "    let scratch = sg * {}u;", FRAG * FRAG);
    for i in 0..fm {
        for j in 0..fn_ {
            writeln!(
                c,
                "    {{\n      {}\n      workgroupBarrier();\n      \
                 for (var x = lane; x < {}u; x = x + {SUBGROUP}u) {{\n        \
                 epilogue(bt, row0 + sr + {}u + x / {FRAG}u, col0 + sc + {}u + x % {FRAG}u, tc[scratch + x]);\n      }}\n      \
                 workgroupBarrier();\n    }}",
                store(&format!("acc{i}_{j}"), "tc", "scratch", &format!("{FRAG}u")),
                FRAG * FRAG,
                i * FRAG,
                j * FRAG
            );
        }
    }
    c.push_str("  }\n}\n");
    c.finish()
}
