// kiln kernel: silu+mul+matmul
struct Params { p: array<vec4<u32>, 3> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out0: array<f32>;
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;
fn b_at(base: i32, k: u32, c: u32) -> f32 {
  let ok = c < P.p[0].z && k < P.p[0].w;
  return select(0.0, in1[u32(select(0, base + i32(k) * bitcast<i32>(P.p[1].y) + i32(c) * bitcast<i32>(P.p[1].z), ok))], ok);
}
fn b_in(base: i32, k: u32, c: u32) -> f32 { return in1[u32(base + i32(k) * bitcast<i32>(P.p[1].y) + i32(c) * bitcast<i32>(P.p[1].z))]; }
fn a_in(base: i32, r: u32, k: u32) -> f32 {
  let bt = u32(base);
  let c0 = r;
  let c1 = k;
  let i = (bt * P.p[0].y + r) * P.p[0].w + k;
  let ld0 = in0[i + P.p[1].w];
  let ok0 = true;
  let ld1 = in0[i + P.p[2].x];
  let ok1 = true;
  let e0: f32 = ld0;
  let e1: f32 = (e0 / (1.0 + exp(-e0)));
  let e2: f32 = ld1;
  let e3: f32 = (e1 * e2);
  return f32(e3);
}
fn a_at(base: i32, r: u32, k: u32) -> f32 {
  if (r >= P.p[0].y || k >= P.p[0].w) { return 0.0; }
  return a_in(base, r, k);
}
fn epilogue(bt: u32, row: u32, col: u32, acc: f32) {
  if (row >= P.p[0].y || col >= P.p[0].z) { return; }
  let red0: f32 = acc;
  let i = (bt * P.p[0].y + row) * P.p[0].z + col;
  let c0 = row;
  let c1 = col;
  let e4: f32 = red0;
  out0[i] = e4;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lidx: u32, @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_id) sg_id: u32, @builtin(num_subgroups) n_sg: u32) {
  let lid = vec3<u32>(lidx % 16u, lidx / 16u, 0u);
  for (var bt = wid.z; bt < P.p[1].x; bt = bt + nwg.z) {
    let abase = i32(bt);
    let bbase = bitcast<i32>(P.p[0].x);
    if (P.p[0].y == 1u || P.p[0].z == 1u) {
      let along_n = P.p[0].y == 1u;
      if (select(0 == 1, bitcast<i32>(P.p[1].y) == 1, along_n)) {
        for (var og = sg_id; og < 8u; og = og + n_sg) {
          let o = (wid.y * nwg.x + wid.x) * 8u + og;
          let oc = min(o, P.p[0].y * P.p[0].z - 1u);
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
          var acc8 = 0.0;
          var acc9 = 0.0;
          var acc10 = 0.0;
          var acc11 = 0.0;
          var acc12 = 0.0;
          var acc13 = 0.0;
          var acc14 = 0.0;
          var acc15 = 0.0;
          for (; q + 15u * sg_size < P.p[0].w; q = q + 16u * sg_size) {
            acc0 = fma(a_in(abase, rowc, q), b_in(bbase, q, colc), acc0);
            acc1 = fma(a_in(abase, rowc, q + 1u * sg_size), b_in(bbase, q + 1u * sg_size, colc), acc1);
            acc2 = fma(a_in(abase, rowc, q + 2u * sg_size), b_in(bbase, q + 2u * sg_size, colc), acc2);
            acc3 = fma(a_in(abase, rowc, q + 3u * sg_size), b_in(bbase, q + 3u * sg_size, colc), acc3);
            acc4 = fma(a_in(abase, rowc, q + 4u * sg_size), b_in(bbase, q + 4u * sg_size, colc), acc4);
            acc5 = fma(a_in(abase, rowc, q + 5u * sg_size), b_in(bbase, q + 5u * sg_size, colc), acc5);
            acc6 = fma(a_in(abase, rowc, q + 6u * sg_size), b_in(bbase, q + 6u * sg_size, colc), acc6);
            acc7 = fma(a_in(abase, rowc, q + 7u * sg_size), b_in(bbase, q + 7u * sg_size, colc), acc7);
            acc8 = fma(a_in(abase, rowc, q + 8u * sg_size), b_in(bbase, q + 8u * sg_size, colc), acc8);
            acc9 = fma(a_in(abase, rowc, q + 9u * sg_size), b_in(bbase, q + 9u * sg_size, colc), acc9);
            acc10 = fma(a_in(abase, rowc, q + 10u * sg_size), b_in(bbase, q + 10u * sg_size, colc), acc10);
            acc11 = fma(a_in(abase, rowc, q + 11u * sg_size), b_in(bbase, q + 11u * sg_size, colc), acc11);
            acc12 = fma(a_in(abase, rowc, q + 12u * sg_size), b_in(bbase, q + 12u * sg_size, colc), acc12);
            acc13 = fma(a_in(abase, rowc, q + 13u * sg_size), b_in(bbase, q + 13u * sg_size, colc), acc13);
            acc14 = fma(a_in(abase, rowc, q + 14u * sg_size), b_in(bbase, q + 14u * sg_size, colc), acc14);
            acc15 = fma(a_in(abase, rowc, q + 15u * sg_size), b_in(bbase, q + 15u * sg_size, colc), acc15);
          }
          for (; q < P.p[0].w; q = q + sg_size) { acc0 = fma(a_at(abase, row, q), b_at(bbase, q, col), acc0); }
          let total = subgroupAdd(((((acc0 + acc1) + (acc2 + acc3)) + ((acc4 + acc5) + (acc6 + acc7))) + (((acc8 + acc9) + (acc10 + acc11)) + ((acc12 + acc13) + (acc14 + acc15)))));
          if (sg_lane == 0u) { epilogue(bt, row, col, total); }
        }
        continue;
      }
      let flat = lid.y * 16u + lid.x;
      let kfast = select(0 == 1, bitcast<i32>(P.p[1].y) == 1, along_n);
      let outs = select(32u, 8u, kfast);
      let l = select(8u, 32u, kfast);
      let og = select(flat % 32u, flat / 32u, kfast);
      let lane = select(flat / 32u, flat % 32u, kfast);
      let o = (wid.y * nwg.x + wid.x) * outs + og;
      let oc = min(o, P.p[0].y * P.p[0].z - 1u);
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
      var acc8 = 0.0;
      var acc9 = 0.0;
      var acc10 = 0.0;
      var acc11 = 0.0;
      var acc12 = 0.0;
      var acc13 = 0.0;
      var acc14 = 0.0;
      var acc15 = 0.0;
      for (; q + 15u * l < P.p[0].w; q = q + 16u * l) {
        acc0 = fma(a_in(abase, rowc, q), b_in(bbase, q, colc), acc0);
        acc1 = fma(a_in(abase, rowc, q + 1u * l), b_in(bbase, q + 1u * l, colc), acc1);
        acc2 = fma(a_in(abase, rowc, q + 2u * l), b_in(bbase, q + 2u * l, colc), acc2);
        acc3 = fma(a_in(abase, rowc, q + 3u * l), b_in(bbase, q + 3u * l, colc), acc3);
        acc4 = fma(a_in(abase, rowc, q + 4u * l), b_in(bbase, q + 4u * l, colc), acc4);
        acc5 = fma(a_in(abase, rowc, q + 5u * l), b_in(bbase, q + 5u * l, colc), acc5);
        acc6 = fma(a_in(abase, rowc, q + 6u * l), b_in(bbase, q + 6u * l, colc), acc6);
        acc7 = fma(a_in(abase, rowc, q + 7u * l), b_in(bbase, q + 7u * l, colc), acc7);
        acc8 = fma(a_in(abase, rowc, q + 8u * l), b_in(bbase, q + 8u * l, colc), acc8);
        acc9 = fma(a_in(abase, rowc, q + 9u * l), b_in(bbase, q + 9u * l, colc), acc9);
        acc10 = fma(a_in(abase, rowc, q + 10u * l), b_in(bbase, q + 10u * l, colc), acc10);
        acc11 = fma(a_in(abase, rowc, q + 11u * l), b_in(bbase, q + 11u * l, colc), acc11);
        acc12 = fma(a_in(abase, rowc, q + 12u * l), b_in(bbase, q + 12u * l, colc), acc12);
        acc13 = fma(a_in(abase, rowc, q + 13u * l), b_in(bbase, q + 13u * l, colc), acc13);
        acc14 = fma(a_in(abase, rowc, q + 14u * l), b_in(bbase, q + 14u * l, colc), acc14);
        acc15 = fma(a_in(abase, rowc, q + 15u * l), b_in(bbase, q + 15u * l, colc), acc15);
      }
      for (; q < P.p[0].w; q = q + l) { acc0 = fma(a_at(abase, row, q), b_at(bbase, q, col), acc0); }
      ta[flat / 16u][flat % 16u] = ((((acc0 + acc1) + (acc2 + acc3)) + ((acc4 + acc5) + (acc6 + acc7))) + (((acc8 + acc9) + (acc10 + acc11)) + ((acc12 + acc13) + (acc14 + acc15))));
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
    for (var t = 0u; t < P.p[0].w; t = t + 16u) {
      ta[lid.y][lid.x] = a_at(abase, row, t + lid.x);
      tb[lid.y][lid.x] = b_at(bbase, t + lid.y, col);
      workgroupBarrier();
      for (var q = 0u; q < 16u; q = q + 1u) { acc = fma(ta[lid.y][q], tb[q][lid.x], acc); }
      workgroupBarrier();
    }
    epilogue(bt, row, col, acc);
  }
}
