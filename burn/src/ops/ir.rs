//! `BackendIr` for kiln: Burn's handles to tensor primitives (what `burn-remote`'s server and
//! Burn's fusion hold between ops). A handle of another kind than the one asked for is a typed
//! error carried by the tensor it gives, never a panic.

use super::Kiln;
use crate::{BurnError, KilnQTensor, KilnTensor};
use burn_backend::tensor::{BoolTensor, FloatTensor, IntTensor, QuantizedTensor};
use burn_backend::TensorMetadata;
use burn_ir::{BackendIr, HandleKind, TensorHandle};
use burn_std::{DType, Shape};
use std::sync::Arc;

/// The error of a handle of kind `got` asked for as `want`, as a tensor of `shape`.
fn mismatch(want: &'static str, got: &HandleKind<Kiln>, shape: Shape, dtype: DType) -> KilnTensor {
    let device = match got {
        HandleKind::Float(t) | HandleKind::Int(t) | HandleKind::Bool(t) => t.device(),
        HandleKind::Quantized(q) => q.device(),
    };
    let err = Arc::new(BurnError::Handle {
        want,
        got: got.name().to_string(),
    });
    KilnTensor::failed(err, shape, dtype, device)
}

impl BackendIr for Kiln {
    type Handle = HandleKind<Kiln>;

    fn float_tensor(handle: TensorHandle<Self::Handle>) -> FloatTensor<Self> {
        match handle.handle {
            HandleKind::Float(t) => t,
            other => mismatch("float", &other, handle.shape, DType::F32),
        }
    }

    fn int_tensor(handle: TensorHandle<Self::Handle>) -> IntTensor<Self> {
        match handle.handle {
            HandleKind::Int(t) => t,
            other => mismatch("int", &other, handle.shape, DType::I32),
        }
    }

    fn bool_tensor(handle: TensorHandle<Self::Handle>) -> BoolTensor<Self> {
        match handle.handle {
            HandleKind::Bool(t) => t,
            other => mismatch("bool", &other, handle.shape, super::common::BOOL),
        }
    }

    fn quantized_tensor(handle: TensorHandle<Self::Handle>) -> QuantizedTensor<Self> {
        match handle.handle {
            HandleKind::Quantized(q) => q,
            other => {
                let values = mismatch("quantized", &other, handle.shape, DType::I32);
                let scales = mismatch("quantized", &other, Shape::new([1]), DType::F32);
                KilnQTensor {
                    values,
                    scales,
                    global: None,
                    scheme: Default::default(),
                }
            }
        }
    }

    fn float_tensor_handle(tensor: FloatTensor<Self>) -> Self::Handle {
        HandleKind::Float(tensor)
    }

    fn int_tensor_handle(tensor: IntTensor<Self>) -> Self::Handle {
        HandleKind::Int(tensor)
    }

    fn bool_tensor_handle(tensor: BoolTensor<Self>) -> Self::Handle {
        HandleKind::Bool(tensor)
    }

    fn quantized_tensor_handle(tensor: QuantizedTensor<Self>) -> Self::Handle {
        HandleKind::Quantized(tensor)
    }
}
