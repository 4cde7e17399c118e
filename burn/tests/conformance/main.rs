//! The conformance suite: every op of Burn's `Backend` called through the trait on kiln and on
//! Burn's reference CPU backend (`burn-flex`), on random inputs at odd shapes, the results
//! compared with a tolerance per op (absolute and relative: `|k - f| <= abs + rel * |f|`).
//! `methods.rs` lists the trait's methods and fails on any this suite does not call.

mod harness;

mod backend_ir;
mod bool_ops;
mod defaults;
mod errors;
mod float_ops;
mod int_ops;
mod methods;
mod module_ops;
mod movement;
mod provided;
mod quant_math;
mod quant_ops;
