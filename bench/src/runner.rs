//! Runs a workload's program again and again as a caller would: where the workload carries
//! outputs over to the next run (a decode step's KV caches), they come back as that run's
//! inputs, donated, so that each run writes them where they lie.

use crate::workloads::Workload;
use kiln::{Program, Result, Tensor};

/// A workload's program with the inputs of its next run.
pub struct Runner<'p> {
    prog: &'p Program,
    inputs: Vec<Tensor>,
    carry: Vec<(usize, usize)>,
}

impl<'p> Runner<'p> {
    /// The runs of `prog` (compiled from `w`) from `w`'s inputs.
    pub fn new(w: &Workload, prog: &'p Program) -> Runner<'p> {
        Runner {
            prog,
            inputs: w.inputs.clone(),
            carry: w.carry.clone(),
        }
    }

    /// The next run's inputs.
    pub fn inputs(&self) -> Vec<&Tensor> {
        self.inputs.iter().collect()
    }

    /// One run: its outputs that are not carried, in order. The carried ones become the
    /// next run's inputs and are held nowhere else, so that the next run writes over them.
    pub fn run(&mut self) -> Result<Vec<Tensor>> {
        if self.carry.is_empty() {
            return self.prog.run(&self.inputs());
        }
        // The inputs not carried are kept for the next run; the carried ones are given up.
        let mut next: Vec<Option<Tensor>> = (0..self.inputs.len())
            .map(|i| (!self.carry.iter().any(|&(_, j)| j == i)).then(|| self.inputs[i].clone()))
            .collect();
        let out = self.prog.run_donating(std::mem::take(&mut self.inputs))?;
        let mut rest = Vec::with_capacity(out.len());
        for (o, t) in out.into_iter().enumerate() {
            match self.carry.iter().find(|&&(c, _)| c == o) {
                Some(&(_, i)) => next[i] = Some(t),
                None => rest.push(t),
            }
        }
        // Every input is back (a carry pair names each given-up input).
        self.inputs = next.into_iter().flatten().collect();
        Ok(rest)
    }
}
