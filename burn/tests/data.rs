//! Burn's tensor data through kiln and back: every Burn dtype kiln stores, through a kernel on
//! the device, with integer range checks, and errors carried by tensors (never a panic) until
//! their data is read.

use burn_backend::TensorMetadata;
use burn_std::{BoolStore, DType, TensorData};
use half::{bf16, f16};
use kiln_burn::{KilnDevice, KilnTensor};

/// Through the device and back, through a kernel that keeps every value (`x * 1` for
/// numbers, `x == x` made a copy for bools).
fn through_gpu(data: TensorData) -> Result<TensorData, String> {
    let t = KilnTensor::from_data(&data, &KilnDevice::default());
    let t = t.map(|x| match x.dtype() {
        kiln::DType::Bool => x.logical_and(x),
        _ => x.mul(&x.scalar_like(1.0)?),
    });
    t.read().map_err(|e| e.to_string())
}

#[test]
fn every_float_dtype() {
    let v: Vec<f32> = (0..1031).map(|i| (i as f32 * 0.37).sin() * 100.0).collect();
    let back = through_gpu(TensorData::new(v.clone(), [1031])).unwrap();
    assert_eq!(back.dtype(), DType::F32);
    assert_eq!(back.try_to_vec::<f32>().unwrap(), v);
    let h: Vec<f16> = v.iter().map(|&x| f16::from_f32(x)).collect();
    let back = through_gpu(TensorData::new(h.clone(), [1031])).unwrap();
    assert_eq!(
        (back.dtype(), back.try_to_vec::<f16>().unwrap()),
        (DType::F16, h)
    );
    let b: Vec<bf16> = v.iter().map(|&x| bf16::from_f32(x)).collect();
    let back = through_gpu(TensorData::new(b.clone(), [1031])).unwrap();
    assert_eq!(
        (back.dtype(), back.try_to_vec::<bf16>().unwrap()),
        (DType::BF16, b)
    );
    // f64 is stored as f32.
    let d: Vec<f64> = vec![0.1, -2.5, 1e10];
    let back = through_gpu(TensorData::new(d.clone(), [3])).unwrap();
    assert_eq!(back.dtype(), DType::F32);
    assert_eq!(
        back.try_to_vec::<f32>().unwrap(),
        d.iter().map(|&x| x as f32).collect::<Vec<_>>()
    );
}

#[test]
fn every_integer_dtype_with_range_checks() {
    let signed: Vec<i64> = vec![0, -1, i32::MIN as i64, i32::MAX as i64, 7];
    let back = through_gpu(TensorData::new(signed.clone(), [5])).unwrap();
    assert_eq!(back.dtype(), DType::I32);
    assert_eq!(
        back.try_to_vec::<i32>().unwrap(),
        signed.iter().map(|&x| x as i32).collect::<Vec<_>>()
    );
    for data in [
        TensorData::new(vec![-3i8, 127, -128], [3]),
        TensorData::new(vec![-3i16, 32767], [2]),
        TensorData::new(vec![-3i32, 9], [2]),
    ] {
        let want: Vec<i32> = data.iter::<i64>().map(|x| x as i32).collect();
        assert_eq!(
            through_gpu(data).unwrap().try_to_vec::<i32>().unwrap(),
            want
        );
    }
    let unsigned = TensorData::new(vec![0u64, u32::MAX as u64, 5], [3]);
    assert_eq!(
        through_gpu(unsigned).unwrap().try_to_vec::<u32>().unwrap(),
        vec![0, u32::MAX, 5]
    );
    assert_eq!(
        through_gpu(TensorData::new(vec![255u8, 1], [2]))
            .unwrap()
            .try_to_vec::<u32>()
            .unwrap(),
        vec![255, 1]
    );
    // Past i32 or u32: a typed error when the data is read, naming the element.
    let e = through_gpu(TensorData::new(vec![1i64, 1 << 40], [2])).unwrap_err();
    assert!(
        e.contains("element 1") && e.contains("1099511627776"),
        "{e}"
    );
    let e = through_gpu(TensorData::new(vec![u64::MAX], [1])).unwrap_err();
    assert!(e.contains("does not fit"), "{e}");
}

#[test]
fn bools_in_every_store() {
    let v = vec![true, false, true, true];
    let back = through_gpu(TensorData::new(v.clone(), [2, 2])).unwrap();
    assert_eq!(back.dtype(), DType::Bool(BoolStore::Native));
    assert_eq!(back.try_to_vec::<bool>().unwrap(), v);
    assert_eq!(back.shape().to_vec(), vec![2, 2]);
    for (store, bytes) in [
        (BoolStore::U8, vec![1u8, 0, 2, 1]),
        (
            BoolStore::U32,
            vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 7, 0, 0, 0],
        ),
    ] {
        let data = TensorData::from_bytes_vec(bytes, [4], DType::Bool(store));
        let back = through_gpu(data).unwrap();
        assert_eq!(back.try_to_vec::<bool>().unwrap(), v, "{store:?}");
    }
}

#[test]
fn errors_travel_with_tensors() {
    let dev = KilnDevice::default();
    let a = KilnTensor::from_data(&TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), &dev);
    let b = KilnTensor::from_data(&TensorData::new(vec![1.0f32, 2.0], [2]), &dev);
    // A shape error in an op: the result carries it, with the first operand's metadata.
    let bt = b.tensor().unwrap().clone();
    let bad = a.map(|x| x.add(&bt));
    assert_eq!((bad.shape().to_vec(), bad.dtype()), (vec![3], DType::F32));
    // Ops on a failed tensor fail too, without running anything.
    let worse = bad.map(|x| x.exp());
    let e = worse.read().unwrap_err().to_string();
    assert!(e.contains("broadcast") || e.contains("Broadcast"), "{e}");
    // A device kiln does not serve.
    let other = KilnTensor::from_data(
        &TensorData::new(vec![1.0f32], [1]),
        &KilnDevice { index: 3 },
    );
    assert!(other.read().unwrap_err().to_string().contains("device 3"));
    // A failed upload reports the dtype it would have been stored as.
    let wide = KilnTensor::from_data(&TensorData::new(vec![1i64 << 40], [1]), &dev);
    assert_eq!(wide.dtype(), DType::I32);
    let m = a.map_to([3, 3].into(), DType::F32, |x| x.reshape(&[3, 3]));
    assert_eq!(
        m.shape().to_vec(),
        vec![3, 3],
        "a failure keeps the expected shape"
    );
    assert!(!a.can_mut());
}
