import math

import pytest

from engine.pca import pca


def test_axis_aligned_cross_by_hand():
    # Mean (0, 0); variance 8/4 = 2 along x and 2/4 = 0.5 along y, no covariance.
    projection = pca([(2, 0), (-2, 0), (0, 1), (0, -1)])
    assert projection.axes[0] == pytest.approx((1, 0), abs=1e-9)
    assert projection.axes[1] == pytest.approx((0, 1), abs=1e-9)
    assert projection.variances == pytest.approx((2.0, 0.5))
    assert projection.explained == pytest.approx((0.8, 0.2))
    assert [p[0] for p in projection.points] == pytest.approx([2, -2, 0, 0], abs=1e-9)
    assert [p[1] for p in projection.points] == pytest.approx([0, 0, 1, -1], abs=1e-9)


def test_rotated_plane_in_three_dimensions():
    # The cross above turned by 45 degrees in the x-y plane, lifted to z = 5 and shifted:
    # the axes turn with it, the variances and coordinates do not change.
    s = 1 / math.sqrt(2)
    rows = [(3 + x * s - y * s, 1 + x * s + y * s, 5.0) for x, y in
            [(2, 0), (-2, 0), (0, 1), (0, -1)]]
    projection = pca(rows)
    assert projection.axes[0] == pytest.approx((s, s, 0), abs=1e-9)
    # Its two entries tie in size, so either sign is the axis.
    assert abs(sum(a * b for a, b in zip(projection.axes[1], (-s, s, 0)))) == pytest.approx(1)
    assert projection.variances == pytest.approx((2.0, 0.5))
    assert projection.total_variance == pytest.approx(2.5)
    assert [p[0] for p in projection.points] == pytest.approx([2, -2, 0, 0], abs=1e-9)


def test_axes_are_orthonormal_and_sorted_on_random_data():
    import random

    rng = random.Random(3)
    rows = [[rng.gauss(0, 1 + i) for i in range(6)] for _ in range(40)]
    projection = pca(rows, k=3)
    for i, a in enumerate(projection.axes):
        for j, b in enumerate(projection.axes):
            assert sum(x * y for x, y in zip(a, b)) == pytest.approx(float(i == j), abs=1e-6)
    assert projection.variances[0] >= projection.variances[1] >= projection.variances[2]
    # The variance of the coordinates along an axis is that axis's variance.
    for axis_index, variance in enumerate(projection.variances):
        coords = [p[axis_index] for p in projection.points]
        assert sum(c * c for c in coords) / len(coords) == pytest.approx(variance, rel=1e-6)


def test_sign_is_pinned_so_the_largest_entry_is_positive():
    projection = pca([(-3, 0.1), (3, -0.1), (0, 0)], k=1)
    axis = projection.axes[0]
    assert max(axis, key=abs) > 0


def test_identical_rows_have_no_variance():
    projection = pca([(1, 2), (1, 2)])
    assert projection.variances == (0.0, 0.0)
    assert projection.explained == (0.0, 0.0)
    assert projection.points == ((0.0, 0.0), (0.0, 0.0))


@pytest.mark.parametrize("rows, k, message", [
    ([], 2, "at least one"),
    ([(1, 2), (1,)], 1, "equal length"),
    ([(1, 2)], 3, "k must be"),
])
def test_bad_input_is_refused(rows, k, message):
    with pytest.raises(ValueError, match=message):
        pca(rows, k)


def test_previous_axes_keep_the_orientation_when_the_largest_entry_changes_sign():
    # Points along (0.71, -0.70), then along (0.70, -0.71): the largest entry changes from
    # the positive to the negative one, so pinning it alone turns the second axis around,
    # and every point of a map redrawn between the two would jump to the other side.
    def along(x, y):
        return [(t * x, t * y) for t in (-2, -1, 0, 1, 2)]

    first = pca(along(0.71, -0.70), k=1)
    assert first.axes[0][0] > 0
    alone = pca(along(0.70, -0.71), k=1)
    assert alone.axes[0][1] > 0  # flipped: its largest entry, -0.71, made positive
    followed = pca(along(0.70, -0.71), k=1, previous_axes=first.axes)
    assert followed.axes[0][0] > 0 > followed.axes[0][1]
    # The same points as in the first frame land on the same side: t = 2 stays on the right.
    assert first.points[-1][0] > 0 and followed.points[-1][0] > 0 > alone.points[-1][0]


def test_a_cancelled_projection_stops():
    from engine.probe import Cancelled

    with pytest.raises(Cancelled):
        pca([(1, 2), (3, 5), (0, 1)], cancelled=lambda: True)
