"""Fused scalar nodes: the same math as the per-operation graph, in far fewer nodes.

`dot(a, b)` in the reference graph is a chain of 2n nodes (n products, n partial sums). Here
it is one `Value` with 2n children and their local derivatives, its number summed in the same
left-to-right order, so every forward number is bit for bit the chain's. `exp(z - c)` is one
node instead of two, and `sum` one node instead of a chain.

Backward hands every child the same products (local_grad * grad) as the chain would. A
child's grad is a sum over its parents, so its rounding depends only on the order in which
backward reaches those parents; that order comes from the depth-first walk over operation
nodes, and the fused nodes list their operation-node children in the order the chain visits
them (a0, b0, a1, b1, … for `dot`; x0, x1, … for a `linear` row, whose other children are
parameters, i.e. leaves, which the walk never enters). So every gradient, every Adam update
and every loss is bit-identical to `GRAPH_OPS`; tests/engine/test_fused.py checks every
parameter's grad with ==.

Four more things keep a step short, none changing a number. The rows of one matrix-vector
product share their input vector, and this module's `backward` (`FUSED_OPS.backward`, what
the Trainer runs) enters it once for all of them (`Row`, `topological_order`) instead of
re-checking it row by row, and passes nothing on from a node whose grad is 0; a forward pass
reads each weight's number once (`Ops.for_one_pass`), not once per position; and up to
Python 3.11 float sums use the builtin `sum()`, which adds left to right in plain doubles
(`model.float_sum`).

`python -m engine.bench` measures both paths in one process (README, Performance). On the
default config a bare training step (forward, backward, Adam) takes about 9 ms here against
about 120 ms for the reference design (per-op graph, recursive topological sort over every
node, cyclic GC on): 11x to 13x over four full runs, the figure moving with the machine's
load and the GC. Of those 9 ms, the chain rule takes about 3 (one multiply-add per graph
edge, 58,000 a step, at ~50 ns in a Python loop), the forward pass 3 (1,200 matrix rows and
2,400 other nodes), the depth-first order 1, Adam 1 (4,192 weights) and freeing the graph
0.5.
"""

import math
from dataclasses import replace
from functools import partial
from operator import attrgetter, mul

from .model import Ops, float_sum
from .value import Value

data_of = attrgetter("data")


def interleave(a, b):
    """[a0, b0, a1, b1, …] (lists of equal length)."""
    out = [None] * (2 * len(a))
    out[::2] = a
    out[1::2] = b
    return out


def dot(a, b):
    """sum(a[i] * b[i]) as one node; b[i] may be a[i] itself (a sum of squares)."""
    a_data = [v.data for v in a]
    b_data = [v.data for v in b]
    return Value(float_sum(map(mul, a_data, b_data)),
                 interleave(a, b), interleave(b_data, a_data))


class Row(Value):
    """One row of a matrix-vector product: a dot node whose operation-node children, the
    vector, are a list it shares with the other rows (`shared_inputs`; see
    topological_order)."""

    __slots__ = ("shared_inputs",)


def linear(x, w, weight_floats=None):
    """One Row (a dot node) per row of the matrix `w` (a sequence of rows), whose entries
    must be leaves (parameters).

    x's numbers are read once for all rows, and `w`'s once per forward pass if the pass
    passes a `weight_floats` dict (FUSED_OPS.for_one_pass). Children are x then the row: only
    x's order matters to the backward walk (see the module docstring), and a list
    concatenation is cheaper than interleaving. The walk enters x once for all the rows.
    """
    x = list(x)
    x_data = [v.data for v in x]
    if weight_floats is None:
        w_data = [[v.data for v in row] for row in w]
    else:
        cached = weight_floats.get(id(w))
        if cached is None:
            # Kept with `w`, so that no other matrix can take its id while the pass lasts.
            cached = weight_floats[id(w)] = (w, [[v.data for v in row] for row in w])
        w_data = cached[1]
    nodes = []
    for row, row_data in zip(w, w_data):
        node = Row(float_sum(map(mul, row_data, x_data)), x + row, row_data + x_data)
        node.shared_inputs = x
        nodes.append(node)
    return nodes


def shifted_exp(z, shift):
    """exp(z - shift) for a plain number `shift`, as one node (d/dz = the output itself)."""
    out = math.exp(z.data - shift)
    return Value(out, (z,), (out,))


def total(terms):
    """sum(terms) as one node: each term's local derivative is 1."""
    terms = list(terms)
    return Value(float_sum(map(data_of, terms)), terms, [1] * len(terms))


def topological_order(root):
    """`engine.value.topological_order`, in fewer steps where rows share their inputs.

    A `Row` has its shared inputs and leaves as children, and so do its sibling rows (all
    the rows of one matrix-vector product read the same vector). The first sibling entered
    walks the list; any later one would find every entry already visited, because it cannot
    be entered while the first is still walking (it would be its own descendant), so it is
    done at once: the same order as walking, at a fraction of the cost.
    """
    topo = []
    visited = {root}
    walked = set()  # ids of shared input lists already walked
    path = [root]
    pending = [iter(root._children)]
    while pending:
        for child in pending[-1]:
            if child._children and child not in visited:
                visited.add(child)
                if type(child) is Row:
                    children = child.shared_inputs
                    if id(children) in walked:
                        topo.append(child)
                        continue
                    walked.add(id(children))
                else:
                    children = child._children
                path.append(child)
                pending.append(iter(children))
                break
        else:
            pending.pop()
            topo.append(path.pop())
    return topo


def backward(root):
    """`Value.backward` over this module's `topological_order`. A node whose grad is 0 has
    nothing to pass on (adding 0 would change no finite grad): it is skipped."""
    topo = topological_order(root)
    root.grad = 1.0
    for node in reversed(topo):
        grad = node.grad
        if grad == 0:
            continue  # e.g. a matrix row behind a ReLU that was off
        for child, local_grad in zip(node._children, node._local_grads):
            child.grad += local_grad * grad
    return len(topo)


FUSED_OPS = Ops(
    dot=dot,
    linear=linear,
    total=total,
    shifted_exp=shifted_exp,
    log=Value.log,
    relu=Value.relu,
    data=data_of,
    backward=backward,
    per_pass=lambda ops: replace(ops, linear=partial(ops.linear, weight_floats={}),
                                 per_pass=None),
)
