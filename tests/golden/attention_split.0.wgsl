// kiln kernel: attention[split 18]
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
const SG = 1u;
var<workgroup> qs: array<vec4<f32>, H4>;
var<workgroup> ws: array<f32, T * SG>;
var<workgroup> ps: array<f32, BK * SG>;
var<workgroup> os: array<vec4<f32>, T * SG>;
var<workgroup> ls: array<f32, T * SG>;
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
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sq = P.p[1].z;
  let d = P.p[1].w;
  let sk = P.p[2].x;
  let dv = P.p[2].y;
  let runs = P.p[2].z;
  let nb = 1u * P.p[2].w;
  let scale = bitcast<f32>(P.p[3].x);
  let ninf = kiln_f32_bits(0xff800000u);
  let qblocks = (sq + BQ - 1u) / BQ;
  let w = wid.y * nwg.x + wid.x;
  if (w >= nb * qblocks * runs) { return; }
  let s = w % runs;
  let qb = (w / runs) % qblocks;
  let bt = w / (runs * qblocks);
  var rem_bt = bt;
  let c0 = rem_bt;
  let qbase = bitcast<i32>(P.p[3].y) + i32(c0) * bitcast<i32>(P.p[3].z);
  let kbase = bitcast<i32>(P.p[3].w) + i32(c0) * bitcast<i32>(P.p[4].x);
  let vbase = bitcast<i32>(P.p[4].y) + i32(c0) * bitcast<i32>(P.p[4].z);
  let run = (sk + runs - 1u) / runs;
  let k0 = min(s * run, sk);
  var k1 = min(k0 + run, sk);
  let i0 = qb * BQ;
  let i = i0;
  for (var x = lid; x < H4; x = x + T) {
    qs[x] = kiln_four_q(qbase, i, x * 4u, d, i < sq);
  }
  let pi = lid / BK;
  let j = lid % BK;
  let gi = lid / H4;
  let cv = lid % H4;
  var m = ninf;
  var l = 0.0;
  var acc = vec4<f32>(0.0);
  for (var t0 = k0; t0 < k1; t0 = t0 + BK) {
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
      ws[lid] = (s4.x + s4.y) + (s4.z + s4.w);
    }
    workgroupBarrier();
    if (lid < BK) {
      let key = t0 + lid;
      let sd = ws[lid] + ws[16u + lid] + ws[32u + lid] + ws[48u + lid];
      var sc = ninf;
      sc = select(ninf, sd * scale, i < sq && key < k1);
      ps[lid] = sc;
    }
    workgroupBarrier();
    var x0 = ninf;
    var x1 = ninf;
    var x2 = ninf;
    var x3 = ninf;
    for (var jj = 0u; jj < BK; jj = jj + 4u) {
      x0 = kiln_fmax(x0, ps[jj]);
      x1 = kiln_fmax(x1, ps[jj + 1u]);
      x2 = kiln_fmax(x2, ps[jj + 2u]);
      x3 = kiln_fmax(x3, ps[jj + 3u]);
    }
    let mn = kiln_fmax(m, kiln_fmax(kiln_fmax(x0, x1), kiln_fmax(x2, x3)));
    let cr = select(exp(m - mn), 1.0, mn == ninf);
    acc = acc * cr;
    l = l * cr;
    m = mn;
    {
      let p = select(0.0, exp(ps[min(jv0, BK - 1u)] - mn), okv0 && mn != ninf);
      l = l + p;
      acc = fma(vec4<f32>(p), vv0, acc);
    }
  }
  os[lid] = acc;
  ls[lid] = l;
  workgroupBarrier();
  if (lid < H4) {
    var a = os[lid];
    var lt = ls[lid];
    for (var gg = 1u; gg < VG; gg = gg + 1u) {
      a = a + os[gg * H4 + lid];
      lt = lt + ls[gg * H4 + lid];
    }
    let l = lt;
    let ob = (bt * sq + i) * dv;
    if (i < sq) {
      {
        let col = cv * 4u + 0u;
        if (col < dv) {
          let at = (ob + col) * 3u * runs + s;
          out0[at] = a.x;
          out0[at + runs] = m;
          out0[at + 2u * runs] = l;
        }
      }
      {
        let col = cv * 4u + 1u;
        if (col < dv) {
          let at = (ob + col) * 3u * runs + s;
          out0[at] = a.y;
          out0[at + runs] = m;
          out0[at + 2u * runs] = l;
        }
      }
      {
        let col = cv * 4u + 2u;
        if (col < dv) {
          let at = (ob + col) * 3u * runs + s;
          out0[at] = a.z;
          out0[at + runs] = m;
          out0[at + 2u * runs] = l;
        }
      }
      {
        let col = cv * 4u + 3u;
        if (col < dv) {
          let at = (ob + col) * 3u * runs + s;
          out0[at] = a.w;
          out0[at + runs] = m;
          out0[at + 2u * runs] = l;
        }
      }
    }
  }
}
