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
  {
    let x0 = lid + 0u;
    let row0 = i0 + x0 / H;
    let col0 = x0 % H;
    var v0 = 0.0;
    if (x0 < 16u && row0 < sq && col0 < d) { v0 = in0[u32(qbase + i32(row0) * bitcast<i32>(P.p[3].y) + i32(col0) * bitcast<i32>(P.p[3].z))]; }
    if (x0 < 16u) { qs[(x0 / H) * DS + col0] = v0; }
  }
  if (lid < BQ) { mrow[lid] = ninf; lrow[lid] = 0.0; }
  let r = (lid / G) * 1u;
  let g = lid % G;
  var acc0_0 = 0.0;
  for (var t0 = k0; t0 < k1; t0 = t0 + BK) {
    workgroupBarrier();
    {
      let x0 = lid + 0u;
      let row0 = t0 + x0 / H;
      let col0 = x0 % H;
      var v0 = 0.0;
      if (row0 < k1 && col0 < d) { v0 = in1[u32(kbase + i32(row0) * bitcast<i32>(P.p[3].w) + i32(col0) * bitcast<i32>(P.p[4].x))]; }
      let x1 = lid + 64u;
      let row1 = t0 + x1 / H;
      let col1 = x1 % H;
      var v1 = 0.0;
      if (row1 < k1 && col1 < d) { v1 = in1[u32(kbase + i32(row1) * bitcast<i32>(P.p[3].w) + i32(col1) * bitcast<i32>(P.p[4].x))]; }
      let x2 = lid + 128u;
      let row2 = t0 + x2 / H;
      let col2 = x2 % H;
      var v2 = 0.0;
      if (row2 < k1 && col2 < d) { v2 = in1[u32(kbase + i32(row2) * bitcast<i32>(P.p[3].w) + i32(col2) * bitcast<i32>(P.p[4].x))]; }
      let x3 = lid + 192u;
      let row3 = t0 + x3 / H;
      let col3 = x3 % H;
      var v3 = 0.0;
      if (row3 < k1 && col3 < d) { v3 = in1[u32(kbase + i32(row3) * bitcast<i32>(P.p[3].w) + i32(col3) * bitcast<i32>(P.p[4].x))]; }
      let x4 = lid + 256u;
      let row4 = t0 + x4 / H;
      let col4 = x4 % H;
      var v4 = 0.0;
      if (row4 < k1 && col4 < d) { v4 = in1[u32(kbase + i32(row4) * bitcast<i32>(P.p[3].w) + i32(col4) * bitcast<i32>(P.p[4].x))]; }
      let x5 = lid + 320u;
      let row5 = t0 + x5 / H;
      let col5 = x5 % H;
      var v5 = 0.0;
      if (row5 < k1 && col5 < d) { v5 = in1[u32(kbase + i32(row5) * bitcast<i32>(P.p[3].w) + i32(col5) * bitcast<i32>(P.p[4].x))]; }
      let x6 = lid + 384u;
      let row6 = t0 + x6 / H;
      let col6 = x6 % H;
      var v6 = 0.0;
      if (row6 < k1 && col6 < d) { v6 = in1[u32(kbase + i32(row6) * bitcast<i32>(P.p[3].w) + i32(col6) * bitcast<i32>(P.p[4].x))]; }
      let x7 = lid + 448u;
      let row7 = t0 + x7 / H;
      let col7 = x7 % H;
      var v7 = 0.0;
      if (row7 < k1 && col7 < d) { v7 = in1[u32(kbase + i32(row7) * bitcast<i32>(P.p[3].w) + i32(col7) * bitcast<i32>(P.p[4].x))]; }
      ks[(x0 / H) * DS + col0] = v0;
      ks[(x1 / H) * DS + col1] = v1;
      ks[(x2 / H) * DS + col2] = v2;
      ks[(x3 / H) * DS + col3] = v3;
      ks[(x4 / H) * DS + col4] = v4;
      ks[(x5 / H) * DS + col5] = v5;
      ks[(x6 / H) * DS + col6] = v6;
      ks[(x7 / H) * DS + col7] = v7;
    }
    {
      let x8 = lid + 512u;
      let row8 = t0 + x8 / H;
      let col8 = x8 % H;
      var v8 = 0.0;
      if (row8 < k1 && col8 < d) { v8 = in1[u32(kbase + i32(row8) * bitcast<i32>(P.p[3].w) + i32(col8) * bitcast<i32>(P.p[4].x))]; }
      let x9 = lid + 576u;
      let row9 = t0 + x9 / H;
      let col9 = x9 % H;
      var v9 = 0.0;
      if (row9 < k1 && col9 < d) { v9 = in1[u32(kbase + i32(row9) * bitcast<i32>(P.p[3].w) + i32(col9) * bitcast<i32>(P.p[4].x))]; }
      let x10 = lid + 640u;
      let row10 = t0 + x10 / H;
      let col10 = x10 % H;
      var v10 = 0.0;
      if (row10 < k1 && col10 < d) { v10 = in1[u32(kbase + i32(row10) * bitcast<i32>(P.p[3].w) + i32(col10) * bitcast<i32>(P.p[4].x))]; }
      let x11 = lid + 704u;
      let row11 = t0 + x11 / H;
      let col11 = x11 % H;
      var v11 = 0.0;
      if (row11 < k1 && col11 < d) { v11 = in1[u32(kbase + i32(row11) * bitcast<i32>(P.p[3].w) + i32(col11) * bitcast<i32>(P.p[4].x))]; }
      let x12 = lid + 768u;
      let row12 = t0 + x12 / H;
      let col12 = x12 % H;
      var v12 = 0.0;
      if (row12 < k1 && col12 < d) { v12 = in1[u32(kbase + i32(row12) * bitcast<i32>(P.p[3].w) + i32(col12) * bitcast<i32>(P.p[4].x))]; }
      let x13 = lid + 832u;
      let row13 = t0 + x13 / H;
      let col13 = x13 % H;
      var v13 = 0.0;
      if (row13 < k1 && col13 < d) { v13 = in1[u32(kbase + i32(row13) * bitcast<i32>(P.p[3].w) + i32(col13) * bitcast<i32>(P.p[4].x))]; }
      let x14 = lid + 896u;
      let row14 = t0 + x14 / H;
      let col14 = x14 % H;
      var v14 = 0.0;
      if (row14 < k1 && col14 < d) { v14 = in1[u32(kbase + i32(row14) * bitcast<i32>(P.p[3].w) + i32(col14) * bitcast<i32>(P.p[4].x))]; }
      let x15 = lid + 960u;
      let row15 = t0 + x15 / H;
      let col15 = x15 % H;
      var v15 = 0.0;
      if (row15 < k1 && col15 < d) { v15 = in1[u32(kbase + i32(row15) * bitcast<i32>(P.p[3].w) + i32(col15) * bitcast<i32>(P.p[4].x))]; }
      ks[(x8 / H) * DS + col8] = v8;
      ks[(x9 / H) * DS + col9] = v9;
      ks[(x10 / H) * DS + col10] = v10;
      ks[(x11 / H) * DS + col11] = v11;
      ks[(x12 / H) * DS + col12] = v12;
      ks[(x13 / H) * DS + col13] = v13;
      ks[(x14 / H) * DS + col14] = v14;
      ks[(x15 / H) * DS + col15] = v15;
    }
    {
      let x0 = lid + 0u;
      let row0 = t0 + x0 / H;
      let col0 = x0 % H;
      var v0 = 0.0;
      if (row0 < k1 && col0 < dv) { v0 = in2[u32(vbase + i32(row0) * bitcast<i32>(P.p[4].y) + i32(col0) * bitcast<i32>(P.p[4].z))]; }
      let x1 = lid + 64u;
      let row1 = t0 + x1 / H;
      let col1 = x1 % H;
      var v1 = 0.0;
      if (row1 < k1 && col1 < dv) { v1 = in2[u32(vbase + i32(row1) * bitcast<i32>(P.p[4].y) + i32(col1) * bitcast<i32>(P.p[4].z))]; }
      let x2 = lid + 128u;
      let row2 = t0 + x2 / H;
      let col2 = x2 % H;
      var v2 = 0.0;
      if (row2 < k1 && col2 < dv) { v2 = in2[u32(vbase + i32(row2) * bitcast<i32>(P.p[4].y) + i32(col2) * bitcast<i32>(P.p[4].z))]; }
      let x3 = lid + 192u;
      let row3 = t0 + x3 / H;
      let col3 = x3 % H;
      var v3 = 0.0;
      if (row3 < k1 && col3 < dv) { v3 = in2[u32(vbase + i32(row3) * bitcast<i32>(P.p[4].y) + i32(col3) * bitcast<i32>(P.p[4].z))]; }
      let x4 = lid + 256u;
      let row4 = t0 + x4 / H;
      let col4 = x4 % H;
      var v4 = 0.0;
      if (row4 < k1 && col4 < dv) { v4 = in2[u32(vbase + i32(row4) * bitcast<i32>(P.p[4].y) + i32(col4) * bitcast<i32>(P.p[4].z))]; }
      let x5 = lid + 320u;
      let row5 = t0 + x5 / H;
      let col5 = x5 % H;
      var v5 = 0.0;
      if (row5 < k1 && col5 < dv) { v5 = in2[u32(vbase + i32(row5) * bitcast<i32>(P.p[4].y) + i32(col5) * bitcast<i32>(P.p[4].z))]; }
      let x6 = lid + 384u;
      let row6 = t0 + x6 / H;
      let col6 = x6 % H;
      var v6 = 0.0;
      if (row6 < k1 && col6 < dv) { v6 = in2[u32(vbase + i32(row6) * bitcast<i32>(P.p[4].y) + i32(col6) * bitcast<i32>(P.p[4].z))]; }
      let x7 = lid + 448u;
      let row7 = t0 + x7 / H;
      let col7 = x7 % H;
      var v7 = 0.0;
      if (row7 < k1 && col7 < dv) { v7 = in2[u32(vbase + i32(row7) * bitcast<i32>(P.p[4].y) + i32(col7) * bitcast<i32>(P.p[4].z))]; }
      vs[(x0 / H) * H + col0] = v0;
      vs[(x1 / H) * H + col1] = v1;
      vs[(x2 / H) * H + col2] = v2;
      vs[(x3 / H) * H + col3] = v3;
      vs[(x4 / H) * H + col4] = v4;
      vs[(x5 / H) * H + col5] = v5;
      vs[(x6 / H) * H + col6] = v6;
      vs[(x7 / H) * H + col7] = v7;
    }
    {
      let x8 = lid + 512u;
      let row8 = t0 + x8 / H;
      let col8 = x8 % H;
      var v8 = 0.0;
      if (row8 < k1 && col8 < dv) { v8 = in2[u32(vbase + i32(row8) * bitcast<i32>(P.p[4].y) + i32(col8) * bitcast<i32>(P.p[4].z))]; }
      let x9 = lid + 576u;
      let row9 = t0 + x9 / H;
      let col9 = x9 % H;
      var v9 = 0.0;
      if (row9 < k1 && col9 < dv) { v9 = in2[u32(vbase + i32(row9) * bitcast<i32>(P.p[4].y) + i32(col9) * bitcast<i32>(P.p[4].z))]; }
      let x10 = lid + 640u;
      let row10 = t0 + x10 / H;
      let col10 = x10 % H;
      var v10 = 0.0;
      if (row10 < k1 && col10 < dv) { v10 = in2[u32(vbase + i32(row10) * bitcast<i32>(P.p[4].y) + i32(col10) * bitcast<i32>(P.p[4].z))]; }
      let x11 = lid + 704u;
      let row11 = t0 + x11 / H;
      let col11 = x11 % H;
      var v11 = 0.0;
      if (row11 < k1 && col11 < dv) { v11 = in2[u32(vbase + i32(row11) * bitcast<i32>(P.p[4].y) + i32(col11) * bitcast<i32>(P.p[4].z))]; }
      let x12 = lid + 768u;
      let row12 = t0 + x12 / H;
      let col12 = x12 % H;
      var v12 = 0.0;
      if (row12 < k1 && col12 < dv) { v12 = in2[u32(vbase + i32(row12) * bitcast<i32>(P.p[4].y) + i32(col12) * bitcast<i32>(P.p[4].z))]; }
      let x13 = lid + 832u;
      let row13 = t0 + x13 / H;
      let col13 = x13 % H;
      var v13 = 0.0;
      if (row13 < k1 && col13 < dv) { v13 = in2[u32(vbase + i32(row13) * bitcast<i32>(P.p[4].y) + i32(col13) * bitcast<i32>(P.p[4].z))]; }
      let x14 = lid + 896u;
      let row14 = t0 + x14 / H;
      let col14 = x14 % H;
      var v14 = 0.0;
      if (row14 < k1 && col14 < dv) { v14 = in2[u32(vbase + i32(row14) * bitcast<i32>(P.p[4].y) + i32(col14) * bitcast<i32>(P.p[4].z))]; }
      let x15 = lid + 960u;
      let row15 = t0 + x15 / H;
      let col15 = x15 % H;
      var v15 = 0.0;
      if (row15 < k1 && col15 < dv) { v15 = in2[u32(vbase + i32(row15) * bitcast<i32>(P.p[4].y) + i32(col15) * bitcast<i32>(P.p[4].z))]; }
      vs[(x8 / H) * H + col8] = v8;
      vs[(x9 / H) * H + col9] = v9;
      vs[(x10 / H) * H + col10] = v10;
      vs[(x11 / H) * H + col11] = v11;
      vs[(x12 / H) * H + col12] = v12;
      vs[(x13 / H) * H + col13] = v13;
      vs[(x14 / H) * H + col14] = v14;
      vs[(x15 / H) * H + col15] = v15;
    }
    workgroupBarrier();
    if (lid < 64u) {
      let tr = lid / 64u;
      let tc = lid % 64u;
      var s0_0 = 0.0;
      for (var q = 0u; q < H; q = q + 1u) {
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
