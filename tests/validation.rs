//! Input that used to be trusted is checked: host tensors against their shape and dtype,
//! sizes computed from arguments for overflow, and ranges, matmul batch dims and program
//! inputs for their own typed errors.

mod common;
use common::*;
use kiln::ir::{interp, Graph, HostData, HostTensor, IrError, Shape};
use kiln::{DType, Error, Program, Tensor};

fn overflow(r: kiln::Result<Tensor>, what: &str) {
    match r {
        Err(e) => assert!(
            matches!(e.ir(), Some(IrError::SizeOverflow { .. })),
            "{what}: {e}"
        ),
        Ok(t) => panic!("{what}: accepted, shape {}", t.shape()),
    }
}

#[test]
fn host_tensor_length_and_kind_are_checked() {
    let dev = device();
    // One element declared as four: the GPU would read past the upload.
    let short = HostTensor {
        dtype: DType::F32,
        shape: Shape::new(&[4]),
        data: HostData::F(vec![1.5]),
    };
    let e = Tensor::from_host_on(&dev, short.clone()).unwrap_err();
    assert!(
        matches!(
            e.ir(),
            Some(IrError::DataLength {
                len: 1,
                numel: 4,
                ..
            })
        ),
        "{e}"
    );
    // Float data declared i32: it would be reinterpreted bit for bit.
    let kind = HostTensor {
        dtype: DType::I32,
        shape: Shape::new(&[3]),
        data: HostData::F(vec![1.5, -2.25, 3.0]),
    };
    let e = Tensor::from_host_on(&dev, kind.clone()).unwrap_err();
    assert!(
        matches!(
            e.ir(),
            Some(IrError::HostDataKind {
                dtype: DType::I32,
                data: "float"
            })
        ),
        "{e}"
    );
    let e = Tensor::from_host_on(
        &dev,
        HostTensor {
            dtype: DType::F32,
            shape: Shape::new(&[1 << 40, 1 << 40]),
            data: HostData::F(vec![1.0]),
        },
    )
    .unwrap_err();
    assert!(matches!(e.ir(), Some(IrError::SizeOverflow { .. })), "{e}");
    // A well-formed one is accepted and reads back as given.
    let ok = HostTensor {
        dtype: DType::F16,
        shape: Shape::new(&[3]),
        data: HostData::F(vec![1.5, -2.25, 3.0]),
    };
    let t = Tensor::from_host_on(&dev, ok).unwrap();
    assert_eq!(t.to_host().unwrap().to_f64(), vec![1.5, -2.25, 3.0]);

    // The interpreter checks the values bound to a graph's inputs the same way.
    for (bad, dtype) in [(short, DType::F32), (kind, DType::I32)] {
        let mut g = Graph::new();
        let x = g.input(dtype, bad.shape.clone()).unwrap();
        g.mark_output(x);
        let e = interp::evaluate(&g, &[bad]).unwrap_err();
        assert!(
            matches!(e, IrError::DataLength { .. } | IrError::HostDataKind { .. }),
            "{e}"
        );
    }
}

#[test]
fn overflowing_shapes_are_refused() {
    let dev = device();
    let big = 1usize << 32;
    overflow(
        Tensor::full_on(&dev, &[big, big], 1.0, DType::F32),
        "full 2^32 x 2^32",
    );
    overflow(
        Tensor::full_on(&dev, &[1 << 31, 1 << 31], 1.0, DType::F32),
        "full: 2^62 elements, 2^64 bytes",
    );
    overflow(
        Tensor::rand_on(&dev, &[big, big, 3], -1.0, 1.0, 1, DType::F32),
        "rand",
    );
    overflow(
        Tensor::arange_on(&dev, 0.0, 1.0, usize::MAX, DType::F32),
        "arange",
    );
    overflow(
        Tensor::placeholder_on(&dev, DType::F32, &[big, big]),
        "placeholder",
    );
    overflow(
        Tensor::from_slice_on(&dev, &[1.0f32], &[big, big]),
        "from_slice",
    );
    overflow(
        Tensor::full_on(&dev, &[0, big, big], 1.0, DType::F32),
        "empty, but its strides overflow",
    );
    let x = random(&dev, DType::F32, &[3, 5], -1.0, 1.0, 1);
    overflow(x.reshape(&[big, big, 0]), "reshape");
    overflow(x.broadcast_to(&[big, big, 3, 5]), "expand");
    overflow(x.pad(&[(0, 0), (usize::MAX, 1)], 0.0), "pad width");
    overflow(x.pad(&[(big, big), (big, big)], 0.0), "pad numel");
    overflow(x.narrow(1, usize::MAX, 2), "narrow");
    // Each part fits (2^62 - 1 elements); five of them overflow usize itself.
    let wide = Tensor::full_on(&dev, &[1, (1 << 62) - 1], 1.0, DType::F32).unwrap();
    overflow(Tensor::concat(&[&wide; 5], 1), "concat");
    let a = Tensor::full_on(&dev, &[big, 2], 1.0, DType::F32).unwrap();
    let b = Tensor::full_on(&dev, &[2, big], 1.0, DType::F32).unwrap();
    overflow(a.matmul(&b), "matmul output");
    // What fits is still accepted, and sums are right.
    let t = Tensor::full_on(&dev, &[3, 7], 0.5, DType::F32).unwrap();
    assert_eq!(t.sum(&[0, 1], false).unwrap().item::<f32>().unwrap(), 10.5);
}

#[test]
fn narrow_past_the_end_is_an_error() {
    let dev = device();
    let x = random(&dev, DType::F32, &[3, 7], -1.0, 1.0, 2);
    let e = x.narrow(1, 5, 3).unwrap_err();
    assert!(
        matches!(
            e.ir(),
            Some(IrError::OutOfRange {
                axis: 1,
                start: 5,
                len: 3,
                dim: 7,
                ..
            })
        ),
        "{e}"
    );
    assert!(x.narrow(0, 4, 0).is_err(), "start past the end");
    assert!(x.narrow(-1, 0, 8).is_err());
    // In range: the elements asked for.
    let y = x.narrow(-1, 5, 2).unwrap();
    assert_eq!(y.dims(), &[3, 2]);
    let (xv, yv) = (x.to_vec::<f32>().unwrap(), y.to_vec::<f32>().unwrap());
    for r in 0..3 {
        assert_eq!(&yv[r * 2..r * 2 + 2], &xv[r * 7 + 5..r * 7 + 7]);
    }
    assert_eq!(x.narrow(1, 7, 0).unwrap().dims(), &[3, 0]);
}

#[test]
fn matmul_batch_mismatch_names_the_batch_dims() {
    let dev = device();
    let a = random(&dev, DType::F32, &[2, 3, 4], -1.0, 1.0, 3);
    let b = random(&dev, DType::F32, &[5, 4, 6], -1.0, 1.0, 4);
    let e = a.matmul(&b).unwrap_err();
    assert!(matches!(e.ir(), Some(IrError::MatmulBatch { .. })), "{e}");
    assert!(
        e.to_string().contains("batch") && !e.to_string().contains("inner"),
        "{e}"
    );
    // Inner dims still get their own error.
    let c = random(&dev, DType::F32, &[2, 5, 6], -1.0, 1.0, 5);
    let e = a.matmul(&c).unwrap_err();
    assert!(matches!(e.ir(), Some(IrError::MatmulShape { .. })), "{e}");
}

#[test]
fn program_inputs_listed_once_and_missing_placeholders_named() {
    let dev = device();
    let x = Tensor::placeholder_on(&dev, DType::F32, &[4]).unwrap();
    let w = Tensor::placeholder_on(&dev, DType::F32, &[4]).unwrap();
    let y = x.exp().unwrap();
    let e = Program::compile(&[&x, &x], &[&y]).map(|_| ()).unwrap_err();
    assert!(
        matches!(e, Error::DuplicateInput { first: 0, index: 1 }),
        "{e}"
    );
    let z = x.add(&w).unwrap();
    let e = Program::compile(&[&x], &[&z]).map(|_| ()).unwrap_err();
    assert!(matches!(e, Error::PlaceholderNotInput(_)), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("not in the program's input list") && !msg.contains("has no value"),
        "{msg}"
    );
}
