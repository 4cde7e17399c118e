// kiln kernel: attention
struct Params { p: array<vec4<u32>, 5> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> in1: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> in2: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out0: array<f32>;
fn kiln_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }
fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_fmax(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }
const T = 64u;
const BQ = 1u;
const BK = 16u;
const H = 16u;
const H4 = 4u;
const G = 64u;
const KP = 4u;
const VG = 16u;
const SG = 4u;
var<workgroup> qs: array<vec4<f32>, H4>;
var<workgroup> ws: array<f32, T * SG>;
var<workgroup> ps: array<f32, BK * SG>;
var<workgroup> os: array<vec4<f32>, T * SG>;
var<workgroup> ls: array<f32, T * SG>;
var<workgroup> ms: array<f32, SG>;
fn kiln_four_q(base: i32, row: u32, col: u32, width: u32, ok: bool) -> vec4<f32> {
  let inside = ok && col < width;
  let x = select(0, base + i32(row) * bitcast<i32>(P.p[0].x) + i32(col), inside);
  return select(vec4<f32>(0.0), in0[u32(x) / 4u], inside);
}
fn kiln_four_k(base: i32, row: u32, col: u32, width: u32, ok: bool) -> vec4<f32> {
  let inside = ok && col < width;
  let x = select(0, base + i32(row) * bitcast<i32>(P.p[0].z) + i32(col), inside);
  return select(vec4<f32>(0.0), in1[u32(x) / 4u], inside);
}
fn kiln_four_v(base: i32, row: u32, col: u32, width: u32, ok: bool) -> vec4<f32> {
  let inside = ok && col < width;
  let x = select(0, base + i32(row) * bitcast<i32>(P.p[1].x) + i32(col), inside);
  return select(vec4<f32>(0.0), in2[u32(x) / 4u], inside);
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
  let sq = P.p[1].z;
  let d = P.p[1].w;
  let sk = P.p[2].x;
  let dv = P.p[2].y;
  let runs = 1u;
  let nb = 1u * P.p[2].z;
  let scale = bitcast<f32>(P.p[2].w);
  let ninf = kiln_f32_bits(0xff800000u);
  let qblocks = (sq + BQ - 1u) / BQ;
  let w = wid.y * nwg.x + wid.x;
  if (w >= nb * qblocks * runs) { return; }
  let s = w % runs;
  let qb = (w / runs) % qblocks;
  let bt = w / (runs * qblocks);
  var rem_bt = bt;
  let c0 = rem_bt;
  let qbase = bitcast<i32>(P.p[3].x) + i32(c0) * bitcast<i32>(P.p[3].y);
  let kbase = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w);
  let vbase = bitcast<i32>(P.p[4].x) + i32(c0) * bitcast<i32>(P.p[4].y);
  let run = (sk + runs - 1u) / runs;
  let k0 = min(s * run, sk);
  var k1 = min(k0 + run, sk);
  let i0 = qb * BQ;
  let i = i0;
  for (var x = lidx; x < H4; x = x + T * SG) {
    qs[x] = kiln_four_q(qbase, i, x * 4u, d, i < sq);
  }
  let sgi = lidx / T;
  let span = ((k1 - k0 + SG * BK - 1u) / (SG * BK)) * BK;
  let chunks = span / BK;
  let ka = min(k0 + sgi * span, k1);
  let kb = min(ka + span, k1);
  {
  let k0 = ka;
  let k1 = kb;
  let lid = lidx % T;
  let wo = sgi * T;
  let po = sgi * BK;
  let pi = lid / BK;
  let j = lid % BK;
  let gi = lid / H4;
  let cv = lid % H4;
  var m = ninf;
  var l = 0.0;
  var acc = vec4<f32>(0.0);
  for (var ch = 0u; ch < chunks; ch = ch + 1u) {
    let t0 = k0 + ch * BK;
    let jv0 = gi + 0u * VG;
    let okv0 = gi < VG && jv0 < BK && t0 + jv0 < k1;
    let vv0 = kiln_four_v(vbase, t0 + jv0, cv * 4u, dv, okv0);
    workgroupBarrier();
    {
      let key = t0 + j;
      var s4 = vec4<f32>(0.0);
      for (var uu = 0u; uu < 1u; uu = uu + 1u) {
        let u = pi + uu * KP;
        s4 = fma(qs[u], kiln_four_k(kbase, key, u * 4u, d, key < k1), s4);
      }
      ws[wo + lid] = (s4.x + s4.y) + (s4.z + s4.w);
    }
    workgroupBarrier();
    if (lid < BK) {
      let key = t0 + lid;
      let sd = ws[wo + lid] + ws[wo + 16u + lid] + ws[wo + 32u + lid] + ws[wo + 48u + lid];
      var sc = ninf;
      sc = select(ninf, sd * scale, i < sq && key < k1);
      ps[po + lid] = sc;
    }
    workgroupBarrier();
    var x0 = ninf;
    var x1 = ninf;
    var x2 = ninf;
    var x3 = ninf;
    for (var jj = 0u; jj < BK; jj = jj + 4u) {
      x0 = kiln_fmax(x0, ps[po + jj]);
      x1 = kiln_fmax(x1, ps[po + jj + 1u]);
      x2 = kiln_fmax(x2, ps[po + jj + 2u]);
      x3 = kiln_fmax(x3, ps[po + jj + 3u]);
    }
    let mn = kiln_fmax(m, kiln_fmax(kiln_fmax(x0, x1), kiln_fmax(x2, x3)));
    let cr = select(exp(m - mn), 1.0, mn == ninf);
    acc = acc * cr;
    l = l * cr;
    m = mn;
    {
      let p = select(0.0, exp(ps[po + min(jv0, BK - 1u)] - mn), okv0 && mn != ninf);
      l = l + p;
      acc = fma(vec4<f32>(p), vv0, acc);
    }
  }
  os[wo + lid] = acc;
  ls[wo + lid] = l;
  if (lid == 0u) { ms[sgi] = m; }
  workgroupBarrier();
  if (lid < H4) {
    var a = os[wo + lid];
    var lt = ls[wo + lid];
    for (var gg = 1u; gg < VG; gg = gg + 1u) {
      a = a + os[wo + gg * H4 + lid];
      lt = lt + ls[wo + gg * H4 + lid];
    }
    os[wo + lid] = a;
    ls[wo + lid] = lt;
  }
  workgroupBarrier();
  }
  if (lidx < H4) {
    var mt = ninf;
    for (var gs = 0u; gs < SG; gs = gs + 1u) { mt = kiln_fmax(mt, ms[gs]); }
    var a = vec4<f32>(0.0);
    var lt = 0.0;
    for (var gs = 0u; gs < SG; gs = gs + 1u) {
      let wt = select(exp(ms[gs] - mt), 0.0, ms[gs] == ninf);
      a = fma(vec4<f32>(wt), os[gs * T + lidx], a);
      lt = fma(wt, ls[gs * T + lidx], lt);
    }
    let l = lt;
    let ob = (bt * sq + i) * dv;
    if (i < sq) {
      {
        let col = lidx * 4u + 0u;
        if (col < dv) { out0[ob + col] = a.x / l; }
      }
      {
        let col = lidx * 4u + 1u;
        if (col < dv) { out0[ob + col] = a.y / l; }
      }
      {
        let col = lidx * 4u + 2u;
        if (col < dv) { out0[ob + col] = a.z / l; }
      }
      {
        let col = lidx * 4u + 3u;
        if (col < dv) { out0[ob + col] = a.w / l; }
      }
    }
  }
}
