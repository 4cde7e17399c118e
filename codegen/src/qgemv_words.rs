//! The quantized gemv path's layout for word items ([`dequant::Item::Words`]: `Q8_0`, `Q4_0`): each
//! workgroup owns [`WORD_ROWS`] rows, and its 256 invocations take the items of a row in
//! turn, each doing so for all the rows at once, reading the four elements of the vector an
//! item's word meets from the buffer. (The wide items' layout of [`crate::qgemv`], groups of
//! 32 lanes and the vector staged in workgroup memory, ran these formats 35-45% slower on an
//! H100: eight values an item give too little work between its loads; docs/journal/.)

use crate::code::Code;
use crate::dequant::{self, DOT_UNIT};
use crate::matmul::{Dims, THREADS};
use crate::qgemv;
use kiln_ir::quant::BlockFormat;

/// Rows (outputs) of a workgroup.
pub const WORD_ROWS: u32 = 4;

/// Writes the item function of binding `buf` and the workgroup's partial sums into `fns`,
/// and the path into `b` (inside the block-1 kernel's `m = 1 || n = 1` branch, after
/// `along_n`), for items of `words` words of units of `unit_words`, meeting the vector at
/// their first value and `second` values on.
pub(crate) fn path(
    b: &mut Code,
    fns: &mut Code,
    d: &Dims,
    format: BlockFormat,
    buf: &str,
    (words, unit_words, second): (u32, u32, u32),
) {
    dequant::define_word(fns, format, buf);
    let (rows, lanes) = (WORD_ROWS, THREADS * THREADS);
    writeln!(fns, "var<workgroup> tq: array<f32, {}>;", rows * lanes);
    qgemv::define_x4(fns, buf);
    let Dims { kk, sbn, .. } = d;
    let (w, iw) = (unit_words, words);
    writeln!(
        b,
        "      if ({}) {{\n        \
         let flat = lid.y * {THREADS}u + lid.x;\n        \
         let o0 = (wid.y * nwg.x + wid.x) * {rows}u;\n        \
         let ni = ({kk} / {DOT_UNIT}u) * {}u;",
        qgemv::guard(d, format),
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
    // and `k + second`.
    let items = w / iw;
    writeln!(
        b,
        "        for (var i = flat; i < ni; i = i + {lanes}u) {{\n          \
         let ul = i / {items}u;\n          \
         let t = (i % {items}u) * {iw}u;\n          \
         let k = ul * {DOT_UNIT}u + t * 4u;\n          \
         let x = kiln_x4_{buf}(abase, k);\n          \
         let xb = kiln_x4_{buf}(abase, k + {second}u);"
    );
    for r in 0..rows {
        writeln!(
            b,
            "          acc{r} = acc{r} + kiln_qitem_{buf}(u{r} + ul, t, x, xb);"
        );
    }
    writeln!(b, "        }}");
    for r in 0..rows {
        writeln!(b, "        tq[{r}u * {lanes}u + flat] = acc{r};");
    }
    qgemv::reduce_rows(b, rows, lanes, 32, "o0");
    qgemv::close_path(b);
}
