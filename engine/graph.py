"""What an autograd graph is made of: nodes by operation, edges, depth, leaves.

The graph is built on fresh leaves made from a snapshot of the weights (floats), so it can be
taken apart at leisure while the Trainer goes on with its own parameters. The leaves are
`Node`s: Values that know the operation that made them, so every node of the per-operation
graph grown from them knows its own. The Trainer's Values keep no such label: a fifth slot
makes every node bigger (72 instead of 64 bytes) and measurably slowed the fused training
step (about 4%, interleaved in one process).

Where each node comes from (its `Origin`: position, layer, head, step of gpt()) is worked out
after the pass, from the trace gpt() keeps of every vector it computes, into a dict: nothing
in the model's arithmetic or in the Trainer's pass changes for it.
"""

from collections import Counter
from dataclasses import dataclass
from functools import partial

from .model import GRAPH_OPS, forward_positions
from .probe import stop_if_cancelled
from .value import Value, topological_order

# Measured with tracemalloc: a per-operation graph and its analysis (GraphStats, the uses of
# each node) take about 400 bytes a node.
BYTES_PER_NODE = 400


class Node(Value):
    """A Value labelled with the operation that made it (`op`: "" for a leaf). Its
    operations are Value's, numbers and local grads included, and make Nodes in turn:
    subtraction, division and the rest are built from these, so they do too."""

    __slots__ = ("op",)

    def __init__(self, data, children=(), local_grads=(), op=""):
        super().__init__(data, children, local_grads)
        self.op = op

    def __add__(self, other):
        return labelled(Value.__add__(self, other), "+")

    def __mul__(self, other):
        return labelled(Value.__mul__(self, other), "*")

    def __pow__(self, exponent):
        return labelled(Value.__pow__(self, exponent), f"**{exponent:g}")

    def exp(self):
        return labelled(Value.exp(self), "exp")

    def log(self):
        return labelled(Value.log(self), "log")

    def relu(self):
        return labelled(Value.relu(self), "relu")

    def tanh(self):
        return labelled(Value.tanh(self), "tanh")


def labelled(value, op):
    """The operation node `value` as a Node: the same data, children and local grads."""
    return Node(value.data, value._children, value._local_grads, op)


def op_of(node):
    """The operation that made `node`: "+", "*", "**-1", "exp", "log", "relu", "tanh"; "" for
    a leaf, and "other" for a node no `Node` operation made (such as the fused engine's wide
    nodes)."""
    if not node._children:
        return ""
    return node.op if isinstance(node, Node) else "other"


def leaf_params(weights):
    """Weight matrices of floats -> the same matrices of new `Node` leaves, and the name of
    each leaf as a person reads it ("wte[3][5]")."""
    params, names = {}, {}
    for name, matrix in weights.items():
        params[name] = [[Node(w) for w in row] for row in matrix]
        for r, row in enumerate(params[name]):
            for c, leaf in enumerate(row):
                names[leaf] = f"{name}[{r}][{c}]"
    return params, names


@dataclass(frozen=True)
class Origin:
    """Where in the forward pass a node was made: the step of gpt() (or of the loss) that
    made it and, where they apply, the position, layer, head and weight row it belongs to."""

    step: str  # "rmsnorm", "softmax", "mlp_fc1" (with its row), …
    position: int | None = None
    layer: int | None = None
    head: int | None = None
    row: int | None = None  # the row of the matrix `step` names: its output's index

    def places(self):
        """("pos 3", "layer 0", "head 2"): the ones that apply, the widest first."""
        places = (("pos", self.position), ("layer", self.layer), ("head", self.head))
        return tuple(f"{place} {i}" for place, i in places if i is not None)

    def step_text(self):
        return self.step if self.row is None else f"{self.step} row {self.row}"

    def __str__(self):
        return " · ".join((*self.places(), self.step_text()))

    def beside(self, other):
        """As `str`, for a reader who knows `other` (an Origin or None): the places it
        shares with `other` from the widest down are left out, unless it has fewer places
        than `other` (a bare "rmsnorm" beside a layer's node would read as that layer's)."""
        places, known = self.places(), other.places() if other else ()
        shared = 0
        if len(places) >= len(known):
            while shared < len(known) and places[shared] == known[shared]:
                shared += 1
        return " · ".join((*places[shared:], self.step_text()))


def linear_rows(origin, matrix, outputs):
    """(Origin of row i, [output i]) for each output of a matrix-vector product."""
    return ((origin(matrix, row=i), [out]) for i, out in enumerate(outputs))


def forward_steps(forward, traces, config):
    """(Origin, output nodes) of every step of a document's forward pass (`forward`, with
    gpt()'s `traces`), in the order the pass computed them."""
    head_dim = config.head_dim
    for pos, trace in enumerate(traces):
        at = partial(Origin, position=pos)
        yield at("embedding wte+wpe"), trace["embedded"]
        yield at("rmsnorm"), trace["normed"]
        for li, layer in enumerate(trace["layers"]):
            in_layer = partial(at, layer=li)
            yield in_layer("rmsnorm (attention)"), layer["x_norm"]
            for vector in "qkv":
                yield from linear_rows(in_layer, f"attn_w{vector}", layer[vector])
            for h, (logits, weights) in enumerate(zip(layer["attn_logits"],
                                                      layer["attn_weights"])):
                in_head = partial(in_layer, head=h)
                for key_pos, logit in enumerate(logits):
                    yield in_head(f"attention logit q·k of pos {key_pos}"), [logit]
                yield in_head("softmax"), weights
                yield in_head("Σ weight × value"), layer["x_attn"][h * head_dim:
                                                                   (h + 1) * head_dim]
            yield from linear_rows(in_layer, "attn_wo", layer["attn_out"])
            yield in_layer("residual + attention"), layer["x_mid"]
            yield in_layer("rmsnorm (mlp)"), layer["mlp_norm"]
            yield from linear_rows(in_layer, "mlp_fc1", layer["hidden"])
            yield in_layer("relu"), layer["activated"]
            yield from linear_rows(in_layer, "mlp_fc2", layer["mlp_out"])
            yield in_layer("residual + mlp"), layer["x_out"]
        yield from linear_rows(at, "lm_head", forward.logits[pos])
        yield at("softmax"), forward.probs[pos]
        yield at("loss −log p(next)"), [forward.position_losses[pos]]
    yield Origin("loss: mean over positions"), [forward.loss]


def node_origins(forward, traces, config, parameters):
    """Node -> its Origin, for every node of `forward`'s graph but the `parameters`.

    A step's nodes are those its outputs are computed from that no earlier step made: going
    through the steps in the pass's own order, each claims every node below its outputs that
    is not claimed yet (constants included), stopping at the ones that are."""
    origins = {}
    for origin, outputs in forward_steps(forward, traces, config):
        below = list(outputs)
        while below:
            node = below.pop()
            if node not in origins and node not in parameters:
                origins[node] = origin
                below.extend(node._children)
    return origins


@dataclass(frozen=True)
class DocumentGraph:
    loss: object  # the root node, after backward
    params: dict  # matrix name -> rows of leaves
    names: dict  # parameter leaf -> "wte[3][5]"
    origins: dict  # every other node -> its Origin


def document_graph(weights, tokens, config, ops=GRAPH_OPS, cancelled=None):
    """The loss graph of `tokens` ([BOS] + document + [BOS]) on new leaves made from
    `weights`, after backward, and where each of its nodes comes from. `cancelled` is asked
    before each position (see engine.probe.mean_loss)."""
    params, names = leaf_params(weights)
    traces = []
    for forward in forward_positions(tokens, params, config, ops, traces=traces):
        stop_if_cancelled(cancelled)
        loss = forward.loss  # set at the last position
    stop_if_cancelled(cancelled)
    ops.backward(loss)
    return DocumentGraph(loss, params, names, node_origins(forward, traces, config, names))


def estimated_nodes(config, vocab_size, positions):
    """About how many operation nodes the per-operation loss graph of a document with
    `positions` positions has, counted from gpt()'s operations without building it (within
    a few percent: the tests compare it with real graphs). Per position: each d×d linear is
    d rows of d multiplies and d-1 adds (a layer has 4 of them and the MLP's two 4d×d);
    attention at position t costs 4 nodes per key and dimension; the output layer and its
    softmax cost 2d + 4 per token; the norms and residuals about 13d a layer."""
    d, heads = config.n_embd, config.n_head
    nodes = 0
    for position in range(positions):
        keys = position + 1
        per_layer = 24 * d * d + 4 * keys * (d + heads) + 13 * d
        nodes += 5 * d + config.n_layer * per_layer + vocab_size * (2 * d + 4) + 3
    return nodes


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
