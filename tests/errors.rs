//! Bad input gets a typed error naming the problem, never a panic.

mod common;
use common::*;
use kiln::ir::IrError;
use kiln::{DType, Error, Program, Tensor};

#[test]
fn shape_dtype_and_axis_errors() {
    let dev = device();
    let a = random(&dev, DType::F32, &[3, 4], -1.0, 1.0, 1);
    let b = random(&dev, DType::F32, &[5], -1.0, 1.0, 2);
    let i = random(&dev, DType::I32, &[3, 4], -5.0, 5.0, 3);

    let e = a.add(&b).unwrap_err();
    assert!(matches!(e.ir(), Some(IrError::Broadcast { .. })), "{e}");
    assert!(
        e.to_string().contains("[3, 4]") && e.to_string().contains("[5]"),
        "{e}"
    );

    let e = a.add(&i).unwrap_err();
    assert!(matches!(e.ir(), Some(IrError::DTypeMismatch { .. })), "{e}");

    let e = a.sum(&[2], false).unwrap_err();
    assert!(
        matches!(e.ir(), Some(IrError::BadAxis { axis: 2, .. })),
        "{e}"
    );
    assert!(a.sum(&[0, -2], false).is_err(), "repeated axis");
    assert!(a.transpose(0, 5).is_err());
    assert!(a.permute(&[0, 0]).is_err());
    assert!(a.permute(&[0]).is_err());
    assert!(a.softmax(3).is_err());
    assert!(a.squeeze(0).is_err());
    assert!(a.unsqueeze(4).is_err());

    let e = a
        .matmul(&random(&dev, DType::F32, &[5, 2], -1.0, 1.0, 4))
        .unwrap_err();
    assert!(matches!(e.ir(), Some(IrError::MatmulShape { .. })), "{e}");
    assert!(
        e.to_string().contains("[3, 4]") && e.to_string().contains("[5, 2]"),
        "{e}"
    );
    assert!(
        i.matmul(&i.cast(DType::F32).unwrap()).is_err(),
        "mixed int and float matmul is refused"
    );
    assert!(
        i.cast(DType::Bool)
            .unwrap()
            .matmul(&i.cast(DType::Bool).unwrap())
            .is_err(),
        "bool matmul is refused"
    );

    assert!(a.reshape(&[5, 3]).is_err());
    assert!(a.broadcast_to(&[3, 5]).is_err());
    assert!(
        a.exp().unwrap().cast(DType::I32).unwrap().exp().is_err(),
        "exp of i32"
    );
    assert!(Tensor::from_slice_on(&dev, &[1.0f32, 2.0], &[3]).is_err());
    assert!(Tensor::concat(&[&a, &b], 0).is_err());
    assert!(Tensor::concat(&[], 0).is_err());
    assert!(a.gather(1, &b).is_err(), "float index");
    assert!(Tensor::where_(&a, &a, &a).is_err(), "float condition");
    assert!(a.to_vec::<i32>().is_err(), "wrong element type");
    assert!(
        Tensor::zeros(&[1, 1, 1, 1, 1, 1, 1], DType::F32).is_err(),
        "rank 7"
    );
}

#[test]
fn too_large_for_a_binding_is_an_error() {
    let dev = device();
    let Some(ctx) = dev.gpu() else { return };
    let limit = ctx.max_binding_bytes();
    let n = (limit / 4 + 1) as usize;
    let big = Tensor::full_on(&dev, &[n], 1.0, DType::F32).unwrap();
    let e = big.exp().unwrap().realize().map(|_| ()).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
}

#[test]
fn program_input_errors() {
    let dev = device();
    let x = Tensor::placeholder_on(&dev, DType::F32, &[4]).unwrap();
    let y = x.exp().unwrap();
    let prog = Program::compile(&[&x], &[&y]).unwrap();
    let wrong = random(&dev, DType::F32, &[5], -1.0, 1.0, 1);
    assert!(matches!(
        prog.run(&[&wrong]).unwrap_err(),
        Error::InputMismatch { .. }
    ));
    assert!(matches!(
        prog.run(&[]).unwrap_err(),
        Error::InputCount { .. }
    ));
    assert!(matches!(
        y.to_vec::<f32>().unwrap_err(),
        Error::UnboundPlaceholder(_)
    ));
}
