//! The quantized gemv path with the vector quantized to 8-bit integers
//! (`MatmulSchedule::qgemv_int8`, the opt-in of `DeviceOptions::gemv_activations`): the
//! weight's codes meet it in integer dot products of four bytes (`dot4I8Packed`, one
//! instruction on GPUs with packed integer dot products) instead of being converted to
//! floats one by one, as llama.cpp's `Q8_1` activations do.
//!
//! This module's path runs in the block-1 template; [`crate::qgemv_warp`] runs the same
//! staging (`define_stage`) and items (`trip`) as a kernel of its own where the adapter
//! has subgroups. A workgroup takes blocks of rows in turn, the grid's size apart. Where the
//! vector fits one chunk ([`DOT_CHUNK`] values here) it is staged once, before the first
//! block, so that a grid capped below the blocks ([`workgroups`]) pays the staging once a
//! workgroup rather than once a block; longer vectors are staged a chunk at a time for each
//! block.
//!
//! A workgroup stages the vector a chunk at a time, in runs of eight: each
//! block of 32 values is scaled by `dx = max|x| / 127`, rounded to integers and stored as
//! four runs (a run: its two words of packed bytes, `dx`, and `dx` times the sum of its
//! integers, which carries the formats' offsets and `Q4_K`'s mins). Invocations load runs,
//! adjacent invocations adjacent runs, and the four runs of a block meet through
//! workgroup memory to find its largest magnitude. (An invocation loading a whole block put
//! a warp's loads on 32 cache lines each instead of 8, and the first-level cache's
//! throughput made staging the workgroup's fixed cost: an H100's gemvs took about 39 ns
//! more for each workgroup.) Items are 32 values
//! of a block (a `Q8_0` or `Q4_0` block, an eighth of a K-quant's) meeting four runs; groups
//! of [`QGEMV_LANES`] lanes (subgroups, in the kernel of its own) own `rows` rows each, as in
//! [`crate::qgemv`]'s wide layout.
//!
//! The result differs from the `f32` path by the vector's rounding alone: at most
//! `sum |w_k| dx_k / 2` (`dx_k` of the block of 32 holding `k`), plus `f32` rounding of
//! the partial sums; `docs/OPS.md` gives the tolerance. A block holding an infinity or NaN
//! gets a NaN scale (tested on its bits, which no compiler folds away), so its outputs are
//! NaN rather than rounded values that drop it; one whose largest magnitude is under
//! `1e-30` counts as zeros (`127 / max` would overflow).

use crate::code::Code;
use crate::dequant;
use crate::matmul::{Dims, THREADS};
use crate::qgemv::{self, QGEMV_GROUPS, QGEMV_LANES};
use crate::schedule::MatmulSchedule;
use kiln_ir::quant::BlockFormat;
use kiln_ir::Kernel;

/// Values of the vector a workgroup stages at a time (runs of 16 bytes per 8 values: 8 KiB).
pub const DOT_CHUNK: u32 = 4096;

/// Items a lane may take a trip (`MatmulSchedule::qgemv_items`).
pub const QGEMV_ITEMS: [u32; 3] = [1, 2, 4];

/// Values an item covers, and a block of the vector sharing one scale.
pub(crate) const ITEM: u32 = 32;

// Every invocation stages the same number of whole runs of a chunk.
const _: () = assert!(DOT_CHUNK.is_multiple_of(8 * THREADS * THREADS));

/// Blocks of rows (a workgroup's, [`qgemv::outputs`]) of a product on this path whose
/// workgroups may take blocks in turn: every product of [`crate::qgemv_warp`]'s kernel, and
/// in the block-1 template those whose vector is staged whole at once (`k` from 1 to
/// [`DOT_CHUNK`]), which then stage it once a workgroup; `None` for other kernels and
/// schedules.
pub fn persistent_blocks(k: &Kernel, m: &MatmulSchedule) -> Option<usize> {
    let rows = qgemv::outputs(k, m).filter(|_| m.quantized_gemv && m.qgemv_int8)?;
    let kk = k.matmul_k()?;
    let r = k.shape.rank();
    (crate::qgemv_warp::chosen(k, m) || (1..=DOT_CHUNK as usize).contains(&kk))
        .then(|| k.shape.0[r - 1].div_ceil(rows as usize))
}

/// Workgroups a product of [`persistent_blocks`] dispatches for each batch: its blocks, at
/// most `MatmulSchedule::qgemv_workgroups` of them where that is not 0.
pub fn workgroups(k: &Kernel, m: &MatmulSchedule) -> Option<usize> {
    let blocks = persistent_blocks(k, m)?;
    Some(match m.qgemv_workgroups {
        0 => blocks,
        w => blocks.min(w as usize),
    })
}

/// Bytes of workgroup memory the path declares, for `rows` rows a workgroup.
pub fn workgroup_bytes(rows: u32) -> u32 {
    rows * QGEMV_LANES * 4 + stage_bytes(DOT_CHUNK)
}

/// How an item of `format` meets the staged runs: items a block (where there are several,
/// [`dequant::define_word`]'s `kiln_qstart` gives item `j`'s first value), the run offsets of
/// its four runs of eight values from the first, and the swizzle table of [`path`].
struct Runs {
    per_block: u32,
    offsets: [u32; 4],
    swizzle: u32,
}

fn runs(format: BlockFormat) -> Runs {
    match format {
        BlockFormat::Q8_0 | BlockFormat::Q4_0 => Runs {
            per_block: 1,
            offsets: [0, 1, 2, 3],
            swizzle: 0x3210,
        },
        // Pair `j / 2`, bytes from `16 (j % 2)`: low nibbles meet two runs, high ones the two
        // of the next sub-block.
        BlockFormat::Q4K => Runs {
            per_block: 8,
            offsets: [0, 1, 4, 5],
            swizzle: 0x5140,
        },
        // Half `j / 4`, positions from `8 (j % 4)` in each of its four quarters.
        BlockFormat::Q6K => Runs {
            per_block: 8,
            offsets: [0, 4, 8, 12],
            swizzle: 0x4400,
        },
    }
}

/// Writes the functions of binding `buf` and the workgroup's memory into `fns`, and the path
/// into `b` (inside the block-1 kernel's `m = 1 || n = 1` branch, after `along_n`), `rg` rows
/// a group.
pub(crate) fn path(
    b: &mut Code,
    fns: &mut Code,
    d: &Dims,
    format: BlockFormat,
    buf: &str,
    rg: u32,
    items: u32,
) {
    let (lanes, rows, ch) = (QGEMV_LANES, QGEMV_GROUPS * rg, DOT_CHUNK);
    writeln!(fns, "var<workgroup> tq: array<f32, {}>;", rows * lanes);
    let stage = define_stage(fns, d, format, buf, THREADS * THREADS, ch);
    qgemv::open_persistent(b, d, format, rg, ITEM);
    writeln!(
        b,
        "        let once = 0u < {kk} && {kk} <= {ch}u;\n        \
         if (once) {{\n          let c0 = 0u;\n{stage}        }}\n        \
         for (var blk = wid.y * nwg.x + wid.x; blk < nblk; blk = blk + nwg.x * nwg.y) {{\n",
        kk = d.kk
    );
    qgemv::open_block(b, d, format, rg);
    writeln!(
        b,
        "        for (var c0 = 0u; c0 < {}; c0 = c0 + {ch}u) {{\n          \
           if (!once) {{\n{stage}          }}",
        d.kk
    );
    trip(
        b,
        format,
        buf,
        (rg, items),
        ch,
        ("lane", &format!("{lanes}u")),
    );
    writeln!(b, "        }}");
    qgemv::close_block(b, rg);
}

/// Bytes of workgroup memory `define_stage` declares for chunks of `chunk` values.
pub fn stage_bytes(chunk: u32) -> u32 {
    chunk / 8 * 16 + chunk / ITEM * 16
}

/// Writes the item and staging functions of binding `buf` and the staged vector's workgroup
/// memory (`chunk` values) into `fns`, and returns the statements that stage the chunk from
/// `c0` (`flat` the invocation's index among `wg`, `abase` A's row; every invocation runs
/// them, with their two barriers).
///
/// The runs are stored swizzled: run `u` at `u ^ t[(u / 8) % 4]`, `t` the format's table of
/// four 3-bit entries, so that the 16-byte reads of eight adjacent lanes (which the hardware
/// serves together) fall in distinct banks: `Q4_K`'s eight items of a block start at runs 0,
/// 2, 8, 10, 16, ...; `Q6_K`'s at 0, 1, 2, 3, 16, ...; `Q8_0`'s blocks 4 runs apart.
pub(crate) fn define_stage(
    fns: &mut Code,
    d: &Dims,
    format: BlockFormat,
    buf: &str,
    wg: u32,
    chunk: u32,
) -> String {
    dequant::define_word(fns, format, buf);
    define_dot(fns, format, buf);
    let sw = runs(format).swizzle;
    // `kiln_runmax`: a run's largest magnitude, -1 where it holds an infinity or NaN (a
    // non-finite constant would be refused by browsers); `kiln_qrun` rounds a run by its
    // block's four.
    writeln!(
        fns,
        "var<workgroup> tr: array<vec4<u32>, {}>;\n\
         var<workgroup> tm: array<vec4<f32>, {}>;\n\
         fn kiln_slot(u: u32) -> u32 {{ return u ^ (({sw:#x}u >> ((u >> 1u) & 12u)) & 7u); }}\n\
         fn kiln_runmax(lo: vec4<f32>, hi: vec4<f32>) -> f32 {{\n  \
         let ax = max(abs(lo), abs(hi));\n  \
         let e = vec4<u32>(0x7f800000u);\n  \
         let bad = any((bitcast<vec4<u32>>(lo) & e) == e) || any((bitcast<vec4<u32>>(hi) & e) == e);\n  \
         return select(max(max(ax.x, ax.y), max(ax.z, ax.w)), -1.0, bad);\n}}\n\
         fn kiln_qrun(r: u32, mv: vec4<f32>, lo: vec4<f32>, hi: vec4<f32>) {{\n  \
         let m = max(max(mv.x, mv.y), max(mv.z, mv.w));\n  \
         let bad = min(min(mv.x, mv.y), min(mv.z, mv.w)) < 0.0;\n  \
         let dx = bitcast<f32>(select(bitcast<u32>(m / 127.0), 0x7fc00000u, bad));\n  \
         let inv = select(0.0, 127.0 / m, m > 1e-30);\n  \
         let q0 = vec4<i32>(round(lo * inv));\n  \
         let q1 = vec4<i32>(round(hi * inv));\n  \
         let s = q0 + q1;\n  \
         tr[kiln_slot(r)] = vec4<u32>(pack4xI8(q0), pack4xI8(q1), bitcast<u32>(dx), bitcast<u32>(dx * f32(s.x + s.y + s.z + s.w)));\n}}",
        chunk / 8,
        chunk / ITEM
    );
    qgemv::define_x4(fns, buf);
    // Each invocation's runs of the chunk, `wg` apart: loaded with their largest
    // magnitudes, then (the block's four in `tm`) rounded; runs past `k` (whole blocks of
    // 32, since `k` is whole blocks of the weight) are neither loaded nor read. Two barriers
    // a chunk: the loads write only `tm`, whose last readers (the rounding) passed the
    // previous chunk's second barrier; the rounding writes `tr` after every product of the
    // previous chunk passed this chunk's first.
    let (mut load, mut quant) = (String::new(), String::new());
    for t in 0..chunk / 8 / wg {
        load += &format!(
            "          let r{t} = flat + {o}u;\n          \
             let e{t} = c0 + 8u * r{t};\n          \
             var lo{t} = vec4<f32>(0.0);\n          \
             var hi{t} = vec4<f32>(0.0);\n          \
             if (e{t} < {kk}) {{\n            \
               lo{t} = kiln_x4_{buf}(abase, e{t});\n            \
               hi{t} = kiln_x4_{buf}(abase, e{t} + 4u);\n            \
               tm[r{t} / 4u][r{t} % 4u] = kiln_runmax(lo{t}, hi{t});\n          \
             }}\n",
            o = wg * t,
            kk = d.kk
        );
        quant += &format!(
            "          if (e{t} < {}) {{ kiln_qrun(r{t}, tm[r{t} / 4u], lo{t}, hi{t}); }}\n",
            d.kk
        );
    }
    format!("{load}          workgroupBarrier();\n{quant}          workgroupBarrier();\n")
}

/// Writes a lane's items of the chunk from `c0` (of `chunk` values) for its `rg` rows
/// (`u{r}` their first blocks, `acc{r}` their sums), `items` a trip: the lane's first item
/// `lane` and `width` lanes splitting a row's items.
pub(crate) fn trip(
    b: &mut Code,
    format: BlockFormat,
    buf: &str,
    (rg, items): (u32, u32),
    chunk: u32,
    (lane, width): (&str, &str),
) {
    let r = runs(format);
    let bv = format.block_values();
    let [r0, r1, r2, r3] = r.offsets;
    // Item `j`'s first value in its block.
    let start = |j: &str| {
        if r.per_block == 1 {
            "0u".to_string()
        } else {
            format!("kiln_qstart_{buf}({j})")
        }
    };
    writeln!(
        b,
        "          let i1 = min(ni, (c0 + {chunk}u) / {ITEM}u);\n          \
           for (var i = c0 / {ITEM}u + {lane}; i < i1; i = i + {width} * {items}u) {{"
    );
    // A trip's `items` items, `width` apart: every load issued before any sum needs one.
    // Items past the chunk's end read the last item again and add nothing.
    for t in 0..items {
        let it = if t == 0 {
            "i".to_string()
        } else {
            format!("min(i + {width} * {t}u, i1 - 1u)")
        };
        writeln!(
            b,
            "            let it{t} = {it};\n            \
             let kb{t} = it{t} / {pb}u;\n            \
             let j{t} = it{t} % {pb}u;\n            \
             let v{t} = (kb{t} * {bv}u + {start} - c0) / 8u;\n            \
             let x{t}0 = tr[kiln_slot(v{t} + {r0}u)];\n            \
             let x{t}1 = tr[kiln_slot(v{t} + {r1}u)];\n            \
             let x{t}2 = tr[kiln_slot(v{t} + {r2}u)];\n            \
             let x{t}3 = tr[kiln_slot(v{t} + {r3}u)];",
            pb = r.per_block,
            start = start(&format!("j{t}")),
        );
    }
    for t in 0..items {
        for r in 0..rg {
            let dot = format!("kiln_qdot_{buf}(u{r} + kb{t}, j{t}, x{t}0, x{t}1, x{t}2, x{t}3)");
            let term = if t == 0 {
                dot
            } else {
                format!("select(0.0, {dot}, i + {width} * {t}u < i1)")
            };
            writeln!(b, "            acc{r} = acc{r} + {term};");
        }
    }
    writeln!(b, "          }}");
}

/// Writes `kiln_qdot_{buf}(bk, j, x0, x1, x2, x3) -> f32`: item `j` of block `bk` against
/// the runs it meets (`x*`: two words of packed bytes, `dx`, `dx` times their sum).
/// [`dequant::define_word`]'s helpers read the codes and scales.
fn define_dot(out: &mut Code, format: BlockFormat, buf: &str) {
    let head = format!(
        "fn kiln_qdot_{buf}(bk: u32, j: u32, x0: vec4<u32>, x1: vec4<u32>, x2: vec4<u32>, x3: vec4<u32>) -> f32 {{"
    );
    let f16_ = format!("kiln_f16_{buf}");
    // The dot products of code words `c0..c7` with the runs' words, two a run.
    let dots = |c: [&str; 8]| {
        format!(
            "dot4I8Packed({}, x0.x) + dot4I8Packed({}, x0.y), dot4I8Packed({}, x1.x) + dot4I8Packed({}, x1.y), dot4I8Packed({}, x2.x) + dot4I8Packed({}, x2.y), dot4I8Packed({}, x3.x) + dot4I8Packed({}, x3.y)",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        )
    };
    let dx =
        "vec4<f32>(bitcast<f32>(x0.z), bitcast<f32>(x1.z), bitcast<f32>(x2.z), bitcast<f32>(x3.z))";
    let sx =
        "vec4<f32>(bitcast<f32>(x0.w), bitcast<f32>(x1.w), bitcast<f32>(x2.w), bitcast<f32>(x3.w))";
    // `Q8_0` and `Q4_0` blocks are 2-byte aligned: their code words are read from the aligned
    // words around them, the next one only where the block is misaligned (the last block of
    // a buffer ends at its last word).
    let unaligned = |words: u32| {
        let mut s = format!(
            "  let i = o >> 2u;\n  let mis = (o & 2u) != 0u;\n  \
             let a{words} = {};\n",
            dequant::word(
                format,
                buf,
                &format!("select(i + {}u, i + {words}u, mis)", words - 1)
            )
        );
        for t in 0..words {
            s += &format!(
                "  let a{t} = {};\n",
                dequant::word(format, buf, &format!("i + {t}u"))
            );
        }
        for t in 0..words {
            s += &format!(
                "  let w{t} = select(a{t}, (a{t} >> 16u) | (a{} << 16u), mis);\n",
                t + 1
            );
        }
        s
    };
    let m4 = "0x0f0f0f0fu";
    // Four code words' low nibbles, then their high ones (`Q4_0`, `Q4_K`).
    let nibbles = || {
        let lo = |t: u32| format!("(w{t} & {m4})");
        let hi = |t: u32| format!("((w{t} >> 4u) & {m4})");
        dots([
            &lo(0),
            &lo(1),
            &lo(2),
            &lo(3),
            &hi(0),
            &hi(1),
            &hi(2),
            &hi(3),
        ])
    };
    match format {
        BlockFormat::Q8_0 => writeln!(
            out,
            "{head}\n  let o = bk * 34u + 2u;\n{}  \
             let s = vec4<i32>({});\n  \
             return {f16_}(o - 2u) * dot({dx}, vec4<f32>(s));\n}}",
            unaligned(8),
            dots(["w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"])
        ),
        // Byte `b`'s low nibble is value `b`, its high one value `b + 16`; codes `q - 8`.
        BlockFormat::Q4_0 => {
            writeln!(
                out,
                "{head}\n  let o = bk * 18u + 2u;\n{}  \
                 let s = vec4<i32>({});\n  \
                 return {f16_}(o - 2u) * (dot({dx}, vec4<f32>(s)) - 8.0 * dot({sx}, vec4<f32>(1.0)));\n}}",
                unaligned(4),
                nibbles()
            )
        }
        // Item `j`: pair `j / 2`'s bytes from `16 (j % 2)`, the low nibbles (sub-block `2p`)
        // meeting runs 0 and 1, the high ones (`2p + 1`) runs 2 and 3.
        BlockFormat::Q4K => {
            writeln!(
                out,
                "{head}\n  \
                 let hd = kiln_qhead_{buf}(bk);\n  \
                 let dm = unpack2x16float(hd.x);\n  \
                 let sm = kiln_scmn_{buf}(hd, j / 2u);\n  \
                 let w = kiln_qcodes_{buf}(bk, j);\n  \
                 let w0 = w.x;\n  let w1 = w.y;\n  let w2 = w.z;\n  let w3 = w.w;\n  \
                 let s = vec4<f32>(vec4<i32>({})) * {dx};\n  \
                 let sx = {sx};\n  \
                 return dm.x * dot(sm.xy, vec2<f32>(s.x + s.y, s.z + s.w)) - dm.y * dot(sm.zw, vec2<f32>(sx.x + sx.y, sx.z + sx.w));\n}}",
                nibbles()
            )
        }
        // Item `j`: half `j / 4`, positions from `8 (j % 4)`; quarter `qd` (run `qd`) takes
        // `ql`'s low (`qd < 2`) or high nibbles of `a` (`qd` even) or `b`, and bits `2 qd` of
        // `qh`; codes `q - 32`, a signed scale a quarter.
        BlockFormat::Q6K => {
            let code = |qd: u32, t: &str| {
                let (l, ns, hs) = dequant::q6_quarter(qd);
                format!("((({l}.{t} >> {ns}u) & {m4}) | (((h.{t} >> {hs}u) & 0x03030303u) << 4u))")
            };
            let c: Vec<String> = (0..4)
                .flat_map(|qd| [code(qd, "x"), code(qd, "y")])
                .collect();
            writeln!(
                out,
                "{head}\n  let o = bk * 210u;\n  \
                 let hf = j / 4u;\n  let l0 = (j % 4u) * 8u;\n  \
                 let a = kiln_w2_{buf}(o + 64u * hf + l0);\n  \
                 let b = kiln_w2_{buf}(o + 64u * hf + 32u + l0);\n  \
                 let h = kiln_w2_{buf}(o + 128u + 32u * hf + l0);\n  \
                 let sc = kiln_q6sc_{buf}(o, hf, l0);\n  \
                 let s = vec4<f32>(vec4<i32>({})) * {dx};\n  \
                 return {f16_}(o + 208u) * dot(sc, s - 32.0 * {sx});\n}}",
                dots([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7]])
            )
        }
    }
}
