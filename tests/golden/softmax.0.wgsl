// kiln kernel: max[1]+sub+exp+sum[1]+div
struct Params { p: array<vec4<u32>, 1> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
fn kiln_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }
fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_fmax(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }
var<workgroup> sv_f32: array<f32, 32>;
fn rows_looped(o: u32, live: bool, lid: u32) {
  var acc0: f32 = kiln_f32_bits(0xff800000u);
  if (live) {
    var r = lid;
    for (; r + 224u < P.p[0].y; r = r + 256u) {
      var v0: f32;
      {
        let rr = r + 0u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        v0 = e0;
      }
      var v1: f32;
      {
        let rr = r + 32u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        v1 = e0;
      }
      var v2: f32;
      {
        let rr = r + 64u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        v2 = e0;
      }
      var v3: f32;
      {
        let rr = r + 96u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        v3 = e0;
      }
      var v4: f32;
      {
        let rr = r + 128u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        v4 = e0;
      }
      var v5: f32;
      {
        let rr = r + 160u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        v5 = e0;
      }
      var v6: f32;
      {
        let rr = r + 192u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        v6 = e0;
      }
      var v7: f32;
      {
        let rr = r + 224u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        v7 = e0;
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
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
      let e0: f32 = ld0;
      acc0 = kiln_fmax(acc0, e0);
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
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        v0 = e3;
      }
      var v1: f32;
      {
        let rr = r + 32u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        v1 = e3;
      }
      var v2: f32;
      {
        let rr = r + 64u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        v2 = e3;
      }
      var v3: f32;
      {
        let rr = r + 96u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        v3 = e3;
      }
      var v4: f32;
      {
        let rr = r + 128u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        v4 = e3;
      }
      var v5: f32;
      {
        let rr = r + 160u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        v5 = e3;
      }
      var v6: f32;
      {
        let rr = r + 192u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        v6 = e3;
      }
      var v7: f32;
      {
        let rr = r + 224u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        v7 = e3;
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
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      acc1 = acc1 + e3;
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
  if (live) {
    for (var r = lid; r < P.p[0].y; r = r + 256u) {
      var v0_0: f32;
      let rr0 = r + 0u;
      if (rr0 < P.p[0].y) {
        let rr = rr0;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        let e4: f32 = red1;
        let e5: f32 = (e3 / e4);
        v0_0 = e5;
      }
      var v1_0: f32;
      let rr1 = r + 32u;
      if (rr1 < P.p[0].y) {
        let rr = rr1;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        let e4: f32 = red1;
        let e5: f32 = (e3 / e4);
        v1_0 = e5;
      }
      var v2_0: f32;
      let rr2 = r + 64u;
      if (rr2 < P.p[0].y) {
        let rr = rr2;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        let e4: f32 = red1;
        let e5: f32 = (e3 / e4);
        v2_0 = e5;
      }
      var v3_0: f32;
      let rr3 = r + 96u;
      if (rr3 < P.p[0].y) {
        let rr = rr3;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        let e4: f32 = red1;
        let e5: f32 = (e3 / e4);
        v3_0 = e5;
      }
      var v4_0: f32;
      let rr4 = r + 128u;
      if (rr4 < P.p[0].y) {
        let rr = rr4;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        let e4: f32 = red1;
        let e5: f32 = (e3 / e4);
        v4_0 = e5;
      }
      var v5_0: f32;
      let rr5 = r + 160u;
      if (rr5 < P.p[0].y) {
        let rr = rr5;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        let e4: f32 = red1;
        let e5: f32 = (e3 / e4);
        v5_0 = e5;
      }
      var v6_0: f32;
      let rr6 = r + 192u;
      if (rr6 < P.p[0].y) {
        let rr = rr6;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        let e4: f32 = red1;
        let e5: f32 = (e3 / e4);
        v6_0 = e5;
      }
      var v7_0: f32;
      let rr7 = r + 224u;
      if (rr7 < P.p[0].y) {
        let rr = rr7;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = red0;
        let e2: f32 = (e0 - e1);
        let e3: f32 = exp(e2);
        let e4: f32 = red1;
        let e5: f32 = (e3 / e4);
        v7_0 = e5;
      }
      if (rr0 < P.p[0].y) {
        out0[o * P.p[0].y + rr0] = v0_0;
      }
      if (rr1 < P.p[0].y) {
        out0[o * P.p[0].y + rr1] = v1_0;
      }
      if (rr2 < P.p[0].y) {
        out0[o * P.p[0].y + rr2] = v2_0;
      }
      if (rr3 < P.p[0].y) {
        out0[o * P.p[0].y + rr3] = v3_0;
      }
      if (rr4 < P.p[0].y) {
        out0[o * P.p[0].y + rr4] = v4_0;
      }
      if (rr5 < P.p[0].y) {
        out0[o * P.p[0].y + rr5] = v5_0;
      }
      if (rr6 < P.p[0].y) {
        out0[o * P.p[0].y + rr6] = v6_0;
      }
      if (rr7 < P.p[0].y) {
        out0[o * P.p[0].y + rr7] = v7_0;
      }
    }
  }
}
fn rows_cached(o: u32, live: bool, lid: u32) {
  var rc0_0: f32;
  var rq0_0: bool;
  var rc0_1: f32;
  var rq0_1: bool;
  var rc0_2: f32;
  var rq0_2: bool;
  var rc0_3: f32;
  var rq0_3: bool;
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
      rc0_0 = ld0;
      rq0_0 = ok0;
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
      rc0_1 = ld0;
      rq0_1 = ok0;
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
      rc0_2 = ld0;
      rq0_2 = ok0;
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
      rc0_3 = ld0;
      rq0_3 = ok0;
    }
  }
  var acc0: f32 = kiln_f32_bits(0xff800000u);
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_0;
      let ok0 = rq0_0;
      let e0: f32 = ld0;
      acc0 = kiln_fmax(acc0, e0);
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_1;
      let ok0 = rq0_1;
      let e0: f32 = ld0;
      acc0 = kiln_fmax(acc0, e0);
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_2;
      let ok0 = rq0_2;
      let e0: f32 = ld0;
      acc0 = kiln_fmax(acc0, e0);
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_3;
      let ok0 = rq0_3;
      let e0: f32 = ld0;
      acc0 = kiln_fmax(acc0, e0);
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
      let ld0 = rc0_0;
      let ok0 = rq0_0;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      acc1 = acc1 + e3;
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_1;
      let ok0 = rq0_1;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      acc1 = acc1 + e3;
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_2;
      let ok0 = rq0_2;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      acc1 = acc1 + e3;
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_3;
      let ok0 = rq0_3;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      acc1 = acc1 + e3;
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
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_0;
      let ok0 = rq0_0;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      let e4: f32 = red1;
      let e5: f32 = (e3 / e4);
      out0[i] = e5;
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_1;
      let ok0 = rq0_1;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      let e4: f32 = red1;
      let e5: f32 = (e3 / e4);
      out0[i] = e5;
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_2;
      let ok0 = rq0_2;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      let e4: f32 = red1;
      let e5: f32 = (e3 / e4);
      out0[i] = e5;
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_3;
      let ok0 = rq0_3;
      let e0: f32 = ld0;
      let e1: f32 = red0;
      let e2: f32 = (e0 - e1);
      let e3: f32 = exp(e2);
      let e4: f32 = red1;
      let e5: f32 = (e3 / e4);
      out0[i] = e5;
    }
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
