"""A widget drawn as one-line Rich Texts, measured from those lines instead of a render.

Textual measures an auto-sized widget by rendering it: the height by rendering every line
to segments, the width by measuring every Text, in each layout pass (a new size brings a
second one), before it renders the lines again to draw them. The KV cache and attention
panes change size with nearly every training report (the names differ in length), so at
120x34 on the default model while training ~15 layout passes a second each measured the
KV table (4-4.6 ms height, 1.6-1.9 ms width) and the heatmap (2.5-3 ms height), and
Compositor.reflow took 10-12 ms. Lines that fit their width need none of that: the height
is how many there are, the width the widest; reflow now takes ~2 ms. The lines are built
once for each set of inputs and reused by the measurement and the render, and the layout
is refreshed only when their size changes: a name of the same length needs a repaint.
"""

from rich.console import Group
from textual.widget import Widget


class TextLines(Widget):
    """Subclasses return their lines from `build_lines()`, or None to render something
    else (e.g. a wrapped hint) through `render_other()`, which is measured the usual way.
    `SIZE_INPUTS` names their reactives that can change the size of what is drawn."""

    SIZE_INPUTS = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lines_inputs = None  # what the cached lines were built from
        self._lines = None
        self._shown_size = None  # the size the last layout was refreshed for

    def on_mount(self):
        for name in self.SIZE_INPUTS:
            self.watch(self, name, self.refresh_layout_if_resized, init=False)

    def lines_inputs(self):
        """Everything `build_lines()` reads: the first item is compared by identity (a
        frozen view, whose equality would compare every number), the rest by equality."""
        raise NotImplementedError

    def build_lines(self):
        raise NotImplementedError

    def render_other(self):
        raise NotImplementedError

    def lines(self):
        inputs = self.lines_inputs()
        cached = self._lines_inputs
        if cached is None or cached[0] is not inputs[0] or cached[1:] != inputs[1:]:
            self._lines, self._lines_inputs = self.build_lines(), inputs
        return self._lines

    def render(self):
        lines = self.lines()
        return self.render_other() if lines is None else Group(*lines)

    def lines_size(self):
        """(height, width) of the lines, or None when they are not lines."""
        lines = self.lines()
        if lines is None:
            return None
        return len(lines), max((line.cell_len for line in lines), default=0)

    def refresh_layout_if_resized(self, _value=None):
        """For watchers of the inputs: re-layout (reflow the screen) only if the size of what
        is drawn changes, else the reactive's own repaint is enough."""
        size = self.lines_size()
        if size is None or size != self._shown_size:
            self._shown_size = size
            self.refresh(layout=True)

    def get_content_height(self, container, viewport, width):
        lines = self.lines()
        # A line wider than `width` wraps: only Rich knows into how many lines.
        if lines is None or not width or any(line.cell_len > width for line in lines):
            return super().get_content_height(container, viewport, width)
        return len(lines)

    def get_content_width(self, container, viewport):
        lines = self.lines()
        if lines is None or container.width < 1:
            return super().get_content_width(container, viewport)
        # As Rich measures a Group of Texts: the widest line, at most the container's width.
        width = min(container.width, max((line.cell_len for line in lines), default=0))
        if self.expand:
            width = max(container.width, width)
        if self.shrink:
            width = min(width, container.width)
        return width
