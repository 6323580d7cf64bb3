"""The training loop that runs in a Textual thread worker.

The app talks to it only through `send()` (a thread-safe queue of commands). The loop talks
back only by posting `Reported` messages, each one frozen `RunSnapshot` of the run (losses,
the newest StepResult, an immutable weights snapshot, the running state, what happened), so
no widget ever sees a live engine object; the run store (run.py) applies them in order. The
loop also keeps the undo history: the trainer's state and last gradients before each of the
last HISTORY_LENGTH steps.
"""

import math
import queue
import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum
from functools import partial
from itertools import chain
from types import MappingProxyType

from engine.branch import fork
from engine.checkpoint import save_checkpoint
from engine.probe import (
    mean_loss,
    probe_documents,
    probe_interval,
    probe_slices,
    validation_documents,
)
from engine.timelapse import attention_frame, watched_name

from .messages import BranchCurve, Event, Reported, RunSnapshot

HISTORY_LENGTH = 50
# A probe is measured in slices (a document or a sample each) between commands, for at most
# this long at a time (at least one slice): on a big model (n_layer 8, n_embd 128) the whole
# probe takes 19 s, which `s` and space used to wait for.
PROBE_SLICE_TIME = 0.05


def packed(state):
    """`Trainer.export_state()` output with its numbers in arrays: a list keeps every float
    as a 24-byte object, an array as 8 bytes, so the history needs about a quarter of the
    memory. Each matrix is one flat array with its row length, not an array per row: the
    cyclic GC tracks every array, and a state held ~230 of them, moved into the oldest
    generation at every step; at 60+ steps a second that set off a full collection (~12 ms,
    a stalled frame) every two seconds. `unpacked` makes it what `restore_state` takes."""
    version, internal, gauss_next = state["rng_state"]
    return {
        **state,
        "params": {name: (len(matrix[0]), array("d", chain.from_iterable(matrix)))
                   for name, matrix in state["params"].items()},
        "adam_m": array("d", state["adam_m"]),
        "adam_v": array("d", state["adam_v"]),
        "rng_state": (version, array("L", internal), gauss_next),
    }


def unpacked(state):
    """A `packed` state with its matrices as rows again (arrays), as `restore_state` takes."""
    return {
        **state,
        "params": {name: [flat[start:start + width] for start in range(0, len(flat), width)]
                   for name, (width, flat) in state["params"].items()},
    }


def weights_are_finite(weights):
    # One C-level sum instead of 4,192 isfinite calls: inf or nan anywhere makes it non-finite
    # (a sum of finite weights could only overflow if they were ~1e308 already).
    return math.isfinite(sum(sum(row) for matrix in weights.values() for row in matrix))


def thread_cpu_clock(thread_id):
    """A function that returns the CPU seconds thread `thread_id` has used so far, or None
    where the platform has no per-thread CPU clocks (macOS, Windows)."""
    try:
        clock = time.pthread_getcpuclockid(thread_id)
        time.clock_gettime(clock)
    except (AttributeError, OSError):
        return None
    return partial(time.clock_gettime, clock)


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
class FollowOptimizer:
    """A command: include the optimizer's state in every report (`follow`), or stop. It is
    read between two steps, so it is consistent; it costs a pass over every weight, so it is
    taken only while a view shows it."""

    follow: bool


@dataclass(frozen=True)
class StartBranch:
    """A command: fork the trainer between two steps (engine.branch.fork) with its lr times
    `lr_factor` and, with an `order_seed`, the documents not reached yet in a new order; the
    branch then takes one step after each step of the run. A new branch replaces the old."""

    label: str
    lr_factor: float = 1.0
    order_seed: int | None = None
    ablate: frozenset = frozenset()  # (layer, head) pairs the branch trains without


class TrainingLoop:
    # While running, the UI is told at most this often (in seconds): redraws are throttled,
    # training is not.
    REPORT_INTERVAL = 0.1
    # The training thread never waits on I/O: whenever the UI thread has work (a report to
    # draw, a key), the two share the GIL and a frame takes about twice its CPU time. So the
    # loop steps aside while the UI thread is busy: after each report, and after any step
    # during which the UI thread used more than UI_BUSY seconds of CPU. It waits in UI_POLL
    # sleeps until a poll in which the UI thread was idle, for at most MAX_STEP_ASIDE (a UI
    # busy for good must not stop training). Without per-thread CPU clocks it sleeps
    # REDRAW_PAUSE after each report instead.
    UI_BUSY = 0.0005
    UI_POLL = 0.001
    MAX_STEP_ASIDE = 0.05
    REDRAW_PAUSE = 0.015
    # How long an idle loop waits for a command before it looks at cancellation again.
    IDLE_POLL = 0.05

    def __init__(self, trainer, post_message, loss_history=(), probe_every=None):
        self.trainer = trainer
        self.loss_history = list(loss_history)  # every step's loss, saved with checkpoints
        self.weights = MappingProxyType(trainer.weights())
        self._post = post_message
        self._commands = queue.SimpleQueue()
        self._running = False
        # A loaded checkpoint's losses go out with the first report, as any new loss would.
        self._unreported = list(loss_history)
        self._latest = None
        self._last_report = 0.0
        self._following_optimizer = False
        # (restore point before a step, the StepResult before that step): enough to undo it.
        self._history = deque(maxlen=HISTORY_LENGTH)
        self._staged_from = None  # the restore point before the staged step under way
        self.branch = None  # the forked Trainer stepped alongside, while it can step
        self._branch_curve = None  # its BranchCurve (without losses), kept after it stops
        self._branch_losses = []  # the branch's loss at each of its steps
        # The probe filmstrip: the model measured every `probe_every` steps (in this thread:
        # a float forward pass over the probe names takes tens of ms to tens of seconds, too
        # long for the UI thread).
        self.probe_every = probe_every or probe_interval(trainer.config.num_steps)
        self.probe_docs = probe_documents(trainer.docs, trainer.config.seed)
        # The attention time-lapse watches one of them at every frame of the filmstrip.
        self.watched_name = watched_name(self.probe_docs)
        # (step, slices) of each probe under way, oldest first: measured a slice at a time
        # between commands, each on the weights snapshot of its own step.
        self._probes = deque()
        # With --val-fraction, the validation loss is measured with the filmstrip's frames.
        self.validation_docs = validation_documents(trainer.validation_docs)
        # The app makes the loop on its UI thread.
        self._ui_cpu = thread_cpu_clock(threading.get_ident())

    def send(self, command):
        """Queue a command for the loop (safe to call from any thread)."""
        self._commands.put(command)

    def run(self, is_cancelled):
        """Serve commands until STOP or cancellation; train continuously while running."""
        if not is_cancelled():
            self._start_probe()  # the filmstrip's first frame: the model as it starts
            self._measure_probes()  # all of it on a small model, before the first command
        while not is_cancelled():
            try:
                # A probe under way is measured whenever no command waits.
                command = self._commands.get(block=not (self._running or self._probes),
                                             timeout=self.IDLE_POLL)
            except queue.Empty:
                command = None
            if command is Command.STOP:
                break
            if isinstance(command, SaveCheckpoint):
                self._save(command.path)
            elif isinstance(command, StartBranch):
                self._start_branch(command)
            elif isinstance(command, FollowOptimizer):
                self._following_optimizer = command.follow
                if command.follow:
                    self.report()
            if command in NEEDS_A_NEXT_STEP and self.trainer.finished:
                self.report(Event.REFUSED)
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
                ui_used = self._ui_cpu_used()
                self._step()
                if time.monotonic() - self._last_report >= self.REPORT_INTERVAL:
                    self._report()
                    self._step_aside()
                elif self._ui_cpu_used() - ui_used > self.UI_BUSY:
                    self._step_aside()
            if self._probes:
                self._measure_probes()
        self._report()
        self._save_pending()

    def _ui_cpu_used(self):
        return 0.0 if self._ui_cpu is None else self._ui_cpu()

    def _step_aside(self):
        """Wait while the UI thread works, so that it draws (or answers a key) alone."""
        if self._ui_cpu is None:
            time.sleep(self.REDRAW_PAUSE)
            return
        deadline = time.monotonic() + self.MAX_STEP_ASIDE
        used = self._ui_cpu()
        while time.monotonic() < deadline:
            time.sleep(self.UI_POLL)
            before, used = used, self._ui_cpu()
            if used - before < self.UI_POLL / 4:
                return  # idle: waiting for input, or for its next frame

    def _step(self):
        staged = self.trainer.staged
        before = self._staged_from if staged else self._restore_point()
        try:
            result = self.trainer.step()  # finishes a staged step under way
        except (ArithmeticError, ValueError) as error:
            self._failed(error)
            return
        self._completed(before, result, staged and staged.stage)

    def _stage(self):
        if self.trainer.staged is None:
            self._staged_from = self._restore_point()
            self.trainer.staged_step()
        try:
            stage = self.trainer.staged.advance()
        except (ArithmeticError, ValueError) as error:
            self._failed(error)
            return
        if stage.result is None:
            self.report(stage=stage)
        else:
            self._completed(self._staged_from, stage.result, stage)

    def _failed(self, error):
        # A probability underflowed to 0 (log) or a number overflowed: the step was not
        # applied, so the model is still the one from the previous step.
        self._diverged(f"step {self.trainer.step_count + 1} failed ({error})")

    def _undo(self):
        staged = self.trainer.staged
        if staged is not None:
            staged.abandon()
            self.report(Event.DROPPED_STAGE)
            return
        if not self._history:
            self.report(Event.NOTHING_TO_UNDO)
            return
        (state, grads), self._latest = self._history.pop()
        self.trainer.restore_state(unpacked(state), grads)
        # The branch was forked from, or has stepped past, a state that no longer exists.
        self.branch = self._branch_curve = None
        # A probe of the undone step would measure weights that no longer exist.
        self._probes = deque(probe for probe in self._probes
                             if probe[0] <= self.trainer.step_count)
        self.loss_history.pop()  # a checkpoint saved now must not keep the undone loss
        if self._unreported:
            self._unreported.pop()  # never shown: the report's step count drops it anyway
        self._publish_weights()
        self.report(Event.UNDONE)

    def _restore_point(self):
        """What undoing back to here restores: the packed trainer state and the gradients of
        the step that led to it, which the optimizer view shows (None if this run has taken
        no step since it started or loaded a checkpoint). Measured with tracemalloc on the
        default model: 50 steps' gradients take 1.7 MB as arrays (6.1 MB as tuples of floats)
        of the history's 9.9 MB."""
        grads = self.trainer.last_grads
        return (packed(self.trainer.export_state()),
                None if grads is None else array("d", grads))

    def _completed(self, before, result, stage=None):
        """Book a finished step; a staged one's last `stage` goes out with its report."""
        self._history.append((before, self._latest))
        self._publish_weights()
        self.loss_history.append(result.loss)
        self._unreported.append(result.loss)
        self._latest = result
        self._step_branch()
        if not math.isfinite(result.loss):
            self._diverged(f"loss became {result.loss} at step {result.step}", stage)
        elif not weights_are_finite(self.weights):
            # The loss was still finite, but Adam's update overflowed: sampling and every
            # view would fail on these weights.
            self._diverged(f"the weights overflowed in step {result.step}'s update", stage)
        elif self.trainer.finished:
            self._running = False
            self.report(Event.FINISHED, stage=stage)
        elif stage is not None:
            self.report(stage=stage)
        if self.trainer.step_count % self.probe_every == 0:
            self._report()  # the step is shown first; the probe comes in later
            self._start_probe()

    def _start_branch(self, command):
        try:
            self.branch = fork(self.trainer, lr=self.trainer.config.lr * command.lr_factor,
                               order_seed=command.order_seed, ablate=command.ablate)
        except ValueError as error:
            self.report(Event.BRANCH_FAILED, f"cannot branch: {error}")
            return
        self._branch_curve = BranchCurve(command.label, self.trainer.step_count, ())
        self._branch_losses = []
        self.report(Event.BRANCHED, command.label)

    def _step_branch(self):
        """One step of the branch, as the run has just taken one; a failed or non-finite
        step stops the branch (its curve stays)."""
        if self.branch is None or self.branch.finished:
            return
        try:
            loss = self.branch.step().loss
        except (ArithmeticError, ValueError) as error:
            loss, stopped = None, f"step {self.branch.step_count + 1} failed ({error})"
        else:
            stopped = "" if math.isfinite(loss) else f"loss became {loss}"
        if stopped:
            self.branch = None
            self._branch_curve = replace(self._branch_curve, stopped=stopped)
        else:
            self._branch_losses.append(loss)

    def _publish_weights(self):
        self.weights = MappingProxyType(self.trainer.weights())

    def _start_probe(self):
        step = self.trainer.step_count
        self._probes.append((step, self._probe_slices(step)))

    def _probe_slices(self, step):
        """The filmstrip's probe of `step`, the time-lapse's attention frame and, with
        --val-fraction, the validation loss, one slice (a document or a sample) at a time;
        returns (ProbeRecord, AttentionFrame, (step, loss) or None)."""
        weights, tokenizer, config = self.weights, self.trainer.tokenizer, self.trainer.config
        record = yield from probe_slices(weights, step, self.probe_docs, tokenizer, config)
        # One name's float forward: a few ms on the default model.
        frame = attention_frame(weights, step, self.watched_name, tokenizer, config)
        yield
        if not self.validation_docs:
            return record, frame, None
        losses = []
        for doc in self.validation_docs:
            losses.append(mean_loss((doc,), weights, tokenizer, config))
            yield
        # As mean_loss over them all would sum them: the same number.
        return record, frame, (step, math.fsum(losses) / len(losses))

    def _measure_probes(self):
        """Measure the probes under way, oldest first, for PROBE_SLICE_TIME (at least one
        slice); report each one finished."""
        deadline = time.monotonic() + PROBE_SLICE_TIME
        while self._probes and time.monotonic() < deadline:
            _, slices = self._probes[0]
            try:
                next(slices)
            except StopIteration as done:
                self._probes.popleft()
                record, frame, validation = done.value
                self.report(probe=record, attention=frame, validation=validation)
            except (ArithmeticError, ValueError):
                self._probes.popleft()  # the weights have diverged; the loss pane says so

    def _save(self, path):
        try:
            save_checkpoint(path, self.trainer, self.loss_history)
        except ValueError as error:
            self.report(Event.SAVE_FAILED, str(error))
        else:
            # The report also brings the loss pane to the step that was saved.
            self.report(Event.SAVED, str(path))

    def _save_pending(self):
        # A save asked for just before quitting still happens: w was pressed for a reason.
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, SaveCheckpoint):
                self._save(command.path)

    def _diverged(self, what, stage=None):
        self._running = False
        self.report(Event.DIVERGED,
                    f"{what}: training paused (the learning rate is probably too high)", stage)

    def _set_running(self, running):
        self._running = running
        self.report()

    def _report(self):
        """Report the steps taken since the last report, if there are any."""
        if self._unreported:
            self.report()
        self._last_report = time.monotonic()

    def snapshot(self, event=None, detail="", stage=None, probe=None, validation=None,
                 attention=None):
        """The run as it is now, with the losses not yet reported. Called by the worker only,
        except once by the app before the worker starts."""
        snapshot = RunSnapshot(
            step=self.trainer.step_count,
            new_losses=tuple(self._unreported),
            result=self._latest,
            weights=self.weights,
            running=self._running,
            finished=self.trainer.finished,
            stage=stage,
            probe=probe,
            attention=attention,
            validation=validation,
            optimizer=self.trainer.optimizer_snapshot() if self._following_optimizer else None,
            branch=self._branch_curve and replace(self._branch_curve,
                                                  losses=tuple(self._branch_losses)),
            event=event,
            detail=detail,
        )
        self._unreported = []
        return snapshot

    def report(self, event=None, detail="", stage=None, probe=None, validation=None,
               attention=None):
        self._post(Reported(self.snapshot(event, detail, stage, probe, validation, attention)))
        self._last_report = time.monotonic()
