"""Labelled points in the terminal: one character per point, nudged aside when two collide."""

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

AXIS = "grey35"


def scale(points, width, height):
    """The (column, row) cell of each (x, y) point, y up, the points spanning the grid."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    x_lo, y_hi = min(xs), max(ys)
    x_span = (max(xs) - x_lo) or 1.0
    y_span = (y_hi - min(ys)) or 1.0
    return [(round((x - x_lo) / x_span * (width - 1)), round((y_hi - y) / y_span * (height - 1)))
            for x, y in points]


def place(cells, width, height):
    """The cells with collisions resolved: a point whose cell is taken moves to the nearest
    free cell (the same row first), so every label stays readable."""
    taken, placed = set(), []
    for column, row in cells:
        cell = nearest_free(column, row, taken, width, height)
        taken.add(cell)
        placed.append(cell)
    return placed


def nearest_free(column, row, taken, width, height):
    for distance in range(max(width, height)):
        for d_row in sorted(range(-distance, distance + 1), key=abs):
            for d_column in (distance - abs(d_row), abs(d_row) - distance):
                cell = (column + d_column, row + d_row)
                if cell not in taken and 0 <= cell[0] < width and 0 <= cell[1] < height:
                    return cell
    return column, row  # more points than cells: draw over


class Scatter(Widget):
    # ((x, y, label, style), ...): the points to draw; the origin gets dim axes.
    points = reactive(())

    def render(self):
        width, height = self.content_size
        if not self.points or width < 2 or height < 2:
            return Text("")
        xy = [(x, y) for x, y, _, _ in self.points]
        # The origin is scaled with the points, so the axes cross where (0, 0) really is.
        *cells, origin = scale([*xy, (0.0, 0.0)], width, height)
        cells = place(cells, width, height)
        grid = [[(" ", "")] * width for _ in range(height)]
        origin_column, origin_row = origin
        for r in range(height):
            grid[r][origin_column] = ("│", AXIS)
        for c in range(width):
            grid[origin_row][c] = ("┼" if c == origin_column else "─", AXIS)
        for (column, row), (_, _, label, style) in zip(cells, self.points):
            grid[row][column] = (label, style)
        return Group(*(Text.assemble(*row) for row in grid))
