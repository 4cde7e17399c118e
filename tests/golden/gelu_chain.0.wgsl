// kiln kernel: mul+add+gelu+exp+tanh
struct Params { p: array<vec4<u32>, 1> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out0: array<vec4<f32>>;
fn kiln_tanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(select(t, -t, x < 0.0), x * (1.0 - x * x / 3.0), abs(x) < 0.01);
}
fn kiln_erf(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - p * exp(-a * a);
  return select(r, -r, x < 0.0);
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (j >= P.p[0].x / 4u) { return; }
  let V0 = in0[j + P.p[0].y / 4u];
  var r0_0: f32;
  {
    let i = j * 4u + 0u;
    let ld0 = V0[0];
    let ok0 = true;
    let e0: f32 = ld0;
    let e1: f32 = bitcast<f32>(P.p[0].z);
    let e2: f32 = (e0 * e1);
    let e3: f32 = bitcast<f32>(P.p[0].w);
    let e4: f32 = (e2 + e3);
    let e5: f32 = (0.5 * e4 * (1.0 + kiln_erf(e4 * 0.70710678118654752)));
    let e6: f32 = exp(e5);
    let e7: f32 = kiln_tanh(e6);
    r0_0 = e7;
  }
  var r1_0: f32;
  {
    let i = j * 4u + 1u;
    let ld0 = V0[1];
    let ok0 = true;
    let e0: f32 = ld0;
    let e1: f32 = bitcast<f32>(P.p[0].z);
    let e2: f32 = (e0 * e1);
    let e3: f32 = bitcast<f32>(P.p[0].w);
    let e4: f32 = (e2 + e3);
    let e5: f32 = (0.5 * e4 * (1.0 + kiln_erf(e4 * 0.70710678118654752)));
    let e6: f32 = exp(e5);
    let e7: f32 = kiln_tanh(e6);
    r1_0 = e7;
  }
  var r2_0: f32;
  {
    let i = j * 4u + 2u;
    let ld0 = V0[2];
    let ok0 = true;
    let e0: f32 = ld0;
    let e1: f32 = bitcast<f32>(P.p[0].z);
    let e2: f32 = (e0 * e1);
    let e3: f32 = bitcast<f32>(P.p[0].w);
    let e4: f32 = (e2 + e3);
    let e5: f32 = (0.5 * e4 * (1.0 + kiln_erf(e4 * 0.70710678118654752)));
    let e6: f32 = exp(e5);
    let e7: f32 = kiln_tanh(e6);
    r2_0 = e7;
  }
  var r3_0: f32;
  {
    let i = j * 4u + 3u;
    let ld0 = V0[3];
    let ok0 = true;
    let e0: f32 = ld0;
    let e1: f32 = bitcast<f32>(P.p[0].z);
    let e2: f32 = (e0 * e1);
    let e3: f32 = bitcast<f32>(P.p[0].w);
    let e4: f32 = (e2 + e3);
    let e5: f32 = (0.5 * e4 * (1.0 + kiln_erf(e4 * 0.70710678118654752)));
    let e6: f32 = exp(e5);
    let e7: f32 = kiln_tanh(e6);
    r3_0 = e7;
  }
  out0[j] = vec4<f32>(r0_0, r1_0, r2_0, r3_0);
}
