"""A vector as a strip of coloured cells, each with its number, wrapped to a width.

Signed vectors are coloured by size, |x| against the strip's largest |x| (dark: near 0,
yellow: the largest), since a vector's numbers have no fixed range; probabilities are
coloured on heatmap.py's fixed 0-100 % scale, so two strips of them compare directly.
"""

from rich.style import Style
from rich.text import Text

from .heatmap import MASKED, heat_cell, heat_style

CELL = 6  # " +0.12": a space, then the number
GROUP_MARK = "▏"  # takes a cell's leading space where a new group (an attention head) starts
GROUP_STYLE = Style(bold=True)
# Shorter formats for numbers too large for two decimals in CELL - 1 characters.
FORMATS = ("+.2f", "+.1f", "+.0f", "+.0e")


def fit_number(value, width):
    """The value with as many decimals as fit in `width` characters."""
    for spec in FORMATS:
        text = format(value, spec)
        if len(text) <= width:
            return text
    return format(value, FORMATS[-1])


def cells_per_line(width, n_values):
    """All the values if they fit, else a power of two of them, so that the lines of a long
    vector (mlp_fc1's 4 x n_embd units) line up as equal rows."""
    fit = max(1, width // CELL)
    return n_values if n_values <= fit else 2 ** (fit.bit_length() - 1)


def strip_width(width, n_values):
    """The columns a strip of n values takes when wrapped to `width`."""
    return cells_per_line(width, n_values) * CELL


def vector_strip(values, width, *, probabilities=False, labels=None, group=0,
                 dead=frozenset()):
    """The lines (Rich Text) of a strip of `values` wrapped to `width` columns.

    `probabilities`: values in [0, 1], shown as percentages on the fixed scale. `labels`:
    one short label per value (a letter, a position), shown above its cell. `group`: values
    per group, marked where each new group starts (0: no groups). `dead`: the indices of
    units shown as a grey 0, without colour (a ReLU's zeroed units)."""
    largest = max((abs(v) for v in values), default=0.0) or 1.0
    per_line = cells_per_line(width, len(values))
    lines = []
    for start in range(0, len(values), per_line):
        indices = range(start, min(start + per_line, len(values)))
        if labels is not None:
            lines.append(Text("".join(f"{labels[i]:>{CELL}}"[-CELL:] for i in indices),
                              style="bold"))
        line = Text()
        for i in indices:
            value = values[i]
            if i in dead:
                cell = Text(f"{'0':>{CELL}}", style=MASKED)
            elif probabilities:
                cell = heat_cell(value, CELL)
            else:
                cell = Text(f"{fit_number(value, CELL - 1):>{CELL}}",
                            style=heat_style(abs(value) / largest))
            if group and i % group == 0 and i > 0:
                line.append(GROUP_MARK, style=GROUP_STYLE)
                cell = cell[1:]
            line.append_text(cell)
        lines.append(line)
    return lines
