"""Gradient check: backward's gradient of a few weights beside a finite-difference estimate.

Backward runs on the fused graph (what the Trainer uses) over fresh leaves made from a weights
snapshot; the estimate is the central difference (L(w + h) - L(w - h)) / 2h of the float
forward pass, the model with no autograd at all. If the two agree to many digits, backward
computes the derivative of the loss; nothing else could make them agree.
"""

import math
import random
import sys
from dataclasses import dataclass

from .fused import FUSED_OPS
from .graph import document_graph
from .model import FLOAT_OPS, forward_document

STEP = 1e-5  # h: small enough for the curvature, large enough for float rounding

# Measured on the default model: relative errors of 1e-10 to 2e-6; a wrong gradient is off
# by far more.
AGREE_BELOW = 1e-5
# Float rounding leaves each of the two losses uncertain by some multiple of eps |loss|, and
# the estimate by that over 2h, however small the gradient: for a gradient of 1e-8 this alone
# can be a relative error of 1e-4. Over 3,300 checks on the tiny and default models
# |backward - estimate| stayed under 42 eps |loss| / h, curvature included; the margin
# allowed is 64 eps |loss| / h (about 3e-9 for a loss of 2): absolute, not relative.
ROUNDING_MARGIN = 64


@dataclass(frozen=True)
class GradientCheck:
    name: str  # weight matrix
    row: int
    col: int
    weight: float
    backward: float  # d loss / d weight, from backward
    estimate: float  # the central difference
    rounding: float = 0.0  # how far float rounding alone may move the estimate

    @property
    def label(self):
        return f"{self.name}[{self.row}][{self.col}]"

    @property
    def relative_error(self):
        """|backward - estimate| / the larger of the two; 0 when both are exactly 0 (a weight
        this document does not reach, such as an unused letter's embedding)."""
        scale = max(abs(self.backward), abs(self.estimate))
        return abs(self.backward - self.estimate) / scale if scale else 0.0

    @property
    def agrees_within_rounding(self):
        """Too far apart for AGREE_BELOW, but no further than the estimate's own rounding:
        a gradient so small that a finite difference cannot check it closer."""
        return (self.relative_error >= AGREE_BELOW and math.isfinite(self.rounding)
                and abs(self.backward - self.estimate) <= self.rounding)

    @property
    def agrees(self):
        return self.relative_error < AGREE_BELOW or self.agrees_within_rounding


CHECKED_WEIGHTS = 10  # how many weights one check compares

def pick_weights(weights, count, seed):
    """`count` distinct (matrix, row, col) positions, drawn uniformly over all weights."""
    positions = [
        (name, r, c)
        for name, matrix in weights.items()
        for r, row in enumerate(matrix)
        for c in range(len(row))
    ]
    return random.Random(seed).sample(positions, min(count, len(positions)))


def with_weight(weights, name, row, col, value):
    """`weights` with one entry replaced; only that row and its matrix are copied."""
    matrix = list(weights[name])
    changed_row = list(matrix[row])
    changed_row[col] = value
    matrix[row] = changed_row
    return {**weights, name: matrix}


def check_gradients(weights, tokens, config, count=CHECKED_WEIGHTS, seed=0, h=STEP):
    """Check `count` seeded weights of the loss on `tokens` ([BOS] + doc + [BOS])."""
    params = document_graph(weights, tokens, config, FUSED_OPS).params
    checks = []
    for name, row, col in pick_weights(weights, count, seed):
        weight = weights[name][row][col]
        up = forward_document(tokens, with_weight(weights, name, row, col, weight + h),
                              config, FLOAT_OPS).loss
        down = forward_document(tokens, with_weight(weights, name, row, col, weight - h),
                                config, FLOAT_OPS).loss
        rounding = ROUNDING_MARGIN * sys.float_info.epsilon * max(abs(up), abs(down)) / h
        checks.append(GradientCheck(name, row, col, weight, params[name][row][col].grad,
                                    (up - down) / (2 * h), rounding))
    return tuple(checks)
