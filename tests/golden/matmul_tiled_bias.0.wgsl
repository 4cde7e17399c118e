// kiln kernel: matmul+add
struct Params { p: array<vec4<u32>, 4> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read> in2: array<f32>;
@group(0) @binding(4) var<storage, read_write> out0: array<f32>;
var<workgroup> ta: array<vec4<f32>, 272>;
var<workgroup> tb: array<vec4<f32>, 256>;
fn a_slot(v: u32, mk: bool) -> vec2<u32> { return select(vec2<u32>(v % 16u, v / 16u), vec2<u32>(v / 16u, v % 16u), mk); }
fn b_slot(v: u32, km: bool) -> vec2<u32> { return select(vec2<u32>(v / 16u, v % 16u), vec2<u32>(v % 16u, v / 16u), km); }
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
  out0[i] = e2;
}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  for (var bt = wid.z; bt < P.p[1].y; bt = bt + nwg.z) {
    let abase = bitcast<i32>(P.p[0].x);
    let bbase = bitcast<i32>(P.p[0].y);
    let gid = wid.y * nwg.x + wid.x;
    let per_group = 8u * nwg.x;
    let first = (gid / per_group) * 8u;
    let rows = min(nwg.y - first, 8u);
    let row0 = (first + (gid % per_group) % rows) * 64u;
    let col0 = ((gid % per_group) / rows) * 64u;
    let flat = lid.y * 16u + lid.x;
    var acc0_0 = vec4<f32>(0.0);
    var acc1_0 = vec4<f32>(0.0);
    var acc2_0 = vec4<f32>(0.0);
    var acc3_0 = vec4<f32>(0.0);
    var pa0: vec4<f32>;
    var pb0: vec4<f32>;
    let acm = bitcast<i32>(P.p[1].z) == 1 && bitcast<i32>(P.p[1].w) != 1;
    let bkm = bitcast<i32>(P.p[2].x) == 1 && bitcast<i32>(P.p[2].y) != 1;
    {
      let t = 0u;
      let inside = row0 + 64u <= P.p[0].z && col0 + 64u <= P.p[0].w && t + 16u <= P.p[1].x;
      {
        let s = a_slot(flat + 0u, acm);
        let k = t + s.x;
        let x = row0 + s.y * 4u;
        if (inside) {
          pa0 = vec4<f32>(a_in(abase, x + 0u, k), a_in(abase, x + 1u, k), a_in(abase, x + 2u, k), a_in(abase, x + 3u, k));
        } else {
          pa0 = vec4<f32>(a_at(abase, x + 0u, k), a_at(abase, x + 1u, k), a_at(abase, x + 2u, k), a_at(abase, x + 3u, k));
        }
      }
      {
        let s = b_slot(flat + 0u, bkm);
        let k = t + s.x;
        let x = col0 + s.y * 4u;
        if (inside) {
          pb0 = vec4<f32>(b_in(bbase, k, x + 0u), b_in(bbase, k, x + 1u), b_in(bbase, k, x + 2u), b_in(bbase, k, x + 3u));
        } else {
          pb0 = vec4<f32>(b_at(bbase, k, x + 0u), b_at(bbase, k, x + 1u), b_at(bbase, k, x + 2u), b_at(bbase, k, x + 3u));
        }
      }
      {
        let s = a_slot(flat + 0u, acm);
        ta[s.x * 17u + s.y] = pa0;
      }
      {
        let s = b_slot(flat + 0u, bkm);
        tb[s.x * 16u + s.y] = pb0;
      }
    }
    workgroupBarrier();
    for (var t0 = 0u; t0 < P.p[1].x; t0 = t0 + 16u) {
      let t = t0 + 16u;
      let more = t < P.p[1].x;
      if (more) {
      let inside = row0 + 64u <= P.p[0].z && col0 + 64u <= P.p[0].w && t + 16u <= P.p[1].x;
      {
        let s = a_slot(flat + 0u, acm);
        let k = t + s.x;
        let x = row0 + s.y * 4u;
        if (inside) {
          pa0 = vec4<f32>(a_in(abase, x + 0u, k), a_in(abase, x + 1u, k), a_in(abase, x + 2u, k), a_in(abase, x + 3u, k));
        } else {
          pa0 = vec4<f32>(a_at(abase, x + 0u, k), a_at(abase, x + 1u, k), a_at(abase, x + 2u, k), a_at(abase, x + 3u, k));
        }
      }
      {
        let s = b_slot(flat + 0u, bkm);
        let k = t + s.x;
        let x = col0 + s.y * 4u;
        if (inside) {
          pb0 = vec4<f32>(b_in(bbase, k, x + 0u), b_in(bbase, k, x + 1u), b_in(bbase, k, x + 2u), b_in(bbase, k, x + 3u));
        } else {
          pb0 = vec4<f32>(b_at(bbase, k, x + 0u), b_at(bbase, k, x + 1u), b_at(bbase, k, x + 2u), b_at(bbase, k, x + 3u));
        }
      }
      }
      for (var q0 = 0u; q0 < 16u; q0 = q0 + 8u) {
      {
        let q = q0 + 0u;
        let a0 = ta[q * 17u + 0u + lid.y];
        let b0 = tb[q * 16u + 0u + lid.x];
        acc0_0 = fma(vec4<f32>(a0.x), b0, acc0_0);
        acc1_0 = fma(vec4<f32>(a0.y), b0, acc1_0);
        acc2_0 = fma(vec4<f32>(a0.z), b0, acc2_0);
        acc3_0 = fma(vec4<f32>(a0.w), b0, acc3_0);
      }
      {
        let q = q0 + 1u;
        let a0 = ta[q * 17u + 0u + lid.y];
        let b0 = tb[q * 16u + 0u + lid.x];
        acc0_0 = fma(vec4<f32>(a0.x), b0, acc0_0);
        acc1_0 = fma(vec4<f32>(a0.y), b0, acc1_0);
        acc2_0 = fma(vec4<f32>(a0.z), b0, acc2_0);
        acc3_0 = fma(vec4<f32>(a0.w), b0, acc3_0);
      }
      {
        let q = q0 + 2u;
        let a0 = ta[q * 17u + 0u + lid.y];
        let b0 = tb[q * 16u + 0u + lid.x];
        acc0_0 = fma(vec4<f32>(a0.x), b0, acc0_0);
        acc1_0 = fma(vec4<f32>(a0.y), b0, acc1_0);
        acc2_0 = fma(vec4<f32>(a0.z), b0, acc2_0);
        acc3_0 = fma(vec4<f32>(a0.w), b0, acc3_0);
      }
      {
        let q = q0 + 3u;
        let a0 = ta[q * 17u + 0u + lid.y];
        let b0 = tb[q * 16u + 0u + lid.x];
        acc0_0 = fma(vec4<f32>(a0.x), b0, acc0_0);
        acc1_0 = fma(vec4<f32>(a0.y), b0, acc1_0);
        acc2_0 = fma(vec4<f32>(a0.z), b0, acc2_0);
        acc3_0 = fma(vec4<f32>(a0.w), b0, acc3_0);
      }
      {
        let q = q0 + 4u;
        let a0 = ta[q * 17u + 0u + lid.y];
        let b0 = tb[q * 16u + 0u + lid.x];
        acc0_0 = fma(vec4<f32>(a0.x), b0, acc0_0);
        acc1_0 = fma(vec4<f32>(a0.y), b0, acc1_0);
        acc2_0 = fma(vec4<f32>(a0.z), b0, acc2_0);
        acc3_0 = fma(vec4<f32>(a0.w), b0, acc3_0);
      }
      {
        let q = q0 + 5u;
        let a0 = ta[q * 17u + 0u + lid.y];
        let b0 = tb[q * 16u + 0u + lid.x];
        acc0_0 = fma(vec4<f32>(a0.x), b0, acc0_0);
        acc1_0 = fma(vec4<f32>(a0.y), b0, acc1_0);
        acc2_0 = fma(vec4<f32>(a0.z), b0, acc2_0);
        acc3_0 = fma(vec4<f32>(a0.w), b0, acc3_0);
      }
      {
        let q = q0 + 6u;
        let a0 = ta[q * 17u + 0u + lid.y];
        let b0 = tb[q * 16u + 0u + lid.x];
        acc0_0 = fma(vec4<f32>(a0.x), b0, acc0_0);
        acc1_0 = fma(vec4<f32>(a0.y), b0, acc1_0);
        acc2_0 = fma(vec4<f32>(a0.z), b0, acc2_0);
        acc3_0 = fma(vec4<f32>(a0.w), b0, acc3_0);
      }
      {
        let q = q0 + 7u;
        let a0 = ta[q * 17u + 0u + lid.y];
        let b0 = tb[q * 16u + 0u + lid.x];
        acc0_0 = fma(vec4<f32>(a0.x), b0, acc0_0);
        acc1_0 = fma(vec4<f32>(a0.y), b0, acc1_0);
        acc2_0 = fma(vec4<f32>(a0.z), b0, acc2_0);
        acc3_0 = fma(vec4<f32>(a0.w), b0, acc3_0);
      }
      }
      workgroupBarrier();
      if (more) {
      {
        let s = a_slot(flat + 0u, acm);
        ta[s.x * 17u + s.y] = pa0;
      }
      {
        let s = b_slot(flat + 0u, bkm);
        tb[s.x * 16u + s.y] = pb0;
      }
      }
      workgroupBarrier();
    }
    epilogue(bt, row0 + 0u + lid.y * 4u + 0u, col0 + 0u + lid.x * 4u + 0u, acc0_0.x);
    epilogue(bt, row0 + 0u + lid.y * 4u + 0u, col0 + 0u + lid.x * 4u + 1u, acc0_0.y);
    epilogue(bt, row0 + 0u + lid.y * 4u + 0u, col0 + 0u + lid.x * 4u + 2u, acc0_0.z);
    epilogue(bt, row0 + 0u + lid.y * 4u + 0u, col0 + 0u + lid.x * 4u + 3u, acc0_0.w);
    epilogue(bt, row0 + 0u + lid.y * 4u + 1u, col0 + 0u + lid.x * 4u + 0u, acc1_0.x);
    epilogue(bt, row0 + 0u + lid.y * 4u + 1u, col0 + 0u + lid.x * 4u + 1u, acc1_0.y);
    epilogue(bt, row0 + 0u + lid.y * 4u + 1u, col0 + 0u + lid.x * 4u + 2u, acc1_0.z);
    epilogue(bt, row0 + 0u + lid.y * 4u + 1u, col0 + 0u + lid.x * 4u + 3u, acc1_0.w);
    epilogue(bt, row0 + 0u + lid.y * 4u + 2u, col0 + 0u + lid.x * 4u + 0u, acc2_0.x);
    epilogue(bt, row0 + 0u + lid.y * 4u + 2u, col0 + 0u + lid.x * 4u + 1u, acc2_0.y);
    epilogue(bt, row0 + 0u + lid.y * 4u + 2u, col0 + 0u + lid.x * 4u + 2u, acc2_0.z);
    epilogue(bt, row0 + 0u + lid.y * 4u + 2u, col0 + 0u + lid.x * 4u + 3u, acc2_0.w);
    epilogue(bt, row0 + 0u + lid.y * 4u + 3u, col0 + 0u + lid.x * 4u + 0u, acc3_0.x);
    epilogue(bt, row0 + 0u + lid.y * 4u + 3u, col0 + 0u + lid.x * 4u + 1u, acc3_0.y);
    epilogue(bt, row0 + 0u + lid.y * 4u + 3u, col0 + 0u + lid.x * 4u + 2u, acc3_0.z);
    epilogue(bt, row0 + 0u + lid.y * 4u + 3u, col0 + 0u + lid.x * 4u + 3u, acc3_0.w);
  }
}
