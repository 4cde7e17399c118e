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
//! The aligned tile runs only kernels whose slices all lie inside their operands
//! ([`aligned`]): no checks, and contiguous f16 operands staged 16 bytes a load
//! (`coop_stage`).
//! The epilogue stores one accumulator at a time to the subgroup's `16 x 16` f32 scratch in
//! workgroup memory, where its invocations apply the fused epilogue (bias, activation,
//! residual, cast: the matmul template's `epilogue`) element by element.
//!
//! Rules this code keeps (`../shared/notes/tensor-cores.md`):
//! - every argument of a cooperative store is a `let` or a constant (naga 30.0.2's SPIR-V
//!   writer panics on expressions computed inside the call);
//! - cooperative calls sit in uniform control flow: the loops around them run on uniform
//!   bounds, and a subgroup's index (the `subgroup_id` built-in, so that no mapping of
//!   invocations to subgroups is assumed) only addresses memory;
//! - one loop over `k` a kernel: on an H100 a kernel holding both the unchecked loop and the
//!   checked one behind a uniform branch ran 3-4x slower than either alone (journal
//!   2026-12-06-tensor-core-staging.md), so the choice is the schedule's tile, not a branch.

use crate::code::Code;
use crate::coop_stage::{Slice, VEC};
use crate::emit::Emitter;
use crate::matmul::Dims;
use crate::CodegenError;
use kiln_ir::{DType, Kernel, KernelKind, LoadId, View};

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
    /// Only for kernels whose tiles and slices are all whole ([`aligned`]): the loads need
    /// no test (`coop_stage`).
    pub aligned: bool,
    /// An aligned tile that reads every f16 operand 16 bytes a load (bound wide), so only for
    /// kernels whose f16 operands all read rows of aligned vectors ([`rows_of_vectors`]); an
    /// aligned tile without it reads every operand an element at a time. The schedule's tile
    /// says which, so the code follows from the kernel's key and its schedule.
    pub wide: bool,
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
/// subgroups of 2 x 2; the first two with 16-deep slices; the first two without double
/// buffering; and, aligned only, 128 x 256 with 8 subgroups of 4 x 4 (a subgroup's 64 x 64
/// block uses each staged fragment four times), reading f16 operands wide, then the same
/// reading them an element at a time; and aligned 128 x 64 tiles of 2 such subgroups, wide and
/// not, for products 64 columns wide (attention's product with V).
pub const COOP_TILES: [CoopTile; 11] = [
    coop_tile(64, 64, 2, 2, 32, true, false, false),
    coop_tile(128, 128, 2, 4, 32, true, false, false),
    coop_tile(128, 64, 4, 2, 32, true, false, false),
    coop_tile(64, 64, 2, 2, 16, true, false, false),
    coop_tile(128, 128, 2, 4, 16, true, false, false),
    coop_tile(64, 64, 2, 2, 32, false, false, false),
    coop_tile(128, 128, 2, 4, 32, false, false, false),
    coop_tile(128, 256, 2, 4, 32, true, true, true),
    coop_tile(128, 256, 2, 4, 32, true, true, false),
    coop_tile(128, 64, 2, 1, 32, true, true, true),
    coop_tile(128, 64, 2, 1, 32, true, true, false),
];

/// The aligned tiles, largest first: each reading f16 operands wide, and its twin reading
/// them element by element.
const ALIGNED: [(u32, u32); 2] = [(7, 8), (9, 10)];

/// The largest aligned tile (what an adapter's workgroup memory must hold for any of them
/// to be chosen by size).
const ALIGNED_WIDE: u32 = ALIGNED[0].0;

/// A row of [`COOP_TILES`]: `bm, bn, wm, wn, bk, double, aligned, wide`.
#[allow(clippy::too_many_arguments)]
const fn coop_tile(
    bm: u32,
    bn: u32,
    wm: u32,
    wn: u32,
    bk: u32,
    double: bool,
    aligned: bool,
    wide: bool,
) -> CoopTile {
    CoopTile {
        bm,
        bn,
        wm,
        wn,
        bk,
        double,
        aligned,
        wide,
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
/// f16 (or f32 operands where `f32_ok`, the opt-in precision), A read from memory (not
/// computed by a prologue, which the lowering fuses only into vector products), and both
/// output edges at least 16 (thinner products take the gemv path).
pub fn eligible(k: &Kernel, f32_ok: bool) -> bool {
    let KernelKind::Matmul {
        a,
        b,
        a_round,
        b_round,
        prologue: None,
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

/// The tile chosen by size: an aligned tile (128 x 256, then 128 x 64; wide where every f16
/// operand allows it) where the kernel is aligned for it and that grid still has 128
/// workgroups, else 128 x 128 where that one does, 128 x 64 where that one does, else 64 x 64
/// (sizes rounded up to powers of two, as the scalar template's choice).
pub fn by_size(k: &Kernel) -> u32 {
    by_size_of(k, true)
}

/// [`by_size`], with the aligned tiles left out unless `aligned_ok`.
fn by_size_of(k: &Kernel, aligned_ok: bool) -> u32 {
    let r = k.shape.rank();
    let p2 = |v: usize| v.max(1).next_power_of_two();
    let (m, n) = (p2(k.shape.0[r - 2]), p2(k.shape.0[r - 1]));
    let batch = p2(k.shape.0[..r - 2].iter().product());
    let groups = |t: &CoopTile| m.div_ceil(t.bm as usize) * n.div_ceil(t.bn as usize) * batch;
    // The largest aligned tile whose grid keeps enough workgroups and that the kernel may run
    // on, wide before element by element.
    let fit = ALIGNED
        .iter()
        .filter(|(wide, _)| groups(&COOP_TILES[*wide as usize]) >= crate::MATMUL_MIN_WORKGROUPS)
        .flat_map(|&(wide, elements)| [wide, elements])
        .find(|&t| aligned(k, &COOP_TILES[t as usize]));
    if let Some(t) = fit.filter(|_| aligned_ok) {
        t
    } else if groups(&COOP_TILES[1]) >= crate::MATMUL_MIN_WORKGROUPS {
        1
    } else if groups(&COOP_TILES[2]) >= crate::MATMUL_MIN_WORKGROUPS {
        2
    } else {
        0
    }
}

/// Whether kernel `k` may run on tile `t`: any kernel on a tile that is not aligned; on an
/// aligned one, only a kernel whose every tile and slice is whole (`m`, `n` and `k`
/// multiples of the tile's, `k` not 0), and on the wide one only a kernel whose every f16
/// operand reads rows of 8-element vectors ([`rows_of_vectors`]), so that there every f16
/// operand is bound wide (`widen`) and the kernel's code follows from its key and its tile.
pub fn aligned(k: &Kernel, t: &CoopTile) -> bool {
    if !t.aligned {
        return true;
    }
    let KernelKind::Matmul { a, b, .. } = &k.kind else {
        return false;
    };
    let r = k.shape.rank();
    let (m, n) = (k.shape.0[r - 2], k.shape.0[r - 1]);
    let kk = k.load(*a).view.shape.0[r - 1];
    // An empty inner size would reach the unchecked loads with nothing to read.
    let whole = m.is_multiple_of(t.bm as usize)
        && n.is_multiple_of(t.bn as usize)
        && kk.is_multiple_of(t.bk as usize)
        && kk > 0;
    whole
        && (!t.wide
            || [*a, *b].iter().all(|&l| {
                let load = k.load(l);
                k.input(load.input) != DType::F16 || rows_of_vectors(&load.view)
            }))
}

/// Whether a view reads rows of whole, aligned 8-element vectors ([`View::rows_of`]): with
/// a row length that is a multiple of 8 too (the aligned tile's `k` and `n`), each 8 elements
/// of a row from a multiple of 8 are one 16-byte load of f16.
pub fn rows_of_vectors(v: &View) -> bool {
    v.rows_of(VEC as i64)
}

/// The tile `coop_tile` names where kernel `k` may run on it ([`aligned`]) and the aligned
/// tile fits `limit` bytes of workgroup memory, else the tile [`by_size`] chooses (without
/// the aligned one where it does not fit): a schedule tuned on, or written for, an aligned
/// kernel never reaches one that is not, and an adapter with less workgroup memory than
/// the aligned tile needs keeps the tiles it had.
pub fn settle(k: &Kernel, coop_tile: Option<u32>, limit: u32) -> Option<u32> {
    let fits = |t: &CoopTile| !t.aligned || t.workgroup_bytes() <= limit;
    match tile(coop_tile) {
        Ok(t) if !aligned(k, &t) || !fits(&t) => {
            Some(by_size_of(k, fits(&COOP_TILES[ALIGNED_WIDE as usize])))
        }
        _ => coop_tile,
    }
}

/// Binds the operands of `loads` (A's and B's, with the dtype each is rounded to on load)
/// wide ([`Emitter::wide`]) where their slices can be staged 16 bytes a load: f16 stored as
/// f16, not rounded to another dtype, read in rows of vectors ([`rows_of_vectors`]: A along
/// `k`, B along its columns, either broadcast over the batch or not), and not read through
/// an output's binding. Returns the
/// wide bindings' names, for [`main`]. Called before any of the kernel's body is emitted,
/// since every read of a wide input takes its half of a word.
pub(crate) fn widen(e: &mut Emitter, loads: [(LoadId, Option<DType>); 2]) -> [Option<String>; 2] {
    loads.map(|(l, round)| {
        let load = e.k.load(l);
        let input = load.input;
        let ok = e.k.input(input) == DType::F16
            && e.target.storage(DType::F16) == "f16"
            && matches!(round, None | Some(DType::F16))
            && rows_of_vectors(&load.view)
            && e.k.inplace.is_none_or(|(i, _)| i != input);
        ok.then(|| {
            e.wide.insert(input);
            e.input_buf(input)
        })
    })
}

/// The workgroup arrays, the entry point and the body of a tensor-core matmul, after the
/// matmul template's accessors and epilogue (in `fns`).
pub(crate) fn main(
    e: &mut Emitter,
    d: &Dims,
    t: CoopTile,
    fns: Code,
    [wide_a, wide_b]: [Option<String>; 2],
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
    // Staging (`coop_stage`): each slice through the invocations' registers.
    let slices = [
        Slice {
            name: "a",
            rows: bm,
            cols: bk,
            ld: lda,
            wide: wide_a,
        },
        Slice {
            name: "b",
            rows: bk,
            cols: bn,
            ld: ldb,
            wide: wide_b,
        },
    ];
    tile_body(&mut c, t, d, &slices);
    c.push_str("  }\n}\n");
    c.finish()
}

/// A workgroup's tile in the tensor-core template: its accumulators, the loop over `k` that
/// stages both slices and multiplies them in, and the epilogue. On an aligned tile the
/// loads have no test around them (`coop_stage`).
fn tile_body(c: &mut Code, t: CoopTile, d: &Dims, slices: &[Slice; 2]) {
    let fast = t.aligned;
    let (lda, ldb) = t.lds();
    let (fm, fn_) = t.frags();
    let (bm, bn, bk, nt) = (t.bm, t.bn, t.bk, t.threads());
    for i in 0..fm {
        for j in 0..fn_ {
            writeln!(c, "      var acc{i}_{j} = coop_mat16x16<f32, C>();");
        }
    }
    let fetch = |c: &mut Code, ind: &str, t: &str| {
        if fast {
            for sl in slices {
                sl.fetch(c, ind, t, d, nt, "in");
            }
            return;
        }
        writeln!(
            c,
            "{ind}let inside = row0 + {bm}u <= {m} && col0 + {bn}u <= {n} && {t} + {bk}u <= {kk};\n{ind}if (inside) {{",
            m = d.m,
            n = d.n,
            kk = d.kk
        );
        let inner = format!("{ind}  ");
        for sfx in ["in", "at"] {
            if sfx == "at" {
                writeln!(c, "{ind}}} else {{");
            }
            for sl in slices {
                sl.fetch(c, &inner, t, d, nt, sfx);
            }
        }
        writeln!(c, "{ind}}}");
    };
    let to_tiles = |c: &mut Code, ind: &str| {
        for sl in slices {
            sl.store(c, ind, nt);
        }
    };
    if t.double {
        for sl in slices {
            sl.declare(c, "      ", nt);
        }
        fetch(c, "      ", "0u");
        writeln!(
            c,
            "      for (var t = 0u; t < {kk}; t = t + {bk}u) {{",
            kk = d.kk
        );
        to_tiles(c, "        ");
        writeln!(
            c,
            "        workgroupBarrier();\n        if (t + {bk}u < {kk}) {{",
            kk = d.kk
        );
        fetch(c, "          ", &format!("(t + {bk}u)"));
        c.push_str("        }\n");
    } else {
        writeln!(
            c,
            "      for (var t = 0u; t < {kk}; t = t + {bk}u) {{",
            kk = d.kk
        );
        for sl in slices {
            sl.declare(c, "        ", nt);
        }
        fetch(c, "        ", "t");
        to_tiles(c, "        ");
        c.push_str("        workgroupBarrier();\n");
    }
    for s in 0..bk / FRAG {
        for i in 0..fm {
            writeln!(
                c,
                "        let a{s}_{i} = coopLoadT<coop_mat16x16<f16, A>>(&ta[(sr + {}u) * {lda}u + {}u], {lda}u);",
                i * FRAG,
                s * FRAG
            );
        }
        for j in 0..fn_ {
            writeln!(
                c,
                "        let b{s}_{j} = coopLoadT<coop_mat16x16<f16, B>>(&tb[{}u * {ldb}u + sc + {}u], {ldb}u);",
                s * FRAG,
                j * FRAG
            );
        }
        for i in 0..fm {
            for j in 0..fn_ {
                writeln!(
                    c,
                    "        acc{i}_{j} = coopMultiplyAdd(a{s}_{i}, b{s}_{j}, acc{i}_{j});"
                );
            }
        }
    }
    writeln!(c, "        workgroupBarrier();\n      }}");
    // One accumulator at a time through the subgroup's scratch; the store's arguments are
    // `let`s (the naga rule above).
    writeln!(c, "      let scratch = sg * {}u;", FRAG * FRAG);
    for i in 0..fm {
        for j in 0..fn_ {
            writeln!(
                c,
                "      {{\n        {}\n        workgroupBarrier();\n        \
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
}
