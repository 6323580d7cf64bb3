"""The run store: the one owner of what the UI shows about the run.

It lives on the main thread. The training worker's `RunSnapshot`s are applied here in the order
they were posted, the sampling session is kept here, and after each change the store publishes
one signal, `changed`, with the `Change`s it made. Panes and views draw from the store's
attributes and never read the trainer or the worker; commands go down through the app.
"""

import random
from enum import Enum
from functools import partial
from operator import attrgetter, itemgetter
from pathlib import Path

from textual.signal import Signal
from textual.worker import get_current_worker

from engine import BigramCounts, Sampler, count_truncated
from engine.ablation import probe_set
from engine.limits import MAX_TEMPERATURE, MIN_TEMPERATURE, TEMPERATURE_DECIMALS
from engine.novelty import NameIndex
from engine.reference import ParityCheck, is_reference_run

from .messages import Event, RunSnapshot
from .training import HISTORY_LENGTH, FollowOptimizer, StartBranch

TEMPERATURE_STEP = 10**-TEMPERATURE_DECIMALS  # one + or - press
TOP_K_CHOICES = (None, 1, 2, 3, 5, 10)  # what k steps through (None: every token)
# Datasets with at most this many letter pairs to count (docs x block_size bounds it) are
# measured (bigram, truncation) before the first frame (names.txt: 512k, ~0.05 s); bigger
# ones in a thread worker, in batches of documents.
MEASURE_INLINE_PAIRS = 2_000_000
MEASURE_BATCH_DOCS = 100_000
# The attention time-lapse keeps at most this many frames: a frame is n_layer x n_head x
# n(n+1)/2 floats for a name of n positions (144 on the default model, ~1,400 or ~50 kB as
# tuples with 8 layers of 4 heads). A run has 21 frames (probe_interval) and would never need
# the cap; it bounds the memory of a TrainingLoop given a short probe_every on a long run.
MAX_ATTENTION_FRAMES = 200
# What B forks the run with, one press after another: the last, no change at all, draws the
# branch exactly over the run (a fork continues bit for bit).
# Stands for "without the head selected on the panes", which the press fills in.
ABLATED_HEAD = StartBranch("without the selected head")
BRANCH_CHOICES = (StartBranch("lr ×2", lr_factor=2.0), StartBranch("lr ÷2", lr_factor=0.5),
                  StartBranch("new order (seed 1)", order_seed=1), ABLATED_HEAD,
                  StartBranch("no change"))


record_step = attrgetter("step")  # a ProbeRecord's or an AttentionFrame's


def without_undone(records, step, step_of):
    """`records` (oldest first) without those of steps after `step`, and whether any went
    (after an undo)."""
    if records and step_of(records[-1]) > step:
        return type(records)(record for record in records if step_of(record) <= step), True
    return records, False


def thinned(frames):
    """Every other frame from the first, and the newest: past MAX_ATTENTION_FRAMES the
    time-lapse keeps the whole run at half the density (step 0 and the newest stay)."""
    if len(frames) <= MAX_ATTENTION_FRAMES:
        return frames
    return [*frames[:-1][::2], frames[-1]]


class Change(Enum):
    """What one publication of `RunStore.changed` is about."""

    STEPS = "steps"  # the loss history, the newest result and the weights (also on an undo)
    REWOUND = "rewound"  # a step was undone
    STATE = "state"  # running, finished or diverged
    STAGE = "stage"  # a stage of a staged step ran, or the staged step was dropped
    PROBE = "probe"  # the filmstrip and the time-lapse gained (or, on an undo, lost) frames
    OPTIMIZER = "optimizer"  # a new optimizer snapshot
    SAMPLE = "sample"  # the sample in progress or the temperature
    BIGRAM = "bigram"  # the bigram baseline's count advanced or finished
    VALIDATION = "validation"  # the validation loss gained (or, on an undo, lost) points
    NOVELTY = "novelty"  # the finished sample was looked up among the training names
    BRANCH = "branch"  # a branch was forked, stepped, stopped or (on an undo) dropped


def clamp_temperature(value):
    return min(MAX_TEMPERATURE, max(MIN_TEMPERATURE, round(value, TEMPERATURE_DECIMALS)))


class SamplingSession:
    """The sample in progress: one `Sampler` over the weights of the moment it started, and
    the TokenEvents it has yielded. The training run is never touched."""

    def __init__(self, tokenizer, config, temperature, top_k=None):
        self.tokenizer = tokenizer
        self.config = config
        self.temperature = clamp_temperature(temperature)
        self.top_k = top_k
        self.rng = random.Random(config.seed)
        self.sampler = None
        self.events = ()

    def start(self, weights):
        self.sampler = Sampler(weights, self.tokenizer, self.config,
                               temperature=self.temperature, top_k=self.top_k, rng=self.rng)
        self.events = ()

    def first_letter_logits(self, weights):
        """What a new sample's first letter would be drawn from, at `weights`: the learner
        sees the model's guess for an empty name before pressing n."""
        return Sampler(weights, self.tokenizer, self.config).next_logits()

    def advance(self, weights, until_done, force=None):
        """The next token (or every token to the end of the name): a new sample starts if
        none is under way. An ArithmeticError or ValueError (diverged weights) ends the
        sample and is raised on."""
        if self.sampler is None or self.sampler.done:
            self.start(weights)
        events = list(self.events)
        try:
            events.append(self.sampler.step(force=force))
            while until_done and not self.sampler.done:
                events.append(self.sampler.step())
        except (ArithmeticError, ValueError):
            self.sampler = None
            raise
        self.events = tuple(events)

    def change_temperature(self, direction):
        self.temperature = clamp_temperature(self.temperature + direction * TEMPERATURE_STEP)
        if self.sampler is not None:
            self.sampler.temperature = self.temperature

    def next_top_k(self):
        """The next of TOP_K_CHOICES (after the last: all tokens again)."""
        choices = TOP_K_CHOICES if self.top_k in TOP_K_CHOICES else (self.top_k, *TOP_K_CHOICES)
        self.top_k = choices[(choices.index(self.top_k) + 1) % len(choices)]
        if self.sampler is not None:
            self.sampler.top_k = self.top_k


class RunStore:
    def __init__(self, owner, trainer, send, *, probe_every, probe_docs, temperature=0.5,
                 top_k=None):
        """`owner`: the app, which the signal belongs to; `send`: queues a command for the
        training worker. The trainer is read here once, before the worker owns it."""
        self.owner = owner
        self.changed = Signal(owner, "run-changed")
        self.send = send
        self.config = trainer.config
        self.tokenizer = trainer.tokenizer
        # Shared, not copied (7 million names would cost 0.2 s and 56 MB): the Trainer
        # shuffled its list once and never changes it again.
        self.docs = trainer.docs
        self.n_shuffled = trainer.n_shuffled  # the held-out documents too (--val-fraction)
        self.held_out = len(trainer.validation_docs)
        self.num_params = trainer.num_params
        self.probe_set = probe_set(trainer.docs)  # the ablation's fixed names
        self.probe_every = probe_every  # the filmstrip's interval and names
        self.probe_docs = probe_docs
        # The reference run's known losses apply only to its config and data.
        self.parity = ParityCheck() if is_reference_run(self.config, self.docs) else None
        self.loss_history = []
        self.loaded_steps = trainer.step_count  # undo cannot go back past these
        # The learning rate of a loaded checkpoint's last step.
        self.loaded_lr = trainer.adam.lr_at(trainer.step_count - 1) if trainer.step_count else 0.0
        self.step = 0
        self.last_result = None  # the StepResult of step `step`, if this run took it
        self.weights = None  # the weights after step `step`
        self.running = False
        self.finished = False
        self.stage = None  # the newest StepStage of a staged step, for the stages view
        self.probes = []  # every ProbeRecord so far, oldest first
        self.attention_frames = []  # the time-lapse's AttentionFrames, oldest first, thinned
        self.validation = ()  # (step, validation loss) of every measurement, oldest first
        self.optimizer = None  # the newest OptimizerSnapshot, while a view follows it
        self.optimizer_followers = 0
        self.branch = None  # the BranchCurve of the branch stepped alongside, if any
        self.branches_made = 0  # B presses so far: the next takes the next of BRANCH_CHOICES
        self.bigram = None  # the bigram baseline's loss, None while it is counted
        self.bigram_model = None  # its BigramModel (per-position losses), once counted
        self.bigram_progress = 0.0
        self.name_index = None  # the training names, indexed at the first finished sample
        self.novelty = None  # the finished sample's Nearest training name, once looked up
        self.sampling = SamplingSession(self.tokenizer, self.config, temperature, top_k)
        # While True the attention and KV panes show the last training step, else the sample.
        self.showing_training = True

    @property
    def n_docs(self):
        return len(self.docs)

    @property
    def parity_badge(self):
        return self.parity.badge if self.parity else ""

    @property
    def dataset_is_small(self):
        """Small enough to measure before the first frame (see MEASURE_INLINE_PAIRS)."""
        return self.n_docs * self.config.block_size <= MEASURE_INLINE_PAIRS

    def truncation_notice(self, truncated):
        block_size = self.config.block_size
        return (f"{truncated:,} of {self.n_docs:,} documents are longer than block_size "
                f"{block_size} allows and are truncated: the model learns their first "
                f"{block_size} characters, never their end.")

    def measure_dataset(self, truncated, counted, cancelled=lambda: False):
        """Count the documents too long for block_size (`truncated(count)`) and the bigram
        baseline, batch by batch (`counted(fraction done)`, and at the end
        `counted(1.0, loss, model)`). Plain computation on the immutable docs: a worker may
        run it, with `cancelled` to stop it between batches and callbacks that reach the main
        thread."""
        block_size = self.config.block_size
        truncated(count_truncated(self.docs, block_size))
        counts = BigramCounts(self.tokenizer, block_size)
        for start in range(0, self.n_docs, MEASURE_BATCH_DOCS):
            if cancelled():
                return
            counts.add(self.docs[start:start + MEASURE_BATCH_DOCS])
            if counts.n_docs < self.n_docs:
                counted(counts.n_docs / self.n_docs)
        counted(1.0, counts.loss(), counts.model())

    @property
    def lr(self):
        """The learning rate of the newest step (0 before any)."""
        return self.last_result.lr if self.last_result else self.loaded_lr if self.step else 0.0

    def apply(self, snapshot: RunSnapshot):
        """Take in one report of the worker; return the notice it calls for, as
        (text, severity, timeout), or None."""
        changes = set()
        kept = snapshot.step - len(snapshot.new_losses)
        if snapshot.new_losses or kept < len(self.loss_history):
            changes.add(Change.STEPS)
            del self.loss_history[kept:]
            self.loss_history.extend(snapshot.new_losses)
            if self.parity is not None:
                for step, loss in enumerate(snapshot.new_losses, kept + 1):
                    self.parity.observe(step, loss)
        self.step = snapshot.step
        self.last_result = snapshot.result
        self.weights = snapshot.weights
        if (snapshot.running, snapshot.finished) != (self.running, self.finished):
            changes.add(Change.STATE)
        self.running, self.finished = snapshot.running, snapshot.finished
        # Measurements of undone steps were of weights that no longer exist.
        self.probes, dropped_probes = without_undone(self.probes, snapshot.step, record_step)
        self.attention_frames, dropped_frames = without_undone(
            self.attention_frames, snapshot.step, record_step)
        if dropped_probes or dropped_frames:
            changes.add(Change.PROBE)
        self.validation, dropped_points = without_undone(
            self.validation, snapshot.step, itemgetter(0))
        if dropped_points:
            changes.add(Change.VALIDATION)
        if snapshot.probe is not None:
            self.probes.append(snapshot.probe)
            changes.add(Change.PROBE)
        if snapshot.attention is not None:
            self.attention_frames = thinned([*self.attention_frames, snapshot.attention])
            changes.add(Change.PROBE)
        if snapshot.validation is not None:
            self.validation += (snapshot.validation,)
            changes.add(Change.VALIDATION)
        if snapshot.optimizer is not None:
            self.optimizer = snapshot.optimizer
            changes.add(Change.OPTIMIZER)
        if snapshot.stage is not None:
            self.stage = snapshot.stage
            changes.add(Change.STAGE)
        dropped_branch = self.branch is not None and snapshot.branch is None
        if snapshot.branch != self.branch:
            self.branch = snapshot.branch
            changes.add(Change.BRANCH)
        event = snapshot.event
        if event in (Event.UNDONE, Event.DROPPED_STAGE, Event.DIVERGED) and self.stage:
            # No staged step is under way after these: the stages view starts afresh.
            self.stage = None
            changes.add(Change.STAGE)
        if event is Event.UNDONE:
            changes.update((Change.STEPS, Change.REWOUND))
        self.publish(changes)
        notice = self.notice(snapshot)
        if dropped_branch and notice:
            text, severity, _ = notice
            notice = f"{text} The branch was dropped: B forks a new one.", severity, 4
        return notice

    def notice(self, snapshot):
        event, step = snapshot.event, snapshot.step
        if event is Event.FINISHED:
            return f"Training finished: {self.config.num_steps} steps.", "information", 5
        if event in (Event.REFUSED, Event.DIVERGED):
            return snapshot.detail or "training is finished", "warning", 8
        if event is Event.SAVE_FAILED:
            return snapshot.detail, "error", 10
        if event is Event.SAVED:
            return f"Saved step {step} to {Path(snapshot.detail).absolute()}", "information", 5
        if event is Event.BRANCHED:
            return (f"Branched at step {step}: {snapshot.detail}. The branch takes a step with "
                    f"each step of the run.", "information", 5)
        if event is Event.BRANCH_FAILED:
            return snapshot.detail, "warning", 8
        if event is Event.DROPPED_STAGE:
            return (f"Dropped step {step + 1} before its update: the model is unchanged.",
                    "information", 3)
        if event is Event.UNDONE:
            return f"Undid step {step + 1}: back at step {step}.", "information", 2
        if event is Event.NOTHING_TO_UNDO:
            why = ("no step has been taken yet." if step == 0 else
                   "the steps before the checkpoint was loaded cannot be undone."
                   if step == self.loaded_steps else f"the last {HISTORY_LENGTH} steps are kept.")
            return f"Nothing more to undo: {why}", "warning", 5
        return None

    def publish(self, changes):
        if changes:
            self.changed.publish(frozenset(changes))

    # What the app changes on the learner's keys ---------------------------------------------

    def stage_requested(self):
        """S was pressed: a finished staged step's banner gives way to the next step's."""
        if self.stage is not None and self.stage.result is not None:
            self.stage = None
            self.publish({Change.STAGE})

    def show_training(self):
        """s or space: the attention and KV panes follow training again."""
        if not self.showing_training:
            self.showing_training = True
            self.publish({Change.STEPS})

    def sample(self, until_done=False, force=None):
        """The next letter of the sample (a new one if none is under way); a ValueError or
        ArithmeticError says the weights cannot be sampled from."""
        if self.sampling.sampler is None or self.sampling.sampler.done:
            self.novelty = None  # a new sample starts
        self.sampling.advance(self.weights, until_done, force)
        self.showing_training = False
        self.publish({Change.SAMPLE})
        if self.sampling.sampler.done:
            self.look_up_novelty(self.sampling.sampler.text)

    def look_up_novelty(self, name):
        """Is the finished sample a training name, and if not, which is nearest? Looked up
        once per sample, in a thread worker: a name far from every training name is compared
        with thousands of them (~0.2 s on names.txt)."""
        self.novelty = None
        if not self.owner.is_running:
            return  # a store on its own (a test): no app to run the worker, no pane to show it
        self.owner.run_worker(partial(self.find_nearest, name), thread=True, group="novelty",
                              exclusive=True, exit_on_error=False)

    def find_nearest(self, name):
        if self.name_index is None:
            self.name_index = NameIndex(self.docs)
        nearest = self.name_index.nearest(name)
        if not get_current_worker().is_cancelled:
            self.owner.call_from_thread(self.novelty_found, nearest)

    def novelty_found(self, nearest):
        sampler = self.sampling.sampler
        if sampler is not None and sampler.done and sampler.text == nearest.sample:
            self.novelty = nearest
            self.publish({Change.NOVELTY})

    def new_sample(self):
        self.sampling.start(self.weights)
        self.novelty = None
        self.showing_training = False
        self.publish({Change.SAMPLE})

    def change_temperature(self, direction):
        self.sampling.change_temperature(direction)
        self.publish({Change.SAMPLE})

    def next_top_k(self):
        self.sampling.next_top_k()
        self.publish({Change.SAMPLE})

    def branch_from_here(self, ablated=(0, 0)):
        """B was pressed: fork the run with the next of BRANCH_CHOICES (replacing a branch);
        `ablated`, the (layer, head) selected on the panes, for the choice that trains without
        a head."""
        choice = BRANCH_CHOICES[self.branches_made % len(BRANCH_CHOICES)]
        if choice is ABLATED_HEAD:
            layer, head = ablated
            choice = StartBranch(f"without L{layer + 1} H{head + 1}", ablate=frozenset({ablated}))
        self.send(choice)
        self.branches_made += 1

    def follow_optimizer(self, follow):
        """A view that shows the optimizer opened (True) or closed: reports carry its state
        while any such view is open."""
        self.optimizer_followers += 1 if follow else -1
        if follow or not self.optimizer_followers:
            self.send(FollowOptimizer(follow))
        if not self.optimizer_followers:
            self.optimizer = None  # it would be stale by the time a view opens again

    def bigram_counted(self, progress, loss=None, model=None):
        """The dataset measurement's progress: `loss` and `model` once the count is done."""
        self.bigram_progress, self.bigram, self.bigram_model = progress, loss, model
        self.publish({Change.BIGRAM})
