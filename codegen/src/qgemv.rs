//! The quantized gemv path of the block-1 matmul kernel: where `m = 1` and B is a quantized
//! matrix read as `W^T` with `W`'s rows whole blocks (`x @ W^T`, the decode step's linear
//! layer on a GGUF weight; checked at run time on the uniform, like [`crate::gemv`]), each
//! workgroup owns [`QGEMV_ROWS`] outputs (the host's grid tests [`applies`] as the kernel
//! does). Its [`QGEMV_LANES`] invocations take the items of codes of a row in turn (two
//! words, or Q4_0's one: [`dequant::item_words`]), and each does so for all the workgroup's
//! rows at once ([`dequant::define_word`]): the eight elements of the vector that meet an item
//! are read once for every row, adjacent invocations read adjacent items of each row, and
//! each decodes four codes at once and applies an item's scale once. The rows' partial sums
//! are added through workgroup memory. Other layouts fall through to the element-wise gemv path, which decodes element
//! by element.
//!
//! (The vector's reads bound the first forms measured on an H200: a lane per whole unit reads
//! it 128 bytes apart across a warp, 32 cache lines per load, slower than decoding element
//! by element; 32 lanes per row, a word each, still read it once per row. See
//! docs/journal/.)

use crate::code::Code;
use crate::dequant::{self, DOT_UNIT};
use crate::matmul::{Dims, THREADS};
use kiln_ir::quant::BlockFormat;
use kiln_ir::{Kernel, KernelKind};

/// Invocations of a workgroup splitting each row.
pub const QGEMV_LANES: u32 = THREADS * THREADS;

/// Rows (outputs) of a workgroup of the quantized gemv path.
pub const QGEMV_ROWS: u32 = 4;

/// Whether a block-1 matmul kernel runs the quantized gemv path where its schedule allows it
/// (`MatmulSchedule::quantized_gemv`): `m = 1`, B quantized (and
/// used as decoded, not rounded to a narrower float on load) and read as `W^T` with unit
/// stride along `k`, and B's offset, batch strides and row stride,
/// and `k`, whole blocks. The host's grid and the kernel's run-time branch test the same.
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

/// Writes the word decoder of binding `buf` and the workgroup's partial sums into `fns`, and
/// the path into `b` (inside the block-1 kernel's `m = 1 || n = 1` branch, after `along_n`).
pub(crate) fn path(b: &mut Code, fns: &mut Code, d: &Dims, format: BlockFormat, buf: &str) {
    dequant::define_word(fns, format, buf);
    let rows = QGEMV_ROWS;
    let lanes = QGEMV_LANES;
    writeln!(fns, "var<workgroup> tq: array<f32, {}>;", rows * lanes);
    let Dims { kk, sbk, sbn, .. } = d;
    let bv = format.block_values();
    let (w, iw) = (dequant::unit_words(format), dequant::item_words(format));
    // The test of `applies`, on the uniform.
    let aligned: String = d
        .b_offset_and_batch
        .iter()
        .map(|x| format!(" && {x} % {bv} == 0"))
        .collect();
    writeln!(
        b,
        "      if (along_n && {sbk} == 1{aligned} && {sbn} % {bv} == 0 && {kk} % {bv}u == 0u) {{\n        \
         let flat = lid.y * {THREADS}u + lid.x;\n        \
         let o0 = (wid.y * nwg.x + wid.x) * {rows}u;\n        \
         let ni = ({kk} / {DOT_UNIT}u) * {}u;",
        w / iw
    );
    for r in 0..rows {
        writeln!(
            b,
            "        let u{r} = u32(bbase + i32(min(o0 + {r}u, {n} - 1u)) * {sbn}) / {DOT_UNIT}u;\n        \
             var acc{r} = 0.0;",
            n = d.n
        );
    }
    // Item `i` of a row: words `t` on (`iw` of them) of its unit, meeting the vector at `k`
    // (Q4_0: its one word's high nibbles at `k + 16`).
    let items = w / iw;
    let zero = "vec4<f32>(0.0)".to_string();
    let (xb, y) = match format {
        BlockFormat::Q4_0 => (zero.clone(), format!("kiln_x4_{buf}(abase, k + 16u)")),
        BlockFormat::Q8_0 | BlockFormat::Q4K | BlockFormat::Q6K => {
            (format!("kiln_x4_{buf}(abase, k + 4u)"), zero.clone())
        }
    };
    writeln!(
        b,
        "        for (var i = flat; i < ni; i = i + {lanes}u) {{\n          \
         let ul = i / {items}u;\n          \
         let t = (i % {items}u) * {iw}u;\n          \
         let k = ul * {DOT_UNIT}u + t * 4u;\n          \
         let x = kiln_x4_{buf}(abase, k);\n          \
         let xb = {xb};\n          \
         let y = {y};\n          \
         let yb = {zero};"
    );
    for r in 0..rows {
        writeln!(
            b,
            "          acc{r} = acc{r} + kiln_qitem_{buf}(u{r} + ul, t, x, xb, y, yb);"
        );
    }
    writeln!(b, "        }}");
    for r in 0..rows {
        writeln!(b, "        tq[{r}u * {lanes}u + flat] = acc{r};");
    }
    // Each row's partial sums: 32 invocations a row add 8 each (a stride of 32 apart, so a
    // warp's reads fall in distinct banks) in place, then one adds the row's 32.
    let per = lanes / 32;
    writeln!(
        b,
        "        workgroupBarrier();\n        \
         let row = flat / 32u;\n        \
         let j = flat % 32u;\n        \
         if (row < {rows}u) {{\n          \
           var s = 0.0;\n          \
           for (var c = 0u; c < {per}u; c = c + 1u) {{ s = s + tq[row * {lanes}u + j + 32u * c]; }}\n          \
           tq[row * {lanes}u + j] = s;\n        \
         }}\n        \
         workgroupBarrier();\n        \
         if (row < {rows}u && j == 0u) {{\n          \
           var total = 0.0;\n          \
           for (var c = 0u; c < 32u; c = c + 1u) {{ total = total + tq[row * {lanes}u + c]; }}\n          \
           epilogue(bt, 0u, o0 + row, total);\n        \
         }}\n        \
         workgroupBarrier();\n        \
         continue;\n      \
         }}"
    );
}
