"""What the training worker sends up: one frozen snapshot of the run per report."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from textual.message import Message

from engine import StepResult, StepStage
from engine.probe import ProbeRecord
from engine.timelapse import AttentionFrame
from engine.trace import OptimizerSnapshot


class Event(Enum):
    """Something a report announces besides the numbers, for the app to tell the learner."""

    FINISHED = "finished"  # the last step was just taken
    REFUSED = "refused"  # a step was asked for after the last one
    DIVERGED = "diverged"  # a step failed or made the numbers non-finite: training paused
    UNDONE = "undone"  # u undid a step
    NOTHING_TO_UNDO = "nothing to undo"
    DROPPED_STAGE = "dropped stage"  # u dropped a staged step before its update
    SAVED = "saved"  # a checkpoint was written (detail: its path)
    SAVE_FAILED = "save failed"  # detail: one line saying why
    BRANCHED = "branched"  # B forked the run (detail: what the branch changes)
    BRANCH_FAILED = "branch failed"  # detail: one line saying why


@dataclass(frozen=True)
class BranchCurve:
    """A branch forked from the run (engine.branch): what it changes, the step it was forked
    at, and the loss of each step it has taken since (step `start` + 1 on)."""

    label: str
    start: int
    losses: tuple
    stopped: str = ""  # why the branch stopped stepping, if it did (a failed step)


@dataclass(frozen=True)
class RunSnapshot:
    """The run as the worker had it when it reported; every field is immutable.

    The loss history is sent as the losses since the last report: `step` is how many steps
    there are now, so an undo (a smaller `step` and no new losses) shortens the history.
    """

    step: int  # steps taken (the trainer's step count)
    new_losses: tuple  # the losses of the steps since the last report, oldest first
    result: StepResult | None  # the record of step `step` (None if this run has not seen it)
    weights: Mapping  # the weights after step `step`, an immutable float snapshot
    running: bool
    finished: bool
    stage: StepStage | None = None  # the stage of a staged step this report ran
    probe: ProbeRecord | None = None  # the probe filmstrip's frame measured for this report
    attention: AttentionFrame | None = None  # the time-lapse's frame, with the probe's
    validation: tuple | None = None  # (step, validation loss) measured for this report
    optimizer: OptimizerSnapshot | None = None  # only while a view follows the optimizer
    branch: BranchCurve | None = None  # the branch stepped alongside the run, if any
    event: Event | None = None
    detail: str = ""  # the event's path or reason


@dataclass
class Reported(Message):
    """The training worker's one message: the run as it is now."""

    snapshot: RunSnapshot
