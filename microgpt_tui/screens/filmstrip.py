"""The probe filmstrip: the model measured every N steps on the same names and seed."""

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Sparkline, Static

from engine.probe import SAMPLE_TEMPERATURE


class FilmstripScreen(Screen):
    BINDINGS = [Binding("escape,p", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="filmstrip"):
            yield Static(id="filmstrip-caption")
            yield Sparkline((), id="filmstrip-trend")
            yield DataTable(id="filmstrip-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self):
        training, config = self.app.training, self.app.config
        every = "every step" if training.probe_every == 1 else f"every {training.probe_every} steps"
        self.query_one("#filmstrip").border_title = f"Probe filmstrip · {every}"
        self.query_one("#filmstrip-caption", Static).update(Text.assemble(
            "loss: mean over the same ", (f"{len(training.probe_docs)} names", "bold"),
            " every time · samples: seed ", (str(config.seed), "bold"),
            f", temperature {SAMPLE_TEMPERATURE} · esc closes",
        ))
        table = self.query_one(DataTable)
        table.add_column("step", key="step")
        table.add_column("loss", key="loss")
        table.add_column("5 samples", key="samples")
        self.show_records()
        self.app.probed_signal.subscribe(self, self.add_record)
        self.app.rewound_signal.subscribe(self, lambda _result: self.show_records())
        table.focus()

    def show_records(self):
        """Every frame so far, from scratch: an undo drops the frames of the undone steps."""
        self.query_one(DataTable).clear()
        for record in self.app.probes:
            self.add_record(record)
        self.show_trend()

    def add_record(self, record):
        table = self.query_one(DataTable)
        # Follow the newest frame unless the learner has moved up to look at an older one.
        following = table.cursor_row >= table.row_count - 1
        table.add_row(Text(str(record.step), justify="right"), f"{record.loss:.4f}",
                      "  ".join(record.samples))
        if following:
            table.move_cursor(row=table.row_count - 1)
        self.show_trend()

    def show_trend(self):
        trend = self.query_one(Sparkline)
        trend.data = [probe.loss for probe in self.app.probes]
        trend.display = len(trend.data) > 1  # one frame has no trend, only a full bar
