"""Why the model predicts a letter at one position: direct logit attribution, and
counterfactuals (one letter changed, or one head's output patched in from another name).

Direct logit attribution. microgpt has no rmsnorm between the last block and lm_head:
`logits = linear(x, lm_head)` reads the residual stream x as it is, so a letter's logit is
lm_head[letter] · x, linear in x. And x is a sum: the embedding path (rmsnorm(tok_emb +
pos_emb)) plus what every block wrote into it, each head through its columns of attn_wo
(attn_wo · concat = Σ_h attn_wo[:, head h's columns] · head_out_h) and each MLP. The rmsnorms
at the start of each block only shape what a block reads, never the stream, so in exact
arithmetic the parts add up to the logit with nothing left over. The embedding path splits
into the token's and the position's parts with one shared factor: rmsnorm(t + p) = s·t + s·p
with s = 1 / √(mean((t + p)²) + 1e-5), so each part depends on the other embedding through s.
"Direct" means a part is what a component writes straight to the logit; what it changes in
the later blocks' inputs is counted in those blocks' parts. The remainder, the logit minus
the sum of the parts, is float rounding alone (the parts add the same numbers in another
order): a few units in the last place of the largest part.
"""

from dataclasses import dataclass

from .anatomy import n_positions, trace_position
from .model import float_dot, float_rows_dot, float_sum


@dataclass(frozen=True)
class LogitPart:
    label: str  # "token embedding", "position embedding", "layer 1 head 2", "layer 1 MLP"
    value: float  # lm_head[letter] · (what this component wrote into the residual stream)


@dataclass(frozen=True)
class LogitAttribution:
    token: int  # the letter whose logit is split
    logit: float  # the model's own logit for it (Anatomy.logits)
    parts: tuple  # LogitPart, in the order the pass computes them
    remainder: float  # logit - sum of the parts: float rounding alone (see the module's doc)


def head_columns(attn_wo, head, head_dim):
    """Head `head`'s columns of attn_wo: the map from its output to the residual stream."""
    return [row[head * head_dim:(head + 1) * head_dim] for row in attn_wo]


def logit_attribution(anatomy, weights, token):
    """The logit of `token` at the anatomy's position split into what each component
    wrote into the residual stream, read through lm_head (see the module's doc)."""
    row = weights["lm_head"][token]
    n = len(anatomy.embedded)
    scale = (float_dot(anatomy.embedded, anatomy.embedded) * n**-1 + 1e-5) ** -0.5
    parts = [LogitPart("token embedding", scale * float_dot(row, anatomy.tok_emb)),
             LogitPart("position embedding", scale * float_dot(row, anatomy.pos_emb))]
    several_layers = len(anatomy.layers) > 1
    for li, layer in enumerate(anatomy.layers):
        name = f"layer {li + 1} " if several_layers else ""
        attn_wo = weights[f"layer{li}.attn_wo"]
        for h, head in enumerate(layer.heads):
            written = float_rows_dot(head.out, head_columns(attn_wo, h, len(head.out)))
            parts.append(LogitPart(f"{name}head {h + 1}", float_dot(row, written)))
        parts.append(LogitPart(f"{name}MLP", float_dot(row, layer.mlp_out)))
    logit = anatomy.logits[token]
    return LogitAttribution(token, logit, tuple(parts),
                            logit - float_sum(part.value for part in parts))


@dataclass(frozen=True)
class LetterChange:
    index: int  # which token of the document: 1 is the name's first letter
    token: int  # the letter put there


@dataclass(frozen=True)
class HeadPatch:
    layer: int  # 0-based
    head: int  # 0-based
    source: tuple  # the second name's tokens, BOS first: the head's output is taken from it


@dataclass(frozen=True)
class Counterfactual:
    original: object  # Anatomy of the position as it is
    patched: object  # Anatomy with the change
    source: object  # HeadPatch: the Anatomy of the second name at the position; else None


def patched_position(weights, tokens, position, config, patch, temperature=1.0, top_k=None,
                     cancelled=None):
    """The position's Anatomy beside the same position with `patch` applied: a LetterChange
    runs the changed name; a HeadPatch runs the name with that head's output at this position
    (only) replaced by the same head's output on the second name at the same position, so
    every other number the head reads, and every earlier position, is the name's own.
    A ValueError says what does not fit the name or the model."""
    original = trace_position(weights, tokens, position, config, temperature, top_k, cancelled)
    if isinstance(patch, LetterChange):
        if position == 0:
            raise ValueError("position 0 reads only the start token: move on to change a letter")
        if not 1 <= patch.index <= position:
            raise ValueError(f"letter {patch.index} is not read at position {position}: "
                             f"choose 1 to {position}")
        if not 0 <= patch.token < len(weights["wte"]):
            raise ValueError(f"token {patch.token} is not in the vocabulary")
        changed = list(tokens)
        changed[patch.index] = patch.token
        patched = trace_position(weights, changed, position, config, temperature, top_k,
                                 cancelled)
        return Counterfactual(original, patched, None)
    if not (0 <= patch.layer < config.n_layer and 0 <= patch.head < config.n_head):
        raise ValueError(f"there is no head {patch.head + 1} in layer {patch.layer + 1}: "
                         f"{config.n_layer} layer(s) of {config.n_head} heads")
    if position >= n_positions(patch.source, config):
        raise ValueError(f"the second name is too short to have a position {position}")
    source = trace_position(weights, patch.source, position, config, temperature, top_k,
                            cancelled)
    head_out = source.layers[patch.layer].heads[patch.head].out
    patched = trace_position(weights, tokens, position, config, temperature, top_k, cancelled,
                             patch_heads={(patch.layer, patch.head): head_out})
    return Counterfactual(original, patched, source)
