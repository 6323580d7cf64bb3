"""The run store on its own: the worker's snapshots applied in order, no App running."""

import time
from dataclasses import replace

import pytest
from textual.app import App

from engine import Trainer
from engine.checkpoint import load_checkpoint
from microgpt_tui.run import Change, RunStore
from microgpt_tui.training import Command, FollowOptimizer, SaveCheckpoint, TrainingLoop
from tests.tui.conftest import TINY, TINY_DOCS


class Published(list):
    """Stands in for the store's Textual signal: records each publication."""

    def publish(self, changes):
        self.append(changes)


def run_worker(commands, probe_every=1000, loss_history=(), trainer=None):
    """A store fed by a real TrainingLoop that served `commands` (then stopped)."""
    posted = []
    trainer = trainer or Trainer(TINY, TINY_DOCS)
    loop = TrainingLoop(trainer, posted.append, loss_history, probe_every)
    sent = []
    store = RunStore(App(), trainer, sent.append, probe_every=loop.probe_every,
                     probe_docs=loop.probe_docs)
    store.changed = Published()
    store.apply(loop.snapshot())
    for command in (*commands, Command.STOP):
        loop.send(command)
    deadline = time.monotonic() + 30
    loop.run(lambda: time.monotonic() > deadline)
    notices = [store.apply(message.snapshot) for message in posted]
    return store, loop, notices, sent


def test_steps_reach_the_store_with_every_loss_in_order():
    store, loop, _, _ = run_worker([Command.STEP] * 3)
    assert store.loss_history == loop.loss_history and len(store.loss_history) == 3
    assert store.step == 3 and store.last_result.step == 3
    assert store.last_result.loss == store.loss_history[-1]
    assert store.weights == loop.weights  # the snapshot the worker published last
    assert store.lr == store.last_result.lr
    assert Change.STEPS in store.changed[-2] or Change.STEPS in store.changed[-1]


def test_an_undo_shortens_the_history_and_drops_the_undone_steps_probes():
    store, _, notices, _ = run_worker([Command.STEP] * 4 + [Command.UNDO] * 2, probe_every=2)
    assert store.step == 2 and len(store.loss_history) == 2
    assert store.last_result.step == 2
    # Frames at 0, 2 and 4 were measured; the one of step 4 belongs to an undone step.
    assert [record.step for record in store.probes] == [0, 2]
    assert ("Undid step 3: back at step 2.", "information", 2) in notices
    assert {Change.STEPS, Change.REWOUND, Change.PROBE} <= store.changed[-2]


def test_undo_with_nothing_left_says_why():
    _, _, notices, _ = run_worker([Command.UNDO])
    assert notices[-1] == ("Nothing more to undo: no step has been taken yet.", "warning", 5)


def test_a_loaded_checkpoint_comes_in_as_the_first_report(tmp_path):
    path = tmp_path / "run.json"
    first, _, _, _ = run_worker([Command.STEP, Command.STEP, SaveCheckpoint(str(path))])
    trainer, losses = load_checkpoint(path, TINY_DOCS)
    store, _, notices, _ = run_worker([Command.UNDO], loss_history=losses, trainer=trainer)
    assert store.loss_history == first.loss_history and store.loaded_steps == 2
    assert store.last_result is None and store.lr == trainer.adam.lr_at(1)
    assert notices[-1][0] == ("Nothing more to undo: the steps before the checkpoint was "
                              "loaded cannot be undone.")


def test_stages_are_kept_until_the_next_step_starts_and_dropped_on_undo():
    store, _, notices, _ = run_worker([Command.STAGE, Command.STAGE])
    assert store.stage.kind == "forward" and store.stage.number == 2
    store, _, notices, _ = run_worker([Command.STAGE, Command.UNDO])
    assert store.stage is None and notices[-1][0].startswith("Dropped step 1")
    store, _, _, _ = run_worker([Command.STAGE, Command.STEP])
    assert store.stage.result is not None  # the finished step's last stage stays on screen
    store.stage_requested()
    assert store.stage is None and store.changed[-1] == {Change.STAGE}


def test_the_optimizer_is_asked_for_only_while_a_view_follows_it():
    store, _, _, sent = run_worker([FollowOptimizer(True), Command.STEP])
    assert store.optimizer.step == 1
    store.follow_optimizer(True)
    store.follow_optimizer(True)
    store.follow_optimizer(False)
    assert sent == [FollowOptimizer(True), FollowOptimizer(True)]  # one view still follows
    store.follow_optimizer(False)
    assert sent[-1] == FollowOptimizer(False) and store.optimizer is None


def test_running_finished_and_diverged_become_state_changes_and_notices():
    config = replace(TINY, num_steps=2)
    store, _, notices, _ = run_worker([Command.RUN, Command.PAUSE, Command.STEP, Command.STEP],
                                      trainer=Trainer(config, TINY_DOCS))
    assert store.finished and not store.running and store.step == 2
    assert ("Training finished: 2 steps.", "information", 5) in notices
    assert ("training is finished", "warning", 8) in notices  # the step asked for after it
    # Running, paused, finished: each a change of state.
    assert sum(Change.STATE in changes for changes in store.changed) == 3
    diverging = replace(TINY, lr=1e6)
    store, _, notices, _ = run_worker([Command.STEP] * 3, trainer=Trainer(diverging, TINY_DOCS))
    assert not store.running
    assert any(severity == "warning" and "training paused" in text
               for text, severity, _ in filter(None, notices))


def test_sampling_goes_through_the_store_and_never_touches_training():
    store, loop, _, _ = run_worker([Command.STEP])
    state = loop.trainer.export_state()
    store.sample()
    assert len(store.sampling.events) == 1 and not store.showing_training
    store.sample(until_done=True)
    assert store.sampling.events[-1].done
    store.change_temperature(+1)
    assert store.sampling.temperature == 0.6 and store.sampling.sampler.temperature == 0.6
    store.new_sample()
    assert store.sampling.events == ()
    store.show_training()
    assert store.showing_training and store.changed[-1] == {Change.STEPS}
    assert loop.trainer.export_state() == state


@pytest.mark.parametrize("start, presses, expected", [(0.5, 20, 2.0), (0.5, -20, 0.1)])
def test_temperature_stays_within_its_range(start, presses, expected):
    store, _, _, _ = run_worker([])
    for _ in range(abs(presses)):
        store.change_temperature(1 if presses > 0 else -1)
    assert store.sampling.temperature == expected
