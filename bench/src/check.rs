//! `--check` for a chain of quantized products, link by link: each product of the chain
//! against the reference interpreter fed with the vector the device itself fed it (the
//! `tanh` of the device's previous product). A chain's end-to-end result is no measure of a
//! product's accuracy where the vector is rounded to 8 bits: the `tanh` of outputs near 0
//! turns the rounding's error into flipped signs, which compound (journal
//! 2026-12-07-qgemv-warp-kernel.md). Link by link, each product is held to its own bound.

use crate::workloads::{chain_link, Workload};
use kiln::{Device, HostTensor, Program, Result, Tensor};

/// How far one link of a chain came from the reference.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkError {
    /// The link (0: the first product).
    pub link: usize,
    /// The largest `|device - reference|` of its outputs.
    pub err: f64,
    /// The largest `|reference|` of its outputs.
    pub scale: f64,
}

impl LinkError {
    /// The error relative to the largest output (NaN where the error is).
    pub fn relative(&self) -> f64 {
        self.err / self.scale
    }
}

/// Runs chained workload `w`'s products on its device and returns each one's error (none
/// for a workload that is not a chain).
pub fn chain_links(w: &Workload) -> Result<Vec<LinkError>> {
    if w.links.is_empty() {
        return Ok(Vec::new());
    }
    let ph: Vec<&Tensor> = w.placeholders.iter().collect();
    let links: Vec<&Tensor> = w.links.iter().collect();
    let got: Vec<HostTensor> = Program::compile(&ph, &links)?
        .run(&w.input_refs())?
        .iter()
        .map(Tensor::to_host)
        .collect::<Result<_>>()?;
    compare_links(w, &got)
}

/// Each link of chain `w` against the reference fed with `got`'s previous link (the first
/// with the workload's vector): the errors of `got`, one host tensor a product.
pub fn compare_links(w: &Workload, got: &[HostTensor]) -> Result<Vec<LinkError>> {
    let cpu = Device::interpreter();
    let on_cpu = |t: &Tensor| Tensor::from_host_on(&cpu, t.to_host()?);
    let mut out = Vec::with_capacity(got.len());
    for (i, g) in got.iter().enumerate() {
        let v = match i {
            0 => on_cpu(&w.inputs[0])?,
            _ => Tensor::from_host_on(&cpu, got[i - 1].clone())?,
        };
        let want = chain_link(&v, &on_cpu(&w.inputs[i + 1])?, i)?.to_host()?;
        let (g, r) = (g.to_f64(), want.to_f64());
        if g.len() != r.len() {
            return Err(kiln::Error::Gpu(format!(
                "link {i}: {} outputs where the reference has {}",
                g.len(),
                r.len()
            )));
        }
        let scale = r.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
        let err = g.iter().zip(&r).fold(0f64, |m, (a, b)| {
            let d = (a - b).abs();
            if d.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(d)
            }
        });
        out.push(LinkError {
            link: i,
            err,
            scale,
        });
    }
    Ok(out)
}
