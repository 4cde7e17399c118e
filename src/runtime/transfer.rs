//! Moving tensors between host and device: staging a buffer for readback, waiting for a map
//! (blocking, or as a future through a one-shot channel), and decoding what was mapped.

use super::pool::GpuBuffer;
use crate::{Error, Result};
use kiln_codegen::Target;
use kiln_ir::{HostTensor, Shape};
use std::sync::{Arc, Mutex};

/// Records a copy of `b` into a new mappable buffer; returns the commands and the buffer.
pub fn stage_readback(
    device: &wgpu::Device,
    target: &Target,
    b: &GpuBuffer,
) -> (wgpu::CommandBuffer, wgpu::Buffer) {
    let bytes = target.buffer_bytes(b.dtype, b.numel);
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("kiln readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("kiln readback"),
    });
    enc.copy_buffer_to_buffer(&b.buffer, 0, &staging, 0, bytes);
    (enc.finish(), staging)
}

/// Maps `buffer` for reading and waits until it is mapped, failing if the map fails,
/// `check_alive` fails, or the callback never runs (300 s).
pub fn map_blocking(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    check_alive: impl Fn() -> Result<()>,
) -> Result<()> {
    super::platform::ensure_can_block("a blocking readback (to_vec, to_host, item)")?;
    let slot: Arc<Mutex<Option<std::result::Result<(), wgpu::BufferAsyncError>>>> =
        Arc::new(Mutex::new(None));
    let slot2 = slot.clone();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        if let Ok(mut s) = slot2.lock() {
            *s = Some(r);
        }
    });
    // Another thread's poll may be the one that runs our callback: wait until it has run.
    let start = super::platform::Instant::now();
    let result = loop {
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Readback(e.to_string()))?;
        if let Some(r) = slot.lock().ok().and_then(|mut s| s.take()) {
            break r;
        }
        check_alive()?;
        if start.elapsed() > std::time::Duration::from_secs(300) {
            return Err(Error::Readback("the map callback never ran".into()));
        }
        std::thread::yield_now();
    };
    result.map_err(|e| Error::Readback(e.to_string()))
}

/// Maps `buffer` for reading: the future resolves when it is mapped, polling `device` as it
/// is polled, so that it also works without an event loop.
pub async fn map_async(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Result<()> {
    let (tx, rx) = oneshot();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| tx.send(r));
    PollUntil { device, rx }
        .await
        .map_err(|e| Error::Readback(e.to_string()))
}

/// The host tensor of `shape` that a mapped `staging` buffer holds for `b`; unmaps it.
pub fn finish_read(
    target: &Target,
    staging: &wgpu::Buffer,
    b: &GpuBuffer,
    shape: &Shape,
) -> Result<HostTensor> {
    let host = {
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Readback(e.to_string()))?;
        target.decode(b.dtype, shape.clone(), &view)
    };
    staging.unmap();
    Ok(host)
}

/// A one-shot channel for the map callback (no extra dependency).
struct Tx(Arc<Mutex<ChanState>>);
struct Rx(Arc<Mutex<ChanState>>);
#[derive(Default)]
struct ChanState {
    value: Option<std::result::Result<(), wgpu::BufferAsyncError>>,
    waker: Option<std::task::Waker>,
}

fn oneshot() -> (Tx, Rx) {
    let s = Arc::new(Mutex::new(ChanState::default()));
    (Tx(s.clone()), Rx(s))
}

impl Tx {
    fn send(self, v: std::result::Result<(), wgpu::BufferAsyncError>) {
        if let Ok(mut s) = self.0.lock() {
            s.value = Some(v);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }
}

struct PollUntil<'a> {
    device: &'a wgpu::Device,
    rx: Rx,
}

impl std::future::Future for PollUntil<'_> {
    type Output = std::result::Result<(), wgpu::BufferAsyncError>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        // Non-blocking progress on native; a no-op in the browser, where the event loop does
        // it. A failed poll surfaces as the map's error or the device check after it.
        if let Err(e) = self.device.poll(wgpu::PollType::Poll) {
            log::debug!("kiln: poll failed while waiting for a map: {e}");
        }
        let Ok(mut s) = self.rx.0.lock() else {
            return std::task::Poll::Ready(Err(wgpu::BufferAsyncError));
        };
        match s.value.take() {
            Some(v) => std::task::Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                // Native backends need polling to make progress: ask to be polled again. Not
                // in the browser: a task that wakes itself there runs as a microtask forever
                // and starves the event loop that delivers the map's callback.
                if super::platform::CAN_BLOCK {
                    cx.waker().wake_by_ref();
                }
                std::task::Poll::Pending
            }
        }
    }
}
