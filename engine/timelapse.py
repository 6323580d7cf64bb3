"""The attention time-lapse: one fixed name's attention, every layer and head, measured on the
weights of each probe filmstrip step, so a learner can watch a head form.

A frame is the float forward of that one name (`forward_document(..., FLOAT_OPS)`) on a
weights snapshot: `attn_weights = softmax(attn_logits)` of every position, layer and head.
"""

from dataclasses import dataclass

from .model import FLOAT_OPS, forward_document

# A name long enough for a pattern to show and short enough to fit beside the other heads.
WATCHED_LETTERS = range(5, 9)


@dataclass(frozen=True)
class AttentionFrame:
    step: int  # steps taken when the weights were measured
    name: str  # the watched name (its first block_size positions are measured)
    attention: tuple  # [layer][head][query pos][key pos], key pos <= query pos


def watched_name(probe_docs):
    """The first probe name of 5 to 8 letters (else the first probe name): fixed by the seed,
    like the filmstrip's names."""
    return next((doc for doc in probe_docs if len(doc) in WATCHED_LETTERS), probe_docs[0])


def attention_frame(weights, step, name, tokenizer, config):
    """`name`'s attention on `weights` (those of step `step`), layer by layer, head by head."""
    forward = forward_document(tokenizer.document(name), weights, config, FLOAT_OPS)
    positions = forward.attention  # [pos][layer][head][key pos]
    return AttentionFrame(step, name, tuple(
        tuple(tuple(tuple(position[layer][head]) for position in positions)
              for head in range(config.n_head))
        for layer in range(config.n_layer)))


def previous_letter_share(rows):
    """A head's mean attention on the token just before the query, over query positions 1 on
    (position 0 sees only itself; at position 1 the token before is BOS), as engine.heads
    counts "the previous letter"; None for a name of one position."""
    shares = [row[query - 1] for query, row in enumerate(rows) if query]
    return sum(shares) / len(shares) if shares else None
