//! The probe's kernels: a `Q4_K` weight times a vector already rounded to 8 bits, written by
//! hand in WGSL (kiln's generated kernels are measured by `kiln-bench`; these measure what
//! the access pattern allows).
//!
//! Bindings: the weight's blocks as `vec4<u32>` (9 a block: the head, `d`, `dmin` and the
//! scales, then 8 of codes), the vector's bytes as `vec4<u32>` (16 values each), a
//! `vec4<f32>` a 32-value block of it (`dx`, then `dx` times the sum of each half's
//! integers), the output. An item is 32 values of a block (lane `i` of a row takes item `i`
//! of its 32 in a trip): the 16 code bytes of a sub-block pair, their low nibbles meeting
//! one 16-value run of the vector and their high ones another.

/// One kernel form.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// Rows a warp.
    pub rows: u32,
    /// Warps a workgroup.
    pub warps: u32,
    /// Items a lane a trip.
    pub items: u32,
    /// Workgroups at most (0: one a block of `rows * warps` rows); capped workgroups take
    /// blocks in turn, the grid's size apart.
    pub cap: u32,
    /// Loads only: the same loads, their bits folded instead of multiplied.
    pub loads_only: bool,
    /// The vector copied into workgroup memory once, before the first block, and read from
    /// there (as a kernel that rounds the vector itself would hold it).
    pub staged: bool,
}

impl Variant {
    /// Rows a block.
    pub fn block(&self) -> u32 {
        self.rows * self.warps
    }

    /// Workgroups for `n` rows.
    pub fn workgroups(&self, n: u32) -> u32 {
        let blocks = n.div_ceil(self.block());
        match self.cap {
            0 => blocks,
            c => blocks.min(c),
        }
    }
}

/// The item's arithmetic: the dot products of the codes with the vector's integers, by four
/// bytes at once, scaled by the sub-blocks' scales; the mins meet the halves' sums.
const ITEM: &str = "fn item(hd: vec4<u32>, c: vec4<u32>, j: u32, a: vec4<u32>, b: vec4<u32>, s0: vec4<f32>, s1: vec4<f32>) -> f32 {
  let p = j >> 1u;
  let h = (j & 1u) == 1u;
  let hi4 = p >= 2u;
  let scw = select(hd.y & 0x3f3f3f3fu, (hd.w & 0x0f0f0f0fu) | ((hd.y >> 2u) & 0x30303030u), hi4);
  let mw = select(hd.z & 0x3f3f3f3fu, ((hd.w >> 4u) & 0x0f0f0f0fu) | ((hd.z >> 2u) & 0x30303030u), hi4);
  let sh = (p & 1u) * 16u;
  let sc = vec2<f32>(f32((scw >> sh) & 0xffu), f32((scw >> (sh + 8u)) & 0xffu));
  let mn = vec2<f32>(f32((mw >> sh) & 0xffu), f32((mw >> (sh + 8u)) & 0xffu));
  let m4 = vec4<u32>(0x0f0f0f0fu);
  let lo = c & m4;
  let hi = (c >> vec4<u32>(4u)) & m4;
  let ilo = dot4I8Packed(lo.x, a.x) + dot4I8Packed(lo.y, a.y) + dot4I8Packed(lo.z, a.z) + dot4I8Packed(lo.w, a.w);
  let ihi = dot4I8Packed(hi.x, b.x) + dot4I8Packed(hi.y, b.y) + dot4I8Packed(hi.z, b.z) + dot4I8Packed(hi.w, b.w);
  let dm = unpack2x16float(hd.x);
  let sx = vec2<f32>(select(s0.y, s0.z, h), select(s1.y, s1.z, h));
  return dm.x * dot(sc * vec2<f32>(s0.x, s1.x), vec2<f32>(f32(ilo), f32(ihi))) - dm.y * dot(mn, sx);
}";

/// The loads-only form's fold: every loaded bit reaches the sum, so no load is dropped.
const FOLD: &str = "fn item(hd: vec4<u32>, c: vec4<u32>, j: u32, a: vec4<u32>, b: vec4<u32>, s0: vec4<f32>, s1: vec4<f32>) -> f32 {
  let x = hd ^ c ^ a ^ b;
  return f32((x.x ^ x.y ^ x.z ^ x.w ^ j) & 0xffu) + s0.x + s1.y;
}";

/// The kernel of `v` for `n` rows of `k` values. `subgroups`: the rows' sums are added by
/// `subgroupAdd` (subgroups of 32 invocations), else through workgroup memory.
pub fn kernel(v: &Variant, n: u32, k: u32, subgroups: bool) -> String {
    let (bpr, wg, r) = (k / 256, v.warps * 32, v.rows);
    let mut s = String::new();
    let w = &mut s;
    let mut line = |t: String| w.push_str(&(t + "\n"));
    line(format!(
        "@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;\n\
         @group(0) @binding(1) var<storage, read> xq: array<vec4<u32>>;\n\
         @group(0) @binding(2) var<storage, read> xs: array<vec4<f32>>;\n\
         @group(0) @binding(3) var<storage, read_write> y: array<f32>;\n\
         const N: u32 = {n}u;\nconst BPR: u32 = {bpr}u;\nconst NI: u32 = {}u;\n{}",
        bpr * 8,
        if v.loads_only { FOLD } else { ITEM }
    ));
    if !subgroups {
        line(format!("var<workgroup> red: array<f32, {}>;", wg * r));
    }
    if v.staged {
        line(format!(
            "var<workgroup> vq: array<vec4<u32>, {}>;\nvar<workgroup> vs: array<vec4<f32>, {}>;\n\
             fn X(i: u32) -> vec4<u32> {{ return vq[i]; }}\nfn S(i: u32) -> vec4<f32> {{ return vs[i]; }}",
            k / 16,
            k / 32
        ));
    } else {
        line("fn X(i: u32) -> vec4<u32> { return xq[i]; }\nfn S(i: u32) -> vec4<f32> { return xs[i]; }".into());
    }
    line(format!(
        "@compute @workgroup_size({wg})\n\
         fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {{\n  \
         let warp = li / 32u;\n  let lane = li % 32u;\n{}  \
         for (var blk = wid.x; blk < {}u; blk = blk + nwg.x) {{\n  \
         let row0 = (blk * {}u + warp) * {r}u;",
        match v.staged {
            true => format!(
                "  for (var e = li; e < {}u; e = e + {wg}u) {{ vq[e] = xq[e]; }}\n  \
                 for (var e = li; e < {}u; e = e + {wg}u) {{ vs[e] = xs[e]; }}\n  workgroupBarrier();\n",
                k / 16,
                k / 32
            ),
            false => String::new(),
        },
        n.div_ceil(v.block()),
        v.warps
    ));
    for q in 0..r {
        line(format!(
            "  var acc{q} = 0.0;\n  let base{q} = min(row0 + {q}u, N - 1u) * BPR * 9u;"
        ));
    }
    line(format!(
        "  for (var i = lane; i < NI; i = i + {}u) {{",
        32 * v.items
    ));
    for t in 0..v.items {
        let it = match t {
            0 => "i".to_string(),
            t => format!("min(i + {}u, NI - 1u)", 32 * t),
        };
        line(format!(
            "    let it{t} = {it};\n    let kb{t} = it{t} / 8u;\n    let j{t} = it{t} % 8u;\n    \
             let p{t} = j{t} >> 1u;\n    let h{t} = j{t} & 1u;\n    \
             let a{t} = X(kb{t} * 16u + 4u * p{t} + h{t});\n    \
             let b{t} = X(kb{t} * 16u + 4u * p{t} + 2u + h{t});\n    \
             let s0{t} = S(kb{t} * 8u + 2u * p{t});\n    let s1{t} = S(kb{t} * 8u + 2u * p{t} + 1u);"
        ));
        for q in 0..r {
            line(format!(
                "    let hd{t}_{q} = w[base{q} + kb{t} * 9u];\n    let c{t}_{q} = w[base{q} + kb{t} * 9u + 1u + j{t}];"
            ));
        }
    }
    for t in 0..v.items {
        for q in 0..r {
            let e = format!("item(hd{t}_{q}, c{t}_{q}, j{t}, a{t}, b{t}, s0{t}, s1{t})");
            let e = match t {
                0 => e,
                t => format!("select(0.0, {e}, i + {}u < NI)", 32 * t),
            };
            line(format!("    acc{q} = acc{q} + {e};"));
        }
    }
    line("  }".into());
    if subgroups {
        for q in 0..r {
            line(format!(
                "  let t{q} = subgroupAdd(acc{q});\n  if (lane == 0u && row0 + {q}u < N) {{ y[row0 + {q}u] = t{q}; }}"
            ));
        }
    } else {
        for q in 0..r {
            line(format!("  red[li * {r}u + {q}u] = acc{q};"));
        }
        line(format!(
            "  workgroupBarrier();\n  if (lane < {r}u) {{\n    var t = 0.0;\n    \
             for (var c = 0u; c < 32u; c = c + 1u) {{ t = t + red[(warp * 32u + c) * {r}u + lane]; }}\n    \
             if (row0 + lane < N) {{ y[row0 + lane] = t; }}\n  }}\n  workgroupBarrier();"
        ));
    }
    line("}\n}".into());
    s
}
