//! Typed indices into a kernel's lists, one type per list, so that an index of one list cannot
//! be used for another. Each prints as its bare number (`Display` and `Debug`), which is how
//! the cache key ([`Kernel::key`](super::Kernel::key)) and the generated code name them.

use std::fmt;

macro_rules! kernel_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u32);

        impl $name {
            /// The id of position `i`.
            ///
            /// # Panics
            /// If `i` does not fit in 32 bits: no kernel has that many entries in a list
            /// (its builder deduplicates each by a linear scan).
            pub fn new(i: usize) -> Self {
                match u32::try_from(i) {
                    Ok(v) => $name(v),
                    Err(_) => panic!(concat!(stringify!($name), " {} does not fit in 32 bits"), i),
                }
            }

            /// The position this id names.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

kernel_id!(
    /// An expression of [`Kernel::exprs`](super::Kernel::exprs).
    ExprId
);
kernel_id!(
    /// A load of [`Kernel::loads`](super::Kernel::loads).
    LoadId
);
kernel_id!(
    /// An input binding of [`Kernel::inputs`](super::Kernel::inputs).
    InputId
);
kernel_id!(
    /// An output of [`Kernel::outputs`](super::Kernel::outputs).
    OutputId
);
kernel_id!(
    /// A reduction stage of a reduce kernel ([`KernelKind::Reduce`](super::KernelKind::Reduce)),
    /// read through [`Expr::Acc`](super::Expr::Acc); a matmul kernel's product is stage 0.
    StageId
);
