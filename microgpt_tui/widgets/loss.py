"""The loss curve: per-step loss as bars, its running mean, and the uniform-guess line."""

import itertools
import math

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

MEAN_WINDOW = 50
AXIS_WIDTH = 5
EIGHTHS = " ▁▂▃▄▅▆▇█"
BAR, MEAN, UNIFORM = "steel_blue", "dark_orange", "yellow"


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

    def render(self):
        finite = [x for x in self.losses if math.isfinite(x)]
        uniform = math.log(self.vocab_size)
        step = len(self.losses)
        if self.losses:
            current = f"{self.losses[-1]:.4f}"
            mean = f"{running_means(finite)[-1]:.4f}" if finite else "n/a"
        else:
            current = mean = "—"
        wide = self.size.width >= 56
        first = Text.assemble(
            (f"step {step}/{self.num_steps}", "bold"), "  loss ", (current, "bold"),
            (f"  lr {self.lr:.6f}" if step else "  lr —") if wide else "",
        )
        second = Text.assemble(
            ("━", MEAN), f" mean of last {MEAN_WINDOW} " if wide else " mean ", mean, "  ",
            ("┄", UNIFORM), f" uniform ln {self.vocab_size} = " if wide else " uniform ",
            f"{uniform:.4f}",
        )
        rows = self.size.height - 2
        if not finite:
            return Group(first, second, Text("s takes one training step, space trains on.",
                                             style="dim"))
        if rows < 1:
            return Group(first, second)
        return Group(first, second, *self.plot(finite, uniform, rows))

    def plot(self, losses, uniform, rows):
        width = max(1, self.size.width - AXIS_WIDTH)
        bars = bucket(losses, width)
        means = bucket(running_means(losses), width)
        lo = math.floor(min([*bars, uniform]) * 2) / 2 if bars else 0.0
        hi = math.ceil(max([*bars, uniform]) * 2) / 2 if bars else math.ceil(uniform)
        hi = max(hi, lo + 0.5)
        per_row = (hi - lo) / rows

        def row_of(value):
            return min(rows - 1, max(0, int((hi - value) / per_row)))

        uniform_row = row_of(uniform)
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
            line = Text(axis, style="dim")
            for c, value in enumerate(bars):
                fill = min(1.0, max(0.0, (value - bottom) / per_row))
                if mean_rows[c] == r:
                    line.append("━", style=f"{MEAN} on {BAR}" if fill == 1.0 else MEAN)
                elif fill == 0.0 and r == uniform_row:
                    line.append("┄", style=UNIFORM)
                else:
                    line.append(EIGHTHS[round(fill * 8)], style=BAR)
            if r == uniform_row:
                line.append("┄" * (width - len(bars)), style=UNIFORM)
            lines.append(line)
        return lines
