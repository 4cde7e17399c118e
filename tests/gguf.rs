//! The GGUF reader against files written by an independent writer: the `gguf` Python package
//! (llama.cpp's gguf-py), by `tests/fixtures/gguf/make_fixtures.py`. Every quantized or 16-bit
//! tensor `X` there has a twin `expect.X` in F32, holding gguf-py's own dequantization of it.
//! Corrupt files are made here from the valid ones, one defect each.

mod common;
use kiln::io::{Gguf, GgufError, TensorType, Value};
use kiln::ir::BlockFormat;
use kiln::DType;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    common::fixture("gguf", name)
}

/// Writes `bytes` to a file of its own and opens it; reading the same bytes from memory
/// (`Gguf::from_bytes`) must give the same metadata and tensors, or the same error.
fn open_bytes(tag: &str, bytes: &[u8]) -> Result<Gguf, GgufError> {
    let p = std::env::temp_dir().join(format!("kiln-gguf-{}-{tag}.gguf", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    let r = Gguf::open(&p);
    std::fs::remove_file(&p).unwrap();
    same_from_memory(&r, bytes);
    r
}

/// Checks that `bytes` read from memory give what reading them from a file gave (`file`).
fn same_from_memory(file: &Result<Gguf, GgufError>, bytes: &[u8]) {
    let mem = Gguf::from_bytes(bytes.to_vec());
    match (file, &mem) {
        (Ok(f), Ok(m)) => {
            assert_eq!(f.metadata(), m.metadata());
            assert_eq!(f.tensors(), m.tensors());
            for t in f.tensors() {
                let (a, b) = (f.host_tensor(&t.name), m.host_tensor(&t.name));
                match (a, b) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", t.name),
                    (a, b) => assert_eq!(a.is_ok(), b.is_ok(), "{}: {a:?} / {b:?}", t.name),
                }
            }
        }
        (Err(f), Err(m)) => assert_eq!(
            std::mem::discriminant(f),
            std::mem::discriminant(m),
            "{f} / {m}"
        ),
        (f, m) => panic!("from a file {f:?}, from memory {m:?}"),
    }
}

/// Where tensor `name`'s description starts in `bytes` (its name's length field).
fn tensor_info_at(bytes: &[u8], name: &str) -> usize {
    let mut pat = (name.len() as u64).to_le_bytes().to_vec();
    pat.extend(name.as_bytes());
    pat.extend(2u32.to_le_bytes()); // every fixture tensor has two dimensions
    bytes
        .windows(pat.len())
        .position(|w| w == pat)
        .unwrap_or_else(|| panic!("no tensor {name} in the fixture"))
}

#[test]
fn metadata_of_every_value_type() {
    let g = Gguf::open(fixture("types.gguf")).unwrap();
    assert_eq!((g.version, g.alignment), (3, 32));
    assert_eq!(g.data_start % 32, 0);
    let want = [
        ("general.architecture", Value::String("kiln-test".into())),
        ("test.u8", Value::U8(200)),
        ("test.i8", Value::I8(-100)),
        ("test.u16", Value::U16(60000)),
        ("test.i16", Value::I16(-30000)),
        ("test.u32", Value::U32(4_000_000_000)),
        ("test.i32", Value::I32(-2_000_000_000)),
        ("test.u64", Value::U64((1 << 40) + 7)),
        ("test.i64", Value::I64(-(1 << 40) - 7)),
        ("test.f32", Value::F32(1.5)),
        ("test.f64", Value::F64(-2.25)),
        ("test.bool", Value::Bool(true)),
        ("test.string", Value::String("héllo wörld".into())),
        (
            "test.arr_u32",
            Value::Array(vec![
                Value::U32(1),
                Value::U32(2),
                Value::U32(3),
                Value::U32(u32::MAX),
            ]),
        ),
        (
            "test.arr_str",
            Value::Array(vec![
                Value::String("a".into()),
                Value::String("bé".into()),
                Value::String(String::new()),
            ]),
        ),
        (
            "test.arr_f32",
            Value::Array(vec![Value::F32(0.5), Value::F32(-1.0)]),
        ),
        (
            "test.nested",
            Value::Array(vec![
                Value::Array(vec![Value::I32(1), Value::I32(2)]),
                Value::Array(vec![Value::I32(3), Value::I32(4), Value::I32(5)]),
            ]),
        ),
    ];
    for (k, v) in &want {
        assert_eq!(g.get(k), Some(v), "{k}");
    }
    assert_eq!(g.metadata().len(), want.len());
    assert_eq!(
        g.get("test.u64").and_then(Value::as_u64),
        Some((1 << 40) + 7)
    );
    assert_eq!(g.get("test.i8").and_then(Value::as_u64), None);
    assert_eq!(g.get("test.f64").and_then(Value::as_f64), Some(-2.25));
}

#[test]
fn tensors_of_every_type_match_the_writers_values() {
    let g = Gguf::open(fixture("types.gguf")).unwrap();
    let cases = [
        ("f16", TensorType::F16, [5, 3], DType::F16),
        ("bf16", TensorType::BF16, [2, 9], DType::BF16),
        (
            "q8_0",
            TensorType::Quantized(BlockFormat::Q8_0),
            [3, 64],
            DType::Quant(BlockFormat::Q8_0),
        ),
        (
            "q4_0",
            TensorType::Quantized(BlockFormat::Q4_0),
            [5, 32],
            DType::Quant(BlockFormat::Q4_0),
        ),
        (
            "q4_k",
            TensorType::Quantized(BlockFormat::Q4K),
            [3, 256],
            DType::Quant(BlockFormat::Q4K),
        ),
        (
            "q6_k",
            TensorType::Quantized(BlockFormat::Q6K),
            [2, 512],
            DType::Quant(BlockFormat::Q6K),
        ),
    ];
    for (name, ty, shape, dtype) in cases {
        let info = g.tensor(name).unwrap();
        assert_eq!(info.ty, ty, "{name}");
        assert_eq!(info.shape.0.as_slice(), shape, "{name}");
        assert_eq!(info.start % g.alignment, 0, "{name}");
        let got = g.host_tensor(name).unwrap();
        assert_eq!(got.dtype, dtype, "{name}");
        let want = g.host_tensor(&format!("expect.{name}")).unwrap();
        assert_eq!(want.shape, got.shape, "{name}");
        let (got, want) = (got.to_f64(), want.to_f64());
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{name}: the writer's values are all zero");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            // f16/bf16 widen exactly; the quantized formats differ at most by the rounding
            // of one multiply-add (llama.cpp's order of operations, in f32).
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(scale * 1e-3),
                "{name}[{i}]: {g} against the writer's {w}"
            );
        }
    }
    let f = g.host_tensor("f32").unwrap();
    assert_eq!(
        (f.dtype, f.shape.0.as_slice()),
        (DType::F32, &[3usize, 7][..])
    );
    assert!(matches!(
        g.tensor("missing"),
        Err(GgufError::NoSuchTensor(_))
    ));
}

#[test]
fn custom_alignment_and_version_2() {
    let g = Gguf::open(fixture("align64.gguf")).unwrap();
    assert_eq!(g.alignment, 64);
    assert_eq!(g.data_start % 64, 0);
    for t in g.tensors() {
        assert_eq!(t.start % 64, 0, "{}", t.name);
    }
    let (got, want) = (
        g.host_tensor("q8_0").unwrap().to_f64(),
        g.host_tensor("expect.q8_0").unwrap().to_f64(),
    );
    assert_eq!(got, want);

    // An alignment that is not a power of two cannot place tensors.
    let mut b = std::fs::read(fixture("align64.gguf")).unwrap();
    let key = b
        .windows(17)
        .position(|w| w == b"general.alignment")
        .unwrap();
    b[key + 17 + 4..key + 17 + 8].copy_from_slice(&48u32.to_le_bytes());
    let r = open_bytes("align", &b);
    assert!(matches!(r, Err(GgufError::BadMetadata { .. })), "{r:?}");

    let g = Gguf::open(fixture("v2.gguf")).unwrap();
    assert_eq!(g.version, 2);
    assert_eq!(g.get("test.u32"), Some(&Value::U32(7)));
    assert_eq!(g.tensor("f32").unwrap().shape.0.as_slice(), [3, 7]);
}

/// Every fixture reads the same from memory as from its file.
#[test]
fn fixtures_read_the_same_from_memory() {
    for file in ["v2.gguf", "align64.gguf", "types.gguf"] {
        let bytes = std::fs::read(fixture(file)).unwrap();
        same_from_memory(&Gguf::open(fixture(file)), &bytes);
    }
}

#[test]
fn every_truncation_is_an_error() {
    for file in ["v2.gguf", "align64.gguf", "types.gguf"] {
        let b = std::fs::read(fixture(file)).unwrap();
        let g = Gguf::open(fixture(file)).unwrap();
        let last_tensor_end = g.tensors().iter().map(|t| t.start + t.bytes).max().unwrap() as usize;
        // Every cut in the header, every 7th in the tensors' bytes.
        let cuts = (0..last_tensor_end).filter(|&n| n < g.data_start as usize || n % 7 == 0);
        for n in cuts {
            let r = open_bytes("trunc", &b[..n]);
            assert!(
                matches!(
                    r,
                    Err(GgufError::Truncated { .. } | GgufError::OutOfRange { .. })
                ),
                "{file} cut to {n} bytes: {r:?}"
            );
        }
    }
}

#[test]
fn each_corruption_has_its_error() {
    let good = std::fs::read(fixture("v2.gguf")).unwrap();
    let patched = |at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        b
    };
    let r = open_bytes("magic", &patched(0, b"GGUG"));
    assert!(matches!(r, Err(GgufError::BadMagic { .. })), "{r:?}");
    for v in [1u32, 4, 0x0300_0000] {
        let r = open_bytes("version", &patched(4, &v.to_le_bytes()));
        assert!(
            matches!(r, Err(GgufError::UnsupportedVersion(x)) if x == v),
            "{r:?}"
        );
    }
    // An absurd length for the first metadata key.
    let r = open_bytes("keylen", &patched(24, &u64::MAX.to_le_bytes()));
    assert!(matches!(r, Err(GgufError::Truncated { .. })), "{r:?}");

    let info = tensor_info_at(&good, "f32");
    let ty_at = info + 8 + 3 + 4 + 16;
    let off_at = ty_at + 4;
    let r = open_bytes("type", &patched(ty_at, &99u32.to_le_bytes()));
    assert!(
        matches!(
            &r,
            Err(GgufError::UnsupportedTensorType {
                type_id: 99,
                type_name: "unknown",
                ..
            })
        ),
        "{r:?}"
    );
    let r = open_bytes("type", &patched(ty_at, &3u32.to_le_bytes()));
    assert!(
        matches!(
            &r,
            Err(GgufError::UnsupportedTensorType {
                type_name: "Q4_1",
                ..
            })
        ),
        "{r:?}"
    );
    // Q8_0 rows must be whole blocks of 32; this tensor's rows are 7.
    let r = open_bytes("type", &patched(ty_at, &8u32.to_le_bytes()));
    assert!(matches!(r, Err(GgufError::BadDims { .. })), "{r:?}");
    let r = open_bytes("offset", &patched(off_at, &1u64.to_le_bytes()));
    assert!(matches!(r, Err(GgufError::Misaligned { .. })), "{r:?}");
    for off in [1u64 << 20, u64::MAX / 64 * 32] {
        let r = open_bytes("offset", &patched(off_at, &off.to_le_bytes()));
        assert!(matches!(r, Err(GgufError::OutOfRange { .. })), "{r:?}");
    }
    let r = open_bytes("dims", &patched(info + 8 + 3, &9u32.to_le_bytes()));
    assert!(matches!(r, Err(GgufError::BadDims { .. })), "{r:?}");
    let r = open_bytes("dims", &patched(info + 8 + 3 + 4, &u64::MAX.to_le_bytes()));
    assert!(matches!(r, Err(GgufError::BadDims { .. })), "{r:?}");

    let types = std::fs::read(fixture("types.gguf")).unwrap();
    let key = types.windows(9).position(|w| w == b"test.bool").unwrap();
    // An absurd element count for an array: refused before anything is allocated for it.
    let arr = types
        .windows(12)
        .position(|w| w == b"test.arr_u32")
        .unwrap();
    let mut b = types.clone();
    b[arr + 12 + 8..arr + 12 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    let r = open_bytes("arrlen", &b);
    assert!(matches!(r, Err(GgufError::Truncated { .. })), "{r:?}");
    let mut b = types.clone();
    b[key + 9 + 4] = 2;
    let r = open_bytes("bool", &b);
    assert!(
        matches!(r, Err(GgufError::BadBool { byte: 2, .. })),
        "{r:?}"
    );
    let mut b = types.clone();
    b[key + 9..key + 13].copy_from_slice(&77u32.to_le_bytes());
    let r = open_bytes("vtype", &b);
    assert!(
        matches!(r, Err(GgufError::UnknownValueType { type_id: 77, .. })),
        "{r:?}"
    );
    let mut b = types.clone();
    let f16 = tensor_info_at(&types, "f16");
    b[f16 + 8..f16 + 11].copy_from_slice(b"f32");
    let r = open_bytes("duptensor", &b);
    assert!(
        matches!(&r, Err(GgufError::DuplicateTensor(n)) if n == "f32"),
        "{r:?}"
    );
    let mut b = types.clone();
    let i8_key = types.windows(7).position(|w| w == b"test.i8").unwrap();
    b[i8_key..i8_key + 7].copy_from_slice(b"test.u8");
    let r = open_bytes("dupkey", &b);
    assert!(
        matches!(&r, Err(GgufError::DuplicateKey(k)) if k == "test.u8"),
        "{r:?}"
    );
    // Arrays nested far deeper than any model's: refused, not a stack overflow.
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes()); // tensors
    b.extend(1u64.to_le_bytes()); // metadata
    b.extend(4u64.to_le_bytes());
    b.extend(b"deep");
    b.extend(9u32.to_le_bytes()); // an array
    for _ in 0..100_000 {
        b.extend(9u32.to_le_bytes()); // of arrays
        b.extend(1u64.to_le_bytes()); // of one element
    }
    b.extend(4u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    let r = open_bytes("deep", &b);
    assert!(
        matches!(&r, Err(GgufError::BadMetadata { key, .. }) if key == "deep"),
        "{r:?}"
    );
    // A missing file is an I/O error naming the path, and kiln's error wraps every one.
    let r = Gguf::open(fixture("missing.gguf"));
    assert!(matches!(r, Err(GgufError::Io { .. })), "{r:?}");
    let e: kiln::Error = r.unwrap_err().into();
    assert!(e.to_string().contains("missing.gguf"), "{e}");
}

/// kiln's writer: what it writes reads back (through the reader the gguf-py fixtures check),
/// and it refuses mixed arrays and repeated keys or tensor names.
#[test]
fn writer_round_trips_and_refuses_bad_input() {
    use kiln::io::GgufWriter;
    use kiln::{BlockFormat, HostTensor, Shape};
    let dir = common::scratch_dir("gguf-writer");
    let path = dir.join("w.gguf");
    let meta = [
        ("a.u32", Value::U32(7)),
        ("a.f32", Value::F32(-1.5)),
        ("a.bool", Value::Bool(true)),
        ("a.str", Value::String("héllo".into())),
        (
            "a.arr",
            Value::Array(vec![Value::String("x".into()), Value::String("".into())]),
        ),
        (
            "a.nested",
            Value::Array(vec![
                Value::Array(vec![Value::I32(1)]),
                Value::Array(vec![Value::I32(2), Value::I32(3)]),
            ]),
        ),
    ];
    let blocks = BlockFormat::Q4_0.random_blocks(3 * 64, 5);
    let floats: Vec<f32> = (0..21).map(|i| i as f32 * 0.5 - 3.0).collect();
    let mut w = GgufWriter::new();
    for (k, v) in &meta {
        w.meta(k, v.clone());
    }
    w.tensor(
        "q",
        Shape::new(&[3, 64]),
        TensorType::Quantized(BlockFormat::Q4_0),
        blocks.clone(),
    )
    .unwrap();
    w.tensor(
        "f",
        Shape::new(&[3, 7]),
        TensorType::F32,
        floats.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
    .unwrap();
    w.write(&path).unwrap();
    // The file in memory is the file on disk, byte for byte.
    assert_eq!(w.to_bytes().unwrap(), std::fs::read(&path).unwrap());
    let g = Gguf::open(&path).unwrap();
    for (k, v) in &meta {
        assert_eq!(g.get(k), Some(v), "{k}");
    }
    assert_eq!(
        g.host_tensor("q").unwrap(),
        HostTensor::quantized(BlockFormat::Q4_0, Shape::new(&[3, 64]), &blocks).unwrap()
    );
    assert_eq!(g.host_tensor("f").unwrap().to_vec::<f32>().unwrap(), floats);
    assert_eq!(g.tensor("f").unwrap().start % g.alignment, 0);
    // Bytes that are not the shape's, mixed arrays, repeated keys and names.
    assert!(GgufWriter::new()
        .tensor(
            "x",
            Shape::new(&[2, 32]),
            TensorType::Quantized(BlockFormat::Q8_0),
            vec![0; 67]
        )
        .is_err());
    let mixed = Value::Array(vec![Value::U32(1), Value::F32(2.0)]);
    let e = GgufWriter::new().meta("m", mixed).write(&path).unwrap_err();
    assert!(matches!(e, GgufError::BadMetadata { .. }), "{e}");
    let e = GgufWriter::new()
        .meta("k", Value::U32(1))
        .meta("k", Value::U32(2))
        .write(&path)
        .unwrap_err();
    assert!(matches!(e, GgufError::DuplicateKey(_)), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
