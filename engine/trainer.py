"""Training one step at a time, each step returning a frozen record of what happened."""

import gc
import math
import random
from contextlib import contextmanager

from .data import Tokenizer
from .fused import FUSED_OPS
from .model import forward_document, init_params
from .optim import Adam, update_sizes
from .trace import OptimizerSnapshot, StepResult
from .value import Value

STATE_KEYS = ("step", "params", "adam_m", "adam_v", "rng_state")


def floats(nodes):
    return tuple(node.data for node in nodes)


def grads(nodes):
    return tuple(node.grad for node in nodes)


class Trainer:
    """Owns the model's parameters, Adam's state and the run's random stream.

    As in the reference, one `random.Random(seed)` shuffles the documents and then draws the
    initial weights; training itself draws nothing, so whoever samples after training with
    `trainer.rng` continues the reference's stream.
    """

    def __init__(self, config, docs, ops=FUSED_OPS, pause_gc=True):
        self.config = config
        self.ops = ops
        self.pause_gc = pause_gc
        self.rng = random.Random(config.seed)
        self.docs = list(docs)
        if not self.docs:
            raise ValueError("no documents to train on")
        self.rng.shuffle(self.docs)
        self.tokenizer = Tokenizer.from_docs(self.docs)
        initial = init_params(config, self.tokenizer.vocab_size, self.rng)
        self.params = {
            name: [[Value(w) for w in row] for row in matrix] for name, matrix in initial.items()
        }
        self.param_list = [p for matrix in self.params.values() for row in matrix for p in row]
        # (name, rows, cols, offset) of each matrix: where it sits in param_list and Adam's state.
        self.layout = tuple(matrix_layout(self.params))
        self.adam = Adam(len(self.param_list), config)
        self.step_count = 0
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

    def step(self):
        """Forward one document, backward, Adam update; return the step's StepResult."""
        if self.finished:
            raise RuntimeError(f"training is finished ({self.config.num_steps} steps)")
        if not self.pause_gc:
            return self._step()
        # The graph has no cycles, so the cyclic GC would only rescan it again and again
        # while it is built (half of a step's time); reference counting frees it anyway.
        with collector_paused():
            return self._step()

    def _step(self):
        step = self.step_count
        doc = self.next_document()
        bos = self.tokenizer.bos
        tokens = (bos, *self.tokenizer.encode(doc), bos)
        forward = forward_document(tokens, self.params, self.config, self.ops)
        graph_size = forward.loss.backward()
        kv_cache = tuple(
            tuple((floats(k), floats(v)) for k, v in layer) for layer in forward.kv_cache
        )
        kv_grads = tuple(
            tuple((grads(k), grads(v)) for k, v in layer) for layer in forward.kv_cache
        )
        # One pass over the parameters serves the norms and the optimizer view.
        self.last_grads = grads(self.param_list)
        grad_norms = tuple(
            (name, math.hypot(*self.last_grads[offset:offset + rows * cols]))
            for name, rows, cols, offset in self.layout
        )
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
            kv_grads=kv_grads,
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

    def restore_state(self, state):
        """Continue from `export_state()` output; a ValueError says what does not fit."""
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
        step = state["step"]
        if not isinstance(step, int) or not 0 <= step <= self.config.num_steps:
            raise ValueError(f"step must be between 0 and {self.config.num_steps}, got {step!r}")
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
        self.last_grads = None  # they belonged to the state just replaced


def matrix_layout(params):
    offset = 0
    for name, matrix in params.items():
        rows, cols = len(matrix), len(matrix[0])
        yield name, rows, cols, offset
        offset += rows * cols


@contextmanager
def collector_paused():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def transpose_attention(per_position):
    """[pos][layer][head][key] nodes -> [layer][head][query_pos][key_pos] floats."""
    n_layer = len(per_position[0])
    n_head = len(per_position[0][0])
    return tuple(
        tuple(
            tuple(floats(position[li][h]) for position in per_position) for h in range(n_head)
        )
        for li in range(n_layer)
    )
