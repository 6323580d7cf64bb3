"""What an autograd graph is made of: nodes by operation, edges, depth, leaves.

The graph is built on fresh `Value` leaves made from a snapshot of the weights (floats), so it
can be taken apart at leisure while the Trainer goes on with its own parameters.

A `Value` does not store which operation made it: a fifth slot makes every node bigger (72
instead of 64 bytes) and measurably slowed the fused training step (about 4%, interleaved
in one process). `op_of` reads the operation back from what a node does store instead.
"""

import math
from collections import Counter
from dataclasses import dataclass

from .model import GRAPH_OPS, forward_document
from .value import Value, topological_order


def op_of(node):
    """The `Value` operation that made `node`: "+", "*", "**-1", "exp", "log", "relu", "tanh";
    "" for a leaf, and "other" for a node no single `Value` operation makes (such as the
    fused engine's wide nodes).

    Each operation leaves a signature no other one can: a + b has local grads (1, 1) and the
    sum as data, a * b has local grads (b, a) and the product. For one child, the output and
    its local grad are recomputed with the same float arithmetic, so the test is exact.
    """
    children, local_grads, out = node._children, node._local_grads, node.data
    if not children:
        return ""
    if len(children) == 2:
        a, b = children[0].data, children[1].data
        if tuple(local_grads) == (1, 1) and out == a + b:
            return "+"
        if tuple(local_grads) == (b, a) and out == a * b:
            return "*"
    elif len(children) == 1:
        x, local_grad = children[0].data, local_grads[0]
        if out == (x if x > 0 else 0.0) and local_grad == float(x > 0):
            return "relu"
        if out == local_grad == math.exp(x):
            return "exp"
        if x > 0 and out == math.log(x) and local_grad == 1 / x:
            return "log"
        if out == math.tanh(x) and local_grad == 1 - out * out:
            return "tanh"
        if out:
            # x ** e has local grad e * x ** (e - 1), so e = local_grad * x / out.
            exponent = round(local_grad * x / out, 6)
            try:
                if x**exponent == out:
                    return f"**{exponent:g}"
            except OverflowError:
                pass  # not a power the model takes: such a node would have overflowed too
    return "other"


def leaf_params(weights):
    """Weight matrices of floats -> the same matrices of new `Value` leaves, and the name of
    each leaf as a person reads it ("wte[3][5]")."""
    params, names = {}, {}
    for name, matrix in weights.items():
        params[name] = [[Value(w) for w in row] for row in matrix]
        for r, row in enumerate(params[name]):
            for c, leaf in enumerate(row):
                names[leaf] = f"{name}[{r}][{c}]"
    return params, names


def document_graph(weights, tokens, config, ops=GRAPH_OPS):
    """The loss graph of `tokens` ([BOS] + document + [BOS]) on new leaves made from
    `weights`, after backward: (loss node, leaf matrices, leaf names)."""
    params, names = leaf_params(weights)
    loss = forward_document(tokens, params, config, ops).loss
    ops.backward(loss)
    return loss, params, names


@dataclass(frozen=True)
class GraphStats:
    nodes_by_op: tuple  # ((op, count), ...), the most common first
    edges: int  # (node, child) pairs: one multiply and one add each in backward
    depth: int  # operations on the longest path from the root down to a leaf
    leaves: int  # distinct leaves: parameters and constants
    parameters: int  # the leaves that are parameters

    @property
    def nodes(self):
        """Operation nodes (leaves not counted), as `Value.backward()` counts them."""
        return sum(count for _, count in self.nodes_by_op)

    @property
    def constants(self):
        return self.leaves - self.parameters


def graph_stats(root, parameters=()):
    """Count what `root` (an operation node) is computed from; `parameters` are the leaves
    that are weights, the other leaves are constants."""
    topo = topological_order(root)
    height = {}
    leaves = set()
    edges = 0
    for node in topo:
        children = node._children
        edges += len(children)
        tallest = 0
        for child in children:
            if child._children:
                tallest = max(tallest, height[child])
            else:
                leaves.add(child)
        height[node] = tallest + 1
    return GraphStats(
        nodes_by_op=tuple(Counter(map(op_of, topo)).most_common()),
        edges=edges,
        depth=height[root],
        leaves=len(leaves),
        parameters=len(leaves & set(parameters)),
    )


def count_uses(root):
    """How many edges lead into each node: backward adds that many terms into its grad."""
    uses = Counter()
    for node in topological_order(root):
        uses.update(node._children)
    return uses
