"""The reference microgpt run's known losses, and a check of a run against them.

Karpathy's microgpt with the default config (seed 42) on names.txt logs step 1 loss 3.3660 and
step 10 loss 3.2229 (tests/engine/reference_log.txt). This engine reproduces every rounding of
that run, so its losses must equal these floats bit for bit; any other number means something
in the engine changed the arithmetic.
"""

import hashlib
from types import MappingProxyType

from .config import Config

# step -> loss of the reference run, at full float precision.
REFERENCE_LOSSES = MappingProxyType({1: 3.3659669475848504, 10: 3.2228882401182624})

# SHA-256 of names.txt's documents joined by newlines, in the order a seed-42 Trainer trains
# them (Trainer.docs, after its shuffle): the data and its order are both part of the run.
REFERENCE_DOCS_SHA256 = "aa6ef27b585ff29ec7ac0ff6bcd7ee9859fe76a4561ac4a32f8ac030dddd3ec3"
REFERENCE_NUM_DOCS = 32033


def docs_fingerprint(docs):
    return hashlib.sha256("\n".join(docs).encode()).hexdigest()


def is_reference_run(config, trainer_docs):
    """Whether the known losses apply: the default config, and names.txt in the order the
    Trainer trains it (`Trainer.docs`)."""
    # Counting first spares hashing a big dataset (50 MB: ~0.6 s at startup).
    return (config == Config() and len(trainer_docs) == REFERENCE_NUM_DOCS
            and docs_fingerprint(trainer_docs) == REFERENCE_DOCS_SHA256)


class ParityCheck:
    """Compares a run's losses, as they arrive, with the known ones (exact float equality)."""

    def __init__(self, expected=REFERENCE_LOSSES):
        self.expected = dict(expected)
        self.matched = set()
        self.mismatched = set()

    def observe(self, step, loss):
        if step in self.expected:
            (self.matched if loss == self.expected[step] else self.mismatched).add(step)

    @property
    def diverged_at(self):
        """The first known step whose loss differs, or None."""
        return min(self.mismatched, default=None)

    @property
    def badge(self):
        """"reference-exact", "diverged at step N", or "" before the first known step."""
        if self.mismatched:
            return f"diverged at step {self.diverged_at}"
        return "reference-exact" if self.matched else ""
