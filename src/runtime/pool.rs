//! Device buffers: the tensor buffer ([`GpuBuffer`]) and the pool that takes them back for
//! reuse ([`Pool`]), within an optional memory limit, with the bind groups kept over them.

use super::bind_groups::BindGroups;
use super::platform;
use crate::{Error, Result};
use hashbrown::HashMap;
use kiln_ir::DType;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A device buffer holding one tensor in storage layout (4 bytes an element).
pub struct GpuBuffer {
    /// The wgpu buffer (at least 4 bytes).
    pub buffer: wgpu::Buffer,
    /// Element type.
    pub dtype: DType,
    /// Element count.
    pub numel: usize,
    /// Where the buffer goes back when dropped.
    pool: Arc<Pool>,
}

impl GpuBuffer {
    /// A tensor buffer that goes back to `pool` when dropped.
    pub fn new(pool: &Arc<Pool>, buffer: wgpu::Buffer, dtype: DType, numel: usize) -> GpuBuffer {
        GpuBuffer {
            buffer,
            dtype,
            numel,
            pool: pool.clone(),
        }
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        self.pool.give_back(self.buffer.clone());
    }
}

/// Device buffers no tensor holds any more, by size, for reuse by later runs and uploads.
/// Reuse is safe without clearing because every kernel writes all of its outputs, the queue
/// orders a reuse after earlier work, and an upload into a reused buffer submits the work
/// recorded before it first.
///
/// Bounded by what the program really uses: the pool holds at most as many bytes as tensors
/// have held at once (at least [`POOL_MIN_BYTES`], at most `max_bytes`), since a program
/// never needs more spare buffers than it has ever used together. A buffer that sits unused
/// through [`POOL_IDLE_OPS`] later pool operations is freed.
pub struct Pool {
    free: Mutex<Free>,
    max_bytes: AtomicU64,
    /// Bytes of device buffers that exist (held by tensors or by the pool).
    live: AtomicU64,
    /// The most `live` has been.
    peak: AtomicU64,
    /// Bytes of device buffers ever created.
    created: AtomicU64,
    /// The most `live` may be ([`Pool::set_memory_limit`]).
    limit: AtomicU64,
    /// Bind groups kept over its buffers, forgotten whenever it lets a buffer go.
    binds: BindGroups,
}

/// The pool's buffers: by size, each with the pool operation that returned it.
#[derive(Default)]
struct Free {
    by_size: HashMap<u64, Vec<(wgpu::Buffer, u64)>>,
    bytes: u64,
    /// Pool operations so far (takes and returns): the pool's clock.
    clock: u64,
    /// The clock at the last look for idle buffers.
    last_sweep: u64,
    /// The most bytes tensors have held at once.
    in_use_peak: u64,
}

/// The pool may always hold this much, whatever the program's use so far.
pub const POOL_MIN_BYTES: u64 = 16 << 20;
/// A pooled buffer not reused within this many pool operations is freed.
pub const POOL_IDLE_OPS: u64 = 4096;
/// How often (in pool operations) the pool looks for idle buffers.
const POOL_SWEEP_EVERY: u64 = 256;

/// Bytes of device buffers, as the pool has seen them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolBytes {
    /// Ever created.
    pub created: u64,
    /// Existing now.
    pub live: u64,
    /// The most that existed at once.
    pub peak: u64,
}

impl Pool {
    /// An empty pool that holds at most `max_bytes` for reuse.
    pub fn new(max_bytes: u64) -> Pool {
        Pool {
            free: Mutex::new(Free::default()),
            max_bytes: AtomicU64::new(max_bytes),
            live: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            created: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
            binds: BindGroups::default(),
        }
    }

    /// Bytes created, live and at peak.
    pub fn bytes(&self) -> PoolBytes {
        PoolBytes {
            created: self.created.load(Ordering::Relaxed),
            live: self.live.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
        }
    }

    fn note_created(&self, size: u64) {
        self.created.fetch_add(size, Ordering::Relaxed);
        let live = self.live.fetch_add(size, Ordering::Relaxed) + size;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    /// Lets a buffer go. It is dropped, not destroyed: commands recorded into an open batch
    /// may still use it, and wgpu frees it once nothing does (at once when idle). The kept
    /// bind groups go with it, since one may hold it.
    fn destroy(&self, b: wgpu::Buffer) {
        self.live.fetch_sub(b.size(), Ordering::Relaxed);
        self.binds.clear();
        drop(b);
    }

    /// The bind groups kept over the pool's buffers.
    pub fn bind_groups(&self) -> &BindGroups {
        &self.binds
    }

    /// A held buffer of `size` bytes, if there is one.
    pub fn take(&self, size: u64) -> Option<wgpu::Buffer> {
        let mut g = self.free.lock().ok()?;
        self.tick(&mut g);
        let (b, _) = g.by_size.get_mut(&size)?.pop()?;
        g.bytes -= size;
        Some(b)
    }

    fn give_back(&self, b: wgpu::Buffer) {
        let size = b.size();
        if let Ok(mut g) = self.free.lock() {
            self.tick(&mut g);
            let live = self.live.load(Ordering::Relaxed);
            // Bytes in tensors now, this buffer's included (it was in use until this call).
            g.in_use_peak = g.in_use_peak.max(live.saturating_sub(g.bytes));
            let cap = g
                .in_use_peak
                .max(POOL_MIN_BYTES)
                .min(self.max_bytes.load(Ordering::Relaxed));
            if g.bytes + size <= cap {
                g.bytes += size;
                let now = g.clock;
                g.by_size.entry(size).or_default().push((b, now));
                return;
            }
        }
        self.destroy(b);
    }

    /// Advances the pool's clock, and every [`POOL_SWEEP_EVERY`] operations frees the buffers
    /// that went unused through [`POOL_IDLE_OPS`] of them.
    fn tick(&self, g: &mut Free) {
        g.clock += 1;
        if g.clock - g.last_sweep >= POOL_SWEEP_EVERY {
            g.last_sweep = g.clock;
            self.sweep(g);
        }
    }

    /// Frees the buffers that went unused through [`POOL_IDLE_OPS`] pool operations.
    fn sweep(&self, g: &mut Free) {
        let cutoff = g.clock.saturating_sub(POOL_IDLE_OPS);
        let mut freed = 0;
        for list in g.by_size.values_mut() {
            let (stale, keep): (Vec<_>, Vec<_>) = list.drain(..).partition(|(_, t)| *t < cutoff);
            *list = keep;
            for (b, _) in stale {
                freed += b.size();
                self.destroy(b);
            }
        }
        g.by_size.retain(|_, l| !l.is_empty());
        g.bytes -= freed;
    }

    /// Bytes held for reuse.
    pub fn held_bytes(&self) -> u64 {
        self.free.lock().map(|g| g.bytes).unwrap_or(0)
    }

    /// Frees every buffer held for reuse.
    pub fn trim(&self) {
        if let Ok(mut g) = self.free.lock() {
            for (_, v) in g.by_size.drain() {
                for (b, _) in v {
                    self.destroy(b);
                }
            }
            g.bytes = 0;
        }
    }

    /// Caps the memory held for reuse (0 turns reuse off); what is held beyond is freed.
    pub fn set_max_held(&self, bytes: u64) {
        self.max_bytes.store(bytes, Ordering::Relaxed);
        if self.held_bytes() > bytes {
            self.trim();
        }
    }

    /// Caps the bytes of device buffers that may exist at once (`u64::MAX`: no cap).
    pub fn set_memory_limit(&self, bytes: u64) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    /// Creates a device buffer of `size` bytes on `device` with `make`, within the memory
    /// limit: when the limit or the device would be exceeded, the buffers held for reuse are
    /// freed and it is tried once more; then it is [`Error::OutOfMemory`].
    pub fn create(
        &self,
        device: &wgpu::Device,
        size: u64,
        make: impl Fn(u64) -> wgpu::Buffer,
    ) -> Result<wgpu::Buffer> {
        let limit = self.limit.load(Ordering::Relaxed);
        let fits = || self.live.load(Ordering::Relaxed).saturating_add(size) <= limit;
        if !fits() {
            self.trim();
            if !fits() {
                return Err(Error::OutOfMemory(format!(
                    "{size} more bytes would exceed the device memory limit of {limit} bytes ({} in use)",
                    self.live.load(Ordering::Relaxed)
                )));
            }
        }
        let attempt =
            || match platform::scoped(device, wgpu::ErrorFilter::OutOfMemory, || make(size)) {
                (b, None) => Ok(b),
                (_, Some(e)) => Err(e),
            };
        let buffer = match attempt() {
            Ok(b) => b,
            Err(_) => {
                self.trim();
                attempt().map_err(|e| Error::OutOfMemory(format!("{size} bytes: {e}")))?
            }
        };
        self.note_created(buffer.size());
        Ok(buffer)
    }
}
