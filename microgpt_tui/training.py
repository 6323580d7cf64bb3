"""The training loop that runs in a Textual thread worker.

The app talks to it only through `send()` (a thread-safe queue of commands). It reads only
what the loop replaces whole between steps and never mutates: `weights` (an immutable float
snapshot), `stamped_weights` (the same with its step count), and the fixed `probe_docs`.
The loop talks back only by posting messages that carry frozen records (`StepResult`,
`StepStage`, snapshots), so no widget ever sees a live engine object. The loop also keeps
the undo history: the trainer's state and last gradients before each of the last
HISTORY_LENGTH steps.
"""

import math
import queue
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from engine.checkpoint import save_checkpoint
from engine.probe import probe, probe_documents, probe_interval

from .messages import (
    CheckpointFailed,
    CheckpointSaved,
    OptimizerSnapshotReady,
    Probed,
    Rewound,
    StageTaken,
    Stepped,
    TrainingStateChanged,
)

HISTORY_LENGTH = 50


def packed(state):
    """`Trainer.export_state()` output with its numbers in arrays, as `restore_state` takes
    it: a list keeps every float as a 24-byte object, an array as 8 bytes, so the history
    needs about a quarter of the memory."""
    version, internal, gauss_next = state["rng_state"]
    return {
        **state,
        "params": {name: [array("d", row) for row in matrix]
                   for name, matrix in state["params"].items()},
        "adam_m": array("d", state["adam_m"]),
        "adam_v": array("d", state["adam_v"]),
        "rng_state": (version, array("L", internal), gauss_next),
    }


def weights_are_finite(weights):
    # One C-level sum instead of 4,192 isfinite calls: inf or nan anywhere makes it non-finite
    # (a sum of finite weights could only overflow if they were ~1e308 already).
    return math.isfinite(sum(sum(row) for matrix in weights.values() for row in matrix))


class Command(Enum):
    STEP = "step"
    RUN = "run"
    PAUSE = "pause"
    STOP = "stop"
    STAGE = "stage"  # the next stage of a staged step (starting one if none is under way)
    UNDO = "undo"  # undo the last step, or drop a staged step under way


# A finished run answers these with "training is finished" (a staged step never outlives
# its update, so none is under way then).
NEEDS_A_NEXT_STEP = (Command.RUN, Command.STEP, Command.STAGE)


@dataclass(frozen=True)
class SaveCheckpoint:
    """A command: write a checkpoint to `path`. The loop does it between two steps, so the
    file is one consistent state and no other thread ever reads the trainer."""

    path: str


@dataclass(frozen=True)
class SnapshotOptimizer:
    """A command: post an OptimizerSnapshotReady with the optimizer's state through `reply`
    (the asker's post_message). Answered between two steps, so the state is consistent."""

    reply: Callable


class TrainingLoop:
    # While running, the UI is told at most this often (in seconds): redraws are throttled,
    # training is not.
    REPORT_INTERVAL = 0.1
    REDRAW_PAUSE = 0.015
    # How long an idle loop waits for a command before it looks at cancellation again.
    IDLE_POLL = 0.05

    def __init__(self, trainer, post_message, loss_history=()):
        self.trainer = trainer
        self.loss_history = list(loss_history)  # every step's loss, saved with checkpoints
        self.weights = MappingProxyType(trainer.weights())
        # (steps taken, weights), replaced as one, for views that must say which step they show.
        self.stamped_weights = (trainer.step_count, self.weights)
        self._post = post_message
        self._commands = queue.SimpleQueue()
        self._running = False
        self._unreported = []
        self._latest = None
        self._last_report = 0.0
        # (restore point before a step, the StepResult before that step): enough to undo it.
        self._history = deque(maxlen=HISTORY_LENGTH)
        self._staged_from = None  # the restore point before the staged step under way
        # The probe filmstrip: the model measured every `probe_every` steps (in this thread:
        # 200 names of float forward take a few hundred ms, far too long for the UI thread).
        self.probe_every = probe_interval(trainer.config.num_steps)
        self.probe_docs = probe_documents(trainer.docs, trainer.config.seed)

    def send(self, command):
        """Queue a command for the loop (safe to call from any thread)."""
        self._commands.put(command)

    def run(self, is_cancelled):
        """Serve commands until STOP or cancellation; train continuously while running."""
        if not is_cancelled():
            self._probe()  # the filmstrip's first frame: the model as it starts
        while not is_cancelled():
            try:
                command = self._commands.get(block=not self._running, timeout=self.IDLE_POLL)
            except queue.Empty:
                command = None
            if command is Command.STOP:
                break
            if isinstance(command, SaveCheckpoint):
                self._save(command.path)
            elif isinstance(command, SnapshotOptimizer):
                command.reply(OptimizerSnapshotReady(self.trainer.optimizer_snapshot()))
            if command in NEEDS_A_NEXT_STEP and self.trainer.finished:
                self._post(TrainingStateChanged(False, True, "training is finished"))
            elif command is Command.PAUSE and self._running:
                self._set_running(False)
            elif command is Command.RUN and not self._running:
                self._set_running(True)
            elif command is Command.STEP:
                self._step()
                self._report()
            elif command is Command.STAGE:
                self._stage()
            elif command is Command.UNDO:
                self._undo()
            if self._running:
                self._step()
                if time.monotonic() - self._last_report >= self.REPORT_INTERVAL:
                    self._report()
                    # Step aside while the UI thread draws what was just reported: it would
                    # otherwise share the GIL with the next step and take several times as
                    # long, and a key pressed meanwhile would wait for the whole frame.
                    time.sleep(self.REDRAW_PAUSE)
        self._report()
        self._save_pending()

    def _step(self):
        staged = self.trainer.staged
        before = self._staged_from if staged else self._restore_point()
        try:
            result = self.trainer.step()  # finishes a staged step under way
        except (ArithmeticError, ValueError) as error:
            self._failed(error)
            return
        if staged is not None:
            self._post(StageTaken(staged.stage))
        self._completed(before, result)

    def _stage(self):
        if self.trainer.staged is None:
            self._staged_from = self._restore_point()
            self.trainer.staged_step()
        try:
            stage = self.trainer.staged.advance()
        except (ArithmeticError, ValueError) as error:
            self._failed(error)
            return
        self._post(StageTaken(stage))
        if stage.result is not None:
            self._completed(self._staged_from, stage.result)
            self._report()

    def _failed(self, error):
        # A probability underflowed to 0 (log) or a number overflowed: the step was not
        # applied, so the model is still the one from the previous step.
        self._diverged(f"step {self.trainer.step_count + 1} failed ({error})")

    def _undo(self):
        staged = self.trainer.staged
        if staged is not None:
            staged.abandon()
            self._post(Rewound(self.trainer.step_count, self._latest, undone=False,
                               dropped_stage=True))
            return
        if not self._history:
            self._post(Rewound(self.trainer.step_count, self._latest, undone=False))
            return
        self._report()  # the app must hold the loss it is about to drop
        (state, grads), self._latest = self._history.pop()
        self.trainer.restore_state(state, grads)
        self.loss_history.pop()  # a checkpoint saved now must not keep the undone loss
        self._publish_weights()
        self._post(Rewound(self.trainer.step_count, self._latest, undone=True))

    def _restore_point(self):
        """What undoing back to here restores: the packed trainer state and the gradients of
        the step that led to it, which the optimizer view shows (None if this run has taken
        no step since it started or loaded a checkpoint). Measured with tracemalloc on the
        default model: 50 steps' gradients take 1.7 MB as arrays (6.1 MB as tuples of floats)
        of the history's 9.9 MB."""
        grads = self.trainer.last_grads
        return (packed(self.trainer.export_state()),
                None if grads is None else array("d", grads))

    def _completed(self, before, result):
        self._history.append((before, self._latest))
        self._publish_weights()
        self.loss_history.append(result.loss)
        self._unreported.append(result.loss)
        self._latest = result
        if not math.isfinite(result.loss):
            self._report()
            self._diverged(f"loss became {result.loss} at step {result.step}")
        elif not weights_are_finite(self.weights):
            # The loss was still finite, but Adam's update overflowed: sampling and every
            # view would fail on these weights.
            self._report()
            self._diverged(f"the weights overflowed in step {result.step}'s update")
        elif self.trainer.finished:
            self._report()
            self._set_running(False)
        if self.trainer.step_count % self.probe_every == 0:
            self._report()  # the step is shown first; the probe takes a few hundred ms
            self._probe()

    def _publish_weights(self):
        self.weights = MappingProxyType(self.trainer.weights())
        self.stamped_weights = (self.trainer.step_count, self.weights)

    def _probe(self):
        try:
            record = probe(self.weights, self.trainer.step_count, self.probe_docs,
                           self.trainer.tokenizer, self.trainer.config)
        except (ArithmeticError, ValueError):
            return  # the weights have diverged; the loss pane already says so
        self._post(Probed(record))

    def _save(self, path):
        self._report()  # so the loss pane shows the step being saved
        try:
            save_checkpoint(path, self.trainer, self.loss_history)
        except ValueError as error:
            self._post(CheckpointFailed(str(error)))
        else:
            self._post(CheckpointSaved(str(path), self.trainer.step_count))

    def _save_pending(self):
        # A save asked for just before quitting still happens: w was pressed for a reason.
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, SaveCheckpoint):
                self._save(command.path)

    def _diverged(self, what):
        self._running = False
        self._post(TrainingStateChanged(
            False, self.trainer.finished,
            f"{what}: training paused (the learning rate is probably too high)",
        ))

    def _set_running(self, running):
        self._running = running
        if not running:
            self._report()
        self._post(TrainingStateChanged(running, self.trainer.finished))

    def _report(self):
        if self._unreported:
            self._post(Stepped(self._latest, tuple(self._unreported)))
            self._unreported = []
        self._last_report = time.monotonic()
