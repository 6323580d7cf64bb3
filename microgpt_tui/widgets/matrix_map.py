"""One weight-shaped matrix as a heatmap that fills its panel: cells grow while there is
room, and shrink by pooled blocks when there is not. Rows can be labelled (letters,
positions)."""

import math

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .attention import TALLEST_CELL, WIDEST_CELL
from .heatmap import pool_strongest, render_half_blocks


def fit_rows(n_rows, height):
    """(row_block, half_lines): matrix rows pooled into each drawn row, and how many half
    lines of text each drawn row is tall (▀ draws two half lines a line)."""
    half_lines = 2 * max(1, height)
    if n_rows <= half_lines:
        return 1, min(2 * TALLEST_CELL, half_lines // n_rows)
    return math.ceil(n_rows / half_lines), 1


def fit_columns(n_cols, width):
    """(col_block, cell_width): matrix columns pooled into each drawn column, its width."""
    width = max(1, width)
    if n_cols <= width:
        return 1, min(WIDEST_CELL, width // n_cols)
    return math.ceil(n_cols / width), 1


def line_labels(labels, row_block, half_lines):
    """The label of each line of text: the row drawn on it, or when a line holds two or more
    rows (half lines, pooled blocks) the first and last of them, such as 'a–d'."""
    n_rows = len(labels)
    n_drawn = math.ceil(n_rows / row_block)
    lines = [""] * math.ceil(n_drawn * half_lines / 2)
    if half_lines >= 2:
        # A row spans a line or more: its label goes on the line of its middle.
        for row, label in enumerate(labels):
            lines[(row * half_lines + (half_lines - 1) // 2) // 2] = label
        return lines
    for line in range(len(lines)):
        first = 2 * line * row_block
        last = min(n_rows, first + 2 * row_block) - 1
        lines[line] = labels[first] if first == last else f"{labels[first]}–{labels[last]}"
    return lines


class MatrixMap(Widget):
    matrix = reactive(None)  # rows of floats, or None when there is nothing to show yet
    row_labels = reactive(None)  # a name for each row (a letter, a position), or None
    empty_text = reactive("")

    def __init__(self, signed=True, **kwargs):
        super().__init__(**kwargs)
        self.signed = signed  # colours from -max to +max; otherwise from 0 to max

    def layout(self):
        """(row_block, half_lines, labels of the lines, col_block, cell_width) that fill
        the widget with the matrix and its row labels."""
        width, height = self.content_size
        row_block, half_lines = fit_rows(len(self.matrix), height)
        labels = (line_labels(self.row_labels, row_block, half_lines)
                  if self.row_labels else None)
        label_width = max(map(len, labels)) + 1 if labels else 0
        return (row_block, half_lines, labels,
                *fit_columns(len(self.matrix[0]), width - label_width))

    def update_note(self):
        note = ""
        if self.matrix:
            row_block, half_lines, labels, col_block, _ = self.layout()
            if row_block * col_block > 1:
                # Each drawn cell stands for a block of entries: the largest |x| of it.
                note = f"pooled {row_block}×{col_block}, max |x|"
            elif half_lines == 1 and labels:
                note = "2 rows a line"
        self.border_subtitle = note

    def watch_matrix(self):
        self.update_note()

    def watch_row_labels(self):
        self.update_note()

    def on_resize(self):
        self.update_note()

    def render(self):
        if not self.matrix:
            return Text(self.empty_text, style="dim")
        biggest = max(abs(x) for row in self.matrix for x in row) or 1.0
        row_block, half_lines, labels, col_block, cell_width = self.layout()
        rows = self.matrix
        if row_block * col_block > 1:
            rows = pool_strongest(rows, row_block, col_block)
        half_rows = [row for row in rows for _ in range(half_lines)]
        if self.signed:
            lines = render_half_blocks(half_rows, lambda x: 0.5 + x / (2 * biggest), cell_width)
        else:
            lines = render_half_blocks(half_rows, lambda x: x / biggest, cell_width)
        if labels:
            label_width = max(map(len, labels)) + 1
            lines = [Text(f"{label:<{label_width}}").append_text(line)
                     for label, line in zip(labels, lines)]
        return Group(*lines)
