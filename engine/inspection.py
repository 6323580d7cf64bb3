"""One name under the microscope: every next-letter prediction the model makes for it.

`inspect_name` runs the plain float forward pass (model.forward_document with FLOAT_OPS, the
very numbers of a training step's forward) over `[BOS] + name + [BOS]` and keeps, for each
position, how likely the model found the letter that really comes next, its rank, its
surprisal in bits, the model's own top guess and every head's attention. `initial_weights`
rebuilds the weights a run started from (step 0), which no checkpoint keeps, from the seed.
"""

import math
import random
from dataclasses import dataclass

from .model import FLOAT_OPS, forward_document, init_params
from .sampler import rank, surprisal_bits
from .trainer import transpose_attention


def initial_weights(config, n_docs, vocab_size):
    """The weights a Trainer over `n_docs` documents starts from, as Trainer.weights() has
    them. Its one `Random(seed)` shuffles the documents before it draws the weights, and a
    shuffle's draws depend only on how many items there are, so shuffling any sequence of
    that length (here a bytearray: one byte an item) leaves the stream where the weights
    begin. It takes as long as the Trainer's shuffle: ~20 ms for names.txt, seconds for
    millions of documents."""
    rng = random.Random(config.seed)
    rng.shuffle(bytearray(n_docs))
    return {name: tuple(tuple(row) for row in matrix)
            for name, matrix in init_params(config, vocab_size, rng).items()}


@dataclass(frozen=True)
class Prediction:
    """Position `position`: reading `input_token`, how the model scored the true next token."""

    position: int
    input_token: int
    target: int  # the token that really comes next
    probs: tuple  # the model's probability of every token
    p: float  # probs[target]
    rank: int  # 1: the target was the model's most likely token
    bits: float  # -log2(p), the surprisal
    loss: float  # -ln(p), this position's term of the training loss (nats)
    guess: int  # the model's most likely token


@dataclass(frozen=True)
class NameInspection:
    name: str
    tokens: tuple  # [BOS] + name + [BOS]
    predictions: tuple  # one Prediction per position the model sees
    attention: tuple  # [layer][head][query_pos][key_pos]
    loss: float  # the mean of the positions' losses, exactly as a training step takes it
    # Predictions past block_size, which the model never makes (the end of the name's among
    # them); 0 for a name of fewer than block_size letters.
    cut: int

    @property
    def total_bits(self):
        return math.fsum(prediction.bits for prediction in self.predictions)

    @property
    def inputs(self):
        return self.tokens[:len(self.predictions)]


def unknown_characters(name, tokenizer):
    """The characters of `name` that are not in the vocabulary, each once, in order."""
    known = set(tokenizer.chars)
    return tuple(dict.fromkeys(ch for ch in name if ch not in known))


def inspect_name(name, weights, tokenizer, config):
    """Every prediction the model makes for `name`, on `weights` (float matrices).

    As in training, the model sees the first block_size positions only: a name of
    block_size letters or more loses its end-of-name prediction (and more), `cut` says how
    many predictions it lost. A character outside the vocabulary is a ValueError;
    weights that diverged may raise an ArithmeticError or a ValueError (log of 0)."""
    tokens = tokenizer.document(name)
    forward = forward_document(tokens, weights, config, FLOAT_OPS)
    predictions = []
    for position, (probs, loss) in enumerate(zip(forward.probs, forward.position_losses)):
        target = tokens[position + 1]
        p = probs[target]
        predictions.append(Prediction(
            position=position, input_token=tokens[position], target=target, probs=tuple(probs),
            p=p, rank=rank(probs, target), bits=surprisal_bits(p), loss=loss,
            guess=max(range(len(probs)), key=probs.__getitem__)))
    return NameInspection(name=name, tokens=tokens, predictions=tuple(predictions),
                          attention=transpose_attention(forward.attention, tuple),
                          loss=forward.loss, cut=len(tokens) - 1 - len(predictions))
