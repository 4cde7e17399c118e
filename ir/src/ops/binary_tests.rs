//! The binary op table's rules on single values.

use super::*;

#[test]
fn wgsl_integer_division_rules() {
    assert_eq!(BinaryOp::Div.eval_i32(7, 0), Some(7));
    assert_eq!(BinaryOp::Div.eval_i32(i32::MIN, -1), Some(i32::MIN));
    assert_eq!(BinaryOp::Rem.eval_i32(7, 0), Some(0));
    assert_eq!(BinaryOp::Rem.eval_i32(-7, 2), Some(-1));
    assert_eq!(BinaryOp::Div.eval_u32(9, 0), Some(9));
    assert_eq!(BinaryOp::Pow.eval_i32(2, 3), None);
}

#[test]
fn float_rules() {
    let f = |op: BinaryOp, a, b| op.eval_f32(a, b).unwrap();
    assert!(f(BinaryOp::Max, f32::NAN, 1.0).is_nan());
    assert!(f(BinaryOp::Min, 1.0, f32::NAN).is_nan());
    assert_eq!(f(BinaryOp::Pow, -2.0, 3.0), -8.0);
    assert_eq!(f(BinaryOp::Pow, 0.0, 0.0), 1.0);
    assert_eq!(f(BinaryOp::Rem, -7.5, 2.0), -1.5);
    assert_eq!(f(BinaryOp::And, f32::NAN, -1.0), 1.0);
    assert_eq!(f(BinaryOp::RemFloor, -7.5, 2.0), 0.5);
    assert_eq!(f(BinaryOp::RemFloor, 7.5, -2.0), -0.5);
    assert_eq!(f(BinaryOp::RemFloor, 4.0, -2.0), 0.0);
}

#[test]
fn integer_rules() {
    let i = |op: BinaryOp, a, b| op.eval_i32(a, b).unwrap();
    assert_eq!(i(BinaryOp::RemFloor, -7, 2), 1);
    assert_eq!(i(BinaryOp::RemFloor, 7, -2), -1);
    assert_eq!(i(BinaryOp::RemFloor, 7, 0), 0);
    assert_eq!(i(BinaryOp::Shl, 1, 33), 2);
    assert_eq!(i(BinaryOp::Shr, -8, 1), -4);
    assert_eq!(BinaryOp::Shr.eval_u32(0x8000_0000, 31), Some(1));
    assert!(BinaryOp::BitAnd.eval_f32(1.0, 1.0).is_none());
}

#[test]
fn every_entry_names_a_known_dtype_set() {
    for op in ALL_BINARY {
        assert_ne!(op.accepts(), Accepts::Other, "{}", op.name());
    }
}

#[test]
fn dtype_rules() {
    assert!(BinaryOp::Add.result_dtype(DType::F32, DType::I32).is_err());
    assert!(BinaryOp::Pow.result_dtype(DType::I32, DType::I32).is_err());
    assert!(BinaryOp::Add
        .result_dtype(DType::Bool, DType::Bool)
        .is_err());
    assert_eq!(
        BinaryOp::Lt.result_dtype(DType::U32, DType::U32).unwrap(),
        DType::Bool
    );
}
