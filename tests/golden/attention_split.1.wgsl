// kiln kernel: max[3]+sub+exp+mul+sum[3]+div+mul+sum[3]
struct Params { p: array<vec4<u32>, 5> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
fn kiln_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }
fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_fmax(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }
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
  var rc0_4: f32;
  var rq0_4: bool;
  var rc1_4: f32;
  var rq1_4: bool;
  var rc2_4: f32;
  var rq2_4: bool;
  var rc0_5: f32;
  var rq0_5: bool;
  var rc1_5: f32;
  var rq1_5: bool;
  var rc2_5: f32;
  var rq2_5: bool;
  var rc0_6: f32;
  var rq0_6: bool;
  var rc1_6: f32;
  var rq1_6: bool;
  var rc2_6: f32;
  var rq2_6: bool;
  var rc0_7: f32;
  var rq0_7: bool;
  var rc1_7: f32;
  var rq1_7: bool;
  var rc2_7: f32;
  var rq2_7: bool;
  var rc0_8: f32;
  var rq0_8: bool;
  var rc1_8: f32;
  var rq1_8: bool;
  var rc2_8: f32;
  var rq2_8: bool;
  var rc0_9: f32;
  var rq0_9: bool;
  var rc1_9: f32;
  var rq1_9: bool;
  var rc2_9: f32;
  var rq2_9: bool;
  var rc0_10: f32;
  var rq0_10: bool;
  var rc1_10: f32;
  var rq1_10: bool;
  var rc2_10: f32;
  var rq2_10: bool;
  var rc0_11: f32;
  var rq0_11: bool;
  var rc1_11: f32;
  var rq1_11: bool;
  var rc2_11: f32;
  var rq2_11: bool;
  var rc0_12: f32;
  var rq0_12: bool;
  var rc1_12: f32;
  var rq1_12: bool;
  var rc2_12: f32;
  var rq2_12: bool;
  var rc0_13: f32;
  var rq0_13: bool;
  var rc1_13: f32;
  var rq1_13: bool;
  var rc2_13: f32;
  var rq2_13: bool;
  var rc0_14: f32;
  var rq0_14: bool;
  var rc1_14: f32;
  var rq1_14: bool;
  var rc2_14: f32;
  var rq2_14: bool;
  var rc0_15: f32;
  var rq0_15: bool;
  var rc1_15: f32;
  var rq1_15: bool;
  var rc2_15: f32;
  var rq2_15: bool;
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_0 = ld0;
      rq0_0 = ok0;
      rc1_0 = ld1;
      rq1_0 = ok1;
      rc2_0 = ld2;
      rq2_0 = ok2;
    }
    if (lid + 1u < P.p[0].y) {
      let rr = lid + 1u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_1 = ld0;
      rq0_1 = ok0;
      rc1_1 = ld1;
      rq1_1 = ok1;
      rc2_1 = ld2;
      rq2_1 = ok2;
    }
    if (lid + 2u < P.p[0].y) {
      let rr = lid + 2u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_2 = ld0;
      rq0_2 = ok0;
      rc1_2 = ld1;
      rq1_2 = ok1;
      rc2_2 = ld2;
      rq2_2 = ok2;
    }
    if (lid + 3u < P.p[0].y) {
      let rr = lid + 3u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_3 = ld0;
      rq0_3 = ok0;
      rc1_3 = ld1;
      rq1_3 = ok1;
      rc2_3 = ld2;
      rq2_3 = ok2;
    }
    if (lid + 4u < P.p[0].y) {
      let rr = lid + 4u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_4 = ld0;
      rq0_4 = ok0;
      rc1_4 = ld1;
      rq1_4 = ok1;
      rc2_4 = ld2;
      rq2_4 = ok2;
    }
    if (lid + 5u < P.p[0].y) {
      let rr = lid + 5u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_5 = ld0;
      rq0_5 = ok0;
      rc1_5 = ld1;
      rq1_5 = ok1;
      rc2_5 = ld2;
      rq2_5 = ok2;
    }
    if (lid + 6u < P.p[0].y) {
      let rr = lid + 6u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_6 = ld0;
      rq0_6 = ok0;
      rc1_6 = ld1;
      rq1_6 = ok1;
      rc2_6 = ld2;
      rq2_6 = ok2;
    }
    if (lid + 7u < P.p[0].y) {
      let rr = lid + 7u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_7 = ld0;
      rq0_7 = ok0;
      rc1_7 = ld1;
      rq1_7 = ok1;
      rc2_7 = ld2;
      rq2_7 = ok2;
    }
    if (lid + 8u < P.p[0].y) {
      let rr = lid + 8u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_8 = ld0;
      rq0_8 = ok0;
      rc1_8 = ld1;
      rq1_8 = ok1;
      rc2_8 = ld2;
      rq2_8 = ok2;
    }
    if (lid + 9u < P.p[0].y) {
      let rr = lid + 9u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_9 = ld0;
      rq0_9 = ok0;
      rc1_9 = ld1;
      rq1_9 = ok1;
      rc2_9 = ld2;
      rq2_9 = ok2;
    }
    if (lid + 10u < P.p[0].y) {
      let rr = lid + 10u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_10 = ld0;
      rq0_10 = ok0;
      rc1_10 = ld1;
      rq1_10 = ok1;
      rc2_10 = ld2;
      rq2_10 = ok2;
    }
    if (lid + 11u < P.p[0].y) {
      let rr = lid + 11u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_11 = ld0;
      rq0_11 = ok0;
      rc1_11 = ld1;
      rq1_11 = ok1;
      rc2_11 = ld2;
      rq2_11 = ok2;
    }
    if (lid + 12u < P.p[0].y) {
      let rr = lid + 12u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_12 = ld0;
      rq0_12 = ok0;
      rc1_12 = ld1;
      rq1_12 = ok1;
      rc2_12 = ld2;
      rq2_12 = ok2;
    }
    if (lid + 13u < P.p[0].y) {
      let rr = lid + 13u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_13 = ld0;
      rq0_13 = ok0;
      rc1_13 = ld1;
      rq1_13 = ok1;
      rc2_13 = ld2;
      rq2_13 = ok2;
    }
    if (lid + 14u < P.p[0].y) {
      let rr = lid + 14u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_14 = ld0;
      rq0_14 = ok0;
      rc1_14 = ld1;
      rq1_14 = ok1;
      rc2_14 = ld2;
      rq2_14 = ok2;
    }
    if (lid + 15u < P.p[0].y) {
      let rr = lid + 15u;
      let i = o * P.p[0].y + rr;
      var rem_rr = rr;
      let c3 = rem_rr;
      let a0 = bitcast<i32>(P.p[1].x) + i32(c0) * bitcast<i32>(P.p[1].y) + i32(c1) * bitcast<i32>(P.p[1].z) + i32(c2) * bitcast<i32>(P.p[1].w) + i32(c3) * bitcast<i32>(P.p[2].x);
      let ld0 = in0[u32(a0)];
      let ok0 = true;
      let a1 = bitcast<i32>(P.p[2].y) + i32(c0) * bitcast<i32>(P.p[2].z) + i32(c1) * bitcast<i32>(P.p[2].w) + i32(c2) * bitcast<i32>(P.p[3].x) + i32(c3) * bitcast<i32>(P.p[3].y);
      let ld1 = in0[u32(a1)];
      let ok1 = true;
      let a2 = bitcast<i32>(P.p[3].z) + i32(c0) * bitcast<i32>(P.p[3].w) + i32(c1) * bitcast<i32>(P.p[4].x) + i32(c2) * bitcast<i32>(P.p[4].y) + i32(c3) * bitcast<i32>(P.p[4].z);
      let ld2 = in0[u32(a2)];
      let ok2 = true;
      rc0_15 = ld0;
      rq0_15 = ok0;
      rc1_15 = ld1;
      rq1_15 = ok1;
      rc2_15 = ld2;
      rq2_15 = ok2;
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
    if (lid + 1u < P.p[0].y) {
      let rr = lid + 1u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_1;
      let ok1 = rq1_1;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 2u < P.p[0].y) {
      let rr = lid + 2u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_2;
      let ok1 = rq1_2;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 3u < P.p[0].y) {
      let rr = lid + 3u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_3;
      let ok1 = rq1_3;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 4u < P.p[0].y) {
      let rr = lid + 4u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_4;
      let ok1 = rq1_4;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 5u < P.p[0].y) {
      let rr = lid + 5u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_5;
      let ok1 = rq1_5;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 6u < P.p[0].y) {
      let rr = lid + 6u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_6;
      let ok1 = rq1_6;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 7u < P.p[0].y) {
      let rr = lid + 7u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_7;
      let ok1 = rq1_7;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 8u < P.p[0].y) {
      let rr = lid + 8u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_8;
      let ok1 = rq1_8;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 9u < P.p[0].y) {
      let rr = lid + 9u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_9;
      let ok1 = rq1_9;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 10u < P.p[0].y) {
      let rr = lid + 10u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_10;
      let ok1 = rq1_10;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 11u < P.p[0].y) {
      let rr = lid + 11u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_11;
      let ok1 = rq1_11;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 12u < P.p[0].y) {
      let rr = lid + 12u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_12;
      let ok1 = rq1_12;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 13u < P.p[0].y) {
      let rr = lid + 13u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_13;
      let ok1 = rq1_13;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 14u < P.p[0].y) {
      let rr = lid + 14u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_14;
      let ok1 = rq1_14;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
    if (lid + 15u < P.p[0].y) {
      let rr = lid + 15u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_15;
      let ok1 = rq1_15;
      let e1: f32 = ld1;
      acc0 = kiln_fmax(acc0, e1);
    }
  }
  let tot0 = acc0;
  let red0: f32 = tot0;
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
    if (lid + 1u < P.p[0].y) {
      let rr = lid + 1u;
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
    if (lid + 2u < P.p[0].y) {
      let rr = lid + 2u;
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
    if (lid + 3u < P.p[0].y) {
      let rr = lid + 3u;
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
    if (lid + 4u < P.p[0].y) {
      let rr = lid + 4u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_4;
      let ok1 = rq1_4;
      let ld2 = rc2_4;
      let ok2 = rq2_4;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 5u < P.p[0].y) {
      let rr = lid + 5u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_5;
      let ok1 = rq1_5;
      let ld2 = rc2_5;
      let ok2 = rq2_5;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 6u < P.p[0].y) {
      let rr = lid + 6u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_6;
      let ok1 = rq1_6;
      let ld2 = rc2_6;
      let ok2 = rq2_6;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 7u < P.p[0].y) {
      let rr = lid + 7u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_7;
      let ok1 = rq1_7;
      let ld2 = rc2_7;
      let ok2 = rq2_7;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 8u < P.p[0].y) {
      let rr = lid + 8u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_8;
      let ok1 = rq1_8;
      let ld2 = rc2_8;
      let ok2 = rq2_8;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 9u < P.p[0].y) {
      let rr = lid + 9u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_9;
      let ok1 = rq1_9;
      let ld2 = rc2_9;
      let ok2 = rq2_9;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 10u < P.p[0].y) {
      let rr = lid + 10u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_10;
      let ok1 = rq1_10;
      let ld2 = rc2_10;
      let ok2 = rq2_10;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 11u < P.p[0].y) {
      let rr = lid + 11u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_11;
      let ok1 = rq1_11;
      let ld2 = rc2_11;
      let ok2 = rq2_11;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 12u < P.p[0].y) {
      let rr = lid + 12u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_12;
      let ok1 = rq1_12;
      let ld2 = rc2_12;
      let ok2 = rq2_12;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 13u < P.p[0].y) {
      let rr = lid + 13u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_13;
      let ok1 = rq1_13;
      let ld2 = rc2_13;
      let ok2 = rq2_13;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 14u < P.p[0].y) {
      let rr = lid + 14u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_14;
      let ok1 = rq1_14;
      let ld2 = rc2_14;
      let ok2 = rq2_14;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
    if (lid + 15u < P.p[0].y) {
      let rr = lid + 15u;
      let i = o * P.p[0].y + rr;
      let ld1 = rc1_15;
      let ok1 = rq1_15;
      let ld2 = rc2_15;
      let ok2 = rq2_15;
      let e1: f32 = ld1;
      let e2: f32 = red0;
      let e3: f32 = (e1 - e2);
      let e4: f32 = exp(e3);
      let e5: f32 = ld2;
      let e6: f32 = (e5 * e4);
      acc1 = acc1 + e6;
    }
  }
  let tot1 = acc1;
  let red1: f32 = tot1;
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
    if (lid + 1u < P.p[0].y) {
      let rr = lid + 1u;
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
    if (lid + 2u < P.p[0].y) {
      let rr = lid + 2u;
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
    if (lid + 3u < P.p[0].y) {
      let rr = lid + 3u;
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
    if (lid + 4u < P.p[0].y) {
      let rr = lid + 4u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_4;
      let ok0 = rq0_4;
      let ld1 = rc1_4;
      let ok1 = rq1_4;
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
    if (lid + 5u < P.p[0].y) {
      let rr = lid + 5u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_5;
      let ok0 = rq0_5;
      let ld1 = rc1_5;
      let ok1 = rq1_5;
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
    if (lid + 6u < P.p[0].y) {
      let rr = lid + 6u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_6;
      let ok0 = rq0_6;
      let ld1 = rc1_6;
      let ok1 = rq1_6;
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
    if (lid + 7u < P.p[0].y) {
      let rr = lid + 7u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_7;
      let ok0 = rq0_7;
      let ld1 = rc1_7;
      let ok1 = rq1_7;
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
    if (lid + 8u < P.p[0].y) {
      let rr = lid + 8u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_8;
      let ok0 = rq0_8;
      let ld1 = rc1_8;
      let ok1 = rq1_8;
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
    if (lid + 9u < P.p[0].y) {
      let rr = lid + 9u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_9;
      let ok0 = rq0_9;
      let ld1 = rc1_9;
      let ok1 = rq1_9;
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
    if (lid + 10u < P.p[0].y) {
      let rr = lid + 10u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_10;
      let ok0 = rq0_10;
      let ld1 = rc1_10;
      let ok1 = rq1_10;
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
    if (lid + 11u < P.p[0].y) {
      let rr = lid + 11u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_11;
      let ok0 = rq0_11;
      let ld1 = rc1_11;
      let ok1 = rq1_11;
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
    if (lid + 12u < P.p[0].y) {
      let rr = lid + 12u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_12;
      let ok0 = rq0_12;
      let ld1 = rc1_12;
      let ok1 = rq1_12;
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
    if (lid + 13u < P.p[0].y) {
      let rr = lid + 13u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_13;
      let ok0 = rq0_13;
      let ld1 = rc1_13;
      let ok1 = rq1_13;
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
    if (lid + 14u < P.p[0].y) {
      let rr = lid + 14u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_14;
      let ok0 = rq0_14;
      let ld1 = rc1_14;
      let ok1 = rq1_14;
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
    if (lid + 15u < P.p[0].y) {
      let rr = lid + 15u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_15;
      let ok0 = rq0_15;
      let ld1 = rc1_15;
      let ok1 = rq1_15;
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
  let tot2 = acc2;
  let red2: f32 = tot2;
  if (live && lid == 0u) {
    let i = o;
    let e10: f32 = red2;
    out0[o] = e10;
  }
}
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = (wid.y * nwg.x + wid.x) * 32u + lid;
  let live = o < P.p[0].x;
  rows_cached(o, live, 0u);
}
