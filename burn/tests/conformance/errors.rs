//! Bad input through the trait: a typed error when the data is read, never a panic.

use crate::harness::*;
use burn_backend::ops::{FloatTensorOps, IntTensorOps};
use burn_backend::TensorData;

fn kiln_device() -> kiln_burn::KilnDevice {
    Default::default()
}

fn err_of(r: Result<TensorData, burn_backend::ExecutionError>) -> String {
    match r {
        Ok(d) => panic!("expected an error, read {d:?}"),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn out_of_range_indices_are_errors_at_the_read() {
    let d = kiln_device();
    let x = f::<Kiln>(&d, &[3, 4], -1.0, 1.0, 1);
    let bad = Kiln::int_from_data(TensorData::new(vec![0i32, 4, 1], [3]), &d);
    let e = err_of(block_on(Kiln::float_into_data(Kiln::float_select(
        x.clone(),
        1,
        bad.clone(),
    ))));
    assert!(e.contains("outside 0..4"), "{e}");
    let neg = Kiln::int_from_data(TensorData::new(vec![-1i32; 12], [3, 4]), &d);
    let e = err_of(block_on(Kiln::float_into_data(Kiln::float_gather(
        1,
        x.clone(),
        neg,
    ))));
    assert!(e.contains("gather"), "{e}");
    // The error travels with every tensor computed from the bad one.
    let y = Kiln::float_exp(Kiln::float_select(x, 1, bad));
    let e = err_of(block_on(Kiln::float_into_data(y)));
    assert!(e.contains("select"), "{e}");
}

#[test]
fn shape_mismatches_are_errors_at_the_read() {
    let d = kiln_device();
    let a = f::<Kiln>(&d, &[3, 4], -1.0, 1.0, 1);
    let b = f::<Kiln>(&d, &[5, 4], -1.0, 1.0, 2);
    err_of(block_on(Kiln::float_into_data(Kiln::float_add(
        a.clone(),
        b.clone(),
    ))));
    err_of(block_on(Kiln::float_into_data(Kiln::float_matmul(
        a.clone(),
        b,
    ))));
    err_of(block_on(Kiln::float_into_data(Kiln::float_reshape(
        a,
        burn_std::Shape::new([5, 3]),
    ))));
}

#[test]
fn corrupt_quantized_data_is_an_error() {
    use burn_backend::ops::QTensorOps;
    let d = kiln_device();
    let scheme = burn_std::quantization::QuantScheme::default();
    let data = TensorData::from_bytes_vec(vec![1u8, 2, 3], [4, 6], burn_std::DType::QFloat(scheme));
    let q = Kiln::q_from_data(data, &d);
    err_of(block_on(Kiln::q_into_data(q)));
}

#[test]
fn grid_sampling_options_and_shapes_it_cannot_take_are_errors() {
    use burn_backend::ops::{GridSampleOptions, InterpolateMode};
    let d = kiln_device();
    let x = f::<Kiln>(&d, &[1, 2, 4, 5], -1.0, 1.0, 1);
    let grid = f::<Kiln>(&d, &[1, 3, 3, 2], -1.0, 1.0, 2);
    let bicubic = GridSampleOptions::new(InterpolateMode::Bicubic);
    let e = err_of(block_on(Kiln::float_into_data(Kiln::float_grid_sample_2d(
        x.clone(),
        grid,
        bicubic,
    ))));
    assert!(e.contains("Bicubic"), "{e}");
    let flat_grid = f::<Kiln>(&d, &[1, 3, 3], -1.0, 1.0, 3);
    let e = err_of(block_on(Kiln::float_into_data(Kiln::float_grid_sample_2d(
        x,
        flat_grid,
        GridSampleOptions::default(),
    ))));
    assert!(e.contains("grid_sample_2d"), "{e}");
}
