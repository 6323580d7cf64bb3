"""The loss pane (widgets/loss.py): the whole history in braille, real axes, labelled
reference lines, and the mean against the bigram in words."""

import math
import random

import pytest
from textual.app import App

from microgpt_tui.widgets.loss import (
    BIGRAM_LINE,
    MEAN_WINDOW,
    MeanCache,
    XScale,
    data_range,
    running_means,
    tick_step,
    verdicts,
    x_scale,
    y_scale,
)
from microgpt_tui.widgets.loss import LossPlot as Plot
from tests.tui.conftest import plain_text

BIGRAM = 2.4606
UNIFORM = math.log(27)
# Pane sizes of the loss plot at 80x24, 120x34 and 200x50.
SMALL, MEDIUM, LARGE = (36, 7), (56, 8), (96, 14)


def curve(steps, seed=0, end=2.25):
    """A made-up run: from ~3.35 down towards `end`, with per-name noise."""
    rng = random.Random(seed)
    return tuple(end + (3.35 - end) * math.exp(-i / 150) + rng.gauss(0, 0.3)
                 for i in range(steps))


class PlotApp(App):
    def __init__(self, size, **values):
        super().__init__()
        self.plot_size, self.values = size, values

    def compose(self):
        plot = Plot()
        plot.styles.width, plot.styles.height = self.plot_size
        yield plot

    def on_mount(self):
        plot = self.query_one(Plot)
        for name, value in {"num_steps": 1000, "vocab_size": 27, "bigram": BIGRAM,
                            **self.values}.items():
            setattr(plot, name, value)


async def shown(size, **values):
    """The plot's text at `size` (width, height) with these reactives set."""
    app = PlotApp(size, **values)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        plot = app.query_one(Plot)
        assert tuple(plot.size) == size
        return plain_text(plot).splitlines()


def plot_rows(lines):
    """The rows of the plot proper (a y axis mark after the gutter)."""
    return [line for line in lines if "┤" in line[:7] or "│" in line[:7]]


# Pure helpers


def test_the_y_scale_centres_a_row_on_the_anchor_and_covers_the_data():
    y = y_scale(1.7, 3.4, 5, anchor=BIGRAM)
    assert y.top + y.unit / 2 >= 3.4 and y.top - 4.5 * y.unit <= 1.7
    rows_from_top = (y.top - BIGRAM) / y.unit
    assert rows_from_top == pytest.approx(round(rows_from_top))
    # The anchor sits on the boundary between a row's second and third dot.
    assert y.dot(BIGRAM + 1e-9) % 4 == 1 and y.dot(BIGRAM - 1e-9) % 4 == 2


def test_the_y_scale_zooms_in_when_the_data_spans_less():
    wide, narrow = y_scale(1.7, 3.4, 5, BIGRAM), y_scale(2.1, 2.6, 5, BIGRAM)
    assert narrow.unit < wide.unit
    assert narrow.unit * 5 >= 0.5


def test_values_beyond_the_y_range_land_on_its_edge_rows():
    y = y_scale(2.0, 3.0, 4, BIGRAM)
    assert y.dot(100.0) == 0 and y.dot(-100.0) == 15
    assert not y.contains(100.0) and y.contains(BIGRAM)


def test_the_x_scale_holds_every_step_and_changes_only_when_outgrown():
    # 1,000 steps over 51 columns (102 dots): 10 steps a dot, 20 a column.
    x = x_scale(1000, 51)
    assert x == XScale(length=1020, dots=102) and x.per_column == 20
    assert x.dot(1000) == 100 and x.dot(1) == 0
    assert x_scale(1001, 51) == x  # one more step fits the same scale
    # Few steps: a power of two dots each, so a column holds at most one step.
    few = x_scale(5, 51)
    assert few.per_column <= 1 and few.length >= 10


def test_ticks_are_round_and_far_enough_apart():
    assert tick_step(1020, 51, 6) == 200
    assert tick_step(1152, 90, 7) == 100
    assert tick_step(12, 51, 4) == 1


def test_the_y_range_holds_the_references_only_for_the_first_steps():
    early = curve(10, end=1.0)
    low, high = data_range(list(early), running_means(early), [UNIFORM, BIGRAM])
    assert low <= BIGRAM and high >= UNIFORM
    late = [x - 1.5 for x in curve(1000)]  # a run far below both lines
    low, high = data_range(late, running_means(late), [UNIFORM, BIGRAM])
    assert high < BIGRAM


def test_the_verdict_says_how_far_the_mean_is_from_the_bigram():
    below = verdicts(2.3206, 50, BIGRAM)
    assert below[0] == ("mean of last 50 2.3206 is 0.14 below the bigram: attention is "
                        "doing more than counting pairs")
    above = verdicts(2.5606, 50, BIGRAM)
    assert above[0] == ("mean of last 50 2.5606 is 0.10 above the bigram: not yet better "
                        "than counting pairs")
    assert "level with the bigram" in verdicts(2.4620, 50, BIGRAM)[0]
    assert [len(text) for text in below] == sorted((len(text) for text in below), reverse=True)


def test_the_mean_cache_equals_running_means_as_the_history_grows_and_shrinks():
    cache, history = MeanCache(), list(curve(300))
    for end in (1, 49, 50, 51, 120, 300, 200, 250):  # 200: steps undone
        assert cache(history[:end]) == running_means(history[:end])
    other = list(curve(100, seed=1))
    assert cache(other) == running_means(other)


# The widget


async def test_1000_steps_fit_with_axes_labels_and_a_column_note():
    lines = await shown(MEDIUM, losses=curve(1000), lr=0.001)
    text = "\n".join(lines)
    assert lines[0].startswith("step 1000/1000")
    rows = plot_rows(lines)
    assert len(rows) == 5  # header, verdict, 5 rows, the x axis
    labels = [float(row.split("┤")[0]) for row in rows if "┤" in row]
    assert len(labels) >= 3 and labels == sorted(labels, reverse=True)
    assert f"{BIGRAM:.2f}" in [f"{label:.2f}" for label in labels]  # the bigram's row
    axis = lines[-1]
    assert axis.lstrip().startswith("└0") and "200" in axis and "400" in axis
    assert "1 col = 20 steps" in axis
    assert all(len(line) <= MEDIUM[0] for line in lines)
    assert "bigram 2.46" in text and "uniform" in text


async def test_the_last_step_is_plotted_at_the_right_of_the_axis():
    losses = (*curve(999), 0.01)  # one name the model nails: drawn on the bottom edge row
    lines = await shown(MEDIUM, losses=losses)
    top = plot_rows(lines)[-1]
    gutter = top.index("┤") + 1
    column = x_scale(1000, MEDIUM[0] - gutter).column(1000)
    assert 0x2800 < ord(top[gutter + column]) <= 0x28FF
    assert top[gutter + column + 1:].strip() == ""  # nothing after the last step


async def test_the_reference_lines_are_drawn_over_the_losses_and_named_at_their_ends():
    lines = await shown(LARGE, losses=curve(1000))
    rows = plot_rows(lines)
    bigram_row = next(row for row in rows if "bigram" in row)
    assert bigram_row.startswith(f"{BIGRAM:.2f}┤")  # the row centred on the bigram
    assert BIGRAM_LINE * 3 in bigram_row and bigram_row.rstrip().endswith(f"bigram {BIGRAM}")
    uniform_row = next(row for row in rows if "uniform" in row)
    assert uniform_row.rstrip().endswith(f"uniform ln 27 = {UNIFORM:.4f}")


async def test_a_reference_out_of_range_is_named_at_the_edge():
    low = tuple(x - 1.4 for x in curve(1000))  # every loss far below both lines
    lines = await shown(MEDIUM, losses=low)
    rows = plot_rows(lines)
    text = "\n".join(rows)
    assert "↑ uniform" in text and "↑ bigram" in text
    assert BIGRAM_LINE not in text  # no line drawn where the bigram is not
    assert "↑" in rows[0]


async def test_the_sentence_says_the_mean_against_the_bigram():
    losses = curve(1000)
    mean = running_means(losses)[-1]
    gap = BIGRAM - mean
    assert gap > 0.005  # the made-up run ends below the bigram
    lines = await shown(LARGE, losses=losses)
    assert lines[1].rstrip() == (f"━ mean of last {MEAN_WINDOW} {mean:.4f} is {gap:.2f} below "
                                 "the ╌ bigram: attention is doing more than counting pairs")
    small = await shown(SMALL, losses=losses)
    assert small[1].rstrip() == f"━ mean {mean:.4f}: {gap:.2f} below ╌ bigram"
    above = await shown(MEDIUM, losses=tuple(x + 0.5 for x in losses))
    assert f"is {0.5 - gap:.2f} above the ╌ bigram" in above[1]


async def test_the_pane_stays_useful_at_80x24():
    lines = await shown(SMALL, losses=curve(1000))
    assert len(lines) == SMALL[1]
    assert len(plot_rows(lines)) == 4
    assert "steps/col" in lines[-1] or "col = " in lines[-1]
    assert all(len(line) <= SMALL[0] for line in lines)


async def test_a_tall_pane_has_tick_marks_and_a_row_of_step_numbers():
    lines = await shown(LARGE, losses=curve(1000))
    ticks, numbers = lines[-2], lines[-1]
    assert "└" in ticks and ticks.count("┬") >= 5
    assert numbers.split()[:3] == ["0", "100", "200"]
    assert numbers.rstrip().endswith("steps/col") or "column = " in numbers


async def test_few_steps_show_no_column_note_and_the_references_in_range():
    lines = await shown(MEDIUM, losses=curve(5))
    text = "\n".join(lines)
    assert "col" not in lines[-1]
    assert f"bigram {BIGRAM:.4f}" in text and "uniform" in text and "↑" not in text


async def test_a_diverged_step_is_left_out_and_the_rest_keep_their_place():
    losses = (*curve(30), math.inf, *curve(30, seed=2))
    lines = await shown(MEDIUM, losses=losses)
    assert lines[0].startswith("step 61/1000  ⠒ loss ")
    assert len(plot_rows(lines)) == 5


async def test_before_the_first_step_the_keys_and_a_hint():
    lines = await shown(MEDIUM, losses=())
    text = "\n".join(lines)
    assert "━ mean of last 50" in text and "╌ bigram 2.4606" in text
    assert "s takes one training step" in text


async def test_while_the_bigram_is_counted_the_rows_centre_on_the_uniform_loss():
    lines = await shown(MEDIUM, losses=curve(100), bigram=None, bigram_progress=0.25)
    assert "╌ bigram counting 25%" in lines[1]
    rows = plot_rows(lines)
    uniform_row = next(row for row in rows if "uniform" in row)
    assert uniform_row.startswith(f"{UNIFORM:.2f}┤") and "┄┄" in uniform_row
