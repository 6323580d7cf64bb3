"""The optimizer view: one weight matrix as Adam sees it, and the learning-rate schedule."""

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import Static

from ..run import Change
from ..widgets.heatmap import legend
from ..widgets.lr_schedule import LearningRatePlot
from ..widgets.matrix_map import MatrixMap
from .view import RunView

# (widget id, title, snapshot field, signed colour scale)
MAPS = (
    ("weights", "weights", "weights", True),
    ("grads", "gradient", "grads", True),
    ("update", "update", "update", True),
    ("adam-m", "Adam m", "m", True),
    ("adam-v", "Adam v", "v", False),
)
MATRIX_ROLES = {
    "wte": "token embeddings: a row per letter",
    "wpe": "position embeddings: a row per position",
    "lm_head": "output layer: a row per letter",
}


def role_of(name):
    return MATRIX_ROLES.get(name, name.split(".", 1)[-1].replace("_", " "))


def row_labels(name, n_rows, tokenizer):
    """The rows of wte and lm_head are letters (BOS as ·), those of wpe positions; the
    other matrices' rows have no such names."""
    if name in ("wte", "lm_head"):
        return tuple(tokenizer.label(i) for i in range(n_rows))
    if name == "wpe":
        return tuple(str(position) for position in range(n_rows))
    return None


class OptimizerScreen(RunView):
    KEY = "o"
    FOLLOWS = frozenset({Change.OPTIMIZER})
    BINDINGS = [
        Binding("right_square_bracket", "matrix(1)", "next matrix"),
        Binding("left_square_bracket", "matrix(-1)", "previous matrix"),
    ]
    matrix_index = 0
    snapshot = None  # the OptimizerSnapshot on screen

    def compose(self) -> ComposeResult:
        with Vertical(id="optimizer"):
            yield Static(id="optimizer-info")
            with Grid(id="optimizer-grid"):
                for widget_id, _, _, signed in MAPS:
                    yield MatrixMap(signed, id=widget_id, classes="optimizer-cell")
                yield LearningRatePlot(self.store.config, id="lr-plot",
                                       classes="optimizer-cell")

    def on_mount(self):
        self.query_one("#lr-plot").border_title = "learning rate"
        # Every report carries the optimizer's state while this view is open.
        self.store.follow_optimizer(True)

    def on_unmount(self):
        self.store.follow_optimizer(False)

    def action_matrix(self, direction):
        if self.snapshot is not None:
            self.matrix_index = (self.matrix_index + direction) % len(self.snapshot.layout)
            self.redraw()

    def redraw(self):
        snapshot = self.snapshot = self.store.optimizer or self.snapshot
        if snapshot is None:
            return  # asked for: it comes with the worker's next report
        name, rows, cols, _ = snapshot.layout[self.matrix_index]
        # The step's learning rate is under the schedule: here it would wrap at 80 columns.
        when = f"after step {snapshot.step}" if snapshot.step else "before the first step"
        info = Text.assemble((f"{name}", "bold"), f" {rows}×{cols} · {role_of(name)} · {when}\n",
                             "] / [ next / previous matrix · colours ",
                             legend("−max", "+max", cells=7),
                             " (v: 0 to max) · esc")
        self.query_one("#optimizer-info", Static).update(info)
        labels = row_labels(name, rows, self.store.tokenizer)
        for widget_id, title, field, signed in MAPS:
            values = getattr(snapshot, field)
            widget = self.query_one(f"#{widget_id}", MatrixMap)
            if values is None:
                widget.matrix = None
                widget.empty_text = "appears after a step taken with this run (s)"
                widget.border_title = title
                continue
            matrix = snapshot.matrix(values, self.matrix_index)
            biggest = max(abs(x) for row in matrix for x in row)
            widget.border_title = f"{title} {'±' if signed else '≤'}{biggest:.2g}"
            widget.matrix, widget.row_labels = matrix, labels
        self.query_one(LearningRatePlot).steps_taken = snapshot.step
