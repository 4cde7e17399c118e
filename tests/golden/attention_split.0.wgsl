// kiln kernel: attention[split 9]
struct Params { p: array<vec4<u32>, 5> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read> in2: array<f32>;
@group(0) @binding(4) var<storage, read_write> out0: array<f32>;
fn kiln_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }
fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_fmax(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }
const T = 64u;
const BQ = 1u;
const BK = 8u;
const H = 16u;
const H4 = 4u;
const G = 64u;
const QS = 5u;
const PS = 9u;
var<workgroup> qs: array<vec4<f32>, BQ * QS>;
var<workgroup> ks: array<vec4<f32>, BK * QS>;
var<workgroup> vs: array<vec4<f32>, BK * H4>;
var<workgroup> ps: array<f32, BQ * PS>;
var<workgroup> mrow: array<f32, BQ>;
var<workgroup> lrow: array<f32, BQ>;
var<workgroup> crow: array<f32, BQ>;
fn kiln_at_q(base: i32, row: u32, col: u32, ok: bool) -> f32 {
  let x = select(0, base + i32(row) * bitcast<i32>(P.p[0].x) + i32(col) * bitcast<i32>(P.p[0].y), ok);
  return select(0.0, in0[u32(x)], ok);
}
fn kiln_at_k(base: i32, row: u32, col: u32, ok: bool) -> f32 {
  let x = select(0, base + i32(row) * bitcast<i32>(P.p[0].z) + i32(col) * bitcast<i32>(P.p[0].w), ok);
  return select(0.0, in1[u32(x)], ok);
}
fn kiln_at_v(base: i32, row: u32, col: u32, ok: bool) -> f32 {
  let x = select(0, base + i32(row) * bitcast<i32>(P.p[1].x) + i32(col) * bitcast<i32>(P.p[1].y), ok);
  return select(0.0, in2[u32(x)], ok);
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
  for (var x = lid; x < BQ * H4; x = x + T) {
    let i = i0 + x / H4;
    let c = (x % H4) * 4u;
    let v = vec4<f32>(kiln_at_q(qbase, i, c + 0u, i < sq && c + 0u < d), kiln_at_q(qbase, i, c + 1u, i < sq && c + 1u < d), kiln_at_q(qbase, i, c + 2u, i < sq && c + 2u < d), kiln_at_q(qbase, i, c + 3u, i < sq && c + 3u < d));
    qs[(x / H4) * QS + x % H4] = v;
  }
  if (lid < BQ) { mrow[lid] = ninf; lrow[lid] = 0.0; }
  let r = (lid / G) * 1u;
  let g = lid % G;
  var acc0_0 = vec4<f32>(0.0);
  const NP = 1u;
  var fk: array<vec4<f32>, NP>;
  var fv: array<vec4<f32>, NP>;
  {
    let t = k0;
    for (var p = 0u; p < NP; p = p + 1u) {
      let x = lid + p * T;
      let j = x / H4;
      let c = (x % H4) * 4u;
      let key = t + j;
      let ok = j < BK && key < k1;
      fk[p] = vec4<f32>(kiln_at_k(kbase, key, c + 0u, ok && c + 0u < d), kiln_at_k(kbase, key, c + 1u, ok && c + 1u < d), kiln_at_k(kbase, key, c + 2u, ok && c + 2u < d), kiln_at_k(kbase, key, c + 3u, ok && c + 3u < d));
      fv[p] = vec4<f32>(kiln_at_v(vbase, key, c + 0u, ok && c + 0u < dv), kiln_at_v(vbase, key, c + 1u, ok && c + 1u < dv), kiln_at_v(vbase, key, c + 2u, ok && c + 2u < dv), kiln_at_v(vbase, key, c + 3u, ok && c + 3u < dv));
    }
  }
  for (var t0 = k0; t0 < k1; t0 = t0 + BK) {
    workgroupBarrier();
    for (var p = 0u; p < NP; p = p + 1u) {
      let x = lid + p * T;
      if (x < BK * H4) { ks[(x / H4) * QS + x % H4] = fk[p];
      vs[x] = fv[p]; }
    }
    workgroupBarrier();
  {
    let t = t0 + BK;
    for (var p = 0u; p < NP; p = p + 1u) {
      let x = lid + p * T;
      let j = x / H4;
      let c = (x % H4) * 4u;
      let key = t + j;
      let ok = j < BK && key < k1;
      fk[p] = vec4<f32>(kiln_at_k(kbase, key, c + 0u, ok && c + 0u < d), kiln_at_k(kbase, key, c + 1u, ok && c + 1u < d), kiln_at_k(kbase, key, c + 2u, ok && c + 2u < d), kiln_at_k(kbase, key, c + 3u, ok && c + 3u < d));
      fv[p] = vec4<f32>(kiln_at_v(vbase, key, c + 0u, ok && c + 0u < dv), kiln_at_v(vbase, key, c + 1u, ok && c + 1u < dv), kiln_at_v(vbase, key, c + 2u, ok && c + 2u < dv), kiln_at_v(vbase, key, c + 3u, ok && c + 3u < dv));
    }
  }
    if (lid < 8u) {
      let tr = lid / 8u;
      let tc = lid % 8u;
      var s0_0 = vec4<f32>(0.0);
      for (var q = 0u; q < H4; q = q + 1u) {
        let qa0 = qs[(tr * 1u + 0u) * QS + q];
        let kb0 = ks[(tc + 0u) * QS + q];
        s0_0 = fma(qa0, kb0, s0_0);
      }
      {
        let rr = tr * 1u + 0u;
        let j = tc + 0u;
        let i = i0 + rr;
        let key = t0 + j;
        let sd = (s0_0.x + s0_0.y) + (s0_0.z + s0_0.w);
        ps[rr * PS + j] = select(ninf, sd * scale, i < sq && key < k1);
      }
    }
    workgroupBarrier();
    if (lid < BQ) {
      var mx = ninf;
      for (var j = 0u; j < BK; j = j + 1u) { mx = kiln_fmax(mx, ps[lid * PS + j]); }
      let mo = mrow[lid];
      let mn = kiln_fmax(mo, mx);
      mrow[lid] = mn;
      crow[lid] = select(exp(mo - mn), 1.0, mn == ninf);
    }
    workgroupBarrier();
    for (var x = lid; x < BQ * BK; x = x + T) {
      let m = mrow[x / BK];
      let pa = (x / BK) * PS + x % BK;
      ps[pa] = select(exp(ps[pa] - m), 0.0, m == ninf);
    }
    workgroupBarrier();
    let cr0 = crow[r + 0u];
    var lsum0 = 0.0;
    acc0_0 = acc0_0 * cr0;
    for (var j = 0u; j < BK; j = j + 1u) {
      let p0 = ps[(r + 0u) * PS + j];
      lsum0 = lsum0 + p0;
      let v0 = vs[j * H4 + min(g + 0u, H4 - 1u)];
      acc0_0 = fma(vec4<f32>(p0), v0, acc0_0);
    }
    if (g == 0u) {
      lrow[r + 0u] = lrow[r + 0u] * cr0 + lsum0;
    }
  }
  workgroupBarrier();
  {
    let i = i0 + r + 0u;
    let l = lrow[r + 0u];
    let m = mrow[r + 0u];
    let ob = (bt * sq + i) * dv;
    if (i < sq) {
      {
        let col = (g + 0u) * 4u + 0u;
        if (col < dv) {
          let at = (ob + col) * 3u * runs + s;
          out0[at] = acc0_0.x;
          out0[at + runs] = m;
          out0[at + 2u * runs] = l;
        }
      }
      {
        let col = (g + 0u) * 4u + 1u;
        if (col < dv) {
          let at = (ob + col) * 3u * runs + s;
          out0[at] = acc0_0.y;
          out0[at + runs] = m;
          out0[at + 2u * runs] = l;
        }
      }
      {
        let col = (g + 0u) * 4u + 2u;
        if (col < dv) {
          let at = (ob + col) * 3u * runs + s;
          out0[at] = acc0_0.z;
          out0[at + runs] = m;
          out0[at + 2u * runs] = l;
        }
      }
      {
        let col = (g + 0u) * 4u + 3u;
        if (col < dv) {
          let at = (ob + col) * 3u * runs + s;
          out0[at] = acc0_0.w;
          out0[at + runs] = m;
          out0[at + 2u * runs] = l;
        }
      }
    }
  }
}
