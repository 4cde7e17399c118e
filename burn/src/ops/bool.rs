//! Burn's `BoolTensorOps` on kiln (kiln's `bool`; Burn's `u8` and `u32` bool stores are held
//! as kiln bools too).

use super::common::{self as c, BOOL};
use super::Kiln;
use crate::{KilnDevice, KilnTensor};
use burn_backend::ops::BoolTensorOps;
use burn_backend::tensor::{BoolTensor, FloatTensor, IntTensor};
use burn_backend::{ExecutionError, Scalar, TensorData};
use burn_std::{BoolDType, DType, FloatDType, IndexingUpdateOp, IntDType, Shape, Slice};
use kiln::ir::ops::{BinaryOp, UnaryOp};

impl BoolTensorOps<Self> for Kiln {
    fn bool_empty(shape: Shape, device: &KilnDevice, _: BoolDType) -> BoolTensor<Self> {
        c::full(shape, device, BOOL, 0.0)
    }

    fn bool_zeros(shape: Shape, device: &KilnDevice, _: BoolDType) -> BoolTensor<Self> {
        c::full(shape, device, BOOL, 0.0)
    }

    fn bool_ones(shape: Shape, device: &KilnDevice, _: BoolDType) -> BoolTensor<Self> {
        c::full(shape, device, BOOL, 1.0)
    }

    async fn bool_into_data(tensor: BoolTensor<Self>) -> Result<TensorData, ExecutionError> {
        tensor.read()
    }

    fn bool_from_data(data: TensorData, device: &KilnDevice) -> BoolTensor<Self> {
        KilnTensor::from_data(&data, device)
    }

    fn bool_into_int(tensor: BoolTensor<Self>, out_dtype: IntDType) -> IntTensor<Self> {
        c::cast(&tensor, DType::from(out_dtype))
    }

    fn bool_into_float(tensor: BoolTensor<Self>, out_dtype: FloatDType) -> FloatTensor<Self> {
        c::cast(&tensor, DType::from(out_dtype))
    }

    fn bool_to_device(tensor: BoolTensor<Self>, device: &KilnDevice) -> BoolTensor<Self> {
        c::to_device(&tensor, device)
    }

    fn bool_reshape(tensor: BoolTensor<Self>, shape: Shape) -> BoolTensor<Self> {
        c::reshape(&tensor, shape)
    }

    fn bool_slice(tensor: BoolTensor<Self>, slices: &[Slice]) -> BoolTensor<Self> {
        c::slice(&tensor, slices)
    }

    fn bool_slice_assign(
        tensor: BoolTensor<Self>,
        slices: &[Slice],
        value: BoolTensor<Self>,
    ) -> BoolTensor<Self> {
        c::slice_assign(&tensor, slices, &value)
    }

    fn bool_mask_where(
        tensor: BoolTensor<Self>,
        mask: BoolTensor<Self>,
        value: BoolTensor<Self>,
    ) -> BoolTensor<Self> {
        c::mask_where(&tensor, &mask, &value)
    }

    fn bool_mask_fill(
        tensor: BoolTensor<Self>,
        mask: BoolTensor<Self>,
        value: Scalar,
    ) -> BoolTensor<Self> {
        c::mask_fill(&tensor, &mask, value)
    }

    fn bool_gather(
        dim: usize,
        tensor: BoolTensor<Self>,
        indices: IntTensor<Self>,
    ) -> BoolTensor<Self> {
        c::gather(dim, &tensor, &indices)
    }

    fn bool_scatter_or(
        dim: usize,
        tensor: BoolTensor<Self>,
        indices: IntTensor<Self>,
        value: BoolTensor<Self>,
    ) -> BoolTensor<Self> {
        c::scatter(dim, &tensor, &indices, &value, IndexingUpdateOp::Add)
    }

    fn bool_select(
        tensor: BoolTensor<Self>,
        dim: usize,
        indices: IntTensor<Self>,
    ) -> BoolTensor<Self> {
        c::select(&tensor, dim, &indices)
    }

    fn bool_select_or(
        tensor: BoolTensor<Self>,
        dim: usize,
        indices: IntTensor<Self>,
        value: BoolTensor<Self>,
    ) -> BoolTensor<Self> {
        c::select_assign(&tensor, dim, &indices, &value, IndexingUpdateOp::Add)
    }

    fn bool_equal(lhs: BoolTensor<Self>, rhs: BoolTensor<Self>) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Eq)
    }

    fn bool_equal_elem(lhs: BoolTensor<Self>, rhs: Scalar) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Eq)
    }

    fn bool_not(tensor: BoolTensor<Self>) -> BoolTensor<Self> {
        c::unary(&tensor, UnaryOp::Not)
    }

    fn bool_and(lhs: BoolTensor<Self>, rhs: BoolTensor<Self>) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::And)
    }

    fn bool_or(lhs: BoolTensor<Self>, rhs: BoolTensor<Self>) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Or)
    }

    fn bool_swap_dims(tensor: BoolTensor<Self>, dim1: usize, dim2: usize) -> BoolTensor<Self> {
        c::swap_dims(&tensor, dim1, dim2)
    }

    fn bool_permute(tensor: BoolTensor<Self>, axes: &[usize]) -> BoolTensor<Self> {
        c::permute(&tensor, axes)
    }

    fn bool_flip(tensor: BoolTensor<Self>, axes: &[usize]) -> BoolTensor<Self> {
        c::flip(&tensor, axes)
    }

    fn bool_expand(tensor: BoolTensor<Self>, shape: Shape) -> BoolTensor<Self> {
        c::expand(&tensor, shape)
    }

    fn bool_unfold(
        tensor: BoolTensor<Self>,
        dim: usize,
        size: usize,
        step: usize,
    ) -> BoolTensor<Self> {
        c::unfold(&tensor, dim, size, step)
    }

    fn bool_cat(tensors: Vec<BoolTensor<Self>>, dim: usize) -> BoolTensor<Self> {
        c::concat(&tensors, dim)
    }
}
