// kiln kernel: exp+sum[1]
struct Params { p: array<vec4<u32>, 1> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
var<workgroup> sv_f32: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = wid.y * nwg.x + wid.x;
  let live = o < P.p[0].x;
  var acc0: f32 = 0.0;
  if (live) {
    var r = lid;
    for (; r + 1792u < P.p[0].y; r = r + 2048u) {
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
        let rr = r + 256u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v1 = e1;
      }
      var v2: f32;
      {
        let rr = r + 512u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v2 = e1;
      }
      var v3: f32;
      {
        let rr = r + 768u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v3 = e1;
      }
      var v4: f32;
      {
        let rr = r + 1024u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v4 = e1;
      }
      var v5: f32;
      {
        let rr = r + 1280u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v5 = e1;
      }
      var v6: f32;
      {
        let rr = r + 1536u;
        let i = o * P.p[0].y + rr;
        let ld0 = in0[i + P.p[0].z];
        let ok0 = true;
        let e0: f32 = ld0;
        let e1: f32 = exp(e0);
        v6 = e1;
      }
      var v7: f32;
      {
        let rr = r + 1792u;
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
    for (; r < P.p[0].y; r = r + 256u) {
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
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = sv_f32[lid] + sv_f32[lid + s];
    }
    workgroupBarrier();
  }
  let red0: f32 = sv_f32[0];
  workgroupBarrier();
  if (live && lid == 0u) {
    let i = o;
    let e2: f32 = red0;
    out0[o] = e2;
  }
}
