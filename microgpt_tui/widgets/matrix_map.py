"""One weight-shaped matrix as a heatmap, two rows per line, shrunk by blocks to fit."""

import math

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .heatmap import pool_strongest, render_half_blocks


class MatrixMap(Widget):
    matrix = reactive(None)  # rows of floats, or None when there is nothing to show yet
    empty_text = reactive("")

    def __init__(self, signed=True, **kwargs):
        super().__init__(**kwargs)
        self.signed = signed  # colours from -max to +max; otherwise from 0 to max

    def blocks(self):
        """Rows and columns of the matrix per drawn cell, so that it fits the widget."""
        width, height = self.content_size
        n_rows, n_cols = len(self.matrix), len(self.matrix[0])
        return (max(1, math.ceil(n_rows / max(1, 2 * height))),
                max(1, math.ceil(n_cols / max(1, width))))

    def update_note(self):
        note = ""
        if self.matrix:
            row_block, col_block = self.blocks()
            if row_block * col_block > 1:
                # Each drawn cell stands for a block of entries: the largest |x| of it.
                note = f"pooled {row_block}×{col_block}, max |x|"
        self.border_subtitle = note

    def watch_matrix(self):
        self.update_note()

    def on_resize(self):
        self.update_note()

    def render(self):
        if not self.matrix:
            return Text(self.empty_text, style="dim")
        biggest = max(abs(x) for row in self.matrix for x in row) or 1.0
        row_block, col_block = self.blocks()
        rows = self.matrix
        if row_block * col_block > 1:
            rows = pool_strongest(rows, row_block, col_block)
        if self.signed:
            return Group(*render_half_blocks(rows, lambda x: 0.5 + x / (2 * biggest)))
        return Group(*render_half_blocks(rows, lambda x: x / biggest))
