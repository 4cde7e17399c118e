// kiln kernel: max[3]+sub+exp+mul+sum[3]+div+mul+sum[3]
struct Params { p: array<vec4<u32>, 5> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
fn kiln_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }
fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_fmax(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }
var<workgroup> sv_f32: array<f32, 32>;
fn rows_looped(o: u32, live: bool, lid: u32) {
  var rem_o = o;
  let c2 = rem_o % P.p[0].z;
  rem_o = rem_o / P.p[0].z;
  let c1 = rem_o % P.p[0].w;
  rem_o = rem_o / P.p[0].w;
  let c0 = rem_o;
  var acc0: f32 = kiln_f32_bits(0xff800000u);
  if (live) {
    var r = lid;
    for (; r + 224u < P.p[0].y; r = r + 256u) {
      var v0: f32;
      {
        let rr = r + 0u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e1: f32 = ld1;
        v0 = e1;
      }
      var v1: f32;
      {
        let rr = r + 32u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e1: f32 = ld1;
        v1 = e1;
      }
      var v2: f32;
      {
        let rr = r + 64u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e1: f32 = ld1;
        v2 = e1;
      }
      var v3: f32;
      {
        let rr = r + 96u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e1: f32 = ld1;
        v3 = e1;
      }
      var v4: f32;
      {
        let rr = r + 128u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e1: f32 = ld1;
        v4 = e1;
      }
      var v5: f32;
      {
        let rr = r + 160u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e1: f32 = ld1;
        v5 = e1;
      }
      var v6: f32;
      {
        let rr = r + 192u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e1: f32 = ld1;
        v6 = e1;
      }
      var v7: f32;
      {
        let rr = r + 224u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e1: f32 = ld1;
        v7 = e1;
      }
      acc0 = kiln_fmax(acc0, v0);
      acc0 = kiln_fmax(acc0, v1);
      acc0 = kiln_fmax(acc0, v2);
      acc0 = kiln_fmax(acc0, v3);
      acc0 = kiln_fmax(acc0, v4);
      acc0 = kiln_fmax(acc0, v5);
      acc0 = kiln_fmax(acc0, v6);
      acc0 = kiln_fmax(acc0, v7);
    }
    for (; r < P.p[0].y; r = r + 32u) {
      let rr = r;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
  }
  sv_f32[lid] = acc0;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = kiln_fmax(sv_f32[lid], sv_f32[lid + s]);
    }
    workgroupBarrier();
  }
  let tot0 = sv_f32[0];
  let red0: f32 = tot0;
  workgroupBarrier();
  var acc1: f32 = 0.0;
  if (live) {
    var r = lid;
    for (; r + 224u < P.p[0].y; r = r + 256u) {
      var v0: f32;
      {
        let rr = r + 0u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
        let ld2 = in0[u32(a2)];
        let ok2 = true;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e5: f32 = ld2;
        let e6: f32 = (e5 * e4);
        v0 = e6;
      }
      var v1: f32;
      {
        let rr = r + 32u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
        let ld2 = in0[u32(a2)];
        let ok2 = true;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e5: f32 = ld2;
        let e6: f32 = (e5 * e4);
        v1 = e6;
      }
      var v2: f32;
      {
        let rr = r + 64u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
        let ld2 = in0[u32(a2)];
        let ok2 = true;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e5: f32 = ld2;
        let e6: f32 = (e5 * e4);
        v2 = e6;
      }
      var v3: f32;
      {
        let rr = r + 96u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
        let ld2 = in0[u32(a2)];
        let ok2 = true;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e5: f32 = ld2;
        let e6: f32 = (e5 * e4);
        v3 = e6;
      }
      var v4: f32;
      {
        let rr = r + 128u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
        let ld2 = in0[u32(a2)];
        let ok2 = true;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e5: f32 = ld2;
        let e6: f32 = (e5 * e4);
        v4 = e6;
      }
      var v5: f32;
      {
        let rr = r + 160u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
        let ld2 = in0[u32(a2)];
        let ok2 = true;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e5: f32 = ld2;
        let e6: f32 = (e5 * e4);
        v5 = e6;
      }
      var v6: f32;
      {
        let rr = r + 192u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
        let ld2 = in0[u32(a2)];
        let ok2 = true;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e5: f32 = ld2;
        let e6: f32 = (e5 * e4);
        v6 = e6;
      }
      var v7: f32;
      {
        let rr = r + 224u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
        let ld2 = in0[u32(a2)];
        let ok2 = true;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e5: f32 = ld2;
        let e6: f32 = (e5 * e4);
        v7 = e6;
      }
      acc1 = acc1 + v0;
      acc1 = acc1 + v1;
      acc1 = acc1 + v2;
      acc1 = acc1 + v3;
      acc1 = acc1 + v4;
      acc1 = acc1 + v5;
      acc1 = acc1 + v6;
      acc1 = acc1 + v7;
    }
    for (; r < P.p[0].y; r = r + 32u) {
      let rr = r;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
  }
  sv_f32[lid] = acc1;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = sv_f32[lid] + sv_f32[lid + s];
    }
    workgroupBarrier();
  }
  let tot1 = sv_f32[0];
  let red1: f32 = tot1;
  workgroupBarrier();
  var acc2: f32 = 0.0;
  if (live) {
    var r = lid;
    for (; r + 224u < P.p[0].y; r = r + 256u) {
      var v0: f32;
      {
        let rr = r + 0u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
        let ld0 = in0[u32(a0)];
        let ok0 = true;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e0: f32 = ld0;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e7: f32 = red1;
        let e8: f32 = (e4 / e7);
        let e9: f32 = (e0 * e8);
        v0 = e9;
      }
      var v1: f32;
      {
        let rr = r + 32u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
        let ld0 = in0[u32(a0)];
        let ok0 = true;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e0: f32 = ld0;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e7: f32 = red1;
        let e8: f32 = (e4 / e7);
        let e9: f32 = (e0 * e8);
        v1 = e9;
      }
      var v2: f32;
      {
        let rr = r + 64u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
        let ld0 = in0[u32(a0)];
        let ok0 = true;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e0: f32 = ld0;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e7: f32 = red1;
        let e8: f32 = (e4 / e7);
        let e9: f32 = (e0 * e8);
        v2 = e9;
      }
      var v3: f32;
      {
        let rr = r + 96u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
        let ld0 = in0[u32(a0)];
        let ok0 = true;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e0: f32 = ld0;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e7: f32 = red1;
        let e8: f32 = (e4 / e7);
        let e9: f32 = (e0 * e8);
        v3 = e9;
      }
      var v4: f32;
      {
        let rr = r + 128u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
        let ld0 = in0[u32(a0)];
        let ok0 = true;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e0: f32 = ld0;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e7: f32 = red1;
        let e8: f32 = (e4 / e7);
        let e9: f32 = (e0 * e8);
        v4 = e9;
      }
      var v5: f32;
      {
        let rr = r + 160u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
        let ld0 = in0[u32(a0)];
        let ok0 = true;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e0: f32 = ld0;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e7: f32 = red1;
        let e8: f32 = (e4 / e7);
        let e9: f32 = (e0 * e8);
        v5 = e9;
      }
      var v6: f32;
      {
        let rr = r + 192u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
        let ld0 = in0[u32(a0)];
        let ok0 = true;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e0: f32 = ld0;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e7: f32 = red1;
        let e8: f32 = (e4 / e7);
        let e9: f32 = (e0 * e8);
        v6 = e9;
      }
      var v7: f32;
      {
        let rr = r + 224u;
        let i = o * P.p[0].y + rr;
        var rem_rr = rr;
        let c3 = rem_rr;
        let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
        let ld0 = in0[u32(a0)];
        let ok0 = true;
        let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
        let ld1 = in0[u32(a1)];
        let ok1 = true;
        let e0: f32 = ld0;
        let e1: f32 = ld1;
        let e2: f32 = red0;
        let e3: f32 = (e1 - e2);
        let e4: f32 = exp(e3);
        let e7: f32 = red1;
        let e8: f32 = (e4 / e7);
        let e9: f32 = (e0 * e8);
        v7 = e9;
      }
      acc2 = acc2 + v0;
      acc2 = acc2 + v1;
      acc2 = acc2 + v2;
      acc2 = acc2 + v3;
      acc2 = acc2 + v4;
      acc2 = acc2 + v5;
      acc2 = acc2 + v6;
      acc2 = acc2 + v7;
    }
    for (; r < P.p[0].y; r = r + 32u) {
      let rr = r;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let e0: f32 = ld0;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e7: f32 = red1;
      let e8: f32 = (e4 / e7);
      let e9: f32 = (e0 * e8);
      acc2 = acc2 + e9;
    }
  }
  sv_f32[lid] = acc2;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = sv_f32[lid] + sv_f32[lid + s];
    }
    workgroupBarrier();
  }
  let tot2 = sv_f32[0];
  let red2: f32 = tot2;
  workgroupBarrier();
  if (live && lid == 0u) {
    let i = o;
    let e10: f32 = red2;
    out0[o] = e10;
  }
}
fn rows_cached(o: u32, live: bool, lid: u32) {
  var rem_o = o;
  let c2 = rem_o % P.p[0].z;
  rem_o = rem_o / P.p[0].z;
  let c1 = rem_o % P.p[0].w;
  rem_o = rem_o / P.p[0].w;
  let c0 = rem_o;
  var rc0_0: f32;
  var rq0_0: bool;
  var rc1_0: f32;
  var rq1_0: bool;
  var rc2_0: f32;
  var rq2_0: bool;
  var rc0_1: f32;
  var rq0_1: bool;
  var rc1_1: f32;
  var rq1_1: bool;
  var rc2_1: f32;
  var rq2_1: bool;
  var rc0_2: f32;
  var rq0_2: bool;
  var rc1_2: f32;
  var rq1_2: bool;
  var rc2_2: f32;
  var rq2_2: bool;
  var rc0_3: f32;
  var rq0_3: bool;
  var rc1_3: f32;
  var rq1_3: bool;
  var rc2_3: f32;
  var rq2_3: bool;
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_0 = ld0;
      rq0_0 = ok0;
      rc1_0 = ld1;
      rq1_0 = ok1;
      rc2_0 = ld2;
      rq2_0 = ok2;
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_1 = ld0;
      rq0_1 = ok0;
      rc1_1 = ld1;
      rq1_1 = ok1;
      rc2_1 = ld2;
      rq2_1 = ok2;
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_2 = ld0;
      rq0_2 = ok0;
      rc1_2 = ld1;
      rq1_2 = ok1;
      rc2_2 = ld2;
      rq2_2 = ok2;
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_3 = ld0;
      rq0_3 = ok0;
      rc1_3 = ld1;
      rq1_3 = ok1;
      rc2_3 = ld2;
      rq2_3 = ok2;
    }
  }
  var acc0: f32 = kiln_f32_bits(0xff800000u);
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_0;
      let ok1 = rq1_0;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_1;
      let ok1 = rq1_1;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_2;
      let ok1 = rq1_2;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_3;
      let ok1 = rq1_3;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
  }
  sv_f32[lid] = acc0;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = kiln_fmax(sv_f32[lid], sv_f32[lid + s]);
    }
    workgroupBarrier();
  }
  let tot0 = sv_f32[0];
  let red0: f32 = tot0;
  workgroupBarrier();
  var acc1: f32 = 0.0;
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_0;
      let ok1 = rq1_0;
      let ld2 = rc2_0;
      let ok2 = rq2_0;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_1;
      let ok1 = rq1_1;
      let ld2 = rc2_1;
      let ok2 = rq2_1;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_2;
      let ok1 = rq1_2;
      let ld2 = rc2_2;
      let ok2 = rq2_2;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_3;
      let ok1 = rq1_3;
      let ld2 = rc2_3;
      let ok2 = rq2_3;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
  }
  sv_f32[lid] = acc1;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = sv_f32[lid] + sv_f32[lid + s];
    }
    workgroupBarrier();
  }
  let tot1 = sv_f32[0];
  let red1: f32 = tot1;
  workgroupBarrier();
  var acc2: f32 = 0.0;
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_0;
      let ok0 = rq0_0;
      let ld1 = rc1_0;
      let ok1 = rq1_0;
      let e0: f32 = ld0;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e7: f32 = red1;
      let e8: f32 = (e4 / e7);
      let e9: f32 = (e0 * e8);
      acc2 = acc2 + e9;
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_1;
      let ok0 = rq0_1;
      let ld1 = rc1_1;
      let ok1 = rq1_1;
      let e0: f32 = ld0;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e7: f32 = red1;
      let e8: f32 = (e4 / e7);
      let e9: f32 = (e0 * e8);
      acc2 = acc2 + e9;
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_2;
      let ok0 = rq0_2;
      let ld1 = rc1_2;
      let ok1 = rq1_2;
      let e0: f32 = ld0;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e7: f32 = red1;
      let e8: f32 = (e4 / e7);
      let e9: f32 = (e0 * e8);
      acc2 = acc2 + e9;
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_3;
      let ok0 = rq0_3;
      let ld1 = rc1_3;
      let ok1 = rq1_3;
      let e0: f32 = ld0;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e7: f32 = red1;
      let e8: f32 = (e4 / e7);
      let e9: f32 = (e0 * e8);
      acc2 = acc2 + e9;
    }
  }
  sv_f32[lid] = acc2;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = sv_f32[lid] + sv_f32[lid + s];
    }
    workgroupBarrier();
  }
  let tot2 = sv_f32[0];
  let red2: f32 = tot2;
  workgroupBarrier();
  if (live && lid == 0u) {
    let i = o;
    let e10: f32 = red2;
    out0[o] = e10;
  }
}
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = wid.y * nwg.x + wid.x;
  let live = o < P.p[0].x;
  if (P.p[0].y <= 128u) {
    rows_cached(o, live, lid);
  } else {
    rows_looped(o, live, lid);
  }
}
