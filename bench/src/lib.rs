//! kiln's standard benchmark workloads, shared by the `kiln-bench` command, the criterion
//! benches and the tests that check their kernels (see `docs/PERFORMANCE.md`). They use only
//! kiln's public API; this crate is not part of it.

pub mod check;
pub mod runner;
pub mod workloads;
