//! Batching: runs are recorded into one open compute pass, which goes to the GPU in chunks
//! (see [`MAX_BATCH_DISPATCHES`]), at once when the GPU has nothing else to do, and before
//! anything reads, waits or flushes. That is the default ([`Submission::Gathered`]); with
//! [`Submission::PerRun`] only the runs made inside `GpuContext::batched` scopes are
//! gathered, and such a scope submits what it gathered when it closes.
//!
//! Why: on Vulkan through wgpu every submission costs the GPU time outside the work it
//! carries, and each compute pass costs a little more: short runs go fastest as many runs in
//! one pass, which is what batching gives (the measurements are in docs/journal/).
//!
//! The price: work recorded while the GPU is busy waits for a later chunk, a read, a wait or
//! `GpuContext::flush_batch`. A host that makes a run and then leaves the device alone for a
//! while (no read) should flush, as with CubeCL's task batching, which does the same.
//!
//! What stays the same: the queue order. Runs are recorded in the order they are made, and
//! everything else that goes through the queue (readbacks, timed runs, autotuning) or waits
//! for it first submits what the batch holds, so results and waits see every earlier run.
//! A batch belongs to the device, not to a thread: runs other threads make while it is open
//! join it.

use super::counters::CounterCell;
use super::pipelines::CompiledKernel;

/// One launch made ready for a pass: its pipeline, bind group and grid.
pub(crate) type Launch<'a> = (&'a CompiledKernel, wgpu::BindGroup, [u32; 3]);

/// Records launch `l` into `pass`.
pub(crate) fn dispatch(pass: &mut wgpu::ComputePass<'_>, (ck, bg, grid): &Launch) {
    pass.set_pipeline(&ck.pipeline);
    pass.set_bind_group(0, bg, &[]);
    pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
}

/// What a batch submits through: the device's queue, and where submissions are counted.
#[derive(Clone, Copy)]
pub struct Queue<'a> {
    /// The device (polled to see whether the GPU is idle).
    pub device: &'a wgpu::Device,
    /// Its queue.
    pub queue: &'a wgpu::Queue,
    /// Where submissions are counted.
    pub counters: &'a CounterCell,
}

impl Queue<'_> {
    /// Whether the GPU has finished everything submitted so far (a poll that does not
    /// block). A failed poll counts as idle, so that the work is submitted and the failure
    /// surfaces where the device is checked.
    pub fn idle(&self) -> bool {
        match self.device.poll(wgpu::PollType::Poll) {
            Ok(status) => status.is_queue_empty(),
            Err(e) => {
                log::debug!("kiln: poll failed ({e}); submitting");
                true
            }
        }
    }
}

/// The most dispatches one submission of a batch carries.
///
/// A batch is submitted in chunks that double from one dispatch up to this: the first run
/// starts the GPU at once, each later chunk is recorded while the GPU works through the one
/// before, and the per-submission cost is shared by more and more runs. Submitting
/// everything at the end instead leaves the GPU idle while the host records all of it.
pub const MAX_BATCH_DISPATCHES: usize = 32;

/// When the GPU work of runs goes to the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Submission {
    /// Runs are recorded into one open compute pass, which is submitted once it holds a chunk
    /// of dispatches (chunks double from one to [`MAX_BATCH_DISPATCHES`], starting again from
    /// one after each flush and at the start of a batch scope), as soon as a run outside a
    /// scope finds the GPU idle, and before anything reads, waits, times or flushes. A loop of
    /// short runs then pays the per-submission cost once a chunk. On the browser's WebGPU a
    /// poll always finds the queue empty, so there every run is submitted at once.
    #[default]
    Gathered,
    /// Each run outside a batch scope is submitted on its own, at once: one submission and
    /// one pass a run.
    PerRun,
}

/// The device's batch: the policy, how many scopes are open, the pass being recorded, and the
/// size of the chunk it is submitted at.
pub struct Batch {
    policy: Submission,
    depth: usize,
    open: Option<OpenPass>,
    chunk: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            policy: Submission::default(),
            depth: 0,
            open: None,
            chunk: 1,
        }
    }
}

/// A command encoder with its compute pass, recorded but not yet submitted.
struct OpenPass {
    // Field order matters: the pass must end before the encoder finishes (`submit` drops it
    // first explicitly).
    pass: wgpu::ComputePass<'static>,
    encoder: wgpu::CommandEncoder,
    dispatches: usize,
}

impl Batch {
    /// Whether runs are being gathered: always under [`Submission::Gathered`], else inside a
    /// scope.
    pub fn is_open(&self) -> bool {
        self.depth > 0 || self.policy == Submission::Gathered
    }

    /// Sets the policy; what was gathered so far is submitted first.
    pub fn set_policy(&mut self, ctx: Queue<'_>, policy: Submission) {
        self.flush(ctx);
        self.policy = policy;
    }

    /// Opens a scope (scopes nest; the batch closes with the outermost). The outermost starts
    /// from a chunk of one, so that its first run starts the GPU at once.
    pub fn enter(&mut self) {
        if self.depth == 0 {
            self.chunk = 1;
        }
        self.depth += 1;
    }

    /// Closes a scope; the outermost one submits what was gathered (under either policy).
    pub fn leave(&mut self, ctx: Queue<'_>) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            self.flush(ctx);
        }
    }

    /// Records the launches of one run into the open pass (opening one if needed); submits
    /// when the pass holds a chunk (see [`MAX_BATCH_DISPATCHES`]) or, outside a batch scope,
    /// when the GPU is idle (holding the work back would only delay it).
    pub fn record(&mut self, ctx: Queue<'_>, launches: &[Launch]) {
        if launches.is_empty() {
            return;
        }
        let open = self.open.get_or_insert_with(|| {
            let mut encoder = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("kiln batch"),
                });
            let pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("kiln batch"),
                    timestamp_writes: None,
                })
                .forget_lifetime();
            OpenPass {
                pass,
                encoder,
                dispatches: 0,
            }
        });
        for l in launches {
            dispatch(&mut open.pass, l);
        }
        open.dispatches += launches.len();
        // Outside a scope an idle GPU takes the work at once; a scope submits in chunks only.
        if open.dispatches >= self.chunk || (self.depth == 0 && ctx.idle()) {
            let next = (self.chunk * 2).min(MAX_BATCH_DISPATCHES);
            self.submit(ctx);
            self.chunk = next;
        }
    }

    /// Submits what the batch holds, if anything, because something else needs the queue or
    /// waits for it, or the caller asks; the batch stays open for later runs, starting again
    /// from a chunk of one (a read or a wait is about to leave the GPU idle).
    pub fn flush(&mut self, ctx: Queue<'_>) {
        self.submit(ctx);
        self.chunk = 1;
    }

    fn submit(&mut self, ctx: Queue<'_>) {
        if let Some(OpenPass { pass, encoder, .. }) = self.open.take() {
            drop(pass);
            ctx.queue.submit([encoder.finish()]);
            ctx.counters.count(|c| c.submits += 1);
        }
    }
}
