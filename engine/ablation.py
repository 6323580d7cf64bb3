"""Head ablation: what the model loses when one attention head's output is zeroed.

The same weights are run twice, with and without the head (`gpt(..., ablate=...)`): once over
a fixed probe set of documents (the mean loss, as a training step measures it) and once to
draw a few samples from the same seed, so the two columns differ only by the head.
"""

from dataclasses import dataclass

from .model import NO_ABLATION, check_ablation
from .probe import SAMPLE_COUNT, draw_samples, mean_loss, probe_documents

# Bigger than the filmstrip's probe (engine.probe.PROBE_SIZE): an ablation is measured once,
# on request, and a small change in the loss should not drown in the noise of few names.
ABLATION_PROBE_SIZE = 200
PROBE_SEED = 0
SAMPLE_SEED = 0


def probe_set(docs, size=ABLATION_PROBE_SIZE, seed=PROBE_SEED):
    """`size` documents chosen without replacement by `Random(seed)` (all of them if fewer)."""
    return probe_documents(docs, seed, size)


@dataclass(frozen=True)
class AblationComparison:
    ablate: frozenset  # the (layer, head) pairs zeroed in the second column
    probe_size: int
    temperature: float
    loss: float  # mean probe loss with every head
    ablated_loss: float
    samples: tuple  # drawn with every head
    ablated_samples: tuple  # drawn from the same seed without the ablated heads


def compare_ablation(weights, tokenizer, config, probe, ablate, *, temperature=0.5,
                     count=SAMPLE_COUNT, seed=SAMPLE_SEED, cancelled=None):
    """Probe loss and samples with every head, and with the heads in `ablate` zeroed.

    It takes a second or two on the default config: `cancelled`, a callable without
    arguments, is asked before each document and each sample, and once it returns True the
    comparison stops and raises engine.probe.Cancelled."""
    ablate = frozenset(ablate)
    check_ablation(ablate, config)

    def measure(heads_off):
        return (mean_loss(probe, weights, tokenizer, config, heads_off, cancelled=cancelled),
                draw_samples(weights, tokenizer, config, temperature=temperature,
                             ablate=heads_off, count=count, seed=seed, cancelled=cancelled))

    loss, samples = measure(NO_ABLATION)
    ablated_loss, ablated_samples = measure(ablate)
    return AblationComparison(ablate, len(probe), temperature, loss, ablated_loss, samples,
                              ablated_samples)
