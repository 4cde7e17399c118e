//! The memory plan of a program: which temporaries share a buffer. A temporary lives from the
//! launch that writes it to the last launch that reads it; buffers whose temporaries are dead
//! are given to later ones, best fit by size (greedy). Program outputs get buffers of their
//! own, exact in size, since they outlive the run.
//!
//! In place: where a launch reads a temporary for the last time, and its kernel may write an
//! output over that input ([`Kernel::can_run_in_place`](kiln_ir::Kernel::can_run_in_place)),
//! the output takes the input's buffer and the kernel reads the input through the output's
//! binding (a buffer cannot be bound read-only and writable in one launch).
//!
//! Donated inputs: a program input the caller gives up for the run ([`Donor`]) may likewise be
//! written over by the launch that reads it last, where that launch writes a program output
//! of its dtype and size in place of it: the output then is the input's buffer (a KV cache
//! updated where it lies, not copied to a new buffer each step).

use kiln_codegen::Target;
use kiln_ir::lower::{BufRef, KernelCall, Program};
use kiln_ir::{DType, InputId, OutputId};

/// A program input whose buffer the run may write over: its graph input slot, dtype and
/// element count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Donor {
    /// The graph input slot (`BufRef::Input`).
    pub slot: u32,
    /// Its dtype.
    pub dtype: DType,
    /// Its element count.
    pub numel: usize,
}

/// Where each temporary of a program lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The buffer slot of each temporary (`usize::MAX` for one in `taken`, which has none).
    pub slot_of: Vec<usize>,
    /// Each slot's size in bytes (whole 16-byte vectors).
    pub slot_bytes: Vec<u64>,
    /// The temporary each slot was sized for (its buffer is allocated as that one's dtype and
    /// element count).
    pub slot_temp: Vec<usize>,
    /// Bytes if every temporary had its own buffer.
    pub naive_bytes: u64,
    /// The largest sum of live temporaries at any launch, those in `taken` left out (they
    /// are the inputs' buffers): the lower bound for any plan.
    pub live_peak_bytes: u64,
    /// Per launch, `(input, output)` when it runs in place.
    pub inplace: Vec<Option<(InputId, OutputId)>>,
    /// Per temporary, the donated input slot whose buffer it is (no slot of its own).
    pub taken: Vec<Option<u32>>,
}

impl MemoryPlan {
    /// Bytes the slots take.
    pub fn planned_bytes(&self) -> u64 {
        self.slot_bytes.iter().sum()
    }

    /// Plans a program's temporaries, stored as `target` stores them, writing program outputs
    /// over the `donors`' buffers where a launch can.
    pub fn of(prog: &Program, target: &Target, donors: &[Donor]) -> MemoryPlan {
        let n = prog.temps.len();
        let bytes = |t: usize| target.buffer_bytes(prog.temps[t].dtype, prog.temps[t].numel);
        let never = usize::MAX;
        let mut last_use = vec![0usize; n];
        let mut def = vec![never; n];
        for (ci, c) in prog.calls.iter().enumerate() {
            for &t in &c.outputs {
                def[t] = def[t].min(ci);
                last_use[t] = last_use[t].max(ci);
            }
            for b in &c.inputs {
                if let BufRef::Temp(t) = b {
                    last_use[*t] = last_use[*t].max(ci);
                }
            }
        }
        let mut is_output = vec![false; n];
        for (b, _, _) in &prog.outputs {
            if let BufRef::Temp(t) = b {
                is_output[*t] = true;
            }
        }
        // A donor may be written over by the last launch that reads it, unless it is itself
        // a program output.
        let mut donor_last = vec![None; donors.len()];
        for (ci, c) in prog.calls.iter().enumerate() {
            for (d, donor) in donors.iter().enumerate() {
                if c.inputs.contains(&BufRef::Input(donor.slot)) {
                    donor_last[d] = Some(ci);
                }
            }
        }
        for (d, donor) in donors.iter().enumerate() {
            if prog
                .outputs
                .iter()
                .any(|(b, _, _)| *b == BufRef::Input(donor.slot))
            {
                donor_last[d] = None;
            }
        }
        let mut plan = MemoryPlan {
            slot_of: vec![never; n],
            inplace: vec![None; prog.calls.len()],
            taken: vec![None; n],
            ..Default::default()
        };
        let mut free: Vec<usize> = Vec::new();
        let mut live: Vec<usize> = Vec::new();
        for (ci, c) in prog.calls.iter().enumerate() {
            // A donated input read for the last time here, written over by a program output.
            let donor = |b: &BufRef| match *b {
                BufRef::Input(slot) => donors
                    .iter()
                    .position(|d| d.slot == slot)
                    .filter(|&d| donor_last[d] == Some(ci))
                    .map(|d| donors[d]),
                BufRef::Temp(_) => None,
            };
            let given = in_place_pair(
                c,
                |b| donor(b).is_some(),
                |b, to| {
                    donor(b).is_some_and(|d| {
                        is_output[to]
                            && plan.taken[to].is_none()
                            && prog.temps[to].dtype == d.dtype
                            && prog.temps[to].numel == d.numel
                    })
                },
            );
            if let Some((j, o, BufRef::Input(slot), to)) = given {
                plan.taken[to] = Some(slot);
                plan.inplace[ci] = Some((j, o));
            }
            // Else a temporary read for the last time here, written over by an output.
            let pair = given.is_none().then(|| {
                in_place_pair(
                    c,
                    |b| {
                        matches!(*b, BufRef::Temp(ti) if last_use[ti] == ci
                            && !is_output[ti]
                            && plan.slot_of[ti] != never)
                    },
                    |b, to| {
                        matches!(*b, BufRef::Temp(ti) if !is_output[to]
                            && plan.slot_of[to] == never
                            && bytes(to) == bytes(ti))
                    },
                )
            });
            if let Some((j, o, BufRef::Temp(ti), to)) = pair.flatten() {
                plan.slot_of[to] = plan.slot_of[ti];
                plan.inplace[ci] = Some((j, o));
                live.push(to);
                // The input's buffer now belongs to the output: not freed below.
                live.retain(|&t| t != ti);
            }
            for &t in &c.outputs {
                if plan.slot_of[t] != never || plan.taken[t].is_some() {
                    continue;
                }
                let need = bytes(t);
                let pick = if is_output[t] {
                    None
                } else {
                    free.iter()
                        .enumerate()
                        .filter(|(_, &s)| plan.slot_bytes[s] >= need)
                        .min_by_key(|(_, &s)| plan.slot_bytes[s])
                        .map(|(i, _)| i)
                };
                plan.slot_of[t] = match pick {
                    Some(i) => free.swap_remove(i),
                    None => {
                        plan.slot_bytes.push(need);
                        plan.slot_temp.push(t);
                        plan.slot_bytes.len() - 1
                    }
                };
                live.push(t);
            }
            let live_bytes: u64 = live.iter().map(|&t| bytes(t)).sum();
            plan.live_peak_bytes = plan.live_peak_bytes.max(live_bytes);
            // Temporaries read for the last time here are dead after this launch.
            live.retain(|&t| {
                let dead = last_use[t] <= ci && !is_output[t];
                if dead {
                    free.push(plan.slot_of[t]);
                }
                !dead
            });
        }
        // Temporaries no launch writes (none today) get slots of their own.
        for t in 0..n {
            if plan.slot_of[t] == never && plan.taken[t].is_none() {
                plan.slot_bytes.push(bytes(t));
                plan.slot_temp.push(t);
                plan.slot_of[t] = plan.slot_bytes.len() - 1;
            }
        }
        plan.naive_bytes = (0..n).map(bytes).sum();
        plan
    }
}

/// The first input of call `c` that it reads once and that `reads` accepts, with an output
/// temporary `to` that `writes(input, to)` accepts and the kernel may write over that input
/// ([`kiln_ir::Kernel::can_run_in_place`]): `(input, output, its buffer, to)`.
fn in_place_pair(
    c: &KernelCall,
    reads: impl Fn(&BufRef) -> bool,
    writes: impl Fn(&BufRef, usize) -> bool,
) -> Option<(InputId, OutputId, BufRef, usize)> {
    c.inputs.iter().enumerate().find_map(|(j, b)| {
        let once = c.inputs.iter().filter(|x| *x == b).count() == 1;
        if !once || !reads(b) {
            return None;
        }
        c.outputs.iter().enumerate().find_map(|(o, &to)| {
            (writes(b, to) && c.kernel.can_run_in_place(InputId::new(j), OutputId::new(o)))
                .then_some((InputId::new(j), OutputId::new(o), *b, to))
        })
    })
}
