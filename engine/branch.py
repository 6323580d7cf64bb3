"""Branch from here: an independent copy of a run at its current step, with one thing changed.

The fork has the run's exact state (weights, Adam's moments, the step, the random stream and
the document order) in objects of its own, so stepping either one never moves the other.
Forked with no change, it continues exactly like the original, bit for bit.
"""

import random
from dataclasses import replace

from .model import NO_ABLATION, check_ablation
from .trainer import Trainer


def fork(trainer, *, lr=None, order_seed=None, ablate=NO_ABLATION):
    """A new Trainer continuing `trainer` from its current step, sharing nothing mutable.

    - `lr`: the branch's peak learning rate. The schedule keeps its shape (it still falls
      linearly to 0 at num_steps), so the branch's step t uses lr * (1 - t / num_steps).
    - `order_seed`: the documents the current pass has not reached yet (from the next one
      on) are shuffled with `random.Random(order_seed)`; those already trained on keep their
      places, so a later pass sees the same mix. The run's own random stream (`rng`) is not
      drawn from: sampling from the branch continues the original's stream.
    - `ablate`: (layer, head) pairs whose output every training forward of the branch zeroes.

    Call it between steps (a staged step under way is refused), from the thread that steps
    `trainer`. A ValueError says what is wrong with a change.
    """
    if trainer.staged is not None:
        raise ValueError(f"step {trainer.step_count + 1} is under way in stages: "
                         f"branch between steps")
    config = trainer.config if lr is None else replace(trainer.config, lr=lr)
    ablate = frozenset(ablate)
    check_ablation(ablate, config)
    # One document is enough to build the model's shape: the setup's shuffle and initial
    # weights are then replaced by the original's order and state.
    branch = Trainer(config, trainer.docs[:1], ops=trainer.ops, pause_gc=trainer.pause_gc,
                     tokenizer=trainer.tokenizer)
    branch.restore_state(trainer.export_state(), trainer.last_grads)
    branch.docs = list(trainer.docs)
    branch.validation_docs = trainer.validation_docs
    branch.val_fraction = trainer.val_fraction
    branch.n_shuffled = trainer.n_shuffled
    branch.ablate = ablate
    if order_seed is not None:
        next_doc = trainer.step_count % len(branch.docs)
        remaining = branch.docs[next_doc:]
        random.Random(order_seed).shuffle(remaining)
        branch.docs[next_doc:] = remaining
    return branch
