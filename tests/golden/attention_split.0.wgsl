// kiln kernel: attention[split 4]
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
const BK = 64u;
const H = 16u;
const G = 64u;
const DS = 17u;
const PS = 65u;
var<workgroup> qs: array<f32, BQ * DS>;
var<workgroup> ks: array<f32, BK * DS>;
var<workgroup> vs: array<f32, BK * H>;
var<workgroup> ps: array<f32, BQ * PS>;
var<workgroup> mrow: array<f32, BQ>;
var<workgroup> lrow: array<f32, BQ>;
var<workgroup> crow: array<f32, BQ>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sq = P.p[0].x;
  let d = P.p[0].y;
  let sk = P.p[0].z;
  let dv = P.p[0].w;
  let runs = P.p[1].x;
  let nb = 1u * P.p[1].y;
  let scale = bitcast<f32>(P.p[1].z);
  let ninf = kiln_f32_bits(0xff800000u);
  let qblocks = (sq + BQ - 1u) / BQ;
  let w = wid.y * nwg.x + wid.x;
  if (w >= nb * qblocks * runs) { return; }
  let s = w % runs;
  let qb = (w / runs) % qblocks;
  let bt = w / (runs * qblocks);
  var rem_bt = bt;
  let c0 = rem_bt;
  let qbase = bitcast<i32>(P.p[1].w) + i32(c0) * bitcast<i32>(P.p[2].x);
  let kbase = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z);
  let vbase = bitcast<i32>(P.p[2].w) + i32(c0) * bitcast<i32>(P.p[3].x);
  let run = (sk + runs - 1u) / runs;
  let k0 = min(s * run, sk);
  var k1 = min(k0 + run, sk);
  let i0 = qb * BQ;
  for (var x = lid; x < BQ * d; x = x + T) {
    let i = i0 + x / d;
    qs[(x / d) * DS + x % d] = select(0.0, in0[u32(qbase + i32(i) * bitcast<i32>(P.p[3].y) + i32(x % d) * bitcast<i32>(P.p[3].z))], i < sq);
  }
  if (lid < BQ) { mrow[lid] = ninf; lrow[lid] = 0.0; }
  let r = (lid / G) * 1u;
  let g = lid % G;
  var acc0_0 = 0.0;
  for (var t0 = k0; t0 < k1; t0 = t0 + BK) {
    workgroupBarrier();
    for (var x = lid; x < BK * d; x = x + T) {
      let key = t0 + x / d;
      ks[(x / d) * DS + x % d] = select(0.0, in1[u32(kbase + i32(key) * bitcast<i32>(P.p[3].w) + i32(x % d) * bitcast<i32>(P.p[4].x))], key < k1);
    }
    for (var x = lid; x < BK * dv; x = x + T) {
      let key = t0 + x / dv;
      vs[(x / dv) * H + x % dv] = select(0.0, in2[u32(vbase + i32(key) * bitcast<i32>(P.p[4].y) + i32(x % dv) * bitcast<i32>(P.p[4].z))], key < k1);
    }
    workgroupBarrier();
    if (lid < 64u) {
      let tr = lid / 64u;
      let tc = lid % 64u;
      var s0_0 = 0.0;
      for (var q = 0u; q < d; q = q + 1u) {
        let qa0 = qs[(tr * 1u + 0u) * DS + q];
        let kb0 = ks[(tc + 0u) * DS + q];
        s0_0 = fma(qa0, kb0, s0_0);
      }
      {
        let rr = tr * 1u + 0u;
        let j = tc + 0u;
        let i = i0 + rr;
        let key = t0 + j;
        ps[rr * PS + j] = select(ninf, s0_0 * scale, i < sq && key < k1);
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
      let v0 = vs[j * H + min(g + 0u, H - 1u)];
      acc0_0 = fma(p0, v0, acc0_0);
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
      if (g + 0u < dv) {
        let at = (ob + g + 0u) * 3u * runs + s;
        out0[at] = acc0_0;
        out0[at + runs] = m;
        out0[at + 2u * runs] = l;
      }
    }
  }
}
