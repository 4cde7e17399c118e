//! Burn's bool ops: logic, comparisons, casts and creation.

use crate::conform;
use crate::harness::*;
use burn_backend::{Scalar, TensorData};
use burn_std::{BoolStore, FloatDType, IntDType, Shape};

const BOOL: BoolStore = BoolStore::Native;

conform!(bool_zeros, EXACT, d => { vec![rb::<B>(B::bool_zeros(Shape::new([3, 7]), d, BOOL))] });
conform!(bool_ones, EXACT, d => { vec![rb::<B>(B::bool_ones(Shape::new([1031]), d, BOOL))] });

// An empty tensor's values are unspecified: its shape is compared.
conform!(bool_empty, EXACT, d => {
    let t = B::bool_empty(Shape::new([3, 7]), d, BOOL);
    vec![TensorData::new(burn_backend::TensorMetadata::shape(&t).iter().map(|&x| x as i32).collect::<Vec<_>>(), [2])]
});

conform!(bool_from_data, EXACT, d => { vec![rb::<B>(B::bool_from_data(bools(&[2, 3, 5], 1), d))] });
conform!(bool_into_data, EXACT, d => { vec![rb::<B>(B::bool_not(b::<B>(d, &[7], 1)))] });
conform!(bool_to_device, EXACT, d => { vec![rb::<B>(B::bool_to_device(b::<B>(d, &[3, 7], 1), d))] });
conform!(bool_into_int, EXACT, d => { vec![ri::<B>(B::bool_into_int(b::<B>(d, &[3, 7], 1), IntDType::I32))] });
conform!(bool_into_float, EXACT, d => {
    vec![rf::<B>(B::bool_into_float(b::<B>(d, &[3, 7], 1), FloatDType::F32))]
});
conform!(bool_not, EXACT, d => { vec![rb::<B>(B::bool_not(b::<B>(d, &[3, 7], 1)))] });

macro_rules! logic {
    ($($name:ident;)*) => {$(
        conform!($name, EXACT, d => {
            vec![
                rb::<B>(B::$name(b::<B>(d, &[3, 7], 1), b::<B>(d, &[3, 7], 2))),
                rb::<B>(B::$name(b::<B>(d, &[1, 7], 3), b::<B>(d, &[4, 1], 4))),
            ]
        });
    )*};
}

logic! { bool_and; bool_or; bool_equal; bool_not_equal; bool_xor; }

conform!(bool_equal_elem, EXACT, d => {
    vec![
        rb::<B>(B::bool_equal_elem(b::<B>(d, &[3, 7], 1), Scalar::Bool(true))),
        rb::<B>(B::bool_equal_elem(b::<B>(d, &[3, 7], 2), Scalar::Bool(false))),
    ]
});
