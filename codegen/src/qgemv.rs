//! The quantized gemv path of the block-1 matmul kernel: where `m = 1` and B is a quantized
//! matrix read as `W^T` with `W`'s rows whole blocks (`x @ W^T`, the decode step's linear
//! layer on a GGUF weight; checked at run time on the uniform, like [`crate::gemv`]; the
//! 8-bit vector's kernel of its own, [`crate::qgemv_warp`], is chosen from the kernel instead
//! and carried in its schedule). Items
//! of codes ([`dequant::Item`]) are split among lanes, each lane taking an item for several
//! rows at once (the elements of the vector it meets read once for them), adjacent lanes
//! taking adjacent items of each row; each item converts four codes at once and applies its
//! scales once. The rows' partial sums are added through workgroup memory. Other layouts
//! fall through to the element-wise gemv path, which decodes element by element.
//!
//! Two layouts, by item. Word items (`Q8_0`, `Q4_0`) take [`crate::qgemv_words`]'s. Wide
//! items (the K-quants) take this module's: a workgroup's invocations form [`QGEMV_GROUPS`]
//! groups of [`QGEMV_LANES`], each group owning `MatmulSchedule::qgemv_rows` rows, and the
//! vector is staged in workgroup memory a chunk at a time. A group as short as a warp keeps
//! its lanes busy on rows of 2048 values with 32-value items. The path is bound by
//! instructions and the first-level cache's throughput more than by its bytes (an H200's 40%
//! more bandwidth than an H100's moved none of its times): the wide items decode a value in
//! about three operations and read the vector from workgroup memory as `vec4`s. (The first
//! forms, measured on an H200: a lane per whole unit reads it 128 bytes apart across a warp,
//! 32 cache lines per load, slower than decoding element by element. See docs/journal/.)

use crate::code::Code;
use crate::dequant::{self, Item, WIDE_ITEMS, WIDE_VALUES};
use crate::matmul::{Dims, THREADS};
use crate::qgemv_dot;
use crate::qgemv_words::{self, WORD_ROWS};
use crate::schedule::MatmulSchedule;
use kiln_ir::quant::BlockFormat;
use kiln_ir::{Kernel, KernelKind};

/// Lanes of a group, which split its rows' items.
pub const QGEMV_LANES: u32 = 32;

/// Groups of a workgroup.
pub const QGEMV_GROUPS: u32 = THREADS * THREADS / QGEMV_LANES;

/// The row counts a group may own (`MatmulSchedule::qgemv_rows`).
pub const QGEMV_ROWS: [u32; 3] = [1, 2, 4];

/// Rows (outputs) of a workgroup of a kernel on the quantized gemv path (`None` where it
/// does not apply) under schedule `m`: its [`MatmulSchedule::most_qgemv_rows`] rows a group
/// (one of [`QGEMV_ROWS`]:
/// [`crate::generate`] refuses others) for wide items and on the 8-bit vector's path
/// ([`crate::qgemv_dot`], `qgemv_int8`), [`WORD_ROWS`] for word items; in
/// [`crate::qgemv_warp`]'s kernel, as many a warp of `qgemv_warps` (its nominal rows: the
/// kernel numbers them by the subgroups it runs).
pub fn outputs(k: &Kernel, m: &MatmulSchedule) -> Option<u32> {
    let f = format(k).filter(|_| applies(k))?;
    if crate::qgemv_warp::chosen(k, m) {
        return Some(m.qgemv_warps * m.most_qgemv_rows());
    }
    Some(match dequant::item(f) {
        Item::Words { .. } if !m.qgemv_int8 => WORD_ROWS,
        Item::Words { .. } | Item::Wide { .. } => QGEMV_GROUPS * m.most_qgemv_rows(),
    })
}

/// Workgroups a product on the path should have at least: fewer rows a group
/// ([`fit_rows`]) where the rows are too few for them (about two a multiprocessor of a large
/// GPU; a 2048-row product at 4 rows a group had 64).
pub const QGEMV_MIN_WORKGROUPS: usize = 256;

/// Rows a group for kernel `k` under schedule `m`: [`MatmulSchedule::most_qgemv_rows`],
/// halved (to 1 at least) while the product would have fewer than [`QGEMV_MIN_WORKGROUPS`]
/// workgroups and fewer rows a group would give it more; sizes rounded up to powers of two,
/// as [`crate::Schedule::resolve`]'s.
pub fn fit_rows(k: &Kernel, m: &MatmulSchedule) -> u32 {
    if outputs(k, m).is_none() {
        return m.most_qgemv_rows();
    }
    let r = k.shape.rank();
    let p2 = |v: usize| v.max(1).next_power_of_two();
    let (n, batch) = (
        p2(k.shape.0[r - 1]),
        p2(k.shape.0[..r - 2].iter().product()),
    );
    let groups = |m: &MatmulSchedule| outputs(k, m).map(|rows| n.div_ceil(rows as usize) * batch);
    let mut m = *m;
    let mut rows = m.most_qgemv_rows();
    while rows > 1 {
        m.qgemv_rows = Some(rows);
        let Some(now) = groups(&m).filter(|&g| g < QGEMV_MIN_WORKGROUPS) else {
            break;
        };
        m.qgemv_rows = Some(rows / 2);
        if groups(&m).is_none_or(|g| g <= now) {
            break;
        }
        rows /= 2;
    }
    rows
}

/// Bytes of workgroup memory the path declares for kernel `k` under schedule `m` (`None`
/// where it does not apply), besides the block-1 template's: the partial sums, and for wide
/// items and the 8-bit vector the staged vector; in [`crate::qgemv_warp`]'s kernel, which
/// declares no template's, its staged vector.
pub fn workgroup_bytes(k: &Kernel, m: &MatmulSchedule) -> Option<u32> {
    let f = format(k).filter(|_| applies(k))?;
    let rows = outputs(k, m)?;
    if crate::qgemv_warp::chosen(k, m) {
        return Some(crate::qgemv_warp::workgroup_bytes());
    }
    if m.qgemv_int8 {
        return Some(qgemv_dot::workgroup_bytes(rows));
    }
    Some(match dequant::item(f) {
        Item::Words { .. } => rows * THREADS * THREADS * 4,
        Item::Wide { pad, .. } => {
            let vecs = QGEMV_CHUNK / 4;
            rows * QGEMV_LANES * 4 + (vecs + vecs / pad) * 16
        }
    })
}

/// The block format of a matmul kernel's quantized B.
pub(crate) fn format(k: &Kernel) -> Option<BlockFormat> {
    let KernelKind::Matmul { b, .. } = &k.kind else {
        return None;
    };
    k.input(k.load(*b).input).quant()
}

/// Whether a block-1 matmul kernel runs the quantized gemv path where its schedule allows it
/// (`MatmulSchedule::quantized_gemv`): `m = 1`, B quantized (and
/// used as decoded, not rounded to a narrower float on load) and read as `W^T` with unit
/// stride along `k`, and B's offset, batch strides and row stride,
/// and `k`, whole blocks. The host's grid and the template's run-time branch test the same;
/// [`crate::qgemv_warp::chosen`] tests it on the kernel.
pub fn applies(k: &Kernel) -> bool {
    let KernelKind::Matmul {
        a,
        b,
        b_round: None,
        ..
    } = &k.kind
    else {
        return false;
    };
    let Some(f) = k.input(k.load(*b).input).quant() else {
        return false;
    };
    let r = k.shape.rank();
    let bv = f.block_values() as i64;
    let v = &k.load(*b).view;
    let kk = k.load(*a).view.shape.0[r - 1] as i64;
    k.shape.0[r - 2] == 1
        && v.strides[r - 2] == 1
        && v.offset % bv == 0
        && v.strides[r - 1] % bv == 0
        && v.strides[..r - 2].iter().all(|s| s % bv == 0)
        && kk % bv == 0
}

/// Values of A's row a workgroup stages in workgroup memory at a time (8 KiB of `f32`, a
/// multiple of every block).
pub const QGEMV_CHUNK: u32 = 2048;

/// Writes the item function of binding `buf` and the workgroup's memory into `fns`, and the
/// path into `b` (inside the block-1 kernel's `m = 1 || n = 1` branch, after `along_n`),
/// under schedule `m`: with the vector in 8-bit integers by [`qgemv_dot::path`], else word
/// items by [`qgemv_words::path`] and wide ones by [`wide`], `qgemv_rows` rows a group.
pub(crate) fn path(
    b: &mut Code,
    fns: &mut Code,
    d: &Dims,
    format: BlockFormat,
    buf: &str,
    m: &MatmulSchedule,
) {
    let per_group = m.most_qgemv_rows();
    if m.qgemv_int8 {
        return qgemv_dot::path(b, fns, d, format, buf, per_group, m.qgemv_items);
    }
    match dequant::item(format) {
        Item::Words {
            words,
            unit_words,
            second,
        } => qgemv_words::path(b, fns, d, format, buf, (words, unit_words, second)),
        Item::Wide { vectors, pad } => wide(b, fns, d, format, buf, per_group, (vectors, pad)),
    }
}

/// The path's condition on the uniform: the test of [`applies`] (`along_n`, `m = 1`, is
/// tested by the caller).
pub(crate) fn guard(d: &Dims, format: BlockFormat) -> String {
    let Dims { kk, sbk, sbn, .. } = d;
    let bv = format.block_values();
    let aligned: String = d
        .b_offset_and_batch
        .iter()
        .map(|x| format!(" && {x} % {bv} == 0"))
        .collect();
    format!("along_n && {sbk} == 1{aligned} && {sbn} % {bv} == 0 && {kk} % {bv}u == 0u")
}

/// The wide items' layout: groups of [`QGEMV_LANES`] lanes owning `rg` rows each, items of
/// 32 values meeting the vector at `vectors`, its `vec4`s padded by one every `pad`.
///
/// The vector is read from workgroup memory, a chunk at a time: the workgroup loads each
/// chunk once, its adjacent invocations reading adjacent elements, and the items read it as
/// `vec4`s. (Read from the buffer where an item meets it, a warp's loads of the vector fell
/// on 8 to 16 cache lines each, and the first-level cache's throughput bound the path.) The
/// padding (`pad` of [`dequant::Item::Wide`]) puts the reads of a quarter warp's eight lanes in
/// distinct banks.
fn wide(
    b: &mut Code,
    fns: &mut Code,
    d: &Dims,
    format: BlockFormat,
    buf: &str,
    rg: u32,
    (vectors, pad): ([u32; 8], u32),
) {
    dequant::define_word(fns, format, buf);
    let (lanes, rows, ch, vpi) = (QGEMV_LANES, QGEMV_GROUPS * rg, QGEMV_CHUNK, WIDE_VALUES);
    let vecs = ch / 4;
    writeln!(
        fns,
        "var<workgroup> tq: array<f32, {}>;\n\
         var<workgroup> tx: array<vec4<f32>, {}>;\n\
         fn kiln_xv(v: u32) -> vec4<f32> {{ return tx[v + v / {pad}u]; }}",
        rows * lanes,
        vecs + vecs / pad
    );
    open_groups(b, d, format, rg, vpi);
    let (kk, bv) = (&d.kk, format.block_values());
    // Each invocation holds `per` elements of the next chunk in registers: loaded before the
    // items of the current one (their latency hidden behind them), stored after its barrier
    // (the last chunk's items are done). A chunk's items are `steps` a lane, a loop of known
    // length whose loads the compiler may issue together; past the row's end the last item
    // is read again and counts 0.
    let wg = THREADS * THREADS;
    let per = ch / wg;
    let steps = ch / vpi / lanes;
    let stage = |c: &str| {
        format!(
            "for (var s = 0u; s < {per}u; s = s + 1u) {{ let e = {c} + flat + {wg}u * s; nx[s] = select(0.0, a_in(abase, 0u, min(e, {kk} - 1u)), e < {kk}); }}"
        )
    };
    writeln!(
        b,
        "        var nx: array<f32, {per}>;\n        \
         {}\n        \
         for (var c0 = 0u; c0 < {kk}; c0 = c0 + {ch}u) {{\n          \
           workgroupBarrier();\n          \
           for (var s = 0u; s < {per}u; s = s + 1u) {{ let e = flat + {wg}u * s; tx[(e >> 2u) + (e >> 2u) / {pad}u][e & 3u] = nx[s]; }}\n          \
           workgroupBarrier();\n          \
           {}\n          \
           let i0 = c0 / {vpi}u;\n          \
           let i1 = min(ni, (c0 + {ch}u) / {vpi}u);\n          \
           for (var s = 0u; s < {steps}u; s = s + 1u) {{\n            \
             let ok = i0 + s * {lanes}u + lane < i1;\n            \
             let i = min(i0 + s * {lanes}u + lane, i1 - 1u);\n            \
             let kb = i / {WIDE_ITEMS}u;\n            \
             let j = i % {WIDE_ITEMS}u;\n            \
             let v = (kb * {bv}u + kiln_qstart_{buf}(j) - c0) / 4u;",
        stage("0u"),
        stage(&format!("c0 + {ch}u")),
    );
    // Item `j` of block `kb`, meeting the vector at its eight `vectors`.
    let ind = "            ";
    for (c, at) in vectors.iter().enumerate() {
        writeln!(b, "{ind}let x{c} = kiln_xv(v + {at}u);");
    }
    writeln!(
        b,
        "{ind}let one = vec4<f32>(1.0);\n\
         {ind}let sx = vec4<f32>(dot(x0 + x1, one), dot(x2 + x3, one), dot(x4 + x5, one), dot(x6 + x7, one));"
    );
    for r in 0..rg {
        writeln!(
            b,
            "{ind}acc{r} = acc{r} + select(0.0, kiln_qwide_{buf}(u{r} + kb, j, x0, x1, x2, x3, x4, x5, x6, x7, sx), ok);"
        );
    }
    writeln!(b, "          }}\n        }}");
    close_groups(b, rg);
}

/// Writes `kiln_x4_{buf}(abase, k) -> vec4<f32>`: elements `k..k + 4` of A's row (through
/// `a_in`, which reads any view), for the layouts that read the vector four at a time.
pub(crate) fn define_x4(fns: &mut Code, buf: &str) {
    writeln!(
        fns,
        "fn kiln_x4_{buf}(abase: i32, k: u32) -> vec4<f32> {{ return vec4<f32>(a_in(abase, 0u, k), a_in(abase, 0u, k + 1u), a_in(abase, 0u, k + 2u), a_in(abase, 0u, k + 3u)); }}"
    );
}

/// Opens a layout of groups (inside the block-1 kernel's `m = 1 || n = 1` branch): its
/// guard, the invocation's group `g` and `lane`, the workgroup's first row `wr`, the
/// group's `o0`, the row's `ni` items of `item` values, and for each of the group's `rg`
/// rows its first block `u{r}` and sum `acc{r}`.
pub(crate) fn open_groups(b: &mut Code, d: &Dims, format: BlockFormat, rg: u32, item: u32) {
    open_head(b, d, format, item);
    writeln!(
        b,
        "        let wr = (wid.y * nwg.x + wid.x) * {}u;",
        QGEMV_GROUPS * rg
    );
    open_rows(b, d, format, rg, &format!("wr + g * {rg}u"));
}

/// Opens a layout of groups whose workgroups take blocks of rows in turn (`blk` from the
/// workgroup's index, the grid's size apart, up to `nblk`): [`open_groups`] without the rows,
/// which [`open_block`] opens inside the caller's loop over `blk`.
pub(crate) fn open_persistent(b: &mut Code, d: &Dims, format: BlockFormat, rg: u32, item: u32) {
    open_head(b, d, format, item);
    let rows = QGEMV_GROUPS * rg;
    writeln!(b, "        let nblk = ({} + {}u) / {rows}u;", d.n, rows - 1);
}

/// Opens block `blk`'s rows (see [`open_persistent`]).
pub(crate) fn open_block(b: &mut Code, d: &Dims, format: BlockFormat, rg: u32) {
    writeln!(b, "        let wr = blk * {}u;", QGEMV_GROUPS * rg);
    open_rows(b, d, format, rg, &format!("wr + g * {rg}u"));
}

/// The guard, `flat`, `g`, `lane` and `ni` of a layout of groups.
fn open_head(b: &mut Code, d: &Dims, format: BlockFormat, item: u32) {
    writeln!(
        b,
        "      if ({}) {{\n        \
         let flat = lid.y * {THREADS}u + lid.x;\n        \
         let g = flat / {QGEMV_LANES}u;\n        \
         let lane = flat % {QGEMV_LANES}u;\n        \
         let ni = {} / {item}u;",
        guard(d, format),
        d.kk
    );
}

/// The group's first row `o0` (a WGSL expression) and, for each of its `rg` rows, its first
/// block `u{r}` and sum `acc{r}`.
pub(crate) fn open_rows(b: &mut Code, d: &Dims, format: BlockFormat, rg: u32, o0: &str) {
    let bv = format.block_values();
    writeln!(b, "        let o0 = {o0};");
    for r in 0..rg {
        writeln!(
            b,
            "        let u{r} = u32(bbase + i32(min(o0 + {r}u, {n} - 1u)) * {sbn}) / {bv}u;\n        \
             var acc{r} = 0.0;",
            n = d.n,
            sbn = d.sbn
        );
    }
}

/// Closes a layout of [`open_groups`]: the lanes' sums into `tq`, then [`reduce_rows`].
pub(crate) fn close_groups(b: &mut Code, rg: u32) {
    sums_to_rows(b, rg);
    close_path(b);
}

/// Closes a block of [`open_block`] (the lanes' sums into `tq`, then [`reduce_rows`]), the
/// caller's loop over blocks, and the layout.
pub(crate) fn close_block(b: &mut Code, rg: u32) {
    sums_to_rows(b, rg);
    writeln!(b, "        }}");
    close_path(b);
}

fn sums_to_rows(b: &mut Code, rg: u32) {
    let lanes = QGEMV_LANES;
    for r in 0..rg {
        writeln!(
            b,
            "        tq[(g * {rg}u + {r}u) * {lanes}u + lane] = acc{r};"
        );
    }
    reduce_rows(b, QGEMV_GROUPS * rg, lanes, 8, "wr");
}

/// Ends a layout: the batch loop's next turn.
pub(crate) fn close_path(b: &mut Code) {
    writeln!(b, "        continue;\n      }}");
}

/// Adds each of the workgroup's `rows` rows' `lanes` partial sums (in `tq`,
/// a row's `lanes` apart) and stores row `r` at output `first + r` through the epilogue.
/// `width` invocations a row add `lanes / width` each (`width` apart, so that a warp's reads
/// fall in distinct banks) in place, then one adds the row's `width`; the barrier at the
/// end: the next block or batch writes over the workgroup's memory.
pub(crate) fn reduce_rows(b: &mut Code, rows: u32, lanes: u32, width: u32, first: &str) {
    writeln!(
        b,
        "        workgroupBarrier();\n        \
         let row = flat / {width}u;\n        \
         let j = flat % {width}u;\n        \
         if (row < {rows}u) {{\n          \
           var s = 0.0;\n          \
           for (var c = 0u; c < {per}u; c = c + 1u) {{ s = s + tq[row * {lanes}u + j + {width}u * c]; }}\n          \
           tq[row * {lanes}u + j] = s;\n        \
         }}\n        \
         workgroupBarrier();\n        \
         if (flat < {rows}u) {{\n          \
           var total = 0.0;\n          \
           for (var c = 0u; c < {width}u; c = c + 1u) {{ total = total + tq[flat * {lanes}u + c]; }}\n          \
           epilogue(bt, 0u, {first} + flat, total);\n        \
         }}\n        \
         workgroupBarrier();",
        per = lanes / width
    );
}
