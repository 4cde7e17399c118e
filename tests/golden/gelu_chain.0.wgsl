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
  let ld0_0 = V0[0];
  let ok0_0 = true;
  let ld0_1 = V0[1];
  let ok0_1 = true;
  let ld0_2 = V0[2];
  let ok0_2 = true;
  let ld0_3 = V0[3];
  let ok0_3 = true;
  let e0_0: f32 = ld0_0;
  let e0_1: f32 = ld0_1;
  let e0_2: f32 = ld0_2;
  let e0_3: f32 = ld0_3;
  let e1_0: f32 = bitcast<f32>(P.p[0].z);
  let e1_1: f32 = bitcast<f32>(P.p[0].z);
  let e1_2: f32 = bitcast<f32>(P.p[0].z);
  let e1_3: f32 = bitcast<f32>(P.p[0].z);
  let e2_0: f32 = (e0_0 * e1_0);
  let e2_1: f32 = (e0_1 * e1_1);
  let e2_2: f32 = (e0_2 * e1_2);
  let e2_3: f32 = (e0_3 * e1_3);
  let e3_0: f32 = bitcast<f32>(P.p[0].w);
  let e3_1: f32 = bitcast<f32>(P.p[0].w);
  let e3_2: f32 = bitcast<f32>(P.p[0].w);
  let e3_3: f32 = bitcast<f32>(P.p[0].w);
  let e4_0: f32 = (e2_0 + e3_0);
  let e4_1: f32 = (e2_1 + e3_1);
  let e4_2: f32 = (e2_2 + e3_2);
  let e4_3: f32 = (e2_3 + e3_3);
  let e5_0: f32 = (0.5 * e4_0 * (1.0 + kiln_erf(e4_0 * 0.70710678118654752)));
  let e5_1: f32 = (0.5 * e4_1 * (1.0 + kiln_erf(e4_1 * 0.70710678118654752)));
  let e5_2: f32 = (0.5 * e4_2 * (1.0 + kiln_erf(e4_2 * 0.70710678118654752)));
  let e5_3: f32 = (0.5 * e4_3 * (1.0 + kiln_erf(e4_3 * 0.70710678118654752)));
  let e6_0: f32 = exp(e5_0);
  let e6_1: f32 = exp(e5_1);
  let e6_2: f32 = exp(e5_2);
  let e6_3: f32 = exp(e5_3);
  let e7_0: f32 = kiln_tanh(e6_0);
  let e7_1: f32 = kiln_tanh(e6_1);
  let e7_2: f32 = kiln_tanh(e6_2);
  let e7_3: f32 = kiln_tanh(e6_3);
  out0[j] = vec4<f32>(e7_0, e7_1, e7_2, e7_3);
}
