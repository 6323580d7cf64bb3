"""The microgpt model as plain functions of explicit state.

Every function takes the numbers it works on and an `Ops` that says how to combine them (and
how backward runs through what they built), so one model serves three purposes: `GRAPH_OPS`
builds the reference autograd graph (one node per + and *), `FUSED_OPS` (engine.fused) builds
the same math with fewer, wider nodes, and `FLOAT_OPS` runs on plain floats for sampling,
where no gradient is needed. Divisions are written `a * b ** -1` and sums run left to right
from 0, so all three agree bit for bit with the reference microgpt.
"""

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import add, attrgetter, methodcaller, mul

from .value import Value


def left_sum(terms):
    """0 + t0 + t1 + ... in that order (builtin sum() may compensate float rounding)."""
    return reduce(add, terms, 0)


if sys.version_info < (3, 12):
    # Up to Python 3.11, sum() adds floats left to right in plain doubles: left_sum's very
    # roundings, without a float object per partial sum. 3.12 made it compensate rounding.
    float_sum = sum
else:
    float_sum = left_sum


# The graph's sums add Values, which sum() has no fast path for: reduce is as quick there.
def left_dot(a, b):
    return reduce(add, map(mul, a, b), 0)


def rows_dot(x, w):
    return [reduce(add, map(mul, row, x), 0) for row in w]


def float_dot(a, b):
    return float_sum(map(mul, a, b))


def float_rows_dot(x, w):
    return [float_sum(map(mul, row, x)) for row in w]


def float_relu(x):
    return x if x > 0 else 0.0


def graph_shifted_exp(z, shift):
    return (z - shift).exp()


def float_shifted_exp(z, shift):
    return math.exp(z - shift)


@dataclass(frozen=True)
class Ops:
    dot: Callable
    linear: Callable  # linear(x, w): dot(row, x) for every row of w
    total: Callable
    shifted_exp: Callable  # shifted_exp(z, c): exp(z - c) for a plain number c
    log: Callable
    relu: Callable
    data: Callable
    # backward(loss) on a graph these ops built: fills in every grad and returns the number
    # of operation nodes, as Value.backward does; None: these ops build no graph.
    backward: Callable | None
    # per_pass(ops) returns `ops` made for one forward pass, in which the weights do not
    # change (fused nodes read each weight's number once per pass); None: these Ops serve
    # any pass as they are.
    per_pass: Callable | None = None

    def for_one_pass(self):
        return self if self.per_pass is None else self.per_pass(self)


GRAPH_OPS = Ops(
    dot=left_dot,
    linear=rows_dot,
    total=left_sum,
    shifted_exp=graph_shifted_exp,
    # Each node's own method, as `z.exp()` above: a Value subclass's nodes (engine.graph's
    # labelled nodes) then make nodes of their own kind.
    log=methodcaller("log"),
    relu=methodcaller("relu"),
    data=attrgetter("data"),
    backward=Value.backward,
)
FLOAT_OPS = Ops(
    dot=float_dot,
    linear=float_rows_dot,
    total=float_sum,
    shifted_exp=float_shifted_exp,
    log=math.log,
    relu=float_relu,
    data=float,
    backward=None,
)


def param_shapes(config, vocab_size):
    """(name, rows, cols) of every weight matrix, in initialisation and optimizer order."""
    d = config.n_embd
    shapes = [("wte", vocab_size, d), ("wpe", config.block_size, d), ("lm_head", vocab_size, d)]
    for i in range(config.n_layer):
        shapes += [
            (f"layer{i}.attn_wq", d, d),
            (f"layer{i}.attn_wk", d, d),
            (f"layer{i}.attn_wv", d, d),
            (f"layer{i}.attn_wo", d, d),
            (f"layer{i}.mlp_fc1", 4 * d, d),
            (f"layer{i}.mlp_fc2", d, 4 * d),
        ]
    return shapes


def init_params(config, vocab_size, rng):
    """Gaussian weights drawn matrix by matrix, row by row, from `rng` (as floats)."""
    return {
        name: [[rng.gauss(0, config.init_std) for _ in range(cols)] for _ in range(rows)]
        for name, rows, cols in param_shapes(config, vocab_size)
    }


def softmax(logits, ops):
    # Subtracting the max (a constant, not a node) keeps exp() from overflowing.
    max_val = max(ops.data(z) for z in logits)
    exps = [ops.shifted_exp(z, max_val) for z in logits]
    total = ops.total(exps)
    return [e * total**-1 for e in exps]


def rmsnorm(x, ops):
    mean_square = ops.dot(x, x) * len(x) ** -1
    scale = (mean_square + 1e-5) ** -0.5
    return [xi * scale for xi in x]


# Ablation: (layer, head) pairs whose output a forward pass zeroes; none by default.
NO_ABLATION = frozenset()


def check_ablation(ablate, config):
    """A ValueError naming the first (layer, head) pair this model does not have."""
    for pair in ablate:
        layer, head = pair if isinstance(pair, tuple) and len(pair) == 2 else (None, None)
        if not (isinstance(layer, int) and 0 <= layer < config.n_layer
                and isinstance(head, int) and 0 <= head < config.n_head):
            raise ValueError(f"cannot ablate {pair!r}: heads are (layer, head) pairs with layer "
                             f"in 0..{config.n_layer - 1} and head in 0..{config.n_head - 1}")


def gpt(token_id, pos_id, kv_cache, params, config, ops, ablate=NO_ABLATION, trace=None,
        patch_heads=None):
    """Logits for the next token, and the attention weights [layer][head][key_pos].

    Appends this position's key and value vectors to `kv_cache[layer]` as a (key, value)
    pair; the cache holds graph nodes, so gradients flow back into every cached entry.
    A head in `ablate` (a set of (layer, head) pairs) still attends, and its weights are
    returned, but its output is multiplied by zero before the output projection.
    `patch_heads`, a mapping of (layer, head) to a head output (head_dim numbers, e.g. the
    same head's output on another name), puts that output in place of the head's own at this
    position (engine.attribution's counterfactuals); the head's attention is still returned.
    `trace`, a dict, is given every vector the pass computes on its way (engine.anatomy reads
    them): "embedded" and "normed", then "layers", one dict per layer named as below.
    """
    head_dim = config.head_dim
    scale = (head_dim**0.5) ** -1
    embedded = [t + p for t, p in zip(params["wte"][token_id], params["wpe"][pos_id])]
    x = rmsnorm(embedded, ops)
    if trace is not None:
        trace.update(embedded=embedded, normed=x, layers=[])
    attention = []
    for li in range(config.n_layer):
        layer = f"layer{li}."
        x_residual = x
        x_norm = rmsnorm(x, ops)
        q = ops.linear(x_norm, params[layer + "attn_wq"])
        k = ops.linear(x_norm, params[layer + "attn_wk"])
        v = ops.linear(x_norm, params[layer + "attn_wv"])
        cache = kv_cache[li]
        cache.append((k, v))
        x_attn = []
        head_weights = []
        head_logits = []
        for h in range(config.n_head):
            lo, hi = h * head_dim, (h + 1) * head_dim
            q_h = q[lo:hi]
            attn_logits = [ops.dot(q_h, key[lo:hi]) * scale for key, _ in cache]
            attn_weights = softmax(attn_logits, ops)
            head_weights.append(attn_weights)
            if trace is not None:
                head_logits.append(attn_logits)
            head_out = [ops.dot(attn_weights, [value[j] for _, value in cache])
                        for j in range(lo, hi)]
            if ablate and (li, h) in ablate:
                head_out = [out * 0.0 for out in head_out]
            elif patch_heads and (li, h) in patch_heads:
                head_out = list(patch_heads[li, h])
            x_attn.extend(head_out)
        attention.append(head_weights)
        attn_out = ops.linear(x_attn, params[layer + "attn_wo"])
        x = [a + b for a, b in zip(attn_out, x_residual)]
        mlp_residual = x
        mlp_norm = rmsnorm(x, ops)
        hidden = ops.linear(mlp_norm, params[layer + "mlp_fc1"])
        activated = [ops.relu(z) for z in hidden]
        mlp_out = ops.linear(activated, params[layer + "mlp_fc2"])
        x = [a + b for a, b in zip(mlp_out, mlp_residual)]
        if trace is not None:
            trace["layers"].append(dict(
                x_in=x_residual, x_norm=x_norm, q=q, k=k, v=v, attn_logits=head_logits,
                attn_weights=head_weights, x_attn=x_attn, attn_out=attn_out,
                x_mid=mlp_residual, mlp_norm=mlp_norm, hidden=hidden, activated=activated,
                mlp_out=mlp_out, x_out=x))
    return ops.linear(x, params["lm_head"]), attention


@dataclass
class DocumentForward:
    """Everything one pass over a training document computed, as graph nodes."""

    loss: object  # None until every position is done
    position_losses: list
    logits: list  # [pos][token]
    probs: list  # [pos][token]
    attention: list  # [pos][layer][head][key_pos]
    kv_cache: list  # [layer][pos] -> (key, value)


def forward_positions(tokens, params, config, ops, ablate=NO_ABLATION, traces=None):
    """`forward_document` one position at a time: yields the same, growing DocumentForward
    after each position; its loss is set before the last yield. `traces`, a list, is given
    gpt()'s trace of each position (engine.graph reads them to say where each node comes
    from)."""
    if ablate:
        check_ablation(ablate, config)
    ops = ops.for_one_pass()
    n = min(config.block_size, len(tokens) - 1)
    forward = DocumentForward(None, [], [], [], [], [[] for _ in range(config.n_layer)])
    for pos_id in range(n):
        trace = None
        if traces is not None:
            trace = {}
            traces.append(trace)
        logits, pos_attention = gpt(tokens[pos_id], pos_id, forward.kv_cache, params, config,
                                    ops, ablate, trace)
        probs = softmax(logits, ops)
        forward.position_losses.append(-ops.log(probs[tokens[pos_id + 1]]))
        forward.logits.append(logits)
        forward.probs.append(probs)
        forward.attention.append(pos_attention)
        if pos_id == n - 1:
            forward.loss = (1 / n) * ops.total(forward.position_losses)
        yield forward


def forward_document(tokens, params, config, ops, ablate=NO_ABLATION, traces=None):
    """Mean next-token loss over the first min(block_size, len(tokens) - 1) positions,
    with the heads in `ablate` zeroed (see gpt); `traces` as in forward_positions."""
    *_, forward = forward_positions(tokens, params, config, ops, ablate, traces)
    return forward
