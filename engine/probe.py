"""A fixed yardstick for a model in training: its mean loss on a fixed set of documents and
a few names drawn from a fixed seed, on a snapshot of the weights (plain floats).

Training loss jumps from name to name; the same probe names measured again and again show
the trend, and samples drawn with the same seed show the same draws getting better.
"""

import math
import random
from dataclasses import dataclass

from .model import FLOAT_OPS, NO_ABLATION, forward_document
from .sampler import Sampler

# A frame runs the float forward over every probe name in the training thread, so its size
# is what the filmstrip costs training: 200 names (~0.37 s a frame) made a 1,000-step run
# take 80% longer; 50 names (~0.1 s) keep that near a tenth and still show the trend.
PROBE_SIZE = 50
SAMPLE_COUNT = 5
SAMPLE_TEMPERATURE = 0.5
FRAMES_PER_RUN = 20


@dataclass(frozen=True)
class ProbeRecord:
    step: int  # steps taken when the weights were measured
    loss: float  # mean loss over the probe documents
    samples: tuple  # SAMPLE_COUNT names drawn with the same seed every time


def probe_interval(num_steps):
    """Probe every num_steps / 20 steps (50 for the default 1,000), at least every step."""
    return max(1, round(num_steps / FRAMES_PER_RUN))


def probe_documents(docs, seed, size=PROBE_SIZE):
    """`size` documents (all of them if there are fewer), the same for the same seed."""
    docs = list(docs)
    return tuple(random.Random(seed).sample(docs, min(size, len(docs))))


def mean_loss(docs, weights, tokenizer, config, ablate=NO_ABLATION):
    """The mean over `docs` of each document's mean next-token loss, as a training step has
    it, float forward on `weights` (with the heads in `ablate` zeroed)."""
    if not docs:
        raise ValueError("no documents to measure the loss on")
    losses = (
        forward_document(tokenizer.document(doc), weights, config, FLOAT_OPS, ablate).loss
        for doc in docs
    )
    return math.fsum(losses) / len(docs)


def draw_samples(weights, tokenizer, config, *, temperature, seed=0, count=SAMPLE_COUNT,
                 ablate=NO_ABLATION):
    """`count` names from a Sampler of their own, so the same seed gives the same draws."""
    sampler = Sampler(weights, tokenizer, config, temperature=temperature, seed=seed,
                      ablate=ablate)
    return tuple(sampler.sample() for _ in range(count))


def probe(weights, step, docs, tokenizer, config):
    """Measure the weights of step `step` on `docs`: the loss and the samples."""
    return ProbeRecord(step, mean_loss(docs, weights, tokenizer, config),
                       draw_samples(weights, tokenizer, config, temperature=SAMPLE_TEMPERATURE,
                                    seed=config.seed))
