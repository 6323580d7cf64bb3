"""Principal component analysis in pure Python: power iteration with deflation.

Good enough for the few dozen (or few hundred) short vectors of a token embedding table: the
covariance matrix is n_embd × n_embd, and each component is the fixed point of "multiply by
the covariance and normalise", found after removing the components already found.
"""

import math
from dataclasses import dataclass
from operator import mul

from .probe import stop_if_cancelled


@dataclass(frozen=True)
class Projection:
    points: tuple  # one (x1, ..., xk) per input row: its coordinates along the axes
    axes: tuple  # the k unit principal axes, largest variance first
    variances: tuple  # the variance of the data along each axis
    total_variance: float  # the variance summed over every original dimension

    @property
    def explained(self):
        """The share of the total variance each axis carries."""
        if self.total_variance == 0:
            return tuple(0.0 for _ in self.variances)
        return tuple(variance / self.total_variance for variance in self.variances)


def covariance(centred, cancelled=None):
    n = len(centred)
    # Column by column, each sum one C-level map: about 4 times as fast as a generator.
    columns = list(zip(*centred))
    matrix = []
    for column in columns:
        stop_if_cancelled(cancelled)
        matrix.append([math.fsum(map(mul, column, other)) / n for other in columns])
    return matrix


def mat_vec(matrix, vector):
    return [math.fsum(a * b for a, b in zip(row, vector)) for row in matrix]


def normalised(vector):
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else vector


def top_eigenvector(matrix, iterations, tolerance):
    """The unit eigenvector of a symmetric positive semi-definite matrix with the largest
    eigenvalue, and that eigenvalue. The start vector is fixed, so results are repeatable."""
    dim = len(matrix)
    # Not all-equal: a start orthogonal to the answer would never move towards it.
    vector = normalised([1.0 + i / dim for i in range(dim)])
    for _ in range(iterations):
        following = normalised(mat_vec(matrix, vector))
        if not any(following):
            return vector, 0.0  # nothing left: the matrix is zero
        change = max(abs(a - b) for a, b in zip(following, vector))
        vector = following
        if change < tolerance:
            break
    eigenvalue = math.fsum(a * b for a, b in zip(vector, mat_vec(matrix, vector)))
    return vector, eigenvalue


def dot(a, b):
    return math.fsum(map(mul, a, b))


def pinned(axis, previous=None):
    """The axis with its arbitrary sign pinned: pointing the way `previous` (the same axis
    of an earlier projection) pointed, or else with its largest entry positive. A plot
    redrawn as training moves the data then does not flip: pinning the largest entry alone
    flips the axis whenever another entry becomes the largest with the other sign."""
    if previous is not None:
        flip = dot(axis, previous) < 0
    else:
        flip = max(axis, key=abs) < 0
    return [-x for x in axis] if flip else axis


def deflate(matrix, vector, eigenvalue):
    """The matrix with this eigenvector's share removed: its eigenvalue becomes 0."""
    return [
        [value - eigenvalue * vector[i] * vector[j] for j, value in enumerate(row)]
        for i, row in enumerate(matrix)
    ]


def pca(rows, k=2, iterations=500, tolerance=1e-12, previous_axes=(), cancelled=None):
    """Project `rows` (equal-length sequences of numbers) onto their top `k` principal axes.

    `previous_axes`, the axes of an earlier projection of similar rows, pin each axis's sign
    (see `pinned`). `cancelled`, a callable without arguments, is asked as the work goes on;
    when it returns True the projection raises engine.probe.Cancelled."""
    rows = [list(map(float, row)) for row in rows]
    if not rows or not rows[0]:
        raise ValueError("pca needs at least one non-empty row")
    dim = len(rows[0])
    if any(len(row) != dim for row in rows):
        raise ValueError("pca needs rows of equal length")
    if not 1 <= k <= dim:
        raise ValueError(f"k must be between 1 and {dim}, got {k}")
    means = [math.fsum(column) / len(rows) for column in zip(*rows)]
    centred = [[x - mean for x, mean in zip(row, means)] for row in rows]
    matrix = covariance(centred, cancelled)
    total = math.fsum(matrix[i][i] for i in range(dim))
    axes, variances = [], []
    for i in range(k):
        stop_if_cancelled(cancelled)
        axis, variance = top_eigenvector(matrix, iterations, tolerance)
        axis = pinned(axis, previous_axes[i] if i < len(previous_axes) else None)
        axes.append(tuple(axis))
        variances.append(max(0.0, variance))
        matrix = deflate(matrix, axis, variance)
    stop_if_cancelled(cancelled)
    points = tuple(tuple(dot(row, axis) for axis in axes) for row in centred)
    return Projection(points, tuple(axes), tuple(variances), total)
