"""The probe filmstrip: the model measured every N steps on the same names and seed."""

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Sparkline, Static

from engine.probe import SAMPLE_COUNT, SAMPLE_TEMPERATURE

from ..run import Change
from .view import RunView


class FilmstripScreen(RunView):
    KEY = "p"
    FOLLOWS = frozenset({Change.PROBE})

    def compose(self) -> ComposeResult:
        with Vertical(id="filmstrip"):
            yield Static(id="filmstrip-caption")
            yield Sparkline((), id="filmstrip-trend")
            yield DataTable(id="filmstrip-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self):
        store = self.store
        every = "every step" if store.probe_every == 1 else f"every {store.probe_every} steps"
        self.query_one("#filmstrip").border_title = f"Probe filmstrip · {every}"
        self.query_one("#filmstrip-caption", Static).update(Text.assemble(
            "loss: mean over the same ", (f"{len(store.probe_docs)} names", "bold"),
            " every time · samples: seed ", (str(store.config.seed), "bold"),
            f", temperature {SAMPLE_TEMPERATURE} · esc closes",
        ))
        table = self.query_one(DataTable)
        table.add_column("step", key="step")
        table.add_column("loss", key="loss")
        table.add_column(f"{SAMPLE_COUNT} samples", key="samples")
        table.focus()

    shown = ()  # the ProbeRecords in the table

    def redraw(self):
        table = self.query_one(DataTable)
        probes = tuple(self.store.probes)
        if probes[: len(self.shown)] != self.shown:
            table.clear()  # an undo dropped the frames of the undone steps
            self.shown = ()
        # Follow the newest frame unless the learner has moved up to look at an older one.
        following = table.cursor_row >= table.row_count - 1
        for record in probes[len(self.shown):]:
            table.add_row(Text(str(record.step), justify="right"), f"{record.loss:.4f}",
                          "  ".join(record.samples))
        self.shown = probes
        if following:
            table.move_cursor(row=table.row_count - 1)
        trend = self.query_one(Sparkline)
        trend.data = [probe.loss for probe in probes]
        trend.display = len(trend.data) > 1  # one frame has no trend, only a full bar
