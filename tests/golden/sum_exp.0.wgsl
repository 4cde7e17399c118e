// kiln kernel: exp+sum[1]
struct Params { p: array<vec4<u32>, 1> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
var<workgroup> sv_f32: array<f32, 32>;
fn rows_looped(o: u32, live: bool, lid: u32) {
  var acc0: f32 = 0.0;
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
        let e1: f32 = exp(e0);
        v0 = e1;
      }
      var v1: f32;
      {
        let rr = r + 32u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v1 = e1;
      }
      var v2: f32;
      {
        let rr = r + 64u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v2 = e1;
      }
      var v3: f32;
      {
        let rr = r + 96u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v3 = e1;
      }
      var v4: f32;
      {
        let rr = r + 128u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v4 = e1;
      }
      var v5: f32;
      {
        let rr = r + 160u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v5 = e1;
      }
      var v6: f32;
      {
        let rr = r + 192u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v6 = e1;
      }
      var v7: f32;
      {
        let rr = r + 224u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v7 = e1;
      }
      acc0 = acc0 + v0;
      acc0 = acc0 + v1;
      acc0 = acc0 + v2;
      acc0 = acc0 + v3;
      acc0 = acc0 + v4;
      acc0 = acc0 + v5;
      acc0 = acc0 + v6;
      acc0 = acc0 + v7;
    }
    for (; r < P.p[0].y; r = r + 32u) {
      let rr = r;
      let i = o * P.p[0].y + rr;
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
      let e0: f32 = ld0;
      let e1: f32 = exp(e0);
      acc0 = acc0 + e1;
    }
  }
  sv_f32[lid] = acc0;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = sv_f32[lid] + sv_f32[lid + s];
    }
    workgroupBarrier();
  }
  let tot0 = sv_f32[0];
  let red0: f32 = tot0;
  workgroupBarrier();
  if (live && lid == 0u) {
    let i = o;
    let e2: f32 = red0;
    out0[o] = e2;
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
  var acc0: f32 = 0.0;
  if (live) {
    if (lid + 0u < P.p[0].y) {
      let rr = lid + 0u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_0;
      let ok0 = rq0_0;
      let e0: f32 = ld0;
      let e1: f32 = exp(e0);
      acc0 = acc0 + e1;
    }
    if (lid + 32u < P.p[0].y) {
      let rr = lid + 32u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_1;
      let ok0 = rq0_1;
      let e0: f32 = ld0;
      let e1: f32 = exp(e0);
      acc0 = acc0 + e1;
    }
    if (lid + 64u < P.p[0].y) {
      let rr = lid + 64u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_2;
      let ok0 = rq0_2;
      let e0: f32 = ld0;
      let e1: f32 = exp(e0);
      acc0 = acc0 + e1;
    }
    if (lid + 96u < P.p[0].y) {
      let rr = lid + 96u;
      let i = o * P.p[0].y + rr;
      let ld0 = rc0_3;
      let ok0 = rq0_3;
      let e0: f32 = ld0;
      let e1: f32 = exp(e0);
      acc0 = acc0 + e1;
    }
  }
  sv_f32[lid] = acc0;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = sv_f32[lid] + sv_f32[lid + s];
    }
    workgroupBarrier();
  }
  let tot0 = sv_f32[0];
  let red0: f32 = tot0;
  workgroupBarrier();
  if (live && lid == 0u) {
    let i = o;
    let e2: f32 = red0;
    out0[o] = e2;
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
