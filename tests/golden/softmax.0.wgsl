// kiln kernel: max[1]+sub+exp+sum[1]+div
struct Params { p: array<vec4<u32>, 1> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_fmax(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }
var<workgroup> sv_f32: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = wid.y * nwg.x + wid.x;
  let live = o < P.p[0].x;
  var acc0: f32 = bitcast<f32>(0xff800000u);
  if (live) {
    for (var r = lid; r < P.p[0].y; r = r + 256u) {
      let i = o * P.p[0].y + r;
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
      let e0: f32 = ld0;
      acc0 = kiln_fmax(acc0, e0);
    }
  }
  sv_f32[lid] = acc0;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = kiln_fmax(sv_f32[lid], sv_f32[lid + s]);
    }
    workgroupBarrier();
  }
  let red0: f32 = sv_f32[0];
  workgroupBarrier();
  var acc1: f32 = 0.0;
  if (live) {
    for (var r = lid; r < P.p[0].y; r = r + 256u) {
      let i = o * P.p[0].y + r;
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
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sv_f32[lid] = sv_f32[lid] + sv_f32[lid + s];
    }
    workgroupBarrier();
  }
  let red1: f32 = sv_f32[0];
  workgroupBarrier();
  if (live) {
    for (var r = lid; r < P.p[0].y; r = r + 256u) {
      let i = o * P.p[0].y + r;
      let ld0 = in0[i + P.p[0].z];
      let ok0 = true;
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
