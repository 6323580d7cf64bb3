"""The KV cache of the selected layer and head: key and value rows for every position."""

import math

from rich.text import Text
from textual.reactive import reactive

from ..colours import CHOSEN, MARK, NEGATIVE, POSITIVE
from .lines import TextLines

# Every other position gets a faint band, so a position's k/∂k/v/∂v rows read as one group.
BAND_STYLE = "on grey11"


def signed(x):
    return f" {x:+.2f}", POSITIVE if x >= 0 else NEGATIVE


def gradient(g):
    # Gradients are ~1e-3, so fixed decimals would show only zeros; one significant digit
    # keeps the column as narrow as the values beside it.
    if g == 0:
        return "     0", MARK
    if not math.isfinite(g):  # a diverging step: "inf" or "nan" has no exponent to split
        return f" {g:>+5}", MARK
    mantissa, exponent = f"{g:+.0e}".split("e")
    return f" {mantissa}e{int(exponent)}", MARK


def column_header(head_dim):
    """The line naming the table's columns: a component of the head's k or v each."""
    return Text("pos tok   " + "".join(f"{j:>6}" for j in range(head_dim)), style="bold")


class KVCacheTable(TextLines):
    """The k and v rows (and their gradients) of every position; the column header is the
    pane's (KVCachePane), so that it stays in sight. Rows of Rich Text, not a DataTable: it
    is redrawn up to ten times a second while training, and measuring a DataTable's cells
    cost the UI thread ~10 ms a frame."""

    DEFAULT_CSS = "KVCacheTable { height: auto; width: auto; }"

    # Not layout=True: SIZE_INPUTS re-layout only when the table's size changes (lines.py).
    view = reactive(None)
    # Not `layer`: a widget's `layer` is the compositor layer it is drawn on.
    shown_layer = reactive(0)
    head = reactive(0)
    SIZE_INPUTS = ("view", "shown_layer", "head")

    def lines_inputs(self):
        return self.view, self.shown_layer, self.head

    def render_other(self):
        return Text("s fills the cache from a training name, n from a sample", style="dim")

    def build_lines(self):
        view = self.view
        if view is None:
            return None
        layer = min(self.shown_layer, len(view.cache) - 1)
        cache = view.cache[layer]
        head_dim = view.head_dim
        head = min(self.head, view.n_head - 1)
        lo, hi = head * head_dim, (head + 1) * head_dim
        lines = []
        grads = None if view.grads is None else view.grads[layer]
        for pos, (key, value) in enumerate(cache):
            rows = [("k", key, signed), ("v", value, signed)]
            if grads is not None:
                # The gradient row sits under the vector it belongs to.
                key_grad, value_grad = grads[pos]
                rows[1:1] = [("∂k", key_grad, gradient)]
                rows.append(("∂v", value_grad, gradient))
            for i, (name, vector, show) in enumerate(rows):
                line = Text(f"{pos:>3}  {view.labels[pos]} " if i == 0 else " " * 7)
                line.append(f"{name:>2} ", style="bold")
                # Neighbours of one colour as one run: Rich and Textual's cost grows with the
                # segments of a line, and this table was the costliest pane to draw while
                # training (8-10 ms a frame at 120x34). A 29-line table went from 152 spans
                # to 84 (a gradient row is one run) and from ~2.9 to ~2.4 ms to draw, idle.
                runs = []  # [text, style]
                for x in vector[lo:hi]:
                    text, style = show(x)
                    if runs and runs[-1][1] == style:
                        runs[-1][0] += text
                    else:
                        runs.append([text, style])
                for text, style in runs:
                    line.append(text, style=style)
                if pos % 2:
                    line.stylize(BAND_STYLE)
                if i == 0 and pos == view.newest:
                    # The position this token just appended, in the sampling pane's colour.
                    line.stylize(CHOSEN, 0, 6)
                lines.append(line)
        return lines
