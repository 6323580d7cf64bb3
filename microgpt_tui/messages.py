"""Messages the training worker sends up to the app. They carry only frozen engine records."""

from dataclasses import dataclass

from textual.message import Message

from engine import StepResult, StepStage
from engine.probe import ProbeRecord
from engine.trace import OptimizerSnapshot


@dataclass
class Stepped(Message):
    """Training advanced: the newest step's record and every loss since the last message."""

    result: StepResult
    losses: tuple


@dataclass
class TrainingStateChanged(Message):
    """Continuous training started or stopped; `reason` says why it stopped on its own."""

    running: bool
    finished: bool
    reason: str = ""


@dataclass
class CheckpointSaved(Message):
    """The worker wrote a checkpoint of step `step` to `path`."""

    path: str
    step: int


@dataclass
class CheckpointFailed(Message):
    """The worker could not write a checkpoint; `reason` is one line saying why."""

    reason: str


@dataclass
class StageTaken(Message):
    """One stage of a staged training step ran (the update stage ends the step)."""

    stage: StepStage


@dataclass
class Rewound(Message):
    """`u` was served: a step was undone, a half-done staged step dropped, or neither."""

    step: int  # the trainer's step count now
    result: StepResult | None  # the record of step `step` (None at step 0)
    undone: bool  # one step was undone
    dropped_stage: bool = False  # a staged step under way was dropped (nothing was applied)


@dataclass
class Probed(Message):
    """The worker measured the model on the fixed probe set (every few steps)."""

    record: ProbeRecord


@dataclass
class OptimizerSnapshotReady(Message):
    """The worker's answer to a SnapshotOptimizer command, posted to whoever asked."""

    snapshot: OptimizerSnapshot
