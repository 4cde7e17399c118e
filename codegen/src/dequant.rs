//! Reading a quantized input ([`DType::Quant`](kiln_ir::DType::Quant)): its binding holds the
//! blocks in GGUF's layout as `array<u32>`, or `array<vec4<u32>>` where a block is whole
//! vectors ([`vector_words`]), and element `i` of the logical tensor is decoded
//! where it is read by a function of that binding, `kiln_dq_in{n}(i)`. The arithmetic is
//! llama.cpp's `dequantize_row_*` (and `kiln_ir::quant`'s) step for step in `f32`; the one
//! difference a device may make is contracting `a * b - c` into a fused multiply-add (Q4_K),
//! which `docs/OPS.md` counts in the tolerance.
//!
//! Blocks are 2-byte aligned (18, 34, 144 and 210 bytes), so a byte is read from its word with
//! a shift and an `f16` from the word's low or high half.

use crate::code::Code;
use kiln_ir::quant::BlockFormat;

/// The function that decodes element `i` of binding `buf`.
pub fn reader(buf: &str) -> String {
    format!("kiln_dq_{buf}")
}

/// Whether a binding of `format`'s blocks is bound as `vec4<u32>` (16 bytes an element):
/// where every block is a whole number of vectors (`Q4_K`'s 144 bytes), so that an item's
/// 16 code bytes and its block's head (`d`, `dmin` and the scales) are one load each, where
/// words would be eight (a warp's loads, and the first-level cache's lookups, are what the
/// quantized gemv is short of). Other formats' blocks are 2-byte aligned: `u32` words.
pub fn vector_words(format: BlockFormat) -> bool {
    match format {
        BlockFormat::Q4K => true,
        BlockFormat::Q8_0 | BlockFormat::Q4_0 | BlockFormat::Q6K => false,
    }
}

/// The WGSL element type of a binding of `format`'s blocks ([`vector_words`]).
pub fn binding_type(format: BlockFormat) -> &'static str {
    if vector_words(format) {
        "vec4<u32>"
    } else {
        "u32"
    }
}

/// Word `i` (a `u32` expression) of binding `buf` holding `format`'s blocks.
pub(crate) fn word(format: BlockFormat, buf: &str, i: &str) -> String {
    if vector_words(format) {
        format!("{buf}[({i}) >> 2u][({i}) & 3u]")
    } else {
        format!("{buf}[{i}]")
    }
}

/// Writes the decoding functions of binding `buf` holding `format` blocks: its byte, signed
/// byte and `f16` readers (and Q4_K's sub-block scale and min), which [`define_word`]'s
/// functions call too, and the element reader.
pub fn define(out: &mut Code, format: BlockFormat, buf: &str) {
    let dq = reader(buf);
    let (u8_, i8_, f16_) = (
        format!("kiln_u8_{buf}"),
        format!("kiln_i8_{buf}"),
        format!("kiln_f16_{buf}"),
    );
    let at = word(format, buf, "o >> 2u");
    writeln!(
        out,
        "fn {u8_}(o: u32) -> u32 {{ return ({at} >> ((o & 3u) << 3u)) & 0xffu; }}\n\
         fn {i8_}(o: u32) -> i32 {{ return bitcast<i32>({u8_}(o) << 24u) >> 24u; }}\n\
         fn {f16_}(o: u32) -> f32 {{ return unpack2x16float({at} >> ((o & 2u) << 3u)).x; }}"
    );
    // Sub-block s's 6-bit scale and min of the Q4_K block at byte o: for s < 4 the low 6 bits
    // of scale bytes s and s + 4; past that the nibbles of byte s + 4 with their top bits from
    // the top bits of bytes s - 4 (scale) and s (min). [`define_word`] reads them too.
    if format == BlockFormat::Q4K {
        writeln!(
            out,
            "fn kiln_sm_{buf}(o: u32, s: u32) -> vec2<f32> {{\n  \
             let b0 = {u8_}(o + 4u + s);\n  let b4 = {u8_}(o + 8u + s);\n  \
             let bm = {u8_}(o + 4u + (s & 3u));\n  \
             let sc = select((b4 & 15u) | ((bm >> 6u) << 4u), b0 & 63u, s < 4u);\n  \
             let mn = select((b4 >> 4u) | ((b0 >> 6u) << 4u), b4 & 63u, s < 4u);\n  \
             return bitcast<vec2<f32>>(vec2<u32>(sc, mn) | vec2<u32>(0x4b000000u)) - vec2<f32>(8388608.0);\n}}"
        );
    }
    match format {
        BlockFormat::Q8_0 => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 32u) * 34u;\n  \
             return f32({i8_}(o + 2u + i % 32u)) * {f16_}(o);\n}}"
        ),
        BlockFormat::Q4_0 => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 32u) * 18u;\n  let j = i % 32u;\n  \
             let q = ({u8_}(o + 2u + j % 16u) >> ((j / 16u) * 4u)) & 15u;\n  \
             return f32(i32(q) - 8) * {f16_}(o);\n}}"
        ),
        BlockFormat::Q4K => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 256u) * 144u;\n  let j = i % 256u;\n  \
             let s = j / 32u;\n  let dm = unpack2x16float({at});\n  \
             let sm = kiln_sm_{buf}(o, s);\n  \
             let q = ({u8_}(o + 16u + (j / 64u) * 32u + j % 32u) >> ((s & 1u) * 4u)) & 15u;\n  \
             return (dm.x * sm.x) * f32(q) - dm.y * sm.y;\n}}"
        ),
        // Two halves of 128 values; value r of a half is quarter r / 32 (low or high nibble
        // of the first or second 32 `ql` bytes, and a 2-bit field of `qh`) at lane r % 32.
        BlockFormat::Q6K => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 256u) * 210u;\n  let j = i % 256u;\n  \
             let h = j / 128u;\n  let qd = (j % 128u) / 32u;\n  let l = j % 32u;\n  \
             let ql = ({u8_}(o + 64u * h + l + (qd & 1u) * 32u) >> ((qd >> 1u) * 4u)) & 15u;\n  \
             let qh = ({u8_}(o + 128u + 32u * h + l) >> (qd * 2u)) & 3u;\n  \
             let sc = {i8_}(o + 192u + 8u * h + l / 16u + 2u * qd);\n  \
             return ({f16_}(o + 208u) * f32(sc)) * f32(i32(ql | (qh << 4u)) - 32);\n}}"
        ),
    }
}

/// Values per unit of a word item ([`Item::Words`]): a `Q8_0` or `Q4_0` block.
pub const DOT_UNIT: u32 = 32;

/// A lane's share of one row per step of the quantized gemv ([`crate::qgemv`]), by format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// Words of codes from word `t` of a unit of [`DOT_UNIT`] values, one scale: 8 values
    /// (`Q8_0`: two words of four; `Q4_0`: one word of eight, two ran 30% slower on an H200,
    /// its rows too short for the lanes).
    Words {
        /// Words an item reads.
        words: u32,
        /// Words of codes a unit holds.
        unit_words: u32,
        /// Values from the item's first to the first of the second `vec4` of the vector it
        /// meets: 4 (`Q8_0`'s second word), 16 (`Q4_0`'s high nibbles).
        second: u32,
    },
    /// 32 values of a 256-value block ([`WIDE_ITEMS`] a block), its codes read once and its
    /// scales decoded once for them: `Q4_K`'s 16 code bytes of a sub-block pair, both
    /// nibbles (16 values of each sub-block); `Q6_K`'s 8 positions of a half-block in all
    /// four quarters (two words of `ql` for each pair of quarters, two of `qh` for all).
    Wide {
        /// The `vec4`s of the vector the item meets, from its first value on: eight.
        vectors: [u32; 8],
        /// Every how many `vec4`s of the staged vector the quantized gemv inserts one, so
        /// that the reads of a quarter warp's eight lanes fall in distinct banks (a `Q4_K`
        /// item starts 16 values after its neighbour, 48 after every second one; a `Q6_K`
        /// item 8 after it, 104 after every fourth one).
        pad: u32,
    },
}

/// Items of [`Item::Wide`] a block holds.
pub const WIDE_ITEMS: u32 = 8;

/// Values of an [`Item::Wide`].
pub const WIDE_VALUES: u32 = 32;

/// The gemv item of `format`.
pub fn item(format: BlockFormat) -> Item {
    match format {
        BlockFormat::Q4_0 => Item::Words {
            words: 1,
            unit_words: 4,
            second: 16,
        },
        BlockFormat::Q8_0 => Item::Words {
            words: 2,
            unit_words: 8,
            second: 4,
        },
        BlockFormat::Q4K => Item::Wide {
            vectors: [0, 1, 2, 3, 8, 9, 10, 11],
            pad: 16,
        },
        BlockFormat::Q6K => Item::Wide {
            vectors: [0, 1, 8, 9, 16, 17, 24, 25],
            pad: 32,
        },
    }
}

/// Writes the gemv's item function of binding `buf` (see [`Item`]).
///
/// - [`Item::Words`]: `kiln_qitem_{buf}(u, t, x, xb) -> f32`, the dot product of the item
///   from word `t` of unit `u` with the elements of A's row that meet its values: `x` and
///   `xb` (at `second` values on), four each (`Q4_0`: `x` for its word's low nibbles, `xb`
///   for its high ones). It converts four codes at once and applies the item's scale once.
/// - [`Item::Wide`]: `kiln_qstart_{buf}(j) -> u32`, the first value of item `j` of a block,
///   and `kiln_qwide_{buf}(bk, j, x0, ..., x7, s) -> f32`, item `j` of block `bk` against
///   the vectors `x*` at its `vectors`, `s` the sums of their pairs (`x0 + x1`, ...). A code
///   `q` of `b` bits becomes the float `1 + q / 2^b` by integer operations (its bits under
///   1.0's exponent), so `sum(q x) = 2^b (sum((1 + q / 2^b) x) - sum(x))`: no conversion, and
///   the sums of `x` (which also carry `Q4_K`'s mins) are computed once for all of a lane's
///   rows.
///
/// The values are [`define`]'s, summed in another order.
pub fn define_word(out: &mut Code, format: BlockFormat, buf: &str) {
    let (i8_, f16_, w_) = (
        format!("kiln_i8_{buf}"),
        format!("kiln_f16_{buf}"),
        format!("kiln_w_{buf}"),
    );
    // A word at a 2-byte aligned offset; `kiln_u2f(v, c)` gives `v - c` for small integers
    // `v` and `c`, exactly, through the mantissa of 2^23 (a full-rate OR and subtract instead
    // of a conversion; Q8_0's signed codes are offset by 128 first).
    writeln!(
        out,
        "fn {w_}(o: u32) -> u32 {{\n  let i = o >> 2u;\n  let w0 = {};\n  \
         if ((o & 2u) == 0u) {{ return w0; }}\n  \
         return (w0 >> 16u) | ({} << 16u);\n}}\n\
         fn kiln_u2f_{buf}(v: vec4<u32>, c: f32) -> vec4<f32> {{ return bitcast<vec4<f32>>(v | vec4<u32>(0x4b000000u)) - vec4<f32>(8388608.0 + c); }}",
        word(format, buf, "i"),
        word(format, buf, "i + 1u")
    );
    let u2f = format!("kiln_u2f_{buf}");
    let bytes = "vec4<u32>(0u, 8u, 16u, 24u)";
    let head =
        format!("fn kiln_qitem_{buf}(u: u32, t: u32, x: vec4<f32>, xb: vec4<f32>) -> f32 {{");
    let wide = format!(
        "fn kiln_qwide_{buf}(bk: u32, j: u32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>, x4: vec4<f32>, x5: vec4<f32>, x6: vec4<f32>, x7: vec4<f32>, s: vec4<f32>) -> f32 {{"
    );
    match format {
        BlockFormat::Q8_0 => writeln!(
            out,
            "{head}\n  let o = u * 34u;\n  \
             let m = vec4<u32>(255u);\n  \
             let q0 = {u2f}((vec4<u32>({w_}(o + 2u + 4u * t) ^ 0x80808080u) >> {bytes}) & m, 128.0);\n  \
             let q1 = {u2f}((vec4<u32>({w_}(o + 6u + 4u * t) ^ 0x80808080u) >> {bytes}) & m, 128.0);\n  \
             return (dot(q0, x) + dot(q1, xb)) * {f16_}(o);\n}}"
        ),
        BlockFormat::Q4_0 => writeln!(
            out,
            "{head}\n  let o = u * 18u;\n  \
             let w = vec4<u32>({w_}(o + 2u + 4u * t)) >> {bytes};\n  \
             let m = vec4<u32>(15u);\n  \
             return (dot({u2f}(w & m, 8.0), x) + dot({u2f}((w >> vec4<u32>(4u)) & m, 8.0), xb)) * {f16_}(o);\n}}"
        ),
        // A block is 36 words, 9 vectors: `d` and `dmin` (word 0), the 12 bytes of 6-bit
        // scales and mins (words 1 to 3: llama.cpp's `get_scale_min_k4`), then the codes, 32 bytes a
        // sub-block pair, sub-block `2p` in the low nibbles. Item `j`: pair `j / 2`, its
        // bytes from `16 (j % 2)` on; `x0..x3` meet the low nibbles, `x4..x7` the high ones.
        // `kiln_scmn_{buf}(hd, p)`: pair `p`'s scales (`xy`) and mins (`zw`), from `hd`, the
        // block's first vector (`d` and `dmin` in `.x`, the scale words in `.yzw`), which
        // `kiln_qhead_{buf}(bk)` reads; `kiln_qcodes_{buf}(bk, j)`: item `j`'s 16 code bytes.
        // The 8-bit vector's item (`qgemv_dot`) reads the block through them too.
        BlockFormat::Q4K => {
            let v4 = "vec4<u32>";
            writeln!(
                out,
                "fn kiln_qstart_{buf}(j: u32) -> u32 {{ return (j / 2u) * 64u + (j % 2u) * 16u; }}\n\
                 fn kiln_lo_{buf}(w: u32) -> vec4<f32> {{ return bitcast<vec4<f32>>(({v4}(w << 19u, w << 11u, w << 3u, w >> 5u) & {v4}(0x780000u)) | {v4}(0x3f800000u)); }}\n\
                 fn kiln_hi_{buf}(w: u32) -> vec4<f32> {{ return bitcast<vec4<f32>>(({v4}(w << 15u, w << 7u, w >> 1u, w >> 9u) & {v4}(0x780000u)) | {v4}(0x3f800000u)); }}\n\
                 fn kiln_qhead_{buf}(bk: u32) -> vec4<u32> {{ return {buf}[bk * 9u]; }}\n\
                 fn kiln_qcodes_{buf}(bk: u32, j: u32) -> vec4<u32> {{ return {buf}[bk * 9u + 1u + 2u * (j / 2u) + j % 2u]; }}\n\
                 fn kiln_scmn_{buf}(hd: vec4<u32>, p: u32) -> vec4<f32> {{\n  \
                 let sh = vec2<u32>((2u * p) & 3u, (2u * p + 1u) & 3u) * 8u;\n  \
                 let m = vec2<u32>(255u);\n  \
                 let a = (vec2<u32>(hd.y) >> sh) & m;\n  \
                 let b = (vec2<u32>(hd.z) >> sh) & m;\n  \
                 let c = (vec2<u32>(hd.w) >> sh) & m;\n  \
                 let low = p < 2u;\n  \
                 let sc = vec2<f32>(select((c & vec2<u32>(15u)) | ((a >> vec2<u32>(6u)) << vec2<u32>(4u)), a & vec2<u32>(63u), low));\n  \
                 let mn = vec2<f32>(select((c >> vec2<u32>(4u)) | ((b >> vec2<u32>(6u)) << vec2<u32>(4u)), b & vec2<u32>(63u), low));\n  \
                 return vec4<f32>(sc, mn);\n}}\n\
                 {wide}\n  \
                 let hd = kiln_qhead_{buf}(bk);\n  \
                 let dm = unpack2x16float(hd.x);\n  \
                 let sm = kiln_scmn_{buf}(hd, j / 2u);\n  \
                 let w = kiln_qcodes_{buf}(bk, j);\n  \
                 let w0 = w.x;\n  let w1 = w.y;\n  let w2 = w.z;\n  let w3 = w.w;\n  \
                 let f = vec2<f32>(\n    \
                   dot(kiln_lo_{buf}(w0), x0) + dot(kiln_lo_{buf}(w1), x1) + dot(kiln_lo_{buf}(w2), x2) + dot(kiln_lo_{buf}(w3), x3),\n    \
                   dot(kiln_hi_{buf}(w0), x4) + dot(kiln_hi_{buf}(w1), x5) + dot(kiln_hi_{buf}(w2), x6) + dot(kiln_hi_{buf}(w3), x7));\n  \
                 let sx = vec2<f32>(s.x + s.y, s.z + s.w);\n  \
                 return dm.x * dot(sm.xy, 16.0 * (f - sx)) - dm.y * dot(sm.zw, sx);\n}}"
            )
        }
        // A block is 210 bytes (2-byte aligned): `ql` (128), `qh` (64), 16 signed scales, `d`.
        // Item `j`: half `j / 4`, positions `l` from `8 (j % 4)` on, in its four quarters
        // (quarter `qd`: values `32 qd + l`, `ql`'s low or high nibble of byte `l` or
        // `l + 32`, `qh`'s bits `2 qd` of byte `l`, scale `l / 16 + 2 qd`); `x{2qd}` and
        // `x{2qd+1}` meet quarter `qd`. `kiln_q6(l, h, ns, hs)` is `1 + q / 64` for the four
        // bytes of `ql` word `l` (its nibble at bit `ns`) and `qh` word `h` (bits at `hs`);
        // `kiln_q6sc(o, hf, l0)` the four quarters' scales of an item.
        BlockFormat::Q6K => {
            let v4 = "vec4<u32>";
            let [wa, wb, wc] = ["i", "i + 1u", "i + 2u"].map(|i| word(format, buf, i));
            let q6 = format!("kiln_q6_{buf}");
            let quarter = |qd: u32| {
                let (l, ns, hs) = q6_quarter(qd);
                format!(
                    "dot({q6}({l}.x, h.x, {ns}u, {hs}u), x{a}) + dot({q6}({l}.y, h.y, {ns}u, {hs}u), x{b})",
                    a = 2 * qd,
                    b = 2 * qd + 1
                )
            };
            writeln!(
                out,
                "fn kiln_qstart_{buf}(j: u32) -> u32 {{ return (j / 4u) * 128u + (j % 4u) * 8u; }}\n\
                 fn kiln_w2_{buf}(o: u32) -> vec2<u32> {{\n  \
                 let i = o >> 2u;\n  let a = {wa};\n  let b = {wb};\n  let c = {wc};\n  \
                 return select(vec2<u32>(a, b), vec2<u32>((a >> 16u) | (b << 16u), (b >> 16u) | (c << 16u)), (o & 2u) != 0u);\n}}\n\
                 fn {q6}(l: u32, h: u32, ns: u32, hs: u32) -> vec4<f32> {{\n  \
                 return bitcast<vec4<f32>>((((({v4}(l) >> ({bytes} + {v4}(ns))) & {v4}(15u)) << {v4}(17u)) | ((({v4}(h) >> ({bytes} + {v4}(hs))) & {v4}(3u)) << {v4}(21u))) | {v4}(0x3f800000u));\n}}\n\
                 fn kiln_q6sc_{buf}(o: u32, hf: u32, l0: u32) -> vec4<f32> {{\n  \
                 let sb = o + 192u + 8u * hf + l0 / 16u;\n  \
                 return vec4<f32>(f32({i8_}(sb)), f32({i8_}(sb + 2u)), f32({i8_}(sb + 4u)), f32({i8_}(sb + 6u)));\n}}\n\
                 {wide}\n  \
                 let o = bk * 210u;\n  \
                 let hf = j / 4u;\n  let l0 = (j % 4u) * 8u;\n  \
                 let a = kiln_w2_{buf}(o + 64u * hf + l0);\n  \
                 let b = kiln_w2_{buf}(o + 64u * hf + 32u + l0);\n  \
                 let h = kiln_w2_{buf}(o + 128u + 32u * hf + l0);\n  \
                 let sc = kiln_q6sc_{buf}(o, hf, l0);\n  \
                 let f = vec4<f32>(\n    {},\n    {},\n    {},\n    {});\n  \
                 return {f16_}(o + 208u) * dot(sc, 64.0 * f - 96.0 * s);\n}}",
                quarter(0),
                quarter(1),
                quarter(2),
                quarter(3),
            )
        }
    }
}

/// Where quarter `qd` of a `Q6_K` item's positions keeps its codes, in the item functions'
/// words (`a`: `ql` bytes `l`, `b`: `ql` bytes `l + 32`, each two words; `h`: `qh`): the `ql`
/// word, the bit of its nibble, the bit of its two `qh` bits.
pub(crate) fn q6_quarter(qd: u32) -> (&'static str, u32, u32) {
    let l = if qd.is_multiple_of(2) { "a" } else { "b" };
    (l, (qd / 2) * 4, 2 * qd)
}
