//! Burn's `FloatTensorOps` on kiln: the required ops, and the provided ones whose default
//! would read data back to the host (sort, full) or build a slower graph than kiln's own op
//! (reductions, clamp, concatenation).

use super::common::{self as c, scalar, BOOL};
use super::{next_seed, Kiln};
use crate::{BurnError, KilnDevice, KilnTensor};
use burn_backend::ops::{FloatTensorOps, GridSampleOptions};
use burn_backend::tensor::{BoolTensor, FloatTensor, IntTensor};
use burn_backend::{Distribution, ExecutionError, Scalar, TensorData, TensorMetadata};
use burn_std::{BoolDType, DType, FloatDType, IndexingUpdateOp, IntDType, Shape, Slice};
use kiln::ir::ops::{BinaryOp, ReduceOp, ScanOp, UnaryOp};
use kiln::Tensor;

/// Random numbers of `distribution`, stored as `dtype` is (shared with the int ops).
pub(super) fn random(
    shape: Shape,
    distribution: Distribution,
    device: &KilnDevice,
    dtype: DType,
) -> KilnTensor {
    let seed = next_seed();
    KilnTensor::build(device, shape.clone(), c::stored(dtype), |d| {
        let kd = c::storage(dtype)?;
        let f = kiln::DType::F32;
        let t = match distribution {
            Distribution::Default => Tensor::rand_on(d, &shape, 0.0, 1.0, seed, f)?,
            Distribution::Uniform(lo, hi) => Tensor::rand_on(d, &shape, lo, hi, seed, f)?,
            Distribution::Normal(mean, std) => Tensor::randn_on(d, &shape, mean, std, seed, f)?,
            Distribution::Bernoulli(p) => {
                let u = Tensor::rand_on(d, &shape, 0.0, 1.0, seed, f)?;
                u.lt(&u.scalar_like(p)?)?
            }
        };
        Ok::<_, BurnError>(t.cast(kd)?)
    })
}

fn float_dtype(d: FloatDType) -> DType {
    DType::from(d)
}

impl FloatTensorOps<Self> for Kiln {
    fn float_from_data(data: TensorData, device: &KilnDevice) -> FloatTensor<Self> {
        KilnTensor::from_data(&data, device)
    }

    fn float_random(
        shape: Shape,
        distribution: Distribution,
        device: &KilnDevice,
        dtype: FloatDType,
    ) -> FloatTensor<Self> {
        random(shape, distribution, device, float_dtype(dtype))
    }

    async fn float_into_data(tensor: FloatTensor<Self>) -> Result<TensorData, ExecutionError> {
        tensor.read()
    }

    fn float_to_device(tensor: FloatTensor<Self>, device: &KilnDevice) -> FloatTensor<Self> {
        c::to_device(&tensor, device)
    }

    fn float_into_int(tensor: FloatTensor<Self>, out_dtype: IntDType) -> IntTensor<Self> {
        c::cast(&tensor, DType::from(out_dtype))
    }

    fn float_empty(shape: Shape, device: &KilnDevice, dtype: FloatDType) -> FloatTensor<Self> {
        c::full(shape, device, float_dtype(dtype), 0.0)
    }

    fn float_zeros(shape: Shape, device: &KilnDevice, dtype: FloatDType) -> FloatTensor<Self> {
        c::full(shape, device, float_dtype(dtype), 0.0)
    }

    fn float_ones(shape: Shape, device: &KilnDevice, dtype: FloatDType) -> FloatTensor<Self> {
        c::full(shape, device, float_dtype(dtype), 1.0)
    }

    fn float_full(
        shape: Shape,
        fill_value: Scalar,
        device: &KilnDevice,
        dtype: FloatDType,
    ) -> FloatTensor<Self> {
        c::full(shape, device, float_dtype(dtype), scalar(fill_value))
    }

    fn float_add(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Add)
    }

    fn float_add_scalar(lhs: FloatTensor<Self>, rhs: Scalar) -> FloatTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Add)
    }

    fn float_sub(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Sub)
    }

    fn float_sub_scalar(lhs: FloatTensor<Self>, rhs: Scalar) -> FloatTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Sub)
    }

    fn float_mul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Mul)
    }

    fn float_mul_scalar(lhs: FloatTensor<Self>, rhs: Scalar) -> FloatTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Mul)
    }

    fn float_div(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Div)
    }

    fn float_div_scalar(lhs: FloatTensor<Self>, rhs: Scalar) -> FloatTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::Div)
    }

    fn float_remainder(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::RemFloor)
    }

    fn float_remainder_scalar(lhs: FloatTensor<Self>, rhs: Scalar) -> FloatTensor<Self> {
        c::binary_scalar(&lhs, rhs, BinaryOp::RemFloor)
    }

    fn float_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = burn_std::calculate_matmul_output(&lhs.shape(), &rhs.shape())
            .unwrap_or_else(|_| lhs.shape());
        KilnTensor::lift(&[&lhs, &rhs], shape, lhs.dtype(), |v| v[0].matmul(v[1]))
    }

    /// `a × b` along `dim` (of size 3), from the rolled operands:
    /// `a[i+1]·b[i+2] − a[i+2]·b[i+1]`.
    fn float_cross(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        dim: usize,
    ) -> FloatTensor<Self> {
        let shape = lhs
            .shape()
            .broadcast(&rhs.shape())
            .unwrap_or_else(|_| lhs.shape());
        KilnTensor::lift(&[&lhs, &rhs], shape, lhs.dtype(), |v| {
            let d = dim as isize;
            let roll = |t: &Tensor, k: isize| -> kiln::Result<Tensor> {
                let head = t.slice(d, k, 3, 1)?;
                let tail = t.slice(d, 0, k, 1)?;
                Tensor::concat(&[&head, &tail], d)
            };
            let (a1, a2) = (roll(v[0], 1)?, roll(v[0], 2)?);
            let (b1, b2) = (roll(v[1], 1)?, roll(v[1], 2)?);
            a1.mul(&b2)?.sub(&a2.mul(&b1)?)
        })
    }

    fn float_recip(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Recip)
    }

    fn float_swap_dims(tensor: FloatTensor<Self>, dim1: usize, dim2: usize) -> FloatTensor<Self> {
        c::swap_dims(&tensor, dim1, dim2)
    }

    fn float_permute(tensor: FloatTensor<Self>, axes: &[usize]) -> FloatTensor<Self> {
        c::permute(&tensor, axes)
    }

    fn float_flip(tensor: FloatTensor<Self>, axes: &[usize]) -> FloatTensor<Self> {
        c::flip(&tensor, axes)
    }

    fn float_reshape(tensor: FloatTensor<Self>, shape: Shape) -> FloatTensor<Self> {
        c::reshape(&tensor, shape)
    }

    fn float_gather(
        dim: usize,
        tensor: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        c::gather(dim, &tensor, &indices)
    }

    fn float_scatter(
        dim: usize,
        tensor: FloatTensor<Self>,
        indices: IntTensor<Self>,
        value: FloatTensor<Self>,
        update: IndexingUpdateOp,
    ) -> FloatTensor<Self> {
        c::scatter(dim, &tensor, &indices, &value, update)
    }

    fn float_select(
        tensor: FloatTensor<Self>,
        dim: usize,
        indices: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        c::select(&tensor, dim, &indices)
    }

    fn float_select_assign(
        tensor: FloatTensor<Self>,
        dim: usize,
        indices: IntTensor<Self>,
        value: FloatTensor<Self>,
        update: IndexingUpdateOp,
    ) -> FloatTensor<Self> {
        c::select_assign(&tensor, dim, &indices, &value, update)
    }

    fn float_slice(tensor: FloatTensor<Self>, slices: &[Slice]) -> FloatTensor<Self> {
        c::slice(&tensor, slices)
    }

    fn float_slice_assign(
        tensor: FloatTensor<Self>,
        slices: &[Slice],
        value: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        c::slice_assign(&tensor, slices, &value)
    }

    fn float_mask_where(
        tensor: FloatTensor<Self>,
        mask: BoolTensor<Self>,
        value: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        c::mask_where(&tensor, &mask, &value)
    }

    fn float_mask_fill(
        tensor: FloatTensor<Self>,
        mask: BoolTensor<Self>,
        value: Scalar,
    ) -> FloatTensor<Self> {
        c::mask_fill(&tensor, &mask, value)
    }

    fn float_equal(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Eq)
    }

    fn float_equal_elem(lhs: FloatTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Eq)
    }

    fn float_not_equal(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Ne)
    }

    fn float_not_equal_elem(lhs: FloatTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Ne)
    }

    fn float_greater(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Gt)
    }

    fn float_greater_elem(lhs: FloatTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Gt)
    }

    fn float_greater_equal(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Ge)
    }

    fn float_greater_equal_elem(
        lhs: FloatTensor<Self>,
        rhs: Scalar,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Ge)
    }

    fn float_lower(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Lt)
    }

    fn float_lower_elem(lhs: FloatTensor<Self>, rhs: Scalar, _: BoolDType) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Lt)
    }

    fn float_lower_equal(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare(&lhs, &rhs, BinaryOp::Le)
    }

    fn float_lower_equal_elem(
        lhs: FloatTensor<Self>,
        rhs: Scalar,
        _: BoolDType,
    ) -> BoolTensor<Self> {
        c::compare_scalar(&lhs, rhs, BinaryOp::Le)
    }

    fn float_sum(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Sum)
    }

    fn float_sum_dim(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Sum, dim)
    }

    fn float_mean(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Mean)
    }

    fn float_mean_dim(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Mean, dim)
    }

    fn float_prod(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Prod)
    }

    fn float_prod_dim(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Prod, dim)
    }

    fn float_max(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Max)
    }

    fn float_max_dim(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Max, dim)
    }

    fn float_min(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::reduce_all(&tensor, ReduceOp::Min)
    }

    fn float_min_dim(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::reduce_dim(&tensor, ReduceOp::Min, dim)
    }

    fn float_cumsum(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::scan(&tensor, ScanOp::Sum, dim)
    }

    fn float_cumprod(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::scan(&tensor, ScanOp::Prod, dim)
    }

    fn float_cummin(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::scan(&tensor, ScanOp::Min, dim)
    }

    fn float_cummax(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        c::scan(&tensor, ScanOp::Max, dim)
    }

    fn float_cast(tensor: FloatTensor<Self>, dtype: FloatDType) -> FloatTensor<Self> {
        c::cast(&tensor, float_dtype(dtype))
    }

    fn float_exp(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Exp)
    }

    fn float_log(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Log)
    }

    fn float_log1p(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Log1p)
    }

    fn float_powf(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Pow)
    }

    fn float_powf_scalar_impl(tensor: FloatTensor<Self>, value: Scalar) -> FloatTensor<Self> {
        c::binary_scalar(&tensor, value, BinaryOp::Pow)
    }

    fn float_sqrt(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Sqrt)
    }

    fn float_abs(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Abs)
    }

    fn float_neg(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Neg)
    }

    fn float_sign(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Sign)
    }

    fn float_cos(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Cos)
    }

    fn float_sin(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Sin)
    }

    fn float_tan(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Tan)
    }

    fn float_cosh(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Cosh)
    }

    fn float_sinh(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Sinh)
    }

    fn float_tanh(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Tanh)
    }

    fn float_acos(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Acos)
    }

    fn float_acosh(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Acosh)
    }

    fn float_asin(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Asin)
    }

    fn float_asinh(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Asinh)
    }

    fn float_atan(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Atan)
    }

    fn float_atanh(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Atanh)
    }

    fn float_atan2(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        c::binary(&lhs, &rhs, BinaryOp::Atan2)
    }

    fn float_round(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Round)
    }

    fn float_floor(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Floor)
    }

    fn float_ceil(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Ceil)
    }

    fn float_trunc(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Trunc)
    }

    fn float_erf(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Erf)
    }

    fn float_clamp(tensor: FloatTensor<Self>, min: Scalar, max: Scalar) -> FloatTensor<Self> {
        tensor.map(|x| x.clamp(scalar(min), scalar(max)))
    }

    fn float_argmax(tensor: FloatTensor<Self>, dim: usize, _: IntDType) -> IntTensor<Self> {
        c::arg(&tensor, ReduceOp::ArgMax, dim)
    }

    fn float_argmin(tensor: FloatTensor<Self>, dim: usize, _: IntDType) -> IntTensor<Self> {
        c::arg(&tensor, ReduceOp::ArgMin, dim)
    }

    fn float_expand(tensor: FloatTensor<Self>, shape: Shape) -> FloatTensor<Self> {
        c::expand(&tensor, shape)
    }

    fn float_unfold(
        tensor: FloatTensor<Self>,
        dim: usize,
        size: usize,
        step: usize,
    ) -> FloatTensor<Self> {
        c::unfold(&tensor, dim, size, step)
    }

    fn float_cat(tensors: Vec<FloatTensor<Self>>, dim: usize) -> FloatTensor<Self> {
        c::concat(&tensors, dim)
    }

    fn float_grid_sample_2d(
        tensor: FloatTensor<Self>,
        grid: FloatTensor<Self>,
        options: GridSampleOptions,
    ) -> FloatTensor<Self> {
        super::grid_sample::grid_sample_2d(tensor, grid, options)
    }

    fn float_is_nan(tensor: FloatTensor<Self>, _: BoolDType) -> BoolTensor<Self> {
        tensor.map_to(tensor.shape(), BOOL, |x| x.ne(x))
    }

    fn float_sort(tensor: FloatTensor<Self>, dim: usize, descending: bool) -> FloatTensor<Self> {
        c::sort(&tensor, dim, descending)
    }

    fn float_sort_with_indices(
        tensor: FloatTensor<Self>,
        dim: usize,
        descending: bool,
        _: IntDType,
    ) -> (FloatTensor<Self>, IntTensor<Self>) {
        c::sort_with_indices(&tensor, dim, descending)
    }

    fn float_argsort(
        tensor: FloatTensor<Self>,
        dim: usize,
        descending: bool,
        _: IntDType,
    ) -> IntTensor<Self> {
        c::argsort(&tensor, dim, descending)
    }

    fn float_gather_nd(data: FloatTensor<Self>, indices: IntTensor<Self>) -> FloatTensor<Self> {
        c::gather_nd(&data, &indices)
    }

    fn float_scatter_nd(
        data: FloatTensor<Self>,
        indices: IntTensor<Self>,
        values: FloatTensor<Self>,
        reduction: IndexingUpdateOp,
    ) -> FloatTensor<Self> {
        c::scatter_nd(&data, &indices, &values, reduction)
    }
}
