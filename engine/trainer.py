"""Training one step at a time, each step returning a frozen record of what happened."""

import gc
import math
import random
from contextlib import contextmanager, nullcontext

from .data import Tokenizer
from .fused import FUSED_OPS
from .model import NO_ABLATION, forward_document, forward_positions, init_params
from .optim import LARGEST_SQUARABLE, Adam, check_squarable, update_sizes
from .trace import BACKWARD, FORWARD, UPDATE, OptimizerSnapshot, StepResult, StepStage
from .value import Value

STATE_KEYS = ("step", "params", "adam_m", "adam_v", "rng_state")


def floats(nodes):
    return tuple(node.data for node in nodes)


def grads(nodes):
    return tuple(node.grad for node in nodes)


def kv_floats(kv_cache):
    return tuple(tuple((floats(k), floats(v)) for k, v in layer) for layer in kv_cache)


def kv_grads(kv_cache):
    return tuple(tuple((grads(k), grads(v)) for k, v in layer) for layer in kv_cache)


class Trainer:
    """Owns the model's parameters, Adam's state and the run's random stream.

    As in the reference, one `random.Random(seed)` shuffles the documents and then draws the
    initial weights; training itself draws nothing, so whoever samples after training with
    `trainer.rng` continues the reference's stream.

    With `val_fraction` F > 0 the last F of the shuffled documents are held out
    (`validation_docs`) and `docs` is the rest. The split comes after the whole shuffle, so
    the random stream, the weights and the order of the training documents are those of the
    run without it: the run trains on the same names at the same steps until it has gone
    through the `docs` it kept (the default 1,000 steps of names.txt never get that far).
    """

    def __init__(self, config, docs, ops=FUSED_OPS, pause_gc=True, on_stage=None,
                 tokenizer=None, val_fraction=0.0):
        """`on_stage(what)`, if given, hears each slow part of the setup as it starts: with
        millions of documents the shuffle alone takes seconds. `tokenizer` spares building
        the vocabulary again when the caller has it (it must be the docs' own)."""
        self.config = config
        self.ops = ops
        self.pause_gc = pause_gc
        self.rng = random.Random(config.seed)
        self.docs = list(docs)
        if not self.docs:
            raise ValueError("no documents to train on")
        held_out = held_out_count(len(self.docs), val_fraction)
        self.val_fraction = val_fraction
        if tokenizer is None:
            if on_stage is not None:
                on_stage("building the vocabulary")
            # The vocabulary does not depend on the order; read in file order, 7 million
            # documents take a third of the time they take shuffled (memory locality).
            tokenizer = Tokenizer.from_docs(self.docs)
        self.tokenizer = tokenizer
        if on_stage is not None:
            on_stage(f"shuffling {len(self.docs):,} documents")
        self.rng.shuffle(self.docs)
        self.n_shuffled = len(self.docs)  # what the shuffle drew for, held-out docs included
        first_held_out = len(self.docs) - held_out
        self.validation_docs = tuple(self.docs[first_held_out:])
        del self.docs[first_held_out:]
        initial = init_params(config, self.tokenizer.vocab_size, self.rng)
        self.params = {
            name: [[Value(w) for w in row] for row in matrix] for name, matrix in initial.items()
        }
        self.param_list = [p for matrix in self.params.values() for row in matrix for p in row]
        # (name, rows, cols, offset) of each matrix: where it sits in param_list and Adam's state.
        self.layout = tuple(matrix_layout(self.params))
        self.adam = Adam(len(self.param_list), config)
        self.step_count = 0
        self.staged = None  # the StagedStep under way, if any
        # (layer, head) pairs whose output every training forward zeroes: none, except in a
        # branch forked to train without them (engine.branch).
        self.ablate = NO_ABLATION
        self.last_grads = None  # every parameter's gradient in the last step, as taken

    @property
    def num_params(self):
        return len(self.param_list)

    @property
    def finished(self):
        return self.step_count >= self.config.num_steps

    def next_document(self):
        return self.docs[self.step_count % len(self.docs)]

    def weights(self):
        """A snapshot of every weight matrix as tuples of floats, safe to hand to a sampler."""
        return {
            name: tuple(floats(row) for row in matrix) for name, matrix in self.params.items()
        }

    def grad_norms(self, flat_grads):
        """((matrix name, L2 norm of its gradient), ...) from every parameter's gradient."""
        return tuple(
            (name, math.hypot(*flat_grads[offset:offset + rows * cols]))
            for name, rows, cols, offset in self.layout
        )

    def step(self):
        """Forward one document, backward, Adam update; return the step's StepResult.

        If a staged step is under way, this finishes it (the step is the same either way).
        """
        if self.staged is not None:
            return self.staged.finish()
        self.check_not_finished()
        with self.collector_paused():
            return self._step()

    def staged_step(self):
        """Start the next step as a StagedStep: `advance()` runs one stage at a time."""
        if self.staged is not None:
            raise RuntimeError(f"step {self.step_count + 1} is already under way in stages")
        self.check_not_finished()
        self.staged = StagedStep(self)
        return self.staged

    def zero_grads(self):
        for p in self.param_list:
            p.grad = 0.0

    def check_not_finished(self):
        if self.finished:
            raise RuntimeError(f"training is finished ({self.config.num_steps} steps)")

    def collector_paused(self):
        # The graph has no cycles, so the cyclic GC would only rescan it again and again
        # while it is built (half of a step's time); reference counting frees it anyway.
        return collector_paused() if self.pause_gc else nullcontext()

    def _step(self):
        doc = self.next_document()
        tokens = self.tokenizer.document(doc)
        forward = forward_document(tokens, self.params, self.config, self.ops, self.ablate)
        graph_size = self.ops.backward(forward.loss)
        return self._update(doc, tokens, forward, graph_size)

    def _update(self, doc, tokens, forward, graph_size):
        """Record the step's forward and backward, then let Adam move the weights."""
        step = self.step_count
        kv_cache = kv_floats(forward.kv_cache)
        kv_gradients = kv_grads(forward.kv_cache)
        # One pass over the parameters serves the norms and the optimizer view.
        flat_grads = grads(self.param_list)
        grad_norms = self.grad_norms(flat_grads)
        # A norm is at least each of its entries; a nan norm (a nan entry) hides the others.
        if not all(norm <= LARGEST_SQUARABLE for _, norm in grad_norms):
            try:
                check_squarable(flat_grads)
            except OverflowError:
                self.zero_grads()  # the step is dropped: the next must not add to them
                raise
        self.last_grads = flat_grads
        lr = self.adam.update(self.param_list, step)
        self.step_count += 1
        return StepResult(
            step=step + 1,
            num_steps=self.config.num_steps,
            doc=doc,
            tokens=tokens,
            loss=forward.loss.data,
            position_losses=floats(forward.position_losses),
            lr=lr,
            attention=transpose_attention(forward.attention),
            kv_cache=kv_cache,
            kv_grads=kv_gradients,
            logits=tuple(floats(row) for row in forward.logits),
            probs=tuple(floats(row) for row in forward.probs),
            grad_norms=grad_norms,
            graph_size=graph_size,
        )

    def optimizer_snapshot(self):
        """Weights, last gradients, Adam's moments and the last update, as frozen floats."""
        step = self.step_count
        m, v = tuple(self.adam.m), tuple(self.adam.v)
        return OptimizerSnapshot(
            step=step,
            lr=self.adam.lr_at(step - 1) if step else 0.0,
            layout=self.layout,
            weights=floats(self.param_list),
            grads=self.last_grads,
            m=m,
            v=v,
            update=update_sizes(m, v, step - 1, self.config) if step else None,
        )

    def export_state(self):
        """Everything needed to continue this run exactly, as JSON-friendly plain data."""
        version, internal, gauss_next = self.rng.getstate()
        return {
            "step": self.step_count,
            "params": {
                name: [list(floats(row)) for row in matrix] for name, matrix in self.params.items()
            },
            "adam_m": list(self.adam.m),
            "adam_v": list(self.adam.v),
            "rng_state": [version, list(internal), gauss_next],
        }

    def restore_state(self, state, last_grads=None):
        """Continue from `export_state()` output; a ValueError says what does not fit.

        `last_grads` are the gradients of the step that led to `state`, if the caller kept
        them (an undo does). A checkpoint does not, so after loading one there are none.
        """
        missing = [key for key in STATE_KEYS if key not in state]
        if missing:
            raise ValueError(f"trainer state lacks {', '.join(missing)}")
        params = state["params"]
        if sorted(params) != sorted(self.params):
            raise ValueError("trainer state has different weight matrices than this model")
        for name, matrix in self.params.items():
            saved = params[name]
            if len(saved) != len(matrix) or any(len(a) != len(b) for a, b in zip(saved, matrix)):
                raise ValueError(f"weight matrix {name} has a different shape than this model")
        n = self.num_params
        if len(state["adam_m"]) != n or len(state["adam_v"]) != n:
            raise ValueError(f"Adam state must have {n} entries per moment")
        if last_grads is not None and len(last_grads) != n:
            raise ValueError(f"last gradients must have {n} entries, got {len(last_grads)}")
        step = state["step"]
        if not isinstance(step, int) or not 0 <= step <= self.config.num_steps:
            raise ValueError(f"step must be between 0 and {self.config.num_steps}, got {step!r}")
        if self.staged is not None:
            self.staged.abandon()  # it started from the state being replaced
        version, internal, gauss_next = state["rng_state"]
        try:
            self.rng.setstate((version, tuple(internal), gauss_next))
        except (TypeError, ValueError) as error:
            raise ValueError(f"random state is not valid: {error}") from None
        for name, matrix in self.params.items():
            for row, saved_row in zip(matrix, params[name]):
                for p, w in zip(row, saved_row):
                    p.data = float(w)
                    p.grad = 0.0
        self.adam.m = [float(x) for x in state["adam_m"]]
        self.adam.v = [float(x) for x in state["adam_v"]]
        self.step_count = step
        self.last_grads = None if last_grads is None else tuple(last_grads)


def held_out_count(n_docs, val_fraction):
    """How many of `n_docs` documents a `val_fraction` holds out (rounded); a ValueError if
    that leaves no document on either side."""
    if not val_fraction:
        return 0
    held_out = round(val_fraction * n_docs)
    if not 0 < held_out < n_docs:
        side = "none" if held_out == 0 else "all"
        raise ValueError(f"--val-fraction {val_fraction} of {n_docs:,} documents holds out "
                         f"{side} of them: a validation set needs documents on both sides")
    return held_out


def matrix_layout(params):
    offset = 0
    for name, matrix in params.items():
        rows, cols = len(matrix), len(matrix[0])
        yield name, rows, cols, offset
        offset += rows * cols


class StagedStep:
    """One training step run a stage at a time, each `advance()` returning a StepStage.

    The stages are `step()`'s own code paused in between (forward position by position,
    backward, then the same `_update`), so every number, the StepResult and all later steps
    are exactly those of `step()`. Nothing is applied to the model before the update stage.
    """

    def __init__(self, trainer):
        self.trainer = trainer
        self.stage = None  # the newest StepStage
        self._stages = self._run()

    @property
    def under_way(self):
        return self.trainer.staged is self

    def advance(self):
        """Run the next stage; the update stage ends the step."""
        if not self.under_way:
            raise RuntimeError("this staged step is over")
        try:
            with self.trainer.collector_paused():
                self.stage = next(self._stages)
        except BaseException:
            # A failed stage (e.g. log of 0) leaves nothing to continue from.
            self.abandon()
            raise
        if self.stage.kind == UPDATE:
            self.trainer.staged = None
        return self.stage

    def finish(self):
        """Run the remaining stages; return the StepResult."""
        while self.under_way:
            self.advance()
        return self.stage.result

    def abandon(self):
        """Drop a step that has not reached its update: the model is as before it began."""
        if not self.under_way:
            return
        self.trainer.staged = None
        self._stages.close()
        self.trainer.zero_grads()  # backward may have run

    def _run(self):
        trainer = self.trainer
        step = trainer.step_count + 1
        doc = trainer.next_document()
        tokens = trainer.tokenizer.document(doc)
        n_positions = min(trainer.config.block_size, len(tokens) - 1)
        n_stages = n_positions + 2

        def stage(kind, number, forward, **after_backward):
            return StepStage(
                kind=kind, number=number, n_stages=n_stages, step=step, doc=doc,
                tokens=tokens, n_positions=n_positions,
                position_losses=floats(forward.position_losses),
                probs=tuple(floats(row) for row in forward.probs),
                kv_cache=kv_floats(forward.kv_cache),
                attention=transpose_attention(forward.attention),
                loss=None if forward.loss is None else forward.loss.data,
                **after_backward,
            )

        positions = forward_positions(tokens, trainer.params, trainer.config, trainer.ops,
                                      trainer.ablate)
        for number, forward in enumerate(positions, 1):
            yield stage(FORWARD, number, forward)
        graph_size = trainer.ops.backward(forward.loss)
        backward = dict(kv_grads=kv_grads(forward.kv_cache),
                        grad_norms=trainer.grad_norms(grads(trainer.param_list)))
        yield stage(BACKWARD, n_stages - 1, forward, **backward)
        before = {name: [floats(row) for row in matrix]
                  for name, matrix in trainer.params.items()}
        result = trainer._update(doc, tokens, forward, graph_size)
        update_norms = tuple(
            (name, math.hypot(*(p.data - w for row, old in zip(matrix, before[name])
                                for p, w in zip(row, old))))
            for name, matrix in trainer.params.items()
        )
        yield stage(UPDATE, n_stages, forward, **backward, update_norms=update_norms,
                    lr=result.lr, result=result)


@contextmanager
def collector_paused():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def transpose_attention(per_position, as_floats=floats):
    """[pos][layer][head][key] -> [layer][head][query_pos][key_pos] floats; `as_floats` makes
    one head's weights a tuple of floats (by default from graph nodes)."""
    n_layer = len(per_position[0])
    n_head = len(per_position[0][0])
    return tuple(
        tuple(
            tuple(as_floats(position[li][h]) for position in per_position) for h in range(n_head)
        )
        for li in range(n_layer)
    )
