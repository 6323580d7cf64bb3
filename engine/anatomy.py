"""One position, end to end: every vector `gpt()` computes for one token of one name.

The numbers are the model's own: the positions before the chosen one run as sampling runs
them (plain floats, filling the KV cache), and the chosen one runs through the same `gpt()`
with a `trace` that keeps each intermediate vector. Its last stages are the sampler's:
logits / temperature, then softmax.
"""

from dataclasses import dataclass

from .model import FLOAT_OPS, gpt, softmax
from .probe import stop_if_cancelled
from .sampler import divide_by_temperature, next_token_probs


@dataclass(frozen=True)
class HeadAnatomy:
    logits: tuple  # [key_pos] q_h · k_h / √head_dim, for every position up to this one
    weights: tuple  # [key_pos] softmax(logits)
    out: tuple  # Σ_t weights[t] · v_t,h: this head's slice of the concatenation


@dataclass(frozen=True)
class LayerAnatomy:
    x_in: tuple  # the residual stream coming in
    x_norm: tuple  # rmsnorm(x_in)
    q: tuple
    k: tuple
    v: tuple
    heads: tuple  # HeadAnatomy per head
    x_attn: tuple  # the heads' outputs side by side
    attn_out: tuple  # linear(x_attn, attn_wo)
    x_mid: tuple  # attn_out + x_in: the stream after attention
    mlp_norm: tuple  # rmsnorm(x_mid)
    hidden: tuple  # linear(mlp_norm, mlp_fc1), before the ReLU
    activated: tuple  # relu(hidden)
    mlp_out: tuple  # linear(activated, mlp_fc2)
    x_out: tuple  # mlp_out + x_mid: the stream going out

    @property
    def dead_units(self):
        """The MLP units the ReLU zeroes at this position (their fc1 output is <= 0): they
        pass nothing on, and no gradient comes back through them."""
        return tuple(i for i, z in enumerate(self.hidden) if not z > 0)


@dataclass(frozen=True)
class Anatomy:
    tokens: tuple  # [BOS] + the name's ids + [BOS]
    position: int
    temperature: float
    tok_emb: tuple  # wte[token]
    pos_emb: tuple  # wpe[position]
    embedded: tuple  # tok_emb + pos_emb
    normed: tuple  # rmsnorm(embedded): the stream entering layer 1
    layers: tuple  # LayerAnatomy per layer
    logits: tuple  # linear(last x_out, lm_head)
    scaled_logits: tuple  # logits / temperature
    probs: tuple  # softmax(scaled_logits): the reference's next-token distribution
    top_k: int | None  # the sampler's top-k (not in the reference), or None
    drawn_probs: tuple  # what the sampler draws from: probs, with top_k the k likeliest only

    @property
    def token(self):
        return self.tokens[self.position]

    @property
    def target(self):
        return self.tokens[self.position + 1]


def n_positions(tokens, config):
    """How many positions of a document the model reads (and trains on)."""
    return min(config.block_size, len(tokens) - 1)


def trace_position(weights, tokens, position, config, temperature, top_k=None, cancelled=None,
                   patch_heads=None):
    """The Anatomy of `tokens[position]` on `weights` (a float snapshot, as the Sampler takes),
    sampled at `temperature` (and `top_k`, as the Sampler's). `patch_heads` (see gpt) replaces
    head outputs at this position only: the positions before it run as they are.

    `cancelled`, if given, is asked before each position's pass; when it returns True this
    raises engine.probe.Cancelled."""
    if not 0 <= position < n_positions(tokens, config):
        raise ValueError(f"position {position} is not one of the document's "
                         f"{n_positions(tokens, config)} positions")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    kv_cache = [[] for _ in range(config.n_layer)]
    for pos in range(position):
        stop_if_cancelled(cancelled)
        gpt(tokens[pos], pos, kv_cache, weights, config, FLOAT_OPS)
    stop_if_cancelled(cancelled)
    trace = {}
    logits, _ = gpt(tokens[position], position, kv_cache, weights, config, FLOAT_OPS,
                    trace=trace, patch_heads=patch_heads)
    scaled_logits = divide_by_temperature(logits, temperature)
    head_dim = config.head_dim
    layers = tuple(
        LayerAnatomy(
            **{name: tuple(layer[name]) for name in (
                "x_in", "x_norm", "q", "k", "v", "x_attn", "attn_out", "x_mid", "mlp_norm",
                "hidden", "activated", "mlp_out", "x_out")},
            heads=tuple(
                HeadAnatomy(tuple(logits_h), tuple(weights_h),
                            tuple(layer["x_attn"][h * head_dim:(h + 1) * head_dim]))
                for h, (logits_h, weights_h) in enumerate(zip(layer["attn_logits"],
                                                              layer["attn_weights"]))),
        )
        for layer in trace["layers"]
    )
    return Anatomy(
        tokens=tuple(tokens), position=position, temperature=temperature,
        tok_emb=tuple(weights["wte"][tokens[position]]),
        pos_emb=tuple(weights["wpe"][position]),
        embedded=tuple(trace["embedded"]), normed=tuple(trace["normed"]), layers=layers,
        logits=tuple(logits), scaled_logits=tuple(scaled_logits),
        probs=tuple(softmax(scaled_logits, FLOAT_OPS)), top_k=top_k,
        drawn_probs=tuple(next_token_probs(logits, temperature, top_k)),
    )
