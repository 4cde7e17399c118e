// kiln kernel: matmul+add+gelu
struct Params { p: array<vec4<u32>, 4> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read> in2: array<f32>;
@group(0) @binding(4) var<storage, read_write> out0: array<f32>;
fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_erf(x: f32) -> f32 {
  let c = clamp(x, -4.5, 4.5);
  let s = c * c;
  let p = 1.1283811 + s * (1.5786092e-1 + s * (4.7825754e-2 + s * (2.1804306e-3 + s * (2.1679353e-4 + s * 1.8902327e-6))));
  let q = 1.0 + s * (4.7325224e-1 + s * (1.00080565e-1 + s * (1.1850965e-2 + s * (7.157837e-4 + s * 3.283491e-5))));
  return clamp(c * p / q, -1.0, 1.0);
}
fn kiln_gelu(x: f32) -> f32 {
  if (x >= -1.0 || x < -14.85 || kiln_isnan(x)) {
    return 0.5 * x * (1.0 + kiln_erf(x * 0.70710678118654752));
  }
  let w = -x;
  let t = 1.0 / (1.0 + 0.35355339 * w);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let h = bitcast<f32>(bitcast<u32>(w) & 0xfffff000u);
  let l = w - h;
  let h2 = 0.5 * (h * h);
  let n = round(h2 * 1.44269504);
  let r = (n * 0.693145751953125 - h2) + n * 1.42860677e-6;
  let k = u32(n);
  let m = 0.5 * x * t * exp(r - 0.5 * l * (w + h) + p);
  return (m * bitcast<f32>((127u - k / 2u) << 23u)) * bitcast<f32>((127u - (k - k / 2u)) << 23u);
}
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;
fn a_at(base: i32, r: u32, k: u32) -> f32 {
  let ok = r < P.p[0].z && k < P.p[1].x;
  return select(0.0, in0[u32(select(0, base + i32(r) * bitcast<i32>(P.p[1].z) + i32(k) * bitcast<i32>(P.p[1].w), ok))], ok);
}
fn a_in(base: i32, r: u32, k: u32) -> f32 { return in0[u32(base + i32(r) * bitcast<i32>(P.p[1].z) + i32(k) * bitcast<i32>(P.p[1].w))]; }
fn b_at(base: i32, k: u32, c: u32) -> f32 {
  let ok = c < P.p[0].w && k < P.p[1].x;
  return select(0.0, in1[u32(select(0, base + i32(k) * bitcast<i32>(P.p[2].x) + i32(c) * bitcast<i32>(P.p[2].y), ok))], ok);
}
fn b_in(base: i32, k: u32, c: u32) -> f32 { return in1[u32(base + i32(k) * bitcast<i32>(P.p[2].x) + i32(c) * bitcast<i32>(P.p[2].y))]; }
fn epilogue(bt: u32, row: u32, col: u32, acc: f32) {
  if (row >= P.p[0].z || col >= P.p[0].w) { return; }
  let red0: f32 = acc;
  let i = (bt * P.p[0].z + row) * P.p[0].w + col;
  let c0 = row;
  let c1 = col;
  let a2 = bitcast<i32>(P.p[2].z) + i32(c0) * bitcast<i32>(P.p[2].w) + i32(c1) * bitcast<i32>(P.p[3].x);
  let ld2 = in2[u32(a2)];
  let ok2 = true;
  let e0: f32 = red0;
  let e1: f32 = ld2;
  let e2: f32 = (e0 + e1);
  let e3: f32 = kiln_gelu(e2);
  out0[i] = e3;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lidx: u32, @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_id) sg_id: u32, @builtin(num_subgroups) n_sg: u32) {
  let lid = vec3<u32>(lidx % 16u, lidx / 16u, 0u);
  for (var bt = wid.z; bt < P.p[1].y; bt = bt + nwg.z) {
    let abase = bitcast<i32>(P.p[0].x);
    let bbase = bitcast<i32>(P.p[0].y);
    if (P.p[0].z == 1u || P.p[0].w == 1u) {
      let along_n = P.p[0].z == 1u;
      if (select(bitcast<i32>(P.p[1].w) == 1, bitcast<i32>(P.p[2].x) == 1, along_n)) {
        for (var og = sg_id; og < 8u; og = og + n_sg) {
          let o = (wid.y * nwg.x + wid.x) * 8u + og;
          let oc = min(o, P.p[0].z * P.p[0].w - 1u);
          let row = select(o, 0u, along_n);
          let col = select(0u, o, along_n);
          let rowc = select(oc, 0u, along_n);
          let colc = select(0u, oc, along_n);
          var q = sg_lane;
          var acc0 = 0.0;
          var acc1 = 0.0;
          var acc2 = 0.0;
          var acc3 = 0.0;
          var acc4 = 0.0;
          var acc5 = 0.0;
          var acc6 = 0.0;
          var acc7 = 0.0;
          for (; q + 7u * sg_size < P.p[1].x; q = q + 8u * sg_size) {
            acc0 = fma(a_in(abase, rowc, q), b_in(bbase, q, colc), acc0);
            acc1 = fma(a_in(abase, rowc, q + 1u * sg_size), b_in(bbase, q + 1u * sg_size, colc), acc1);
            acc2 = fma(a_in(abase, rowc, q + 2u * sg_size), b_in(bbase, q + 2u * sg_size, colc), acc2);
            acc3 = fma(a_in(abase, rowc, q + 3u * sg_size), b_in(bbase, q + 3u * sg_size, colc), acc3);
            acc4 = fma(a_in(abase, rowc, q + 4u * sg_size), b_in(bbase, q + 4u * sg_size, colc), acc4);
            acc5 = fma(a_in(abase, rowc, q + 5u * sg_size), b_in(bbase, q + 5u * sg_size, colc), acc5);
            acc6 = fma(a_in(abase, rowc, q + 6u * sg_size), b_in(bbase, q + 6u * sg_size, colc), acc6);
            acc7 = fma(a_in(abase, rowc, q + 7u * sg_size), b_in(bbase, q + 7u * sg_size, colc), acc7);
          }
          for (; q < P.p[1].x; q = q + sg_size) { acc0 = fma(a_at(abase, row, q), b_at(bbase, q, col), acc0); }
          let total = subgroupAdd((((acc0 + acc1) + (acc2 + acc3)) + ((acc4 + acc5) + (acc6 + acc7))));
          if (sg_lane == 0u) { epilogue(bt, row, col, total); }
        }
        continue;
      }
      let flat = lid.y * 16u + lid.x;
      let kfast = select(bitcast<i32>(P.p[1].w) == 1, bitcast<i32>(P.p[2].x) == 1, along_n);
      let outs = select(32u, 8u, kfast);
      let l = select(8u, 32u, kfast);
      let og = select(flat % 32u, flat / 32u, kfast);
      let lane = select(flat / 32u, flat % 32u, kfast);
      let o = (wid.y * nwg.x + wid.x) * outs + og;
      let oc = min(o, P.p[0].z * P.p[0].w - 1u);
      let row = select(o, 0u, along_n);
      let col = select(0u, o, along_n);
      let rowc = select(oc, 0u, along_n);
      let colc = select(0u, oc, along_n);
      var q = lane;
      var acc0 = 0.0;
      var acc1 = 0.0;
      var acc2 = 0.0;
      var acc3 = 0.0;
      var acc4 = 0.0;
      var acc5 = 0.0;
      var acc6 = 0.0;
      var acc7 = 0.0;
      for (; q + 7u * l < P.p[1].x; q = q + 8u * l) {
        acc0 = fma(a_in(abase, rowc, q), b_in(bbase, q, colc), acc0);
        acc1 = fma(a_in(abase, rowc, q + 1u * l), b_in(bbase, q + 1u * l, colc), acc1);
        acc2 = fma(a_in(abase, rowc, q + 2u * l), b_in(bbase, q + 2u * l, colc), acc2);
        acc3 = fma(a_in(abase, rowc, q + 3u * l), b_in(bbase, q + 3u * l, colc), acc3);
        acc4 = fma(a_in(abase, rowc, q + 4u * l), b_in(bbase, q + 4u * l, colc), acc4);
        acc5 = fma(a_in(abase, rowc, q + 5u * l), b_in(bbase, q + 5u * l, colc), acc5);
        acc6 = fma(a_in(abase, rowc, q + 6u * l), b_in(bbase, q + 6u * l, colc), acc6);
        acc7 = fma(a_in(abase, rowc, q + 7u * l), b_in(bbase, q + 7u * l, colc), acc7);
      }
      for (; q < P.p[1].x; q = q + l) { acc0 = fma(a_at(abase, row, q), b_at(bbase, q, col), acc0); }
      ta[flat / 16u][flat % 16u] = (((acc0 + acc1) + (acc2 + acc3)) + ((acc4 + acc5) + (acc6 + acc7)));
      workgroupBarrier();
      if (lane == 0u) {
        var total = 0.0;
        for (var j = 0u; j < l; j = j + 1u) {
          let p = select(j * 32u + og, og * 32u + j, kfast);
          total = total + ta[p / 16u][p % 16u];
        }
        epilogue(bt, row, col, total);
      }
      workgroupBarrier();
      continue;
    }
    let row = wid.y * 16u + lid.y;
    let col = wid.x * 16u + lid.x;
    var acc = 0.0;
    for (var t = 0u; t < P.p[1].x; t = t + 16u) {
      ta[lid.y][lid.x] = a_at(abase, row, t + lid.x);
      tb[lid.y][lid.x] = b_at(bbase, t + lid.y, col);
      workgroupBarrier();
      for (var q = 0u; q < 16u; q = q + 1u) { acc = fma(ta[lid.y][q], tb[q][lid.x], acc); }
      workgroupBarrier();
    }
    epilogue(bt, row, col, acc);
  }
}
