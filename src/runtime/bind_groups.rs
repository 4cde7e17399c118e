//! Bind groups kept across runs: a plan run again on the same buffers (a decode loop, a
//! benchmark, a training step whose temporaries come back from the pool in the same order)
//! binds them with the bind groups of the last time instead of making new ones.
//!
//! Why: making a bind group is most of the host's work for a launch (wgpu validates every
//! entry, tracks every buffer and writes a descriptor set): on lavapipe's host, 187 of them
//! took 0.31 ms against 0.25 ms for recording and submitting their dispatches, and the 1B
//! decode step's 187 launches took the H200's host about as long to enqueue as its GPU to run
//! (journal 2026-12-06-bind-groups.md).
//!
//! A kept bind group holds its buffers alive, so the cache is emptied whenever the pool lets a
//! buffer go (`Pool` calls [`BindGroups::clear`] as it drops one): memory the pool counts as
//! freed is freed. It is bounded by entry count, and emptied whole when full ([`CAPACITY`]):
//! a program that keeps binding new buffers gains nothing from the cache either way, and
//! forgetting everything at once costs nothing a lookup, where picking the least recently
//! used entry would cost a scan a miss.

use std::sync::Mutex;

/// The most bind groups kept (a step of an 8B decoder binds 363 launches; two steps' worth of
/// buffers alternate where a cache tensor is written each step).
pub const CAPACITY: usize = 2048;

/// What a bind group binds: its layout and buffers in binding order (the uniform first).
/// Buffers compare by identity; a key holds them, so an identity is never reused while its
/// entry exists.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    layout: wgpu::BindGroupLayout,
    buffers: Vec<wgpu::Buffer>,
}

/// The kept bind groups, and counts of those found and made.
#[derive(Default)]
pub struct BindGroups {
    map: Mutex<Map>,
}

#[derive(Default)]
struct Map {
    groups: hashbrown::HashMap<Key, wgpu::BindGroup>,
    hits: u64,
    made: u64,
}

/// Bind groups found kept and made, so far, and kept now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindCounts {
    /// Launches that found their bind group kept.
    pub hits: u64,
    /// Bind groups made.
    pub made: u64,
    /// Bind groups kept now.
    pub kept: u64,
}

impl BindGroups {
    /// The bind group of `layout` over `uniform` at binding 0 and `bufs` after it, kept from
    /// an earlier launch or made (and kept, where `keep`: a launch's uniform made for one run
    /// only would never be found again).
    pub fn get(
        &self,
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        uniform: &wgpu::Buffer,
        bufs: &[&wgpu::Buffer],
        label: &str,
        keep: bool,
    ) -> wgpu::BindGroup {
        let key = keep.then(|| Key {
            layout: layout.clone(),
            buffers: std::iter::once(uniform)
                .chain(bufs.iter().copied())
                .cloned()
                .collect(),
        });
        if let (Some(key), Ok(mut m)) = (&key, self.map.lock()) {
            if let Some(bg) = m.groups.get(key).cloned() {
                m.hits += 1;
                return bg;
            }
        }
        let bg = make(device, layout, uniform, bufs, label);
        if let Ok(mut m) = self.map.lock() {
            m.made += 1;
            if let Some(key) = key {
                if m.groups.len() >= CAPACITY {
                    m.groups.clear();
                }
                m.groups.insert(key, bg.clone());
            }
        }
        bg
    }

    /// Forgets every kept bind group (and so lets go of the buffers they hold).
    pub fn clear(&self) {
        if let Ok(mut m) = self.map.lock() {
            m.groups.clear();
        }
    }

    /// Hits, made and kept, for the counters.
    pub fn counts(&self) -> BindCounts {
        self.map
            .lock()
            .map(|m| BindCounts {
                hits: m.hits,
                made: m.made,
                kept: m.groups.len() as u64,
            })
            .unwrap_or_default()
    }
}

/// A new bind group of `layout`: `uniform` at binding 0, then `bufs` (inputs, then outputs).
pub(crate) fn make(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    uniform: &wgpu::Buffer,
    bufs: &[&wgpu::Buffer],
    label: &str,
) -> wgpu::BindGroup {
    let mut entries = Vec::with_capacity(1 + bufs.len());
    entries.push(wgpu::BindGroupEntry {
        binding: 0,
        resource: uniform.as_entire_binding(),
    });
    for (i, b) in bufs.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry {
            binding: 1 + i as u32,
            resource: b.as_entire_binding(),
        });
    }
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}
