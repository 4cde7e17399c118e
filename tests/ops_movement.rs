//! Views, concat and gather against the reference interpreter.

mod common;
use common::*;
use kiln::{DType, Tensor};

#[test]
fn views_compose() {
    let dev = device();
    for dt in [DType::F32, DType::I32, DType::Bool, DType::F16] {
        let x = random(&dev, dt, &[6, 7, 5], -9.0, 9.0, 21);
        let cases = [
            ("permute", x.permute(&[2, 0, 1]).unwrap()),
            ("reshape", x.reshape(&[42, 5]).unwrap()),
            (
                "permute+reshape",
                x.permute(&[1, 0, 2]).unwrap().reshape(&[7, 30]).unwrap(),
            ),
            (
                "slice step",
                x.slice(0, 1, 6, 2).unwrap().slice(2, -4, 5, 3).unwrap(),
            ),
            ("flip", x.flip(&[0, 2]).unwrap()),
            (
                "expand",
                x.slice(1, 3, 4, 1)
                    .unwrap()
                    .broadcast_to(&[2, 6, 7, 5])
                    .unwrap(),
            ),
            ("pad", x.pad(&[(1, 0), (0, 2), (3, 3)], 1.0).unwrap()),
            (
                "pad+flip+slice",
                x.pad(&[(2, 1), (0, 0), (1, 1)], 0.0)
                    .unwrap()
                    .flip(&[0])
                    .unwrap()
                    .slice(0, 1, 9, 2)
                    .unwrap(),
            ),
            (
                "pad twice, other value",
                x.pad(&[(1, 1), (0, 0), (0, 0)], 1.0)
                    .unwrap()
                    .pad(&[(0, 0), (1, 1), (0, 0)], 0.0)
                    .unwrap(),
            ),
            (
                "pad then reshape",
                x.pad(&[(0, 0), (0, 1), (0, 0)], 0.0)
                    .unwrap()
                    .reshape(&[48, 5])
                    .unwrap(),
            ),
            (
                "unsqueeze/squeeze",
                x.unsqueeze(1)
                    .unwrap()
                    .squeeze(1)
                    .unwrap()
                    .unsqueeze(-1)
                    .unwrap(),
            ),
        ];
        for (name, v) in cases {
            check(&v, 0.0, 0.0, &format!("{name} {dt}"));
            if dt == DType::F32 {
                check(
                    &v.mul_scalar(2.0).unwrap(),
                    0.0,
                    0.0,
                    &format!("{name} read by a kernel"),
                );
            }
        }
    }
}

#[test]
fn concat_and_gather() {
    let dev = device();
    let a = random(&dev, DType::F32, &[3, 4], -1.0, 1.0, 1);
    let b = random(&dev, DType::F32, &[3, 7], -1.0, 1.0, 2);
    let c = random(&dev, DType::F32, &[3, 1], -1.0, 1.0, 3);
    check(
        &Tensor::concat(&[&a, &b, &c], 1).unwrap(),
        0.0,
        0.0,
        "concat axis 1",
    );
    check(
        &Tensor::concat(
            &[&a.transpose(0, 1).unwrap(), &b.transpose(0, 1).unwrap()],
            0,
        )
        .unwrap(),
        0.0,
        0.0,
        "concat of views",
    );
    let p = a.pad(&[(0, 0), (1, 1)], 5.0).unwrap();
    check(
        &Tensor::concat(&[&p, &b], -1).unwrap(),
        0.0,
        0.0,
        "concat of a padded view",
    );
    let idx = Tensor::from_slice_on(&dev, &[2i32, 0, -1, 9, 1], &[5]).unwrap();
    check(
        &b.index_select(1, &idx).unwrap(),
        0.0,
        0.0,
        "index_select (negative and out-of-range)",
    );
    check(
        &b.index_select(0, &idx).unwrap(),
        0.0,
        0.0,
        "index_select axis 0",
    );
    let gi = random(&dev, DType::I32, &[3, 5], -7.0, 7.0, 4);
    check(&b.gather(1, &gi).unwrap(), 0.0, 0.0, "gather");
    let emb = random(&dev, DType::F32, &[1031, 8], -1.0, 1.0, 5);
    let tok = random(&dev, DType::I32, &[1000], 0.0, 1031.0, 6);
    check(
        &emb.index_select(0, &tok).unwrap(),
        0.0,
        0.0,
        "embedding lookup",
    );
}

#[test]
fn empty_tensors() {
    let dev = device();
    let x = random(&dev, DType::F32, &[0, 3], -1.0, 1.0, 1);
    let y = x.exp().unwrap().transpose(0, 1).unwrap();
    assert_eq!(y.dims(), &[3, 0]);
    assert_eq!(y.to_vec::<f32>().unwrap(), Vec::<f32>::new());
    let a = random(&dev, DType::F32, &[2, 3], -1.0, 1.0, 2);
    check(
        &Tensor::concat(&[&a, &x], 0).unwrap(),
        0.0,
        0.0,
        "concat with empty",
    );
    check(&a.slice(1, 2, 2, 1).unwrap(), 0.0, 0.0, "empty slice");
}

#[test]
fn regressions_from_review() {
    let dev = device();
    // The same operand twice in a matmul.
    let a = random(&dev, DType::F32, &[9, 9], -1.0, 1.0, 1);
    check(&a.matmul(&a).unwrap(), 1e-5, 1e-5, "a @ a");
    // A leading slice of a computed tensor is its own output, not the whole buffer.
    let y = a.exp().unwrap().narrow(0, 0, 2).unwrap();
    assert_eq!(y.to_vec::<f32>().unwrap().len(), 18);
    check(&y, 1e-6, 1e-5, "leading slice");
    // Concat of more parts than a kernel may bind.
    let parts: Vec<Tensor> = (0..20)
        .map(|i| random(&dev, DType::F32, &[2, 3], -1.0, 1.0, i))
        .collect();
    let refs: Vec<&Tensor> = parts.iter().collect();
    check(&Tensor::concat(&refs, 1).unwrap(), 0.0, 0.0, "concat of 20");
    // f16 arange with a step that f16 cannot hold exactly.
    check(
        &Tensor::arange_on(&dev, 0.1, 0.3, 1031, DType::F16).unwrap(),
        0.0,
        0.0,
        "f16 arange",
    );
}

#[test]
fn unfold_windows() {
    let dev = device();
    let v: Vec<f32> = (0..2 * 7).map(|i| i as f32).collect();
    let x = Tensor::from_slice_on(&dev, &v, &[2, 7]).unwrap();
    let w = x.unfold(1, 3, 2).unwrap();
    assert_eq!(w.dims(), &[2, 3, 3]);
    assert_eq!(
        w.exp()
            .unwrap()
            .log()
            .unwrap()
            .round()
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        vec![0., 1., 2., 2., 3., 4., 4., 5., 6., 7., 8., 9., 9., 10., 11., 11., 12., 13.]
    );
    // Through other views, of a computed tensor, of a padded one (copied first), twice.
    let r = random(&dev, DType::F32, &[5, 9, 4], -1.0, 1.0, 3);
    let cases = [
        ("axis 0", r.unfold(0, 2, 1).unwrap()),
        (
            "transposed",
            r.transpose(0, 2).unwrap().unfold(-1, 4, 3).unwrap(),
        ),
        ("computed", r.exp().unwrap().unfold(1, 9, 1).unwrap()),
        (
            "padded",
            r.pad(&[(1, 1), (0, 0), (2, 0)], 0.5)
                .unwrap()
                .unfold(2, 3, 2)
                .unwrap(),
        ),
        ("twice", r.unfold(1, 3, 3).unwrap().unfold(0, 2, 2).unwrap()),
    ];
    for (name, t) in cases {
        check(&t.mul_scalar(2.0).unwrap(), 1e-6, 1e-6, name);
    }
    assert!(r.unfold(1, 10, 1).is_err(), "window past the axis");
    assert!(
        r.unfold(1, 0, 1).is_err() && r.unfold(1, 2, 0).is_err(),
        "size or step 0"
    );
    assert!(r.unfold(3, 1, 1).is_err(), "bad axis");
    let deep = random(&dev, DType::F32, &[1, 1, 1, 1, 1, 2], -1.0, 1.0, 4);
    assert!(deep.unfold(5, 1, 1).is_err(), "rank past the maximum");
}
