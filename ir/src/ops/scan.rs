//! Cumulative scans along the last axis (`cumsum`, `cumprod`, `cummax`, `cummin`): element
//! `i` of a row is the fold of the row's elements `0..=i`. Each scan folds with the
//! reduction of the same name ([`ScanOp::fold`]), so identities, NaN rules and the WGSL
//! combining expressions are written once, in the reduction table.

use super::reduce::{FoldImpl, ReduceOp};
use crate::dtype::round_float;
use crate::host::{HostData, HostTensor};
use crate::{DType, IrError, Result};

/// An inclusive scan along the last axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScanOp {
    /// Running sum (wrapping for integers).
    Sum,
    /// Running product (wrapping for integers).
    Prod,
    /// Running maximum; NaN from the first NaN on.
    Max,
    /// Running minimum; NaN from the first NaN on.
    Min,
}

/// Every scan.
pub const ALL_SCAN: [ScanOp; 4] = [ScanOp::Sum, ScanOp::Prod, ScanOp::Max, ScanOp::Min];

impl ScanOp {
    /// The reduction whose identity and combining rule the scan folds with.
    pub const fn fold(self) -> ReduceOp {
        match self {
            ScanOp::Sum => ReduceOp::Sum,
            ScanOp::Prod => ReduceOp::Prod,
            ScanOp::Max => ReduceOp::Max,
            ScanOp::Min => ReduceOp::Min,
        }
    }

    /// The op's name, as in the API and in `docs/OPS.md`.
    pub const fn name(self) -> &'static str {
        match self {
            ScanOp::Sum => "cumsum",
            ScanOp::Prod => "cumprod",
            ScanOp::Max => "cummax",
            ScanOp::Min => "cummin",
        }
    }

    /// The result dtype (the operand's), or a typed error for a dtype the fold refuses.
    pub fn result_dtype(self, dtype: DType) -> Result<DType> {
        // A count of 1: a scan of an empty row is empty, never an error.
        self.fold().result_dtype(dtype, 1).map_err(|e| match e {
            IrError::UnsupportedDType { dtype, why, .. } => IrError::UnsupportedDType {
                op: self.name(),
                dtype,
                why,
            },
            other => other,
        })
    }

    /// `(atol, rtol)` of an `f32` result in a row of `n` elements: the reduction's tolerance
    /// for the whole row, the longest prefix.
    pub fn tolerance_f32(self, n: usize) -> (f32, f32) {
        self.fold().tolerance_f32(n)
    }

    /// Reference semantics: each row of the last axis folded in order from the identity, every
    /// prefix stored; floats fold in `f64` and each prefix is rounded once to `out`.
    pub fn eval(self, x: &HostTensor, out: DType) -> Result<HostData> {
        let n = x.shape.0.last().copied().unwrap_or(1);
        let folds = self.fold().folds();
        let no = || IrError::UnsupportedDType {
            op: self.name(),
            dtype: x.dtype,
            why: "numeric dtypes only",
        };
        fn scan<T: Copy, A: Copy>(
            f: FoldImpl<A>,
            v: &[T],
            n: usize,
            wide: impl Fn(T) -> A,
            narrow: impl Fn(A) -> T,
        ) -> Vec<T> {
            let mut r = Vec::with_capacity(v.len());
            for row in v.chunks(n.max(1)) {
                let mut acc = f.identity;
                for &a in row {
                    acc = (f.combine)(acc, wide(a));
                    r.push(narrow(acc));
                }
            }
            r
        }
        Ok(match &x.data {
            HostData::F(v) => HostData::F(scan(
                folds.float.ok_or_else(no)?,
                v,
                n,
                |a| a as f64,
                |a| round_float(a as f32, out),
            )),
            HostData::I(v) => HostData::I(scan(folds.i32.ok_or_else(no)?, v, n, |a| a, |a| a)),
            HostData::U(v) => HostData::U(scan(folds.u32.ok_or_else(no)?, v, n, |a| a, |a| a)),
            HostData::B(_) => return Err(no()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Shape;

    fn run(op: ScanOp, v: Vec<f32>, shape: &[usize]) -> Vec<f32> {
        let x = HostTensor::from_slice(&v, Shape::new(shape)).unwrap();
        match op.eval(&x, DType::F32).unwrap() {
            HostData::F(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rows_of_the_last_axis() {
        let v = vec![1.0, 2.0, 3.0, -1.0, 4.0, 0.5];
        assert_eq!(
            run(ScanOp::Sum, v.clone(), &[2, 3]),
            [1.0, 3.0, 6.0, -1.0, 3.0, 3.5]
        );
        assert_eq!(
            run(ScanOp::Prod, v.clone(), &[2, 3]),
            [1.0, 2.0, 6.0, -1.0, -4.0, -2.0]
        );
        assert_eq!(
            run(ScanOp::Max, v.clone(), &[3, 2]),
            [1.0, 2.0, 3.0, 3.0, 4.0, 4.0]
        );
        assert_eq!(run(ScanOp::Min, v, &[6]), [1.0, 1.0, 1.0, -1.0, -1.0, -1.0]);
    }

    #[test]
    fn nan_sticks_in_max_and_min() {
        let r = run(ScanOp::Max, vec![1.0, f32::NAN, 5.0], &[3]);
        assert_eq!(r[0], 1.0);
        assert!(r[1].is_nan() && r[2].is_nan());
    }

    #[test]
    fn dtypes() {
        assert!(ScanOp::Sum.result_dtype(DType::Bool).is_err());
        assert_eq!(ScanOp::Max.result_dtype(DType::U32).unwrap(), DType::U32);
        let x = HostTensor::from_slice(&[i32::MAX, 1, 2], Shape::new(&[3])).unwrap();
        assert_eq!(
            ScanOp::Sum.eval(&x, DType::I32).unwrap(),
            HostData::I(vec![i32::MAX, i32::MIN, i32::MIN + 2])
        );
    }
}
