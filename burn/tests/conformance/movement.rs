//! Movement, indexing and masking, for each of Burn's tensor kinds (float, int, bool): the
//! same cases through each kind's methods.

use crate::conform;
use crate::harness::*;
use burn_backend::tensor::{BoolTensor, FloatTensor, IntTensor};
use burn_backend::Scalar;
use burn_std::{IndexingUpdateOp, Shape, Slice};

/// Slices with steps, negative bounds and reversed walks.
fn slices() -> Vec<Vec<Slice>> {
    vec![
        vec![Slice::new(1, Some(3), 1), Slice::new(0, None, 2)],
        vec![Slice::new(-2, None, 1), Slice::new(1, Some(6), -2)],
        vec![Slice::new(0, None, -1), Slice::new(0, None, -3)],
    ]
}

pub fn mf<B: Backend>(d: &B::Device, shape: &[usize], seed: u64) -> FloatTensor<B> {
    f::<B>(d, shape, -1.0, 1.0, seed)
}

pub fn mi<B: Backend>(d: &B::Device, shape: &[usize], seed: u64) -> IntTensor<B> {
    i::<B>(d, shape, -50, 50, seed)
}

pub fn mb<B: Backend>(d: &B::Device, shape: &[usize], seed: u64) -> BoolTensor<B> {
    b::<B>(d, shape, seed)
}

macro_rules! movement {
    ($make:ident, $read:ident, $fill:expr, $reshape:ident, $swap:ident, $permute:ident,
     $flip:ident, $slice:ident, $slice_assign:ident, $expand:ident, $unfold:ident, $cat:ident,
     $gather:ident, $select:ident, $mask_where:ident, $mask_fill:ident) => {
        conform!($reshape, EXACT, d => {
            vec![$read::<B>(B::$reshape($make::<B>(d, &[3, 7, 2], 1), Shape::new([7, 6])))]
        });
        conform!($swap, EXACT, d => {
            vec![$read::<B>(B::$swap($make::<B>(d, &[3, 7, 2], 1), 0, 2))]
        });
        conform!($permute, EXACT, d => {
            vec![$read::<B>(B::$permute($make::<B>(d, &[3, 7, 2], 1), &[1, 2, 0]))]
        });
        conform!($flip, EXACT, d => {
            vec![$read::<B>(B::$flip($make::<B>(d, &[3, 7, 2], 1), &[0, 2]))]
        });
        conform!($slice, EXACT, d => {
            slices().iter().map(|s| $read::<B>(B::$slice($make::<B>(d, &[5, 7], 1), s))).collect()
        });
        conform!($slice_assign, EXACT, d => {
            slices()
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let x = $make::<B>(d, &[5, 7], 1);
                    let dims: Vec<usize> = s.iter().zip([5usize, 7]).map(|(s, n)| s.output_size(n)).chain([7].into_iter().skip(s.len() - 1)).collect();
                    $read::<B>(B::$slice_assign(x, s, $make::<B>(d, &dims, 10 + k as u64)))
                })
                .collect()
        });
        conform!($expand, EXACT, d => {
            vec![$read::<B>(B::$expand($make::<B>(d, &[3, 1, 2], 1), Shape::new([4, 3, 5, 2])))]
        });
        conform!($unfold, EXACT, d => {
            vec![
                $read::<B>(B::$unfold($make::<B>(d, &[3, 11], 1), 1, 4, 3)),
                $read::<B>(B::$unfold($make::<B>(d, &[7, 2], 2), 0, 2, 1)),
            ]
        });
        conform!($cat, EXACT, d => {
            let parts = vec![$make::<B>(d, &[3, 2], 1), $make::<B>(d, &[3, 5], 2), $make::<B>(d, &[3, 1], 3)];
            vec![$read::<B>(B::$cat(parts, 1))]
        });
        conform!($gather, EXACT, d => {
            vec![$read::<B>(B::$gather(1, $make::<B>(d, &[4, 7], 1), i::<B>(d, &[4, 9], 0, 7, 2)))]
        });
        conform!($select, EXACT, d => {
            vec![$read::<B>(B::$select($make::<B>(d, &[4, 7], 1), 1, i::<B>(d, &[11], 0, 7, 2)))]
        });
        conform!($mask_where, EXACT, d => {
            vec![$read::<B>(B::$mask_where($make::<B>(d, &[4, 7], 1), b::<B>(d, &[4, 7], 2), $make::<B>(d, &[4, 7], 3)))]
        });
        conform!($mask_fill, EXACT, d => {
            vec![$read::<B>(B::$mask_fill($make::<B>(d, &[4, 7], 1), b::<B>(d, &[4, 7], 2), $fill))]
        });
    };
}

movement!(
    mf,
    rf,
    Scalar::Float(-3.5),
    float_reshape,
    float_swap_dims,
    float_permute,
    float_flip,
    float_slice,
    float_slice_assign,
    float_expand,
    float_unfold,
    float_cat,
    float_gather,
    float_select,
    float_mask_where,
    float_mask_fill
);
movement!(
    mi,
    ri,
    Scalar::Int(17),
    int_reshape,
    int_swap_dims,
    int_permute,
    int_flip,
    int_slice,
    int_slice_assign,
    int_expand,
    int_unfold,
    int_cat,
    int_gather,
    int_select,
    int_mask_where,
    int_mask_fill
);
movement!(
    mb,
    rb,
    Scalar::Bool(true),
    bool_reshape,
    bool_swap_dims,
    bool_permute,
    bool_flip,
    bool_slice,
    bool_slice_assign,
    bool_expand,
    bool_unfold,
    bool_cat,
    bool_gather,
    bool_select,
    bool_mask_where,
    bool_mask_fill
);

const UPDATES: [IndexingUpdateOp; 5] = [
    IndexingUpdateOp::Assign,
    IndexingUpdateOp::Add,
    IndexingUpdateOp::Mul,
    IndexingUpdateOp::Min,
    IndexingUpdateOp::Max,
];

macro_rules! scatters {
    ($make:ident, $read:ident, $scatter:ident, $select_assign:ident) => {
        // Distinct indices along the axis for Assign (a permutation's first rows), repeated
        // ones for the folds.
        conform!($scatter, SUM, d => {
            UPDATES.iter().map(|&op| {
                let idx = if op == IndexingUpdateOp::Assign {
                    B::int_slice(B::int_argsort(i::<B>(d, &[7, 4], 0, 1000, 2), 0, false), &[Slice::new(0, Some(3), 1)])
                } else {
                    i::<B>(d, &[3, 4], 0, 7, 2)
                };
                $read::<B>(B::$scatter(0, $make::<B>(d, &[7, 4], 1), idx, $make::<B>(d, &[3, 4], 3), op))
            }).collect()
        });
        conform!($select_assign, SUM, d => {
            UPDATES.iter().map(|&op| {
                let idx = if op == IndexingUpdateOp::Assign {
                    B::int_from_data(burn_backend::TensorData::new(vec![4i32, 0, 2], [3]), d)
                } else {
                    i::<B>(d, &[5], 0, 6, 2)
                };
                let k = burn_backend::TensorMetadata::shape(&idx)[0];
                $read::<B>(B::$select_assign($make::<B>(d, &[3, 6], 1), 1, idx, $make::<B>(d, &[3, k], 3), op))
            }).collect()
        });
    };
}

scatters!(mf, rf, float_scatter, float_select_assign);
scatters!(mi, ri, int_scatter, int_select_assign);

conform!(bool_scatter_or, EXACT, d => {
    vec![rb::<B>(B::bool_scatter_or(0, mb::<B>(d, &[7, 4], 1), i::<B>(d, &[3, 4], 0, 7, 2), mb::<B>(d, &[3, 4], 3)))]
});

conform!(bool_select_or, EXACT, d => {
    vec![rb::<B>(B::bool_select_or(mb::<B>(d, &[3, 6], 1), 1, i::<B>(d, &[5], 0, 6, 2), mb::<B>(d, &[3, 5], 3)))]
});
