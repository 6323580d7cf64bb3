"""Every weight matrix of a staged step: the L2 norm of its gradient once backward has run,
and of the change Adam made once the update has run."""

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

NORM_WIDTH = 7


def norm_cell(norm):
    if norm is None:
        return Text(f"{'·':>{NORM_WIDTH}}", style="dim")
    return Text(f"{norm:>{NORM_WIDTH}.4f}")


class MatrixNorms(DataTable):
    stage = reactive(None)  # the newest StepStage, or None before the first

    def __init__(self, shapes, **kwargs):
        """`shapes`: (name, rows, cols) of every weight matrix (engine.param_shapes)."""
        # No cell padding: the columns pad themselves, so the table fits half of 80 columns.
        super().__init__(cursor_type="none", zebra_stripes=True, cell_padding=0, **kwargs)
        self.shapes = shapes

    def watch_stage(self):
        self.clear(columns=True)
        # Text, not str: DataTable wraps a str cell, which drops the padding before it.
        self.add_columns(*map(Text, ("matrix", " shape", f"{'‖∂W‖':>{NORM_WIDTH}}",
                                     f"{'‖ΔW‖':>{NORM_WIDTH}}")))
        stage = self.stage
        grad_norms = dict(stage.grad_norms or ()) if stage else {}
        update_norms = dict(stage.update_norms or ()) if stage else {}
        for name, rows, cols in self.shapes:
            self.add_row(name, Text(f"{f'{rows}×{cols}':>6}"),
                         norm_cell(grad_norms.get(name)), norm_cell(update_norms.get(name)))
