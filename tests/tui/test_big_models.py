"""Big vocabularies and big models stay responsive: heavy work runs off the UI thread, in
slices or cancellable workers, or is refused or sampled above a stated size."""

import time

from engine import Config, Trainer, load_docs
from microgpt_tui.training import Command, TrainingLoop

# Big enough that the probe (50 names' float forward and 5 samples, ~1.6 s) is far slower
# than a training step (~0.3 s), small enough for a quick test.
SLOW = Config(n_layer=2, n_embd=64, num_steps=1000)


def test_a_step_asked_for_at_start_does_not_wait_for_the_first_probe():
    posted = []
    loop = TrainingLoop(Trainer(SLOW, load_docs()),
                        lambda message: posted.append((time.monotonic(), message.snapshot)))
    loop.send(Command.STEP)
    loop.send(Command.STOP)
    started = time.monotonic()
    loop.run(lambda: False)
    stepped = next(when for when, snapshot in posted if snapshot.step == 1)
    # The step itself takes ~0.3 s; the whole first probe would have taken ~1.6 s first.
    assert stepped - started < 1.0, stepped - started
    # The probe was left unfinished when the loop stopped: quitting does not wait for it.
    assert not any(snapshot.probe for _, snapshot in posted)
