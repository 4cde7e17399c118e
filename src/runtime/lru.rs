//! A map bounded by entry count that forgets its least recently used entry: the in-memory
//! pipeline and plan caches, so that memory does not grow with the number of distinct
//! kernels a process ever made.

use hashbrown::HashMap;
use std::hash::Hash;

/// A bounded least-recently-used map.
pub struct Lru<K, V> {
    map: HashMap<K, (V, u64)>,
    tick: u64,
    capacity: usize,
    evicted: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    /// An empty map keeping at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Lru {
            map: HashMap::new(),
            tick: 0,
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    /// The value of `k`, now the most recently used.
    pub fn get(&mut self, k: &K) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(k).map(|(v, t)| {
            *t = tick;
            v.clone()
        })
    }

    /// Keeps `v` under `k`; when full, the least recently used entry goes first.
    pub fn insert(&mut self, k: K, v: V) {
        self.tick += 1;
        if !self.map.contains_key(&k) && self.map.len() >= self.capacity {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone());
            if let Some(o) = oldest {
                self.map.remove(&o);
                self.evicted += 1;
            }
        }
        self.map.insert(k, (v, self.tick));
    }

    /// Whether `k` is held (without making it recently used).
    pub fn contains(&self, k: &K) -> bool {
        self.map.contains_key(k)
    }

    /// Forgets `k`.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.map.remove(k).map(|(v, _)| v)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries forgotten to make room, so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Entries held and entries evicted so far, for the counters.
    pub fn sizes(&self) -> (u64, u64) {
        (self.len() as u64, self.evicted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_recently_used_within_capacity() {
        let mut l: Lru<u32, u32> = Lru::new(3);
        for i in 0..3 {
            l.insert(i, i * 10 + 1);
        }
        assert_eq!(l.get(&0), Some(1));
        l.insert(3, 31);
        assert_eq!(l.len(), 3);
        assert_eq!(l.get(&1), None, "the least recently used went");
        assert_eq!(l.get(&0), Some(1));
        assert_eq!(l.evicted(), 1);
        for i in 10..1000 {
            l.insert(i, i);
        }
        assert_eq!(l.len(), 3);
        assert_eq!(l.remove(&999), Some(999));
    }
}
