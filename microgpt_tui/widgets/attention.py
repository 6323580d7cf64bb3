"""Attention weights as a heatmap: rows are query positions, columns the keys they see."""

from rich.text import Text
from textual.reactive import reactive

from .heatmap import cell_width_for, legend, render_matrix
from .lines import TextLines

LABEL_WIDTH = 2
HEAD_GAP = 2
# Cells grow with the pane up to this size (a short name in a big pane stays readable).
WIDEST_CELL, TALLEST_CELL = 7, 3
# The lines around a matrix: title, axes caption, column labels, colour legend.
FRAME_LINES = 4
AXES = ("rows: the position looking (query) · columns: the positions it sees (keys)",
        "row: query (looking) · column: key (seen)", "row: query · column: key")


def axes_caption(width):
    """What the rows and columns are, as long as fits on one line."""
    return Text(next((axes for axes in AXES if len(axes) <= width), AXES[-1]), style="dim")


class AttentionMap(TextLines):
    """One head as a labelled heatmap, or every head of the layer side by side."""

    DEFAULT_CSS = "AttentionMap { height: auto; }"

    # Not layout=True: SIZE_INPUTS re-layout only when the map's size changes (lines.py).
    view = reactive(None)
    # Not `layer`: a widget's `layer` is the compositor layer it is drawn on.
    shown_layer = reactive(0)
    head = reactive(0)
    all_heads = reactive(False)
    SIZE_INPUTS = ("view", "shown_layer", "head", "all_heads")

    def lines_inputs(self):
        return (self.view, self.shown_layer, self.head, self.all_heads, self.size.width,
                self.available_height())

    def available_height(self):
        """Lines the pane has for the map without scrolling (its parent scrolls)."""
        return self.parent.size.height if self.parent is not None else 0

    def render_other(self):
        return Text("Press s to take a training step: the attention of every position "
                    "over the positions before it appears here.", style="dim")

    def build_lines(self):
        view = self.view
        if view is None:
            return None
        layer = view.weights[min(self.shown_layer, len(view.weights) - 1)]
        if self.all_heads:
            return [*self.all_heads_lines(view, layer), legend()]
        head = layer[min(self.head, len(layer) - 1)]
        n = len(view.labels)
        width = cell_width_for(self.size.width - LABEL_WIDTH, n, WIDEST_CELL)
        # Taller cells only where wider ones are: a tall narrow cell reads as a bar.
        height = max(1, min(TALLEST_CELL, (self.available_height() - FRAME_LINES) // n,
                            width // 3))
        title = Text(f"{view.source}", style="bold")
        return [title, axes_caption(self.size.width),
                *render_matrix(head, view.labels, view.labels, width, LABEL_WIDTH, height),
                legend()]

    def all_heads_lines(self, view, layer):
        """Heads in blocks side by side, wrapped onto more block rows when space runs out."""
        n = len(view.labels)
        available = self.size.width - LABEL_WIDTH
        # The widest cells that still fit every head into two rows of blocks.
        per_row_needed = -(-len(layer) // 2)
        width = cell_width_for(available // per_row_needed - HEAD_GAP, n)
        block = n * width + HEAD_GAP
        per_row = max(1, available // block)
        lines = [Text(view.source, style="bold"), axes_caption(self.size.width)]
        for first in range(0, len(layer), per_row):
            heads = range(first, min(first + per_row, len(layer)))
            header = Text(" " * LABEL_WIDTH)
            for h in heads:
                style = "reverse" if h == self.head else "bold"
                name = f"head {h + 1}" if block > 7 else f"h{h + 1}"
                header.append(name, style=style)
                header.append(" " * (block - len(name)))
            lines.append(header)
            matrices = [render_matrix(layer[h], view.labels, view.labels, width, 0)[1:]
                        for h in heads]
            for i, label in enumerate(view.labels):
                line = Text(f"{label:<{LABEL_WIDTH}}")
                for matrix in matrices:
                    line.append_text(matrix[i])
                    line.append(" " * HEAD_GAP)
                lines.append(line)
        return lines
