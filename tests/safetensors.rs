//! The safetensors reader against files written by the format's own Python package
//! (`tests/fixtures/safetensors/make_fixtures.py`), whose values are also listed as text in
//! `weights.txt`, so that expected values do not come through the reader under test.

mod common;
use kiln::io::{Safetensors, SafetensorsError};
use kiln::DType;
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    common::fixture("safetensors", name)
}

/// `weights.txt`: each tensor's values, row-major, as text.
fn expected() -> HashMap<String, Vec<String>> {
    std::fs::read_to_string(fixture("weights.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut it = l.split(' ').map(String::from);
            let name = it.next().unwrap();
            (name, it.collect())
        })
        .collect()
}

#[test]
fn every_dtype_matches_the_writer() {
    let want = expected();
    let f = Safetensors::open(fixture("weights.safetensors")).unwrap();
    // The Python writer orders bytes by dtype size, then name.
    assert_eq!(f.names(), ["f64", "f32", "u32", "i32", "f16", "mask"]);
    assert_eq!(f.metadata("note"), Some("kiln fixture"));
    let floats =
        |name: &str| -> Vec<f64> { want[name].iter().map(|v| v.parse().unwrap()).collect() };
    let cases = [
        ("f32", DType::F32, vec![3, 7]),
        ("f16", DType::F16, vec![5, 3]),
        ("i32", DType::I32, vec![4]),
        ("u32", DType::U32, vec![2, 2]),
        ("mask", DType::Bool, vec![3]),
    ];
    for (name, dtype, shape) in cases {
        assert_eq!(f.info(name).unwrap(), (dtype, kiln::Shape::new(&shape)));
        let t = f.host_tensor(name).unwrap();
        assert_eq!((t.dtype, t.shape.0.to_vec()), (dtype, shape), "{name}");
        assert_eq!(t.to_f64(), floats(name), "{name}");
    }
    assert_eq!(
        f.host_tensor("u32").unwrap().to_vec::<u32>().unwrap(),
        [0, 1, u32::MAX, 12345]
    );
    let r = f.info("f64");
    assert!(
        matches!(&r, Err(SafetensorsError::UnsupportedDtype { name, .. }) if name == "f64"),
        "{r:?}"
    );
    let r = f.info("nope");
    assert!(matches!(r, Err(SafetensorsError::NoSuchTensor(_))), "{r:?}");

    let b = Safetensors::open(fixture("bf16.safetensors")).unwrap();
    let t = b.host_tensor("bf16").unwrap();
    assert_eq!(t.dtype, DType::BF16);
    let bits: Vec<u16> = t
        .to_vec::<half::bf16>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    let want_bits: Vec<u16> = want["bf16"].iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(bits, want_bits);
}

#[test]
fn bytes_in_memory_read_the_same() {
    let bytes = std::fs::read(fixture("weights.safetensors")).unwrap();
    let f = Safetensors::from_bytes(bytes).unwrap();
    let m = Safetensors::open(fixture("weights.safetensors")).unwrap();
    for name in ["f32", "f16", "i32", "u32", "mask"] {
        assert_eq!(
            f.host_tensor(name).unwrap().to_f64(),
            m.host_tensor(name).unwrap().to_f64()
        );
    }
}

#[test]
fn corrupt_files_are_format_errors() {
    let good = std::fs::read(fixture("weights.safetensors")).unwrap();
    for n in 0..good.len() {
        let r = Safetensors::from_bytes(good[..n].to_vec());
        assert!(
            matches!(r, Err(SafetensorsError::Format { .. })),
            "cut to {n} bytes: {r:?}"
        );
    }
    let mut long = good.clone();
    long.push(0);
    let r = Safetensors::from_bytes(long);
    assert!(matches!(r, Err(SafetensorsError::Format { .. })), "{r:?}");
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let r = Safetensors::from_bytes(huge);
    assert!(matches!(r, Err(SafetensorsError::Format { .. })), "{r:?}");
    let mut json = good.clone();
    json[8] = b'[';
    let r = Safetensors::from_bytes(json);
    assert!(matches!(r, Err(SafetensorsError::Format { .. })), "{r:?}");
    let r = Safetensors::open(fixture("missing.safetensors"));
    assert!(matches!(r, Err(SafetensorsError::Io { .. })), "{r:?}");
    let e: kiln::Error = r.unwrap_err().into();
    assert!(e.to_string().contains("missing.safetensors"), "{e}");
}
