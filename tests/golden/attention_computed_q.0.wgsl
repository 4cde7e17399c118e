// kiln kernel: sin+mul+attention
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
const BQ = 8u;
const BK = 32u;
const H = 16u;
const H4 = 4u;
const G = 16u;
const QS = 5u;
const PS = 33u;
var<workgroup> qs: array<vec4<f32>, BQ * QS>;
var<workgroup> ks: array<vec4<f32>, BK * QS>;
var<workgroup> vs: array<vec4<f32>, BK * H4>;
var<workgroup> ps: array<f32, BQ * PS>;
var<workgroup> mrow: array<f32, BQ>;
var<workgroup> lrow: array<f32, BQ>;
var<workgroup> crow: array<f32, BQ>;
fn kiln_q_in(bt: u32, row: u32, col: u32) -> f32 {
  var rem_bt = bt;
  let c1 = rem_bt % P.p[0].z;
  rem_bt = rem_bt / P.p[0].z;
  let c0 = rem_bt;
  let c2 = row;
  let c3 = col;
  let i = (bt * P.p[0].x + row) * P.p[0].y + col;
  let ld0 = in0[(i + P.p[0].w) / 4u][(i + P.p[0].w) % 4u];
  let ok0 = true;
  let e0: f32 = ld0;
  let e1: f32 = sin(e0);
  let e2: f32 = (e0 * e1);
  return f32(e2);
}
fn kiln_q_at(bt: u32, row: u32, col: u32, ok: bool) -> f32 {
  if (!ok) { return 0.0; }
  return kiln_q_in(bt, row, col);
}
fn kiln_four_q(base: i32, row: u32, col: u32, width: u32, ok: bool) -> vec4<f32> {
  let bt = u32(base);
  return vec4<f32>(kiln_q_at(bt, row, col + 0u, ok && col + 0u < width), kiln_q_at(bt, row, col + 1u, ok && col + 1u < width), kiln_q_at(bt, row, col + 2u, ok && col + 2u < width), kiln_q_at(bt, row, col + 3u, ok && col + 3u < width));
}
fn kiln_four_k(base: i32, row: u32, col: u32, width: u32, ok: bool) -> vec4<f32> {
  let inside = ok && col < width;
  let x = select(0, base + i32(row) * bitcast<i32>(P.p[1].x) + i32(col), inside);
  return select(vec4<f32>(0.0), in1[u32(x) / 4u], inside);
}
fn kiln_four_v(base: i32, row: u32, col: u32, width: u32, ok: bool) -> vec4<f32> {
  let inside = ok && col < width;
  let x = select(0, base + i32(row) * bitcast<i32>(P.p[1].z) + i32(col), inside);
  return select(vec4<f32>(0.0), in2[u32(x) / 4u], inside);
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sq = P.p[0].x;
  let d = P.p[0].y;
  let sk = P.p[2].x;
  let dv = P.p[2].y;
  let runs = 1u;
  let nb = 1u * P.p[2].z * P.p[0].z;
  let scale = bitcast<f32>(P.p[2].w);
  let ninf = kiln_f32_bits(0xff800000u);
  let qblocks = (sq + BQ - 1u) / BQ;
  let w = wid.y * nwg.x + wid.x;
  if (w >= nb * qblocks * runs) { return; }
  let s = w % runs;
  let qb = (w / runs) % qblocks;
  let bt = w / (runs * qblocks);
  var rem_bt = bt;
  let c1 = rem_bt % P.p[0].z;
  rem_bt = rem_bt / P.p[0].z;
  let c0 = rem_bt;
  let qbase = i32(bt);
  let kbase = bitcast<i32>(P.p[3].x) + i32(c0) * bitcast<i32>(P.p[3].y) + i32(c1) * bitcast<i32>(P.p[3].z);
  let vbase = bitcast<i32>(P.p[3].w) + i32(c0) * bitcast<i32>(P.p[4].x) + i32(c1) * bitcast<i32>(P.p[4].y);
  let run = (sk + runs - 1u) / runs;
  let k0 = min(s * run, sk);
  var k1 = min(k0 + run, sk);
  let i0 = qb * BQ;
  for (var x = lid; x < BQ * H4; x = x + T) {
    let i = i0 + x / H4;
    let c = (x % H4) * 4u;
    let v = kiln_four_q(qbase, i, c, d, i < sq);
    qs[(x / H4) * QS + x % H4] = v;
  }
  if (lid < BQ) { mrow[lid] = ninf; lrow[lid] = 0.0; }
  let r = (lid / G) * 2u;
  let g = lid % G;
  var acc0_0 = vec4<f32>(0.0);
  var acc1_0 = vec4<f32>(0.0);
  const NP = 2u;
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
      fk[p] = kiln_four_k(kbase, key, c, d, ok);
      fv[p] = kiln_four_v(vbase, key, c, dv, ok);
    }
  }
  for (var t0 = k0; t0 < k1; t0 = t0 + BK) {
    workgroupBarrier();
    for (var p = 0u; p < NP; p = p + 1u) {
      let x = lid + p * T;
      ks[(x / H4) * QS + x % H4] = fk[p];
      vs[x] = fv[p];
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
      fk[p] = kiln_four_k(kbase, key, c, d, ok);
      fv[p] = kiln_four_v(vbase, key, c, dv, ok);
    }
  }
    if (lid < 64u) {
      let tr = lid / 16u;
      let tc = lid % 16u;
      var s0_0 = vec4<f32>(0.0);
      var s0_1 = vec4<f32>(0.0);
      var s1_0 = vec4<f32>(0.0);
      var s1_1 = vec4<f32>(0.0);
      for (var q = 0u; q < H4; q = q + 1u) {
        let qa0 = qs[(tr * 2u + 0u) * QS + q];
        let qa1 = qs[(tr * 2u + 1u) * QS + q];
        let kb0 = ks[(tc + 0u) * QS + q];
        let kb1 = ks[(tc + 16u) * QS + q];
        s0_0 = fma(qa0, kb0, s0_0);
        s0_1 = fma(qa0, kb1, s0_1);
        s1_0 = fma(qa1, kb0, s1_0);
        s1_1 = fma(qa1, kb1, s1_1);
      }
      {
        let rr = tr * 2u + 0u;
        let j = tc + 0u;
        let i = i0 + rr;
        let key = t0 + j;
        let sd = (s0_0.x + s0_0.y) + (s0_0.z + s0_0.w);
        ps[rr * PS + j] = select(ninf, sd * scale, i < sq && key < k1);
      }
      {
        let rr = tr * 2u + 0u;
        let j = tc + 16u;
        let i = i0 + rr;
        let key = t0 + j;
        let sd = (s0_1.x + s0_1.y) + (s0_1.z + s0_1.w);
        ps[rr * PS + j] = select(ninf, sd * scale, i < sq && key < k1);
      }
      {
        let rr = tr * 2u + 1u;
        let j = tc + 0u;
        let i = i0 + rr;
        let key = t0 + j;
        let sd = (s1_0.x + s1_0.y) + (s1_0.z + s1_0.w);
        ps[rr * PS + j] = select(ninf, sd * scale, i < sq && key < k1);
      }
      {
        let rr = tr * 2u + 1u;
        let j = tc + 16u;
        let i = i0 + rr;
        let key = t0 + j;
        let sd = (s1_1.x + s1_1.y) + (s1_1.z + s1_1.w);
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
    let cr1 = crow[r + 1u];
    var lsum1 = 0.0;
    acc1_0 = acc1_0 * cr1;
    for (var j = 0u; j < BK; j = j + 1u) {
      let p0 = ps[(r + 0u) * PS + j];
      lsum0 = lsum0 + p0;
      let p1 = ps[(r + 1u) * PS + j];
      lsum1 = lsum1 + p1;
      let v0 = vs[j * H4 + min(g + 0u, H4 - 1u)];
      acc0_0 = fma(vec4<f32>(p0), v0, acc0_0);
      acc1_0 = fma(vec4<f32>(p1), v0, acc1_0);
    }
    if (g == 0u) {
      lrow[r + 0u] = lrow[r + 0u] * cr0 + lsum0;
      lrow[r + 1u] = lrow[r + 1u] * cr1 + lsum1;
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
        if (col < dv) { out0[ob + col] = acc0_0.x / l; }
      }
      {
        let col = (g + 0u) * 4u + 1u;
        if (col < dv) { out0[ob + col] = acc0_0.y / l; }
      }
      {
        let col = (g + 0u) * 4u + 2u;
        if (col < dv) { out0[ob + col] = acc0_0.z / l; }
      }
      {
        let col = (g + 0u) * 4u + 3u;
        if (col < dv) { out0[ob + col] = acc0_0.w / l; }
      }
    }
  }
  {
    let i = i0 + r + 1u;
    let l = lrow[r + 1u];
    let m = mrow[r + 1u];
    let ob = (bt * sq + i) * dv;
    if (i < sq) {
      {
        let col = (g + 0u) * 4u + 0u;
        if (col < dv) { out0[ob + col] = acc1_0.x / l; }
      }
      {
        let col = (g + 0u) * 4u + 1u;
        if (col < dv) { out0[ob + col] = acc1_0.y / l; }
      }
      {
        let col = (g + 0u) * 4u + 2u;
        if (col < dv) { out0[ob + col] = acc1_0.z / l; }
      }
      {
        let col = (g + 0u) * 4u + 3u;
        if (col < dv) { out0[ob + col] = acc1_0.w / l; }
      }
    }
  }
}
