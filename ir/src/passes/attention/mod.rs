//! Attention passes: recognizing the unfused pattern ([`FuseAttention`], `fuse.rs`) and
//! splitting the keys of a decode-shaped attention over many workgroups ([`SplitAttention`],
//! `split.rs`).

mod fuse;
mod split;

pub use fuse::{FuseAttention, PATTERN};
pub use split::{
    attention_trips, SplitAttention, ATTENTION_MAX_HEAD, DECODE_MAX_HEAD, DECODE_SEGMENT_KEYS,
    SPLIT_ATTENTION_MIN_RUN, SPLIT_ATTENTION_TARGET, SPLIT_DECODE_MIN_RUN, SPLIT_DECODE_TARGET,
};

#[cfg(test)]
mod tests;
