//! `BackendIr`: tensors through Burn's handles and back, and a handle of the wrong kind as a
//! typed error at the read.

use crate::harness::*;
use burn_backend::ops::IntTensorOps;
use burn_ir::{BackendIr, TensorHandle};

#[test]
fn tensors_survive_their_handles() {
    let d = Default::default();
    let x = f::<Kiln>(&d, &[3, 7], -1.0, 1.0, 1);
    let shape = burn_backend::TensorMetadata::shape(&x);
    let back = Kiln::float_tensor(TensorHandle {
        handle: Kiln::float_tensor_handle(x.clone()),
        shape: shape.clone(),
    });
    compare("float handle", EXACT, &[rf::<Kiln>(back)], &[rf::<Kiln>(x)]);
    let i = self::i::<Kiln>(&d, &[5], -9, 9, 2);
    let back = Kiln::int_tensor(TensorHandle {
        handle: Kiln::int_tensor_handle(i.clone()),
        shape: burn_std::Shape::new([5]),
    });
    compare("int handle", EXACT, &[ri::<Kiln>(back)], &[ri::<Kiln>(i)]);
    let b = self::b::<Kiln>(&d, &[4], 3);
    let back = Kiln::bool_tensor(TensorHandle {
        handle: Kiln::bool_tensor_handle(b.clone()),
        shape: burn_std::Shape::new([4]),
    });
    compare("bool handle", EXACT, &[rb::<Kiln>(back)], &[rb::<Kiln>(b)]);
}

#[test]
fn a_handle_of_another_kind_is_an_error() {
    let d = Default::default();
    let x = f::<Kiln>(&d, &[3, 7], -1.0, 1.0, 1);
    let h = TensorHandle {
        handle: Kiln::float_tensor_handle(x),
        shape: burn_std::Shape::new([3, 7]),
    };
    let wrong = Kiln::int_tensor(h);
    match block_on(Kiln::int_into_data(wrong)) {
        Ok(d) => panic!("read {d:?} from a float handle taken as int"),
        Err(e) => assert!(
            format!("{e:?}").contains("of kind float where kind int was expected"),
            "{e:?}"
        ),
    }
}
