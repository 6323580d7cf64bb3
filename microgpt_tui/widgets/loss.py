"""The loss curve: per-step loss as bars, its running mean, and two reference lines.

The references are the loss of a uniform guess, ln(vocab), and the loss of a bigram model
that only counts letter pairs (engine/baseline.py): below it, the model beats counting.
"""

import itertools
import math

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

MEAN_WINDOW = 50
AXIS_WIDTH = 5
EIGHTHS = " ▁▂▃▄▅▆▇█"
BAR, MEAN, UNIFORM, BIGRAM = "steel_blue", "dark_orange", "yellow", "green3"
UNIFORM_LINE, BIGRAM_LINE = "┄", "╌"


def running_means(values, window=MEAN_WINDOW):
    """Mean of the last `window` values at each point."""
    means, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        means.append(total / min(i + 1, window))
    return means


def bucket(values, n):
    """Shrink `values` to at most `n` points by averaging consecutive runs."""
    if len(values) <= n:
        return list(values)
    edges = [round(i * len(values) / n) for i in range(n + 1)]
    return [sum(values[a:b]) / (b - a) for a, b in itertools.pairwise(edges)]


class LossPlot(Widget):
    losses = reactive(())  # every step's loss so far
    num_steps = reactive(0)
    lr = reactive(0.0)  # learning rate of the newest step
    vocab_size = reactive(2)
    bigram = reactive(None)  # the bigram baseline's loss; None while it is being counted
    bigram_progress = reactive(0.0)  # fraction of documents counted so far

    def render(self):
        finite = [x for x in self.losses if math.isfinite(x)]
        means = running_means(finite)  # the legend's newest mean, the plot's whole line
        uniform = math.log(self.vocab_size)
        step = len(self.losses)
        if self.losses:
            current = f"{self.losses[-1]:.4f}"
            mean = f"{means[-1]:.4f}" if finite else "n/a"
        else:
            current = mean = "—"
        wide = self.size.width >= 56
        first = Text.assemble(
            (f"step {step}/{self.num_steps}", "bold"), "  loss ", (current, "bold"),
            (f"  lr {self.lr:.6f}" if step else "  lr —") if wide else "",
        )
        second = Text.assemble(
            ("━", MEAN), f" mean of last {MEAN_WINDOW} " if wide else " mean ", mean, "  ",
            (UNIFORM_LINE, UNIFORM), f" uniform ln {self.vocab_size} = " if wide else " uniform ",
            f"{uniform:.4f}",
        )
        if self.bigram is None:
            bigram = Text.assemble((BIGRAM_LINE, BIGRAM), " bigram counting ",
                                   f"{self.bigram_progress:.0%}")
        else:
            bigram = Text.assemble((BIGRAM_LINE, BIGRAM), f" bigram {self.bigram:.4f}")
        # The bigram joins the second line when it fits (wide panes), else gets its own.
        if second.cell_len + 2 + bigram.cell_len <= self.size.width:
            legend = [second.append("  ").append_text(bigram)]
        else:
            legend = [second, bigram]
        rows = self.size.height - 1 - len(legend)
        if not finite:
            return Group(first, *legend, Text("s takes one training step, space trains on.",
                                              style="dim"))
        if rows < 1:
            return Group(first, *legend)
        return Group(first, *legend, *self.plot(finite, means, uniform, rows))

    def plot(self, losses, means, uniform, rows):
        width = max(1, self.size.width - AXIS_WIDTH)
        bars = bucket(losses, width)
        means = bucket(means, width)
        # Both references stay in range, so the learner sees the bigram target from step 1.
        references = [uniform] if self.bigram is None else [uniform, self.bigram]
        lo = math.floor(min([*bars, *references]) * 2) / 2
        hi = math.ceil(max([*bars, *references]) * 2) / 2
        hi = max(hi, lo + 0.5)
        per_row = (hi - lo) / rows

        def row_of(value):
            return min(rows - 1, max(0, int((hi - value) / per_row)))

        # Where the two reference lines fall on one row, the bigram (the harder one) wins.
        reference_rows = {row_of(uniform): (UNIFORM_LINE, UNIFORM)}
        if self.bigram is not None:
            reference_rows[row_of(self.bigram)] = (BIGRAM_LINE, BIGRAM)
        mean_rows = [row_of(m) for m in means]
        lines = []
        for r in range(rows):
            bottom = hi - (r + 1) * per_row
            if r == 0:
                axis = f"{hi:>{AXIS_WIDTH - 1}.1f} "
            elif r == rows - 1:
                axis = f"{lo:>{AXIS_WIDTH - 1}.1f} "
            else:
                axis = " " * AXIS_WIDTH
            # Cells of one style are appended as one run: a span per cell made every row
            # ~50 segments for Rich and Textual to carry, and drawing the pane cost ~9 ms a
            # frame while training (the snapshots merge such segments, so they are equal).
            runs = []  # [characters, style]
            for c, value in enumerate(bars):
                fill = min(1.0, max(0.0, (value - bottom) / per_row))
                if mean_rows[c] == r:
                    char, style = "━", f"{MEAN} on {BAR}" if fill == 1.0 else MEAN
                elif fill == 0.0 and r in reference_rows:
                    char, style = reference_rows[r]
                else:
                    char, style = EIGHTHS[round(fill * 8)], BAR
                if runs and runs[-1][1] == style:
                    runs[-1][0] += char
                else:
                    runs.append([char, style])
            line = Text(axis, style="dim")
            for chars, style in runs:
                line.append(chars, style=style)
            if r in reference_rows:
                char, style = reference_rows[r]
                line.append(char * (width - len(bars)), style=style)
            lines.append(line)
        return lines
