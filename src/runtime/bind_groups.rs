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
//! freed is freed. It is bounded in two generations ([`CAPACITY`]): new bind groups join the
//! current one; when it holds half the capacity it becomes the old one and the old one is
//! dropped; a bind group found in the old generation moves back to the current. A loop over
//! up to half the capacity of launches keeps all of them, and a miss costs no scan (a least
//! recently used entry would cost one).

use std::sync::Mutex;

/// The most bind groups kept, over both generations (a step of an 8B decoder binds 363
/// launches, and a decode loop's buffers cycle over two or three steps).
pub const CAPACITY: usize = 4096;

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
    current: hashbrown::HashMap<Key, wgpu::BindGroup>,
    old: hashbrown::HashMap<Key, wgpu::BindGroup>,
    hits: u64,
    made: u64,
}

impl Map {
    /// The bind group kept under `key`, moved to the current generation.
    fn find(&mut self, key: &Key) -> Option<wgpu::BindGroup> {
        if let Some(bg) = self.current.get(key) {
            return Some(bg.clone());
        }
        let (k, bg) = self.old.remove_entry(key)?;
        self.keep(k, bg.clone());
        Some(bg)
    }

    /// Keeps `bg` under `key` in the current generation, which becomes the old one when it
    /// holds half of [`CAPACITY`].
    fn keep(&mut self, key: Key, bg: wgpu::BindGroup) {
        if self.current.len() >= CAPACITY / 2 {
            self.old = std::mem::take(&mut self.current);
        }
        self.current.insert(key, bg);
    }
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
        if let Some(key) = &key {
            if let Ok(mut m) = self.map.lock() {
                if let Some(bg) = m.find(key) {
                    m.hits += 1;
                    return bg;
                }
            }
        }
        let bg = make(device, layout, uniform, bufs, label);
        if let Ok(mut m) = self.map.lock() {
            m.made += 1;
            if let Some(key) = key {
                m.keep(key, bg.clone());
            }
        }
        bg
    }

    /// Forgets every kept bind group (and so lets go of the buffers they hold).
    pub fn clear(&self) {
        if let Ok(mut m) = self.map.lock() {
            m.current.clear();
            m.old.clear();
        }
    }

    /// Hits, made and kept, for the counters.
    pub fn counts(&self) -> BindCounts {
        self.map
            .lock()
            .map(|m| BindCounts {
                hits: m.hits,
                made: m.made,
                kept: (m.current.len() + m.old.len()) as u64,
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
