//! `--check`'s comparison with the reference interpreter, and a chain of quantized products
//! taken link by link: each product of the chain against the reference fed with the vector
//! the device itself fed it (the `tanh` of the device's previous product). A chain's
//! end-to-end result is no measure of a product's accuracy where the vector is rounded to 8
//! bits: the `tanh` of outputs near 0 turns the rounding's error into flipped signs, which
//! compound (journal 2026-12-07-qgemv-warp-kernel.md). Link by link, each product is held to
//! its own bound.

use crate::workloads::{chain_link, Workload};
use kiln::{Device, HostTensor, Program, Result, Tensor};

/// How far a result came from the reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Deviation {
    /// The largest `|device - reference|` (NaN where either holds a NaN the other does not
    /// match, or the lengths differ).
    pub err: f64,
    /// The largest `|reference|` (at least 1e-30).
    pub scale: f64,
}

impl Deviation {
    /// `got` against `want`, element by element.
    pub fn of(got: &[f64], want: &[f64]) -> Deviation {
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
        let err = if got.len() != want.len() {
            f64::NAN
        } else {
            got.iter().zip(want).fold(0f64, |m, (a, b)| {
                let d = (a - b).abs();
                // A NaN where the reference holds the same NaN matches; any other is kept
                // (`f64::max` would drop it).
                match (a.is_nan() && b.is_nan(), d.is_nan() || m.is_nan()) {
                    (true, _) => m,
                    (false, true) => f64::NAN,
                    (false, false) => m.max(d),
                }
            })
        };
        Deviation { err, scale }
    }

    /// The error relative to the largest reference value (NaN where the error is).
    pub fn relative(&self) -> f64 {
        self.err / self.scale
    }

    /// Whether the error is within `rel` of the largest reference value (never where it is
    /// NaN).
    pub fn within(&self, rel: f64) -> bool {
        self.relative() <= rel
    }
}

/// Runs chained workload `w` on its device with every product an output (each product is a
/// kernel of its own and stores its result in the timed program too, so the kernels are the
/// same) and returns the products, in order; none for a workload that is not a chain.
pub fn run_links(w: &Workload) -> Result<Vec<HostTensor>> {
    if w.links.is_empty() {
        return Ok(Vec::new());
    }
    let ph: Vec<&Tensor> = w.placeholders.iter().collect();
    let links: Vec<&Tensor> = w.links.iter().collect();
    Program::compile(&ph, &links)?
        .run(&w.input_refs())?
        .iter()
        .map(Tensor::to_host)
        .collect()
}

/// Each link of chain `w` against the reference fed with `got`'s previous link (the first
/// with the workload's vector): the deviations of `got`, one host tensor a product, from
/// the first link on.
pub fn compare_links(w: &Workload, got: &[HostTensor]) -> Result<Vec<Deviation>> {
    if got.len() != w.links.len() {
        return Err(kiln::Error::Gpu(format!(
            "{}: {} products to check against a chain of {}",
            w.name,
            got.len(),
            w.links.len()
        )));
    }
    let cpu = Device::interpreter();
    let on_cpu = |t: &Tensor| Tensor::from_host_on(&cpu, t.to_host()?);
    let mut out = Vec::with_capacity(got.len());
    for (i, g) in got.iter().enumerate() {
        let v = match i {
            0 => on_cpu(&w.inputs[0])?,
            _ => Tensor::from_host_on(&cpu, got[i - 1].clone())?,
        };
        let want = chain_link(&v, &on_cpu(&w.inputs[i + 1])?, i)?.to_host()?;
        out.push(Deviation::of(&g.to_f64(), &want.to_f64()));
    }
    Ok(out)
}

/// [`run_links`], then [`compare_links`].
pub fn chain_links(w: &Workload) -> Result<Vec<Deviation>> {
    compare_links(w, &run_links(w)?)
}
