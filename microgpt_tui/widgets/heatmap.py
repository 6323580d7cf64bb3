"""Colour scales and heatmap rendering: Rich `Text` with background colours."""

import itertools

from rich.color import Color
from rich.style import Style
from rich.text import Text

# A viridis-like ramp: dark for 0, bright yellow for 1, readable on dark and light themes.
RAMP = ((0.0, (22, 14, 46)), (0.25, (63, 46, 128)), (0.5, (33, 145, 140)),
        (0.75, (122, 209, 81)), (1.0, (253, 231, 37)))
MASKED = Style(color="grey35")


def heat_color(value):
    """Colour of a value in [0, 1] on the ramp (values outside are clamped)."""
    value = min(1.0, max(0.0, value))
    for (lo, lo_rgb), (hi, hi_rgb) in itertools.pairwise(RAMP):
        if value <= hi:
            t = (value - lo) / (hi - lo)
            return Color.from_rgb(*(a + (b - a) * t for a, b in zip(lo_rgb, hi_rgb)))
    return Color.from_rgb(*RAMP[-1][1])


def heat_style(value):
    ink = "black" if value > 0.6 else "white"
    return Style(bgcolor=heat_color(value), color=ink)


def heat_cell(value, width, labelled=True):
    """One cell: the value as a percentage when it fits (and `labelled`), always its
    colour."""
    if width >= 3 and labelled:
        # Format rounding equals round()'s, and a diverged run's nan prints as "nan".
        label = f"{value * 100:>{width}.0f}"
    else:
        label = " " * width
    return Text(label, style=heat_style(value))


def legend(low="0%", high="100%", cells=10):
    """The colour ramp as `cells` swatches between its two ends' labels."""
    text = Text(f"{low} ")
    for i in range(cells):
        text.append(" ", style=Style(bgcolor=heat_color(i / (cells - 1))))
    text.append(f" {high}")
    return text


def cell_width_for(available, n_columns, widest=3):
    """Widest cell (up to `widest`) that lets `n_columns` cells fit in `available` columns."""
    return max(1, min(widest, available // max(1, n_columns)))


def render_matrix(rows, row_labels, col_labels, cell_width, label_width=2, cell_height=1):
    """A lower-triangular (or full) matrix: `rows[i]` may be shorter than `col_labels`.
    A cell is `cell_height` lines tall, its number on the middle one.

    Missing entries (keys a causal query cannot see) are drawn as a dim dot.
    """
    lines = []
    header = Text(" " * label_width)
    for label in col_labels:
        header.append(f"{label:^{cell_width}}"[:cell_width])
    lines.append(header)
    middle = cell_height // 2
    for label, row in zip(row_labels, rows):
        for line_index in range(cell_height):
            labelled = line_index == middle
            line = Text(f"{label if labelled else '':<{label_width}}"[:label_width])
            for value in row:
                line.append_text(heat_cell(value, cell_width, labelled))
            masked = "·" if labelled else ""
            for _ in range(len(col_labels) - len(row)):
                line.append(f"{masked:^{cell_width}}", style=MASKED)
            lines.append(line)
    return lines


def pool_strongest(rows, row_block, col_block):
    """Shrink a matrix by blocks of row_block × col_block, keeping each block's entry of
    largest magnitude (with its sign): a big gradient stays visible when its block shrinks."""
    n_cols = len(rows[0])
    return [
        [
            max((row[c] for row in rows[r:r + row_block]
                 for c in range(c0, min(c0 + col_block, n_cols))), key=abs)
            for c0 in range(0, n_cols, col_block)
        ]
        for r in range(0, len(rows), row_block)
    ]


def render_half_blocks(rows, unit, cell_width=1):
    """Two matrix rows per line of text: ▀ in the upper row's colour on the lower row's,
    `cell_width` characters wide. `unit` maps a value to [0, 1] on the colour ramp."""
    lines = []
    for top in range(0, len(rows), 2):
        lower = rows[top + 1] if top + 1 < len(rows) else None
        line = Text()
        for c, value in enumerate(rows[top]):
            below = heat_color(unit(lower[c])) if lower is not None else None
            line.append("▀" * cell_width, style=Style(color=heat_color(unit(value)), bgcolor=below))
        lines.append(line)
    return lines
