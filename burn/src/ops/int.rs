//! Burn's `IntTensorOps` on kiln (ints are stored as kiln's `i32`, unsigned ones as `u32`):
//! the required ops, and the provided ones whose default reads data back (sort, full,
//! arange) or builds a slower graph than kiln's own op.

use super::common::{self as c, scalar};
use super::float::random;
use super::Kiln;
use crate::{KilnDevice, KilnTensor};
use burn_backend::ops::IntTensorOps;
use burn_backend::tensor::{BoolTensor, FloatTensor, IntTensor};
use burn_backend::{Distribution, ExecutionError, Scalar, TensorData, TensorMetadata};
use burn_std::{BoolDType, DType, FloatDType, IndexingUpdateOp, IntDType, Shape, Slice};
use kiln::ir::ops::{BinaryOp, ReduceOp, ScanOp, UnaryOp};
use std::ops::Range;

fn int_dtype(d: IntDType) -> DType {
    DType::from(d)
}

impl IntTensorOps<Self> for Kiln {
    fn int_empty(shape: Shape, device: &KilnDevice, dtype: IntDType) -> IntTensor<Self> {
        c::full(shape, device, int_dtype(dtype), 0.0)
    }

    fn int_zeros(shape: Shape, device: &KilnDevice, dtype: IntDType) -> IntTensor<Self> {
        c::full(shape, device, int_dtype(dtype), 0.0)
    }

    fn int_ones(shape: Shape, device: &KilnDevice, dtype: IntDType) -> IntTensor<Self> {
        c::full(shape, device, int_dtype(dtype), 1.0)
    }

    fn int_full(
        shape: Shape,
        fill_value: Scalar,
        device: &KilnDevice,
        dtype: IntDType,
    ) -> IntTensor<Self> {
        c::full(shape, device, int_dtype(dtype), scalar(fill_value))
    }

    async fn int_into_data(tensor: IntTensor<Self>) -> Result<TensorData, ExecutionError> {
        tensor.read()
    }

    fn int_from_data(data: TensorData, device: &KilnDevice) -> IntTensor<Self> {
        KilnTensor::from_data(&data, device)
    }

    fn int_to_device(tensor: IntTensor<Self>, device: &KilnDevice) -> IntTensor<Self> {
        c::to_device(&tensor, device)
    }

    fn int_reshape(tensor: IntTensor<Self>, shape: Shape) -> IntTensor<Self> {
        c::reshape(&tensor, shape)
    }

    fn int_slice(tensor: IntTensor<Self>, slices: &[Slice]) -> IntTensor<Self> {
        c::slice(&tensor, slices)
    }

    fn int_slice_assign(
        tensor: IntTensor<Self>,
        slices: &[Slice],
        value: IntTensor<Self>,
    ) -> IntTensor<Self> {
        c::slice_assign(&tensor, slices, &value)
    }

    fn int_into_float(tensor: IntTensor<Self>, out_dtype: FloatDType) -> FloatTensor<Self> {
        c::cast(&tensor, DType::from(out_dtype))
    }

    fn int_mask_where(
        tensor: IntTensor<Self>,
        mask: BoolTensor<Self>,
        value: IntTensor<Self>,
    ) -> IntTensor<Self> {
        c::mask_where(&tensor, &mask, &value)
    }

    fn int_mask_fill(
        tensor: IntTensor<Self>,
        mask: BoolTensor<Self>,
        value: Scalar,
    ) -> IntTensor<Self> {
        c::mask_fill(&tensor, &mask, value)
    }

    fn int_gather(
        dim: usize,
        tensor: IntTensor<Self>,
        indices: IntTensor<Self>,
    ) -> IntTensor<Self> {
        c::gather(dim, &tensor, &indices)
    }

    fn int_scatter(
        dim: usize,
        tensor: IntTensor<Self>,
        indices: IntTensor<Self>,
        value: IntTensor<Self>,
        update: IndexingUpdateOp,
    ) -> IntTensor<Self> {
        c::scatter(dim, &tensor, &indices, &value, update)
    }

    fn int_select(
        tensor: IntTensor<Self>,
        dim: usize,
        indices: IntTensor<Self>,
    ) -> IntTensor<Self> {
        c::select(&tensor, dim, &indices)
    }

    fn int_select_assign(
        tensor: IntTensor<Self>,
        dim: usize,
        indices: IntTensor<Self>,
        value: IntTensor<Self>,
        update: IndexingUpdateOp,
    ) -> IntTensor<Self> {
        c::select_assign(&tensor, dim, &indices, &value, update)
    }

    fn int_equal(lhs: IntTensor<Self>, rhs: IntTensor<Self>, _: BoolDType) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Eq)
    }

    fn int_equal_elem(lhs: IntTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Eq)
    }

    fn int_not_equal(lhs: IntTensor<Self>, rhs: IntTensor<Self>, _: BoolDType) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Ne)
    }

    fn int_not_equal_elem(lhs: IntTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Ne)
    }

    fn int_greater(lhs: IntTensor<Self>, rhs: IntTensor<Self>, _: BoolDType) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Gt)
    }

    fn int_greater_elem(lhs: IntTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Gt)
    }

    fn int_greater_equal(
        lhs: IntTensor<Self>,
        rhs: IntTensor<Self>,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Ge)
    }

    fn int_greater_equal_elem(lhs: IntTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Ge)
    }

    fn int_lower(lhs: IntTensor<Self>, rhs: IntTensor<Self>, _: BoolDType) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Lt)
    }

    fn int_lower_elem(lhs: IntTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Lt)
    }

    fn int_lower_equal(
        lhs: IntTensor<Self>,
        rhs: IntTensor<Self>,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Le)
    }

    fn int_lower_equal_elem(lhs: IntTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Le)
    }

    fn int_add(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Add)
    }

    fn int_add_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Add)
    }

    fn int_sub(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Sub)
    }

    fn int_sub_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Sub)
    }

    fn int_mul(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Mul)
    }

    fn int_mul_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Mul)
    }

    fn int_div(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Div)
    }

    fn int_div_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Div)
    }

    fn int_remainder(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::RemFloor)
    }

    fn int_remainder_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::RemFloor)
    }

    fn int_matmul(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        let shape = burn_std::calculate_matmul_output(&lhs.shape(), &rhs.shape())
            .unwrap_or_else(|_| lhs.shape());
        KilnTensor::lift(&[&lhs, &rhs], shape, lhs.dtype(), |v| v[0].matmul(v[1]))
    }

    fn int_neg(tensor: IntTensor<Self>) -> IntTensor<Self> {
        c::unary(&tensor, UnaryOp::Neg)
    }

    fn int_sum(tensor: IntTensor<Self>) -> IntTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Sum)
    }

    fn int_sum_dim(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Sum, dim)
    }

    fn int_prod(tensor: IntTensor<Self>) -> IntTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Prod)
    }

    fn int_prod_dim(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Prod, dim)
    }

    /// The sum divided by the count, in integer division (Burn's integer mean).
    fn int_mean_dim(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        let n = tensor.shape().get(dim).copied().unwrap_or(1);
        let sum = c::reduce_dim(&tensor, ReduceOp::Sum, dim);
        c::binary_scalar(&sum, Scalar::Int(n as i64), BinaryOp::Div)
    }

    fn int_max(tensor: IntTensor<Self>) -> IntTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Max)
    }

    fn int_max_dim(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Max, dim)
    }

    fn int_min(tensor: IntTensor<Self>) -> IntTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Min)
    }

    fn int_min_dim(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Min, dim)
    }

    fn int_cumsum(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::scan(&tensor, ScanOp::Sum, dim)
    }

    fn int_cumprod(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::scan(&tensor, ScanOp::Prod, dim)
    }

    fn int_cummin(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::scan(&tensor, ScanOp::Min, dim)
    }

    fn int_cummax(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::scan(&tensor, ScanOp::Max, dim)
    }

    fn int_argmax(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::arg(&tensor, ReduceOp::ArgMax, dim)
    }

    fn int_argmin(tensor: IntTensor<Self>, dim: usize) -> IntTensor<Self> {
        c::arg(&tensor, ReduceOp::ArgMin, dim)
    }

    fn int_abs(tensor: IntTensor<Self>) -> IntTensor<Self> {
        c::unary(&tensor, UnaryOp::Abs)
    }

    fn int_clamp(tensor: IntTensor<Self>, min: Scalar, max: Scalar) -> IntTensor<Self> {
        tensor.map(|x| x.clamp(scalar(min), scalar(max)))
    }

    fn int_swap_dims(tensor: IntTensor<Self>, dim1: usize, dim2: usize) -> IntTensor<Self> {
        c::swap_dims(&tensor, dim1, dim2)
    }

    fn int_permute(tensor: IntTensor<Self>, axes: &[usize]) -> IntTensor<Self> {
        c::permute(&tensor, axes)
    }

    fn int_flip(tensor: IntTensor<Self>, axes: &[usize]) -> IntTensor<Self> {
        c::flip(&tensor, axes)
    }

    /// Uniform integers in `[low, high)` (the floor of uniform floats; `Default` is 0..255),
    /// Bernoulli as 0 or 1, normal rounded down.
    fn int_random(
        shape: Shape,
        distribution: Distribution,
        device: &KilnDevice,
        dtype: IntDType,
    ) -> IntTensor<Self> {
        let floats = match distribution {
            Distribution::Default => {
                random(shape, Distribution::Uniform(0.0, 255.0), device, DType::F32)
            }
            d => random(shape, d, device, DType::F32),
        };
        let floored = c::unary(&floats, UnaryOp::Floor);
        c::cast(&floored, int_dtype(dtype))
    }

    fn int_expand(tensor: IntTensor<Self>, shape: Shape) -> IntTensor<Self> {
        c::expand(&tensor, shape)
    }

    fn bitwise_and(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::BitAnd)
    }

    fn bitwise_and_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::BitAnd)
    }

    fn bitwise_or(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::BitOr)
    }

    fn bitwise_or_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::BitOr)
    }

    fn bitwise_xor(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::BitXor)
    }

    fn bitwise_xor_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::BitXor)
    }

    fn bitwise_not(tensor: IntTensor<Self>) -> IntTensor<Self> {
        c::unary(&tensor, UnaryOp::BitNot)
    }

    fn bitwise_left_shift(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Shl)
    }

    fn bitwise_left_shift_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Shl)
    }

    fn bitwise_right_shift(lhs: IntTensor<Self>, rhs: IntTensor<Self>) -> IntTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Shr)
    }

    fn bitwise_right_shift_scalar(lhs: IntTensor<Self>, rhs: Scalar) -> IntTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Shr)
    }

    fn int_cast(tensor: IntTensor<Self>, dtype: IntDType) -> IntTensor<Self> {
        c::cast(&tensor, int_dtype(dtype))
    }

    fn int_unfold(
        tensor: IntTensor<Self>,
        dim: usize,
        size: usize,
        step: usize,
    ) -> IntTensor<Self> {
        c::unfold(&tensor, dim, size, step)
    }

    fn int_cat(tensors: Vec<IntTensor<Self>>, dim: usize) -> IntTensor<Self> {
        c::concat(&tensors, dim)
    }

    fn int_arange(range: Range<i64>, device: &KilnDevice, dtype: IntDType) -> IntTensor<Self> {
        c::arange(range, 1, device, int_dtype(dtype))
    }

    fn int_arange_step(
        range: Range<i64>,
        step: usize,
        device: &KilnDevice,
        dtype: IntDType,
    ) -> IntTensor<Self> {
        c::arange(range, step, device, int_dtype(dtype))
    }

    fn int_sort(tensor: IntTensor<Self>, dim: usize, descending: bool) -> IntTensor<Self> {
        c::sort(&tensor, dim, descending)
    }

    fn int_sort_with_indices(
        tensor: IntTensor<Self>,
        dim: usize,
        descending: bool,
    ) -> (IntTensor<Self>, IntTensor<Self>) {
        c::sort_with_indices(&tensor, dim, descending)
    }

    fn int_argsort(tensor: IntTensor<Self>, dim: usize, descending: bool) -> IntTensor<Self> {
        c::argsort(&tensor, dim, descending)
    }

    fn int_gather_nd(data: IntTensor<Self>, indices: IntTensor<Self>) -> IntTensor<Self> {
        c::gather_nd(&data, &indices)
    }

    fn int_scatter_nd(
        data: IntTensor<Self>,
        indices: IntTensor<Self>,
        values: IntTensor<Self>,
        reduction: IndexingUpdateOp,
    ) -> IntTensor<Self> {
        c::scatter_nd(&data, &indices, &values, reduction)
    }
}
