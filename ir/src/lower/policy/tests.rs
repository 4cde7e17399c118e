//! The fusion policy decided on hand-written facts.

use super::*;

/// Hand-written answers: a computed, unshared node in a roomy elementwise kernel.
#[derive(Clone)]
struct Given {
    class: NodeClass,
    root: bool,
    fusion: bool,
    stored: bool,
    output: bool,
    cut: bool,
    epilogue_end: bool,
    consumers: usize,
    matmul_fits: bool,
    permuted: bool,
    unbuilt_matmul: bool,
    cost: (usize, usize),
    left: usize,
    fits_above: bool,
    subtree: usize,
    operands: usize,
    quantized: bool,
}

impl Default for Given {
    fn default() -> Self {
        Given {
            class: NodeClass::Compute,
            root: false,
            fusion: true,
            stored: false,
            output: false,
            cut: false,
            epilogue_end: false,
            consumers: 1,
            matmul_fits: true,
            permuted: false,
            unbuilt_matmul: false,
            cost: (1, 1),
            // The subtree takes every binding left: each check that it fits is at the edge.
            left: 5,
            fits_above: false,
            subtree: 5,
            operands: 1,
            quantized: false,
        }
    }
}

impl Facts for Given {
    fn class(&self) -> NodeClass {
        self.class
    }
    fn is_root(&self) -> bool {
        self.root
    }
    fn fusion_enabled(&self) -> bool {
        self.fusion
    }
    fn stored_earlier(&self) -> bool {
        self.stored
    }
    fn graph_output(&self) -> bool {
        self.output
    }
    fn chain_cut(&self) -> bool {
        self.cut
    }
    fn epilogue_end(&self) -> bool {
        self.epilogue_end
    }
    fn consumers(&self) -> usize {
        self.consumers
    }
    fn matmul_fits_kernel(&self) -> bool {
        self.matmul_fits
    }
    fn permuted_reduce(&self) -> bool {
        self.permuted
    }
    fn holds_unbuilt_matmul(&self) -> bool {
        self.unbuilt_matmul
    }
    fn inline_cost(&self) -> (usize, usize) {
        self.cost
    }
    fn recompute_budget(&self) -> (usize, usize) {
        (30, 3)
    }
    fn max_bindings(&self) -> usize {
        8
    }
    fn bindings_left(&self) -> usize {
        self.left
    }
    fn fits_above(&self) -> bool {
        self.fits_above
    }
    fn subtree_bindings(&self) -> usize {
        self.subtree
    }
    fn operand_bindings(&self) -> usize {
        self.operands
    }
    fn quantized(&self) -> bool {
        self.quantized
    }
}

fn boundary(g: Given) -> Boundary {
    match decide(&g) {
        Decision::Boundary(b) => b,
        d => panic!("expected a boundary, got {d:?}"),
    }
}

const FITS: Decision = Decision::Inline { subtree_fits: true };
const INLINE: Decision = Decision::Inline {
    subtree_fits: false,
};

#[test]
fn roots_and_views_are_inlined_sources_are_read() {
    let root = Given {
        root: true,
        stored: true,
        fusion: false,
        ..Given::default()
    };
    assert_eq!(decide(&root), INLINE);
    for fusion in [true, false] {
        let view = Given {
            class: NodeClass::View,
            fusion,
            ..Given::default()
        };
        assert_eq!(decide(&view), INLINE);
    }
    let source = Given {
        class: NodeClass::Source,
        stored: true,
        ..Given::default()
    };
    assert_eq!(decide(&source), Decision::Source);
    assert_eq!(decide(&Given::default()), FITS);
}

#[test]
fn stored_values_come_first_then_fusion_off() {
    let both = Given {
        stored: true,
        fusion: false,
        output: true,
        ..Given::default()
    };
    assert_eq!(boundary(both.clone()), Boundary::AlreadyComputed);
    assert_eq!(
        boundary(Given {
            stored: false,
            ..both
        }),
        Boundary::FusionOff
    );
}

#[test]
fn graph_outputs_chain_cuts_and_epilogue_ends_are_stored() {
    let all = Given {
        output: true,
        cut: true,
        epilogue_end: true,
        ..Given::default()
    };
    assert_eq!(boundary(all.clone()), Boundary::GraphOutput);
    let cut = Given {
        output: false,
        ..all
    };
    assert_eq!(boundary(cut.clone()), Boundary::LongChain);
    let end = Given { cut: false, ..cut };
    assert_eq!(boundary(end), Boundary::EpilogueEnd);
}

#[test]
fn reductions_are_read_unless_broadcast_per_row() {
    let g = Given {
        class: NodeClass::Reduce,
        ..Given::default()
    };
    assert_eq!(boundary(g), Boundary::ReductionWithoutRowBroadcast);
}

#[test]
fn matmuls_are_absorbed_once_when_sole_and_there_is_room() {
    let mm = Given {
        class: NodeClass::Matmul,
        ..Given::default()
    };
    assert_eq!(decide(&mm), INLINE);
    let shared = Given {
        consumers: 2,
        ..mm.clone()
    };
    assert_eq!(boundary(shared), Boundary::SharedMatmul);
    let placed = Given {
        matmul_fits: false,
        ..mm.clone()
    };
    assert_eq!(boundary(placed), Boundary::MatmulPlacement);
    let edge = Given {
        left: 2,
        ..mm.clone()
    };
    assert_eq!(decide(&edge), INLINE);
    let tight = Given { left: 1, ..mm };
    assert_eq!(boundary(tight), Boundary::BindingLimit { max: 8 });
}

#[test]
fn index_sources_are_not_permuted() {
    let g = Given {
        class: NodeClass::IndexSource,
        permuted: true,
        ..Given::default()
    };
    assert_eq!(boundary(g.clone()), Boundary::SourceInPermutedOrder);
    assert_eq!(
        decide(&Given {
            permuted: false,
            ..g
        }),
        FITS
    );
}

#[test]
fn shared_values_are_recomputed_only_while_cheap() {
    let shared = Given {
        consumers: 2,
        cost: (30, 3),
        ..Given::default()
    };
    assert_eq!(decide(&shared), FITS);
    let costly = Given {
        cost: (31, 3),
        ..shared.clone()
    };
    assert_eq!(
        boundary(costly),
        Boundary::TooCostlyToRecompute { ops: 31, loads: 3 }
    );
    let many_loads = Given {
        cost: (1, 4),
        ..shared.clone()
    };
    assert_eq!(
        boundary(many_loads),
        Boundary::TooCostlyToRecompute { ops: 1, loads: 4 }
    );
    let matmul = Given {
        unbuilt_matmul: true,
        ..shared.clone()
    };
    assert_eq!(boundary(matmul), Boundary::RecomputeRepeatsMatmul);
    // Unshared: no budget.
    let sole = Given {
        consumers: 1,
        cost: (1000, 100),
        unbuilt_matmul: true,
        ..shared
    };
    assert_eq!(decide(&sole), FITS);
}

#[test]
fn the_binding_limit_splits_kernels() {
    // The subtree does not fit, but every operand still gets a binding.
    let g = Given {
        subtree: 9,
        left: 3,
        operands: 3,
        ..Given::default()
    };
    assert_eq!(decide(&g), INLINE);
    // Below a node whose subtree fits, nothing is checked again.
    let below = Given {
        fits_above: true,
        left: 0,
        ..g.clone()
    };
    assert_eq!(decide(&below), INLINE);
    // Too few bindings for the operands: stored by a kernel of its own.
    let short = Given {
        left: 2,
        ..g.clone()
    };
    assert_eq!(boundary(short), Boundary::BindingLimit { max: 8 });
    // At least two bindings are kept, even for one operand.
    let one = Given {
        left: 1,
        operands: 1,
        ..g
    };
    assert_eq!(boundary(one), Boundary::BindingLimit { max: 8 });
}

#[test]
fn views_that_are_not_row_broadcasts() {
    assert_eq!(view_boundary(true, false), None);
    assert_eq!(view_boundary(false, false), Some(Boundary::FusionOff));
    assert_eq!(
        view_boundary(false, true),
        Some(Boundary::ComputedThroughView)
    );
}

#[test]
fn boundaries_print_what_explain_printed() {
    let cases = [
        (
            Boundary::AlreadyComputed,
            "already computed by an earlier kernel",
        ),
        (Boundary::FusionOff, "fusion is off"),
        (
            Boundary::BindingLimit { max: 8 },
            "the kernel would bind more than 8 storage buffers (inputs and outputs)",
        ),
        (
            Boundary::TooCostlyToRecompute { ops: 40, loads: 2 },
            "shared by several readers and too costly to recompute (40 ops, 2 loads)",
        ),
        (
            Boundary::ComputedThroughView,
            "a computed value read through a view (stored, then indexed)",
        ),
    ];
    for (b, text) in cases {
        assert_eq!(b.to_string(), text);
    }
}

/// Quantized blocks gathered cannot be stored: the gather is computed where it is read,
/// even with fusion off or shared.
#[test]
fn quantized_values_are_always_inlined() {
    for g in [
        Given {
            quantized: true,
            fusion: false,
            ..Given::default()
        },
        Given {
            quantized: true,
            consumers: 3,
            cost: (100, 100),
            ..Given::default()
        },
    ] {
        assert!(matches!(decide(&g), Decision::Inline { .. }));
    }
    assert_eq!(
        boundary(Given {
            fusion: false,
            ..Given::default()
        }),
        Boundary::FusionOff
    );
}

#[test]
fn a_matmul_computes_an_unshared_elementwise_vector_where_it_reads_it() {
    let given = Given::default();
    assert!(operand_prologue(&given, true, false));
    // A matrix's tiles would recompute it once per column tile.
    assert!(!operand_prologue(&given, false, false));
    // Row values the prologue cannot compute as stages: a row kernel computes them with A.
    assert!(!operand_prologue(&given, true, true));
    let refused = [
        Given {
            fusion: false,
            ..given.clone()
        },
        Given {
            consumers: 2,
            ..given.clone()
        },
        Given {
            stored: true,
            ..given.clone()
        },
        Given {
            output: true,
            ..given.clone()
        },
        Given {
            cut: true,
            ..given.clone()
        },
        Given {
            epilogue_end: true,
            ..given.clone()
        },
        Given {
            quantized: true,
            ..given.clone()
        },
    ];
    for g in refused.into_iter().chain(
        [
            NodeClass::Source,
            NodeClass::View,
            NodeClass::Reduce,
            NodeClass::Matmul,
            NodeClass::Attention,
            NodeClass::Scan,
            NodeClass::IndexSource,
        ]
        .map(|class| Given {
            class,
            ..given.clone()
        }),
    ) {
        assert!(!operand_prologue(&g, true, false), "{:?}", g.class);
    }
}
