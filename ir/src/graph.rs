//! The graph: a petgraph DAG of typed op nodes, hash-consed on insert so that equal
//! subexpressions are one node (free CSE) and structure has a stable content hash.

use crate::ops::{Op, TensorType};
use crate::{DType, IrError, Result, Shape};
use hashbrown::HashMap;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use smallvec::SmallVec;
use std::hash::{Hash, Hasher};

/// A node handle in a [`Graph`].
pub type NodeId = NodeIndex<u32>;

/// One node: its op and its result type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    /// The operation.
    pub op: Op,
    /// The result type.
    pub ty: TensorType,
}

impl Node {
    /// The result dtype.
    pub fn dtype(&self) -> DType {
        self.ty.dtype
    }
    /// The result shape.
    pub fn shape(&self) -> &Shape {
        &self.ty.shape
    }
}

type ConsKey = (Node, SmallVec<[NodeId; 4]>);

/// A graph's structure: see [`Graph::structure`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Structure {
    nodes: Vec<(Node, SmallVec<[usize; 4]>)>,
    outputs: Vec<usize>,
}

/// A tensor program: typed nodes, ordered operand edges (the edge weight is the operand
/// position), input slots and outputs.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    g: StableDiGraph<Node, u32>,
    cons: HashMap<ConsKey, NodeId>,
    inputs: Vec<NodeId>,
    outputs: Vec<NodeId>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an input placeholder of the given type, returning its node. Its slot is its position
    /// in [`Graph::inputs`].
    pub fn input(&mut self, dtype: DType, shape: Shape) -> Result<NodeId> {
        shape.check_size("input")?;
        let slot = self.inputs.len() as u32;
        let id = self.add_leaf(Op::Input { slot }, TensorType::new(dtype, shape))?;
        self.inputs.push(id);
        Ok(id)
    }

    /// Adds a leaf (`Const`, `Arange`, `Rand`) of a declared type.
    pub fn add_leaf(&mut self, op: Op, ty: TensorType) -> Result<NodeId> {
        let ty = op.infer(&[], Some(&ty))?;
        Ok(self.insert(Node { op, ty }, SmallVec::new()))
    }

    /// Adds an op over operands, checking and inferring its type. An identical node (same op,
    /// type and operands) is returned instead of a new one.
    pub fn add(&mut self, op: Op, srcs: &[NodeId]) -> Result<NodeId> {
        let ty = {
            let tys: SmallVec<[&TensorType; 4]> = srcs.iter().map(|&s| &self.g[s].ty).collect();
            op.infer(&tys, None)?
        };
        Ok(self.insert(Node { op, ty }, SmallVec::from_slice(srcs)))
    }

    fn insert(&mut self, node: Node, srcs: SmallVec<[NodeId; 4]>) -> NodeId {
        let key = (node, srcs);
        if let Some(&id) = self.cons.get(&key) {
            return id;
        }
        let id = self.g.add_node(key.0.clone());
        for (i, &s) in key.1.iter().enumerate() {
            self.g.add_edge(s, id, i as u32);
        }
        self.cons.insert(key, id);
        id
    }

    /// Marks `id` as an output (outputs are returned in the order marked).
    pub fn mark_output(&mut self, id: NodeId) {
        self.outputs.push(id);
    }

    /// The outputs.
    pub fn outputs(&self) -> &[NodeId] {
        &self.outputs
    }

    /// The input placeholders, by slot.
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }

    /// The node behind a handle.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.g[id]
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    /// True when the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }

    /// The operands of a node, in order.
    pub fn srcs(&self, id: NodeId) -> SmallVec<[NodeId; 4]> {
        let mut e: SmallVec<[(u32, NodeId); 4]> = self
            .g
            .edges_directed(id, Direction::Incoming)
            .map(|e| (*e.weight(), e.source()))
            .collect();
        e.sort_unstable();
        e.into_iter().map(|(_, s)| s).collect()
    }

    /// The nodes that read `id` (each once, in no particular order).
    pub fn users(&self, id: NodeId) -> SmallVec<[NodeId; 4]> {
        let mut u: SmallVec<[NodeId; 4]> =
            self.g.neighbors_directed(id, Direction::Outgoing).collect();
        u.sort_unstable();
        u.dedup();
        u
    }

    /// Every node reachable backwards from `roots`, operands before users.
    pub fn topo_from(&self, roots: &[NodeId]) -> Vec<NodeId> {
        let mut order = Vec::new();
        let mut state: HashMap<NodeId, bool> = HashMap::new();
        let mut stack: Vec<(NodeId, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                state.insert(n, true);
                order.push(n);
                continue;
            }
            if state.contains_key(&n) {
                continue;
            }
            state.insert(n, false);
            stack.push((n, true));
            for s in self.srcs(n).into_iter().rev() {
                if !state.contains_key(&s) {
                    stack.push((s, false));
                }
            }
        }
        order
    }

    /// Every node reachable from the outputs, operands first.
    pub fn topo(&self) -> Vec<NodeId> {
        self.topo_from(&self.outputs)
    }

    /// The structure reachable from the outputs, independent of node numbering: each node
    /// (op and type) with its operands' positions, in topological order, then the outputs'
    /// positions. Two graphs compute the same thing the same way exactly when their
    /// structures are equal; it is the plan cache's key.
    pub fn structure(&self) -> Structure {
        let order = self.topo();
        let pos: HashMap<NodeId, usize> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        Structure {
            nodes: order
                .iter()
                .map(|&n| {
                    (
                        self.g[n].clone(),
                        self.srcs(n).iter().map(|s| pos[s]).collect(),
                    )
                })
                .collect(),
            outputs: self.outputs.iter().map(|o| pos[o]).collect(),
        }
    }

    /// [`Graph::structure`] with the value of every float constant left out, and those values
    /// in topological order (the constants' slots; see [`crate::generic`]). Graphs that
    /// differ only in their float constants (and not in which of them are equal, which
    /// hash-consing shows in the wiring) have equal generic structures.
    pub fn generic_structure(&self) -> (Structure, Vec<f64>) {
        let mut s = self.structure();
        let mut values = Vec::new();
        for (node, _) in &mut s.nodes {
            if let Some(v) = crate::generic::float_const(node) {
                values.push(v);
                // NaN, which a kept constant may hold too (non-finite values are not
                // slots): equal generic structures with as many slots have them in the
                // same places.
                node.op = Op::Const(crate::Scalar::F(f64::NAN));
            }
        }
        (s, values)
    }

    /// A hash of [`Graph::structure`]: equal structures hash equal.
    pub fn structural_hash(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.structure().hash(&mut h);
        h.finish()
    }

    /// Checks the invariants every pass must keep: operand types infer to each node's type, no
    /// cycles, outputs and inputs exist. Errors name the first broken node.
    pub fn verify(&self) -> Result<()> {
        for n in self.g.node_indices() {
            let node = &self.g[n];
            let srcs = self.srcs(n);
            let tys: SmallVec<[&TensorType; 4]> = srcs.iter().map(|&s| &self.g[s].ty).collect();
            let leaf = srcs.is_empty();
            let ty = node
                .op
                .infer(&tys, if leaf { Some(&node.ty) } else { None })
                .map_err(|e| IrError::Verify(format!("node {}: {e}", n.index())))?;
            if ty != node.ty {
                return Err(IrError::Verify(format!(
                    "node {} ({}): recorded type {:?} but operands give {:?}",
                    n.index(),
                    node.op.name(),
                    node.ty,
                    ty
                )));
            }
        }
        if petgraph::algo::is_cyclic_directed(&self.g) {
            return Err(IrError::Verify("the graph has a cycle".into()));
        }
        for o in &self.outputs {
            if !self.g.contains_node(*o) {
                return Err(IrError::Verify("an output node is missing".into()));
            }
        }
        Ok(())
    }

    /// The op graph in Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph ops {\n  node [shape=box, fontname=monospace];\n");
        for n in self.topo() {
            let node = &self.g[n];
            s.push_str(&format!(
                "  n{} [label=\"{} {}{}\"];\n",
                n.index(),
                node.op.name().replace('"', "'"),
                node.ty.dtype,
                node.ty.shape
            ));
            for src in self.srcs(n) {
                s.push_str(&format!("  n{} -> n{};\n", src.index(), n.index()));
            }
        }
        s.push_str("}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::UnaryOp;

    #[test]
    fn hash_consing_dedupes() {
        let mut g = Graph::new();
        let x = g.input(DType::F32, Shape::new(&[3])).unwrap();
        let a = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
        let b = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
        assert_eq!(a, b);
        assert_eq!(g.len(), 2);
        g.mark_output(a);
        g.verify().unwrap();
    }

    #[test]
    fn structural_hash_ignores_numbering() {
        let build = |extra: bool| {
            let mut g = Graph::new();
            let x = g.input(DType::F32, Shape::new(&[4])).unwrap();
            if extra {
                g.add(Op::Unary(UnaryOp::Sin), &[x]).unwrap();
            }
            let y = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
            g.mark_output(y);
            g.structural_hash()
        };
        assert_eq!(build(false), build(true));
    }
}
