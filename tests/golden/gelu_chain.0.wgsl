// kiln kernel: mul+add+gelu+exp+tanh
struct Params { p: array<vec4<u32>, 1> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> in0: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out0: array<vec4<f32>>;
fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_tanh(x: f32) -> f32 {
  let c = clamp(x, -9.0, 9.0);
  let s = c * c;
  let p = 0.99999964 + s * (1.2853494e-1 + s * (2.8539994e-3 + s * (8.750021e-6 + s * (-1.1605741e-8 + s * 1.6214717e-11))));
  let q = 1.0 + s * (4.6186596e-1 + s * (2.3478797e-2 + s * 2.1947079e-4));
  return select(clamp(c * p / q, -1.0, 1.0), x, kiln_isnan(x));
}
fn kiln_erf(x: f32) -> f32 {
  let c = clamp(x, -4.5, 4.5);
  let s = c * c;
  let p = 1.1283811 + s * (1.5786092e-1 + s * (4.7825754e-2 + s * (2.1804306e-3 + s * (2.1679353e-4 + s * 1.8902327e-6))));
  let q = 1.0 + s * (4.7325224e-1 + s * (1.00080565e-1 + s * (1.1850965e-2 + s * (7.157837e-4 + s * 3.283491e-5))));
  return clamp(c * p / q, -1.0, 1.0);
}
fn kiln_gelu(x: f32) -> f32 {
  if (x >= -1.0 || x < -14.85 || kiln_isnan(x)) {
    return 0.5 * x * (1.0 + kiln_erf(x * 0.70710678118654752));
  }
  let w = -x;
  let t = 1.0 / (1.0 + 0.35355339 * w);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let h = bitcast<f32>(bitcast<u32>(w) & 0xfffff000u);
  let l = w - h;
  let h2 = 0.5 * (h * h);
  let n = round(h2 * 1.44269504);
  let r = (n * 0.693145751953125 - h2) + n * 1.42860677e-6;
  let k = u32(n);
  let m = 0.5 * x * t * exp(r - 0.5 * l * (w + h) + p);
  return (m * bitcast<f32>((127u - k / 2u) << 23u)) * bitcast<f32>((127u - (k - k / 2u)) << 23u);
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (j >= P.p[0].x / 4u) { return; }
  let i = j * 4u;
  let V0 = in0[(i + P.p[0].y) / 4u];
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
  let e5_0: f32 = kiln_gelu(e4_0);
  let e5_1: f32 = kiln_gelu(e4_1);
  let e5_2: f32 = kiln_gelu(e4_2);
  let e5_3: f32 = kiln_gelu(e4_3);
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
