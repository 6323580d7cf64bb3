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
# The validation loss (--val-fraction) is measured on at most this many held-out names, the
# same ones each time, every probe_interval steps: 200 names take ~0.4 s of float forward
# passes, a twentieth of a default run's time over its 20 measurements.
VALIDATION_SIZE = 200


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


def validation_documents(held_out, size=VALIDATION_SIZE):
    """The held-out documents the validation loss is measured on: the first `size` of them
    (they come in the Trainer's shuffled order, so they are a random choice fixed by the
    seed)."""
    return tuple(held_out[:size])


class Cancelled(Exception):
    """A measurement stopped early because its `cancelled()` returned True: whoever asked for
    it (say, a screen that has been closed) no longer wants the result."""


def stop_if_cancelled(cancelled):
    if cancelled is not None and cancelled():
        raise Cancelled


def mean_loss(docs, weights, tokenizer, config, ablate=NO_ABLATION, *, cancelled=None,
              each=None):
    """The mean over `docs` of each document's mean next-token loss, as a training step has
    it, float forward on `weights` (with the heads in `ablate` zeroed).

    `cancelled`, a callable without arguments, is asked before each document; when it
    returns True the measurement raises Cancelled. `each`, if given, is called with every
    document's DocumentForward as it is done (to read its attention, or count progress)."""
    if not docs:
        raise ValueError("no documents to measure the loss on")
    losses = []
    for doc in docs:
        stop_if_cancelled(cancelled)
        forward = forward_document(tokenizer.document(doc), weights, config, FLOAT_OPS, ablate)
        losses.append(forward.loss)
        if each is not None:
            each(forward)
    return math.fsum(losses) / len(docs)


def draw_samples(weights, tokenizer, config, *, temperature, seed=0, count=SAMPLE_COUNT,
                 ablate=NO_ABLATION, cancelled=None):
    """`count` names from a Sampler of their own, so the same seed gives the same draws.
    `cancelled` is asked before each name, as in mean_loss."""
    sampler = Sampler(weights, tokenizer, config, temperature=temperature, seed=seed,
                      ablate=ablate)
    samples = []
    for _ in range(count):
        stop_if_cancelled(cancelled)
        samples.append(sampler.sample())
    return tuple(samples)


def probe_slices(weights, step, docs, tokenizer, config):
    """`probe` one piece at a time: a generator that yields after each document's loss and
    each sample, and returns the ProbeRecord. On a big model one document's float forward
    takes a quarter of a second (n_layer 8, n_embd 128) and the whole probe about 19 s, so
    the training loop measures a slice or two between two commands instead of all at once."""
    losses = []
    for doc in docs:
        losses.append(mean_loss((doc,), weights, tokenizer, config))
        yield
    # As draw_samples draws them: a Sampler of its own, seeded the same every time.
    sampler = Sampler(weights, tokenizer, config, temperature=SAMPLE_TEMPERATURE,
                      seed=config.seed)
    samples = []
    for _ in range(SAMPLE_COUNT):
        samples.append(sampler.sample())
        yield
    return ProbeRecord(step, math.fsum(losses) / len(docs), tuple(samples))


def finish(slices):
    """Run a generator of slices to its end; its return value."""
    while True:
        try:
            next(slices)
        except StopIteration as done:
            return done.value


def probe(weights, step, docs, tokenizer, config):
    """Measure the weights of step `step` on `docs`: the loss and the samples."""
    return finish(probe_slices(weights, step, docs, tokenizer, config))
