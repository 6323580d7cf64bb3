"""Fused scalar nodes: the same math as the per-operation graph, in far fewer nodes.

`dot(a, b)` in the reference graph is a chain of 2n nodes (n products, n partial sums). Here
it is one `Value` with 2n children and their local derivatives, its number summed in the same
left-to-right order, so every forward number is bit for bit the chain's. `exp(z - c)` is one
node instead of two, and `sum` one node instead of a chain.

Backward hands every child the same products (local_grad * grad) as the chain would. A
child's grad is a sum over its parents, so its rounding depends only on the order in which
`Value.backward` reaches those parents; that order comes from the depth-first walk over
operation nodes, and the fused nodes list their operation-node children in the order the
chain visits them (a0, b0, a1, b1, … for `dot`; x0, x1, … for a `linear` row, whose other
children are parameters, i.e. leaves, which the walk never enters). So every gradient, every
Adam update and every loss is bit-identical to `GRAPH_OPS`; tests/engine/test_fused.py checks
every parameter's grad with ==.

Three more things keep a step short, none changing a number. The rows of one matrix-vector
product share their input vector, and the backward walk enters it once for all of them
(`Row`, `Value.shared_inputs`) instead of re-checking it row by row; a forward pass reads
each weight's number once (`Ops.for_one_pass`), not once per position; and up to Python 3.11
float sums use the builtin `sum()`, which adds left to right in plain doubles
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
    vector, are shared with the other rows (Value.shared_inputs)."""

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


FUSED_OPS = Ops(
    dot=dot,
    linear=linear,
    total=total,
    shifted_exp=shifted_exp,
    log=Value.log,
    relu=Value.relu,
    data=data_of,
    per_pass=lambda ops: replace(ops, linear=partial(ops.linear, weight_floats={}),
                                 per_pass=None),
)
