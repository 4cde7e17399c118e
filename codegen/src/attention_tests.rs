//! Unit tests of the attention template's choices and contracts ([`super`]).

use super::*;
use crate::attention_stage::per_invocation;

/// The template keeps the loop-trip contract of `kiln_ir::passes::attention_trips`: 64
/// invocations, at most 16 rows, so that a split over the adapter's loop budget holds.
/// Larger heads are the unfused composition's (the IR pass that writes them so uses the
/// same bound); on WebGPU's default 16 KiB of workgroup memory, the smallest tile of the
/// largest head still fits.
#[test]
fn max_head_agrees_with_the_ir() {
    assert_eq!(MAX_HEAD as usize, kiln_ir::passes::ATTENTION_MAX_HEAD);
    assert_eq!(max_head(48 * 1024), MAX_HEAD);
    let h = max_head(16 * 1024);
    assert!((256..MAX_HEAD).contains(&h), "{h}");
    assert!(workgroup_bytes(1, KEYS[0], h) <= 16 * 1024);
    assert!(workgroup_bytes(1, KEYS[0], h + 16) > 16 * 1024);
}

/// The row form is the default from 64 queries on where the head fits its registers, at
/// 4 keys a tile; a workgroup memory too small for it shrinks its keys, then falls back
/// to the blocks.
#[test]
fn row_form_defaults_and_fitting() {
    assert_eq!(default_rows(64, 64, 64), ROW_FORM);
    assert_eq!(default_rows(2048, 32, 48), ROW_FORM);
    assert_eq!(default_rows(63, 64, 64), 16);
    assert_eq!(default_rows(2048, 64, 80), 16);
    assert_eq!(default_rows(3, 64, 64), 4);
    assert_eq!(default_rows(1, 128, 128), 1);
    assert_eq!(default_keys(ROW_FORM, 64, false), 4);
    assert_eq!(default_keys(16, 64, false), 32);
    assert_eq!(default_keys(1, 128, false), 16);
    assert_eq!(default_keys(1, 512, false), 8);
    let a = |rows, keys| crate::schedule::AttentionSchedule {
        rows: Some(rows),
        keys: Some(keys),
        head: Some(64),
        tensor_cores: false,
        segments: 1,
    };
    let fitted = |mut s: crate::schedule::AttentionSchedule, limit| {
        fit(&mut s, limit);
        (s.rows.unwrap(), s.keys.unwrap())
    };
    assert_eq!(workgroup_bytes(ROW_FORM, 32, 64), 16 * 1024);
    assert_eq!(fitted(a(ROW_FORM, 32), 16 * 1024), (ROW_FORM, 32));
    assert_eq!(fitted(a(ROW_FORM, 64), 16 * 1024), (ROW_FORM, 32));
    assert_eq!(fitted(a(ROW_FORM, 32), 4096), (ROW_FORM, 8));
    // Under the row form's smallest tile nothing fits; it still leaves the row form.
    assert_eq!(workgroup_bytes(ROW_FORM, 4, 64), 2048);
    assert!(fitted(a(ROW_FORM, 32), 2000).0 <= 16);
}

#[test]
fn loop_contract() {
    assert_eq!(THREADS, 64);
    let t = THREADS as usize;
    for (keys, d, dv) in [
        (64usize, 64usize, 64usize),
        (1031, 128, 80),
        (7, 32, 32),
        (1, 1, 1),
        (300, 1, 512),
        (65, 512, 16),
    ] {
        let head = d.max(dv).next_multiple_of(16);
        let h4 = head / 4;
        for rows in ROWS {
            for bk in KEYS {
                let np = per_invocation(bk, head as u32) as usize;
                let tiles = keys.div_ceil(bk as usize);
                let trips = if rows == ROW_FORM {
                    if head > ROW_FORM_MAX_HEAD as usize {
                        continue;
                    }
                    // The query in registers; per tile the store, the fetch and the
                    // steps over its keys.
                    let steps = crate::attention_rows::trips_per_tile(bk) as usize;
                    np + tiles * (2 * np + steps)
                } else if crate::attention_decode::applies(rows, bk, head as u32) {
                    // Segments shorten each invocation's chunks and add their combine.
                    let most = (0..=4)
                        .map(|p| crate::attention_decode::trips(keys, bk, head as u32, 1 << p))
                        .max()
                        .unwrap_or(0);
                    assert!(most >= crate::attention_decode::trips(keys, bk, head as u32, 1));
                    most
                } else {
                    assert!(rows <= 16 && bk >= 4 && THREADS.is_multiple_of(rows));
                    let (rows, bk) = (rows as usize, bk as usize);
                    let entries = (rows * bk).div_ceil(t);
                    // Storing and fetching the tiles, the scores' dot products, the row
                    // maximum, the exponentials, the accumulation.
                    let per_tile = 2 * np + h4 + bk + entries + bk;
                    (rows * h4).div_ceil(t) + np + tiles * per_tile
                };
                assert!(
                    trips <= kiln_ir::passes::attention_trips(keys, d, dv),
                    "{rows} x {bk}, keys {keys}, d {d}, dv {dv}: {trips}"
                );
            }
        }
    }
}

/// The decode form's segments: the split pass's constants are code generation's, a kernel
/// takes as many as its keys need (at most the schedule's), only a whole attention's decode
/// form keeps them, and workgroup memory too small for them halves them.
#[test]
fn segments_follow_the_keys() {
    use crate::attention_decode::{segments_for, whole_keys, DECODE_MAX_HEAD, MAX_SEGMENTS};
    assert_eq!(DECODE_MAX_HEAD as usize, kiln_ir::passes::DECODE_MAX_HEAD);
    assert_eq!(whole_keys(16), 512);
    assert_eq!(whole_keys(1), 0);
    assert_eq!(whole_keys(64), whole_keys(MAX_SEGMENTS));
    for (sk, most, want) in [
        (1, 16, 1),
        (32, 16, 1),
        (33, 16, 2),
        (100, 16, 4),
        (512, 16, 16),
        (512, 4, 4),
        (7, 0, 1),
    ] {
        assert_eq!(segments_for(sk, most), want, "{sk} keys, at most {most}");
    }
    let mut a = crate::schedule::AttentionSchedule {
        rows: Some(1),
        keys: Some(16),
        head: Some(128),
        tensor_cores: false,
        segments: 16,
    };
    let bytes = crate::attention_decode::workgroup_bytes(16, 128, 16);
    fit(&mut a, bytes);
    assert_eq!(a.segments, 16);
    fit(&mut a, bytes - 1);
    assert_eq!(a.segments, 8);
    // The block form (8 keys a tile) has no segments.
    a.keys = Some(8);
    fit(&mut a, 48 * 1024);
    assert_eq!(a.segments, 1);
}
