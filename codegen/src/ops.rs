//! WGSL for each op: the templates of the op tables (`kiln_ir::ops`) rendered with their
//! operands, the cast templates, and the helper functions templates call. Helpers are
//! emitted only when used.

use kiln_ir::ops::spec::{wgsl, wgsl_with};
use kiln_ir::ops::{BinaryOp, Class, UnaryOp, Wgsl};
use kiln_ir::DType;

/// A helper function: its name and its WGSL text.
pub struct Helper {
    /// Function name.
    pub name: &'static str,
    /// Helpers it calls.
    pub deps: &'static [&'static str],
    /// The definition.
    pub text: &'static str,
}

/// The helper that writes a non-finite float (see [`crate::types::literal`]).
pub const NONFINITE: &str = "kiln_f32_bits";

/// Every helper function a template may call.
pub const HELPERS: &[Helper] = &[
    // A float from its bits at run time. WGSL makes a constant expression that evaluates to
    // an infinity or NaN a shader-creation error; naga accepts one, browsers' compilers
    // (Tint) refuse it. A call of a user function is never a constant expression.
    Helper {
        name: NONFINITE,
        deps: &[],
        text: "fn kiln_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }",
    },
    Helper {
        name: "kiln_isnan",
        deps: &[],
        text: "fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }",
    },
    Helper {
        name: "kiln_truthy",
        deps: &["kiln_isnan"],
        text: "fn kiln_truthy(x: f32) -> bool { return x != 0.0 || kiln_isnan(x); }",
    },
    Helper {
        name: "kiln_fne",
        deps: &["kiln_isnan"],
        text: "fn kiln_fne(a: f32, b: f32) -> bool { return a != b || kiln_isnan(a) || kiln_isnan(b); }",
    },
    Helper {
        name: "kiln_round_f16",
        deps: &["kiln_isnan"],
        // pack2x16float is indeterminate outside f16's finite range: clamp into it, and give
        // the infinity that round-to-nearest-even gives from 65520 (halfway to 2^16) on.
        text: "fn kiln_round_f16(x: f32) -> f32 {\n  let r = unpack2x16float(pack2x16float(vec2<f32>(clamp(x, -65504.0, 65504.0), 0.0))).x;\n  let inf = bitcast<f32>((bitcast<u32>(x) & 0x80000000u) | 0x7f800000u);\n  return select(select(r, inf, abs(x) >= 65520.0), x, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_bf16_get",
        deps: &[],
        text: "fn kiln_bf16_get(word: u32, i: u32) -> f32 {\n  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));\n}",
    },
    Helper {
        name: "kiln_f16_of_word",
        deps: &[],
        text: "fn kiln_f16_of_word(word: u32, i: u32) -> f32 {\n  return unpack2x16float(word)[i & 1u];\n}",
    },
    Helper {
        name: "kiln_bf16_bits",
        deps: &["kiln_isnan"],
        // The value is rounded to bf16 already: its upper half (a NaN keeps its sign and is
        // made quiet, so that a payload in the lower half cannot leave an infinity).
        text: "fn kiln_bf16_bits(x: f32) -> u32 {\n  let h = bitcast<u32>(x) >> 16u;\n  return select(h, h | 0x40u, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_bf16_unpack4",
        deps: &["kiln_bf16_get"],
        text: "fn kiln_bf16_unpack4(a: u32, b: u32) -> vec4<f32> {\n  return vec4<f32>(kiln_bf16_get(a, 0u), kiln_bf16_get(a, 1u), kiln_bf16_get(b, 0u), kiln_bf16_get(b, 1u));\n}",
    },
    Helper {
        name: "kiln_bf16_pack2",
        deps: &["kiln_bf16_bits"],
        text: "fn kiln_bf16_pack2(a: f32, b: f32) -> u32 {\n  return kiln_bf16_bits(a) | (kiln_bf16_bits(b) << 16u);\n}",
    },
    Helper {
        name: "kiln_round_bf16",
        deps: &["kiln_isnan"],
        text: "fn kiln_round_bf16(x: f32) -> f32 {\n  let b = bitcast<u32>(x);\n  let r = (b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u;\n  return select(bitcast<f32>(r), x, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_tanh",
        deps: &["kiln_isnan"],
        // A rational minimax fit (relative error < 6.7e-7, tiny inputs included) of the
        // clamped argument, reaching ±1 at ±9 and clamped there; no `exp`, which on CPU
        // adapters costs more than the polynomial (docs/OPS.md, docs/PERFORMANCE.md). WGSL
        // leaves `clamp` of NaN open, so NaN is passed through explicitly.
        text: "fn kiln_tanh(x: f32) -> f32 {\n  let c = clamp(x, -9.0, 9.0);\n  let s = c * c;\n  let p = 0.99999964 + s * (1.2853494e-1 + s * (2.8539994e-3 + s * (8.750021e-6 + s * (-1.1605741e-8 + s * 1.6214717e-11))));\n  let q = 1.0 + s * (4.6186596e-1 + s * (2.3478797e-2 + s * 2.1947079e-4));\n  return select(clamp(c * p / q, -1.0, 1.0), x, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_erf",
        deps: &[],
        // A rational minimax fit (absolute error < 6.1e-7) of the clamped argument, reaching
        // ±1 at ±4.5 and clamped there. Only `kiln_gelu` calls it, for x >= -1, where
        // `1 + erf(x/√2)` >= 0.31 keeps that error small relative to the result.
        text: "fn kiln_erf(x: f32) -> f32 {\n  let c = clamp(x, -4.5, 4.5);\n  let s = c * c;\n  let p = 1.1283811 + s * (1.5786092e-1 + s * (4.7825754e-2 + s * (2.1804306e-3 + s * (2.1679353e-4 + s * 1.8902327e-6))));\n  let q = 1.0 + s * (4.7325224e-1 + s * (1.00080565e-1 + s * (1.1850965e-2 + s * (7.157837e-4 + s * 3.283491e-5))));\n  return clamp(c * p / q, -1.0, 1.0);\n}",
    },
    // Inverse and hyperbolic functions: WGSL leaves asin/acos outside [-1, 1], acosh below
    // 1 and atanh outside (-1, 1) indeterminate, and its own forms lose accuracy near 0
    // (asinh, atanh) or overflow early (acosh's x * x); these give the reference's NaNs and
    // infinities, and go through log1p where the argument is near 1. asin and acos are
    // written with atan2, the form WGSL takes their accuracy from (lavapipe's own asin was
    // off by 2e-4).
    // sinh and cosh: WGSL takes them from (e^x ± e^-x) / 2, which loses sinh's relative
    // accuracy near 0 and overflows e^x from 88.7 where the result is finite up to 89.4: a
    // series below 0.5, e^(|x| - ln 2) past 88.
    Helper {
        name: "kiln_sinh",
        deps: &["kiln_isnan"],
        text: "fn kiln_sinh(x: f32) -> f32 {\n  let a = abs(x);\n  let s = a * a;\n  let series = a * (1.0 + s * (0.16666667 + s * (0.0083333333 + s * 0.00019841270)));\n  let e = exp(min(a, 88.0));\n  let m = select(select(0.5 * (e - 1.0 / e), exp(a - 0.69314718), a > 88.0), series, a < 0.5);\n  return select(bitcast<f32>(bitcast<u32>(m) | (bitcast<u32>(x) & 0x80000000u)), x, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_cosh",
        deps: &["kiln_isnan"],
        text: "fn kiln_cosh(x: f32) -> f32 {\n  let a = abs(x);\n  let e = exp(min(a, 88.0));\n  return select(select(0.5 * (e + 1.0 / e), exp(a - 0.69314718), a > 88.0), x, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_log1p",
        deps: &[NONFINITE],
        // Its series to x^8 below |x| = 1/16 (truncation < 3e-11 relative), log(1 + x) above
        // (rounding 1 + x costs at most 1e-6 relative there). Goldberg's log(u) x / (u - 1)
        // is no good here: drivers may reassociate (1 + x) - 1 into x (lavapipe does).
        text: "fn kiln_log1p(x: f32) -> f32 {\n  let p = x * (1.0 - x * (0.5 - x * (0.33333333 - x * (0.25 - x * (0.2 - x * (0.16666667 - x * (0.14285714 - x * 0.125)))))));\n  let r = select(log(1.0 + x), p, abs(x) < 0.0625);\n  return select(r, kiln_f32_bits(0x7fc00000u), x < -1.0);\n}",
    },
    Helper {
        name: "kiln_asin",
        deps: &[NONFINITE],
        text: "fn kiln_asin(x: f32) -> f32 { return select(kiln_f32_bits(0x7fc00000u), atan2(x, sqrt((1.0 - x) * (1.0 + x))), abs(x) <= 1.0); }",
    },
    Helper {
        name: "kiln_acos",
        deps: &[NONFINITE],
        text: "fn kiln_acos(x: f32) -> f32 { return select(kiln_f32_bits(0x7fc00000u), atan2(sqrt((1.0 - x) * (1.0 + x)), x), abs(x) <= 1.0); }",
    },
    Helper {
        name: "kiln_asinh",
        deps: &["kiln_log1p", "kiln_isnan"],
        // log1p(a + a^2 / (1 + sqrt(1 + a^2))), or log(2a) past 4096 (error < 2e-8), with the
        // sign of x (so -0 stays -0).
        text: "fn kiln_asinh(x: f32) -> f32 {\n  let a = abs(x);\n  let b = min(a, 4096.0);\n  let r = select(kiln_log1p(b + b * b / (1.0 + sqrt(1.0 + b * b))), log(a) + 0.69314718, a > 4096.0);\n  return select(bitcast<f32>(bitcast<u32>(r) | (bitcast<u32>(x) & 0x80000000u)), x, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_acosh",
        deps: &["kiln_log1p", NONFINITE],
        // log1p(t + sqrt(t (x + 1))) with t = x - 1 exact, or log(2x) past 4096.
        text: "fn kiln_acosh(x: f32) -> f32 {\n  let b = min(x, 4096.0);\n  let t = b - 1.0;\n  let r = select(kiln_log1p(t + sqrt(t * (b + 1.0))), log(x) + 0.69314718, x > 4096.0);\n  return select(kiln_f32_bits(0x7fc00000u), r, x >= 1.0);\n}",
    },
    Helper {
        name: "kiln_atanh",
        deps: &["kiln_log1p", NONFINITE],
        // 0.5 log1p(2a / (1 - a)) with the sign of x; ±inf at ±1, NaN beyond.
        text: "fn kiln_atanh(x: f32) -> f32 {\n  let a = abs(x);\n  var r = select(0.5 * kiln_log1p(2.0 * a / (1.0 - a)), kiln_f32_bits(0x7f800000u), a == 1.0);\n  r = select(r, kiln_f32_bits(0x7fc00000u), a > 1.0);\n  return bitcast<f32>(bitcast<u32>(r) | (bitcast<u32>(x) & 0x80000000u));\n}",
    },
    Helper {
        name: "kiln_gelu",
        deps: &["kiln_erf", "kiln_isnan"],
        // gelu(x) = 0.5 x (1 + erf(x/√2)) for x >= -1 (and NaN, +inf), the rational erf above,
        // and below -14.85, where gelu is under f32's subnormals and `1 + erf` is exactly 0
        // (-0, and -inf * 0 = NaN for -inf, as the reference). Between, where `1 + erf`
        // cancels, 0.5 x erfc(z), z = -x/√2, by Numerical Recipes' `erfcc` (relative error
        // < 1.2e-7): erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2). A relative error e in z^2 becomes z^2 e in
        // the result (87 e at the normal range's end), so z^2 = w^2/2 is formed from w = -x
        // exactly: w = h + l with h holding 12 bits (h^2 exact), z^2 = h^2/2 + l (w + h)/2, and
        // h^2/2 = n ln2 - r with ln2 split in two (n ln2_hi exact): exp(-z^2 + P) =
        // 2^-n exp(r - l (w + h)/2 + P), exp of an argument in [-1.7, 0.4]. The power of two
        // (n <= 159) is applied last, to the whole product, so that nothing is subnormal
        // before the result is, as two multiplications by normal powers of two made from their
        // exponent bits (cheaper to compile and run than `ldexp`). A branch, not a select: the
        // tail costs nothing where no element is in it.
        text: "fn kiln_gelu(x: f32) -> f32 {\n  if (x >= -1.0 || x < -14.85 || kiln_isnan(x)) {\n    return 0.5 * x * (1.0 + kiln_erf(x * 0.70710678118654752));\n  }\n  let w = -x;\n  let t = 1.0 / (1.0 + 0.35355339 * w);\n  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));\n  let h = bitcast<f32>(bitcast<u32>(w) & 0xfffff000u);\n  let l = w - h;\n  let h2 = 0.5 * (h * h);\n  let n = round(h2 * 1.44269504);\n  let r = (n * 0.693145751953125 - h2) + n * 1.42860677e-6;\n  let k = u32(n);\n  let m = 0.5 * x * t * exp(r - 0.5 * l * (w + h) + p);\n  return (m * bitcast<f32>((127u - k / 2u) << 23u)) * bitcast<f32>((127u - (k - k / 2u)) << 23u);\n}",
    },
    Helper {
        name: "kiln_fmod",
        deps: &[],
        // x - y trunc(x / y), then one correction: GPUs divide approximately (NVIDIA's `/` is
        // within 2.5 ulp), so where x / y is an integer the quotient may truncate to one
        // less, leaving a remainder of ±y instead of 0. A correctly rounded
        // quotient never leaves |r| >= |y|, so such a remainder is moved by |y| towards 0, as
        // the reference's would be.
        text: "fn kiln_fmod(x: f32, y: f32) -> f32 {\n  let r = x - y * trunc(x / y);\n  let ay = abs(y);\n  return select(r, r - sign(r) * ay, abs(r) >= ay);\n}",
    },
    Helper {
        name: "kiln_fmax",
        deps: &["kiln_isnan"],
        text: "fn kiln_fmax(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }",
    },
    Helper {
        name: "kiln_fmin",
        deps: &["kiln_isnan"],
        text: "fn kiln_fmin(a: f32, b: f32) -> f32 { return select(min(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }",
    },
    Helper {
        name: "kiln_pow",
        deps: &["kiln_isnan", NONFINITE],
        // C99 pow: the magnitude from WGSL pow, zeros and infinities of x and the sign of odd
        // integer powers made explicit (WGSL leaves pow undefined for x < 0).
        text: "fn kiln_pow(x: f32, y: f32) -> f32 {\n  let inf = kiln_f32_bits(0x7f800000u);\n  let ax = abs(x);\n  let neg = (bitcast<u32>(x) & 0x80000000u) != 0u;\n  let yinf = abs(y) == inf;\n  let yint = trunc(y) == y;\n  let odd = yint && !yinf && abs(y) < 16777216.0 && (i32(abs(y)) & 1) == 1;\n  var m = pow(ax, y);\n  m = select(m, select(inf, 0.0, y > 0.0), ax == 0.0);\n  m = select(m, select(0.0, inf, y > 0.0), ax == inf);\n  m = select(m, 1.0, ax == 1.0 && yinf);\n  var r = select(m, -m, neg && odd);\n  r = select(r, kiln_f32_bits(0x7fc00000u), neg && !yint && ax != inf && ax != 0.0);\n  r = select(r, kiln_f32_bits(0x7fc00000u), kiln_isnan(x) || kiln_isnan(y));\n  return select(r, 1.0, y == 0.0 || x == 1.0);\n}",
    },
    Helper {
        name: "kiln_div_i32",
        deps: &[],
        text: "fn kiln_div_i32(a: i32, b: i32) -> i32 {\n  let bad = b == 0 || (a == bitcast<i32>(0x80000000u) && b == -1);\n  return select(a / select(b, 1, bad), a, bad);\n}",
    },
    Helper {
        name: "kiln_rem_i32",
        deps: &[],
        text: "fn kiln_rem_i32(a: i32, b: i32) -> i32 {\n  let bad = b == 0 || (a == bitcast<i32>(0x80000000u) && b == -1);\n  return select(a % select(b, 1, bad), 0, bad);\n}",
    },
    Helper {
        name: "kiln_frem_floor",
        deps: &["kiln_fmod"],
        text: "fn kiln_frem_floor(a: f32, b: f32) -> f32 {\n  let r = kiln_fmod(a, b);\n  return select(r, r + b, r != 0.0 && ((r < 0.0) != (b < 0.0)));\n}",
    },
    Helper {
        name: "kiln_rem_floor_i32",
        deps: &["kiln_rem_i32"],
        text: "fn kiln_rem_floor_i32(a: i32, b: i32) -> i32 {\n  let r = kiln_rem_i32(a, b);\n  return select(r, r + b, r != 0 && ((r < 0) != (b < 0)));\n}",
    },
    Helper {
        name: "kiln_atan2",
        deps: &[],
        // WGSL leaves atan2(±0, ±0) indeterminate: ±0 or ±pi by the sign bits, as C's atan2.
        text: "fn kiln_atan2(y: f32, x: f32) -> f32 {\n  let s = bitcast<u32>(y) & 0x80000000u;\n  let z = select(0.0, 3.14159274, (bitcast<u32>(x) & 0x80000000u) != 0u);\n  return select(atan2(y, x), bitcast<f32>(bitcast<u32>(z) | s), x == 0.0 && y == 0.0);\n}",
    },
    Helper {
        name: "kiln_div_u32",
        deps: &[],
        text: "fn kiln_div_u32(a: u32, b: u32) -> u32 { return select(a / select(b, 1u, b == 0u), a, b == 0u); }",
    },
    Helper {
        name: "kiln_rem_u32",
        deps: &[],
        text: "fn kiln_rem_u32(a: u32, b: u32) -> u32 { return select(a % select(b, 1u, b == 0u), 0u, b == 0u); }",
    },
    Helper {
        name: "kiln_f2i",
        deps: &["kiln_isnan"],
        text: "fn kiln_f2i(x: f32) -> i32 {\n  var r = i32(clamp(x, -2147483648.0, 2147483520.0));\n  r = select(r, 2147483647, x >= 2147483648.0);\n  return select(r, 0, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_f2u",
        deps: &["kiln_isnan"],
        text: "fn kiln_f2u(x: f32) -> u32 {\n  var r = u32(clamp(x, 0.0, 4294967040.0));\n  r = select(r, 4294967295u, x >= 4294967296.0);\n  return select(r, 0u, kiln_isnan(x));\n}",
    },
    Helper {
        name: "kiln_mix",
        deps: &[],
        text: "fn kiln_mix(v: u32) -> u32 {\n  var x = v;\n  x = x ^ (x >> 16u);\n  x = x * 0x7feb352du;\n  x = x ^ (x >> 15u);\n  x = x * 0x846ca68bu;\n  x = x ^ (x >> 16u);\n  return x;\n}",
    },
    Helper {
        name: "kiln_uniform",
        deps: &[],
        text: "fn kiln_uniform(h: u32) -> f32 { return f32(h >> 8u) * (1.0 / 16777216.0); }",
    },
];

/// The helper of this name.
pub fn helper(name: &str) -> Option<&'static Helper> {
    HELPERS.iter().find(|h| h.name == name)
}

/// The WGSL template of a unary op on a value of dtype `d` (from the op's table entry), or
/// why there is none.
pub fn unary(op: UnaryOp, d: DType) -> Result<Wgsl, String> {
    op.wgsl(Class::of(d))
        .ok_or_else(|| format!("{} is not defined on {d}", op.name()))
}

/// The WGSL template of a binary op on operands of dtype `d` (from the op's table entry), or
/// why there is none.
pub fn binary(op: BinaryOp, d: DType) -> Result<Wgsl, String> {
    op.wgsl(Class::of(d))
        .ok_or_else(|| format!("{} is not defined on {d}", op.name()))
}

/// The WGSL template converting a value of dtype `from` to dtype `to` (before rounding).
pub fn cast(from: DType, to: DType) -> Wgsl {
    use Class::*;
    match (Class::of(from), Class::of(to)) {
        (Float, Float) | (I32, I32) | (U32, U32) | (Bool, Bool) => wgsl("{0}"),
        (Float, I32) => wgsl_with("kiln_f2i({0})", &["kiln_f2i"]),
        (Float, U32) => wgsl_with("kiln_f2u({0})", &["kiln_f2u"]),
        (Float, Bool) => wgsl_with("kiln_truthy({0})", &["kiln_truthy"]),
        (I32 | U32, Float) => wgsl("f32({0})"),
        (I32, U32) => wgsl("bitcast<u32>({0})"),
        (U32, I32) => wgsl("bitcast<i32>({0})"),
        (I32 | U32, Bool) => wgsl("({0} != {Z})"),
        (Bool, Float) => wgsl("select(0.0, 1.0, {0})"),
        (Bool, I32) => wgsl("select(0, 1, {0})"),
        (Bool, U32) => wgsl("select(0u, 1u, {0})"),
    }
}

/// The WGSL literal zero of a class's value type.
fn zero(c: Class) -> &'static str {
    match c {
        Class::Float => "0.0",
        Class::I32 => "0",
        Class::U32 => "0u",
        Class::Bool => "false",
    }
}

/// Renders a template: `{0}`, `{1}`, ... become `args`, `{T}` the WGSL value type of class
/// `c` and `{Z}` its zero. Anything else is copied; the op tables' tests check that every
/// template uses only these placeholders and operands it has.
pub fn render(t: &Wgsl, c: Class, args: &[&str]) -> String {
    let mut out = String::with_capacity(t.template.len() + 16);
    let mut rest = t.template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').map(|k| (k, &after[..k]));
        let sub = match close {
            Some((_, "T")) => Some(c.wgsl_type()),
            Some((_, "Z")) => Some(zero(c)),
            Some((_, n)) => n.parse::<usize>().ok().and_then(|i| args.get(i).copied()),
            None => None,
        };
        match (sub, close) {
            (Some(v), Some((k, _))) => {
                out.push_str(v);
                rest = &after[k + 1..];
            }
            (None, _) | (Some(_), None) => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders of a template that [`render`] does not fill for `arity` operands.
pub fn unknown_placeholders(t: &Wgsl, arity: usize) -> Vec<String> {
    let mut bad = Vec::new();
    let mut rest = t.template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(k) = after.find('}') else {
            bad.push(after.to_string());
            break;
        };
        let name = &after[..k];
        let known = matches!(name, "T" | "Z") || name.parse::<usize>().is_ok_and(|i| i < arity);
        if !known {
            bad.push(name.to_string());
        }
        rest = &after[k + 1..];
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_ir::ops::{ALL_BINARY, ALL_REDUCE, ALL_UNARY};
    use kiln_ir::ALL_DTYPES;

    /// Every template of every table entry uses known placeholders and helpers.
    #[test]
    fn table_templates_render() {
        let mut checked = 0;
        let mut check = |w: Wgsl, arity: usize, what: String| {
            assert!(
                unknown_placeholders(&w, arity).is_empty(),
                "{what}: {}",
                w.template
            );
            for h in w.helpers {
                assert!(helper(h).is_some(), "{what}: unknown helper {h}");
            }
            checked += 1;
        };
        for d in ALL_DTYPES {
            let c = Class::of(d);
            for op in ALL_UNARY {
                if let Some(w) = op.wgsl(c) {
                    check(w, 1, format!("{} {d}", op.name()));
                }
            }
            for op in ALL_BINARY {
                if let Some(w) = op.wgsl(c) {
                    check(w, 2, format!("{} {d}", op.name()));
                }
            }
            for op in ALL_REDUCE {
                let f = op.folds();
                let w = match c {
                    Class::Float => f.float.map(|i| i.wgsl),
                    Class::I32 => f.i32.map(|i| i.wgsl),
                    Class::U32 => f.u32.map(|i| i.wgsl),
                    Class::Bool => f.bool.map(|i| i.wgsl),
                };
                if let Some(w) = w {
                    check(w, 2, format!("{} {d}", op.name()));
                }
            }
            for to in ALL_DTYPES {
                check(cast(d, to), 1, format!("cast {d} {to}"));
            }
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn render_fills_operands_type_and_zero() {
        let w = wgsl("max({0}, {Z}) + {T}({1}) {x}");
        assert_eq!(
            render(&w, Class::U32, &["a", "b"]),
            "max(a, 0u) + u32(b) {x}"
        );
        assert_eq!(unknown_placeholders(&w, 2), vec!["x".to_string()]);
        assert_eq!(
            unknown_placeholders(&w, 1),
            vec!["1".to_string(), "x".to_string()]
        );
    }
}
