"""What each attention head does, measured over a fixed set of probe names.

For every head of every layer: where its attention goes, by the key's place relative to the
query (itself, the token just before, BOS at the start, or further back); how spread out it
is (the entropy of its attention rows, in bits); and how much the probe loss rises when that
head alone is zeroed (the same ablation as engine.ablation, `gpt(..., ablate=...)`).

An attention row is one query position's `attn_weights = softmax(attn_logits)` (the
reference's line), float forward on a weights snapshot. Position 0 is left out: its only key
is itself, so every head puts all its weight there and the row tells the heads apart in
nothing. At position 1 the token just before is BOS itself, and counts as "previous".
"""

import math
from dataclasses import dataclass

from .model import NO_ABLATION
from .probe import mean_loss

# Where a key sits relative to the query, in the order of HeadProfile.mass.
SELF, PREVIOUS, BOS, FURTHER = range(4)
WHERE = ("itself", "the previous letter", "BOS", "further back")
# A head is "mostly" somewhere when at least this share of its attention goes there. Else it
# "leans to" the place whose share is the most above what attention spread evenly over the
# same keys would give it, if at least LEANS times that (with few letters to choose from, even
# attention already gives itself and the previous letter a quarter each); else it is "spread
# out".
MOSTLY = 0.5
LEANS = 1.25
SPREAD_OUT = "spread out"


@dataclass(frozen=True)
class HeadProfile:
    layer: int  # 0-based, like the (layer, head) pairs of an ablation
    head: int
    mass: tuple  # mean share of attention on (itself, previous, BOS, further back): sums to 1
    entropy: float  # mean entropy of the head's attention rows, in bits
    ablated_loss: float  # the probe loss with this head alone zeroed

    @property
    def name(self):
        return f"L{self.layer + 1} H{self.head + 1}"

    @property
    def top(self):
        """The index (SELF, PREVIOUS, BOS or FURTHER) of the place with the most attention."""
        return max(range(len(self.mass)), key=self.mass.__getitem__)


@dataclass(frozen=True)
class HeadsReport:
    probe_size: int
    rows: int  # attention rows each head is averaged over (positions 1 on of every name)
    loss: float  # the probe loss with every head
    uniform_loss: float  # ln(vocab_size): the loss of guessing every token alike
    heads: tuple  # a HeadProfile per head, layer by layer
    # What attention spread evenly over every key would give over the same rows: its shares
    # (itself, previous, BOS, further back) and its mean entropy, the most a head can have.
    even_mass: tuple
    even_entropy: float

    def change(self, profile):
        """How much the probe loss rises when `profile`'s head is zeroed."""
        return profile.ablated_loss - self.loss

    @property
    def learned(self):
        """How far below a uniform guess the model's probe loss is: what it has learned."""
        return self.uniform_loss - self.loss

    def label(self, profile):
        """A few words on where `profile`'s head looks (see MOSTLY and LEANS)."""
        if profile.mass[profile.top] >= MOSTLY:
            return f"mostly {WHERE[profile.top]}"
        # A place even attention never reaches (BOS, further back with block_size 2) has no
        # share to lean to.
        ratios = [mass / even if even else 0.0 for mass, even in zip(profile.mass,
                                                                     self.even_mass)]
        leaning = max(range(len(ratios)), key=ratios.__getitem__)
        return f"leans to {WHERE[leaning]}" if ratios[leaning] >= LEANS else SPREAD_OUT


class AttentionTally:
    """Running sums of one head's attention rows."""

    def __init__(self):
        self.mass = [0.0] * len(WHERE)
        self.entropy = 0.0
        self.rows = 0

    def add(self, row):
        query = len(row) - 1  # the row's own position: keys 0..query
        self.mass[SELF] += row[query]
        self.mass[PREVIOUS] += row[query - 1]
        if query >= 2:  # at position 1 key 0 (BOS) is the previous token
            self.mass[BOS] += row[0]
        self.mass[FURTHER] += math.fsum(row[1:query - 1])
        self.entropy -= math.fsum(w * math.log2(w) for w in row if w > 0)
        self.rows += 1

    @property
    def mean_mass(self):
        return tuple(mass / self.rows for mass in self.mass)

    @property
    def mean_entropy(self):
        return self.entropy / self.rows


def profile_heads(weights, tokenizer, config, probe, *, cancelled=None, progress=None):
    """A HeadsReport of every head over the names `probe`, float forward on `weights`.

    It runs 1 + n_layer * n_head passes over the probe (the intact model, then each head
    zeroed in turn): seconds on the default config. `cancelled`, a callable without
    arguments, is asked before each name, and once it returns True the measurement raises
    engine.probe.Cancelled; `progress(done, total)` hears after each name's forward pass how
    many of all the passes are done."""
    if config.block_size < 2:
        raise ValueError("with block_size 1 every position attends only to itself, so no "
                         "head has a choice of where to look")
    pairs = [(layer, head) for layer in range(config.n_layer) for head in range(config.n_head)]
    total, done = len(probe) * (1 + len(pairs)), 0

    def count(_forward):
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    tallies = {pair: AttentionTally() for pair in pairs}
    even = AttentionTally()

    def tally(forward):
        for query, by_layer in enumerate(forward.attention[1:], 1):
            even.add([1 / (query + 1)] * (query + 1))
            for layer, by_head in enumerate(by_layer):
                for head, row in enumerate(by_head):
                    tallies[layer, head].add(row)
        count(forward)

    def measure(ablate, each):
        return mean_loss(probe, weights, tokenizer, config, ablate, cancelled=cancelled,
                         each=each)

    loss = measure(NO_ABLATION, tally)
    heads = tuple(HeadProfile(*pair, tallies[pair].mean_mass, tallies[pair].mean_entropy,
                              measure({pair}, count)) for pair in pairs)
    return HeadsReport(len(probe), even.rows, loss, math.log(tokenizer.vocab_size), heads,
                       even.mean_mass, even.mean_entropy)
