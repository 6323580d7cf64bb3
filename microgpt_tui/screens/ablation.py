"""The `x` screen: the selected head zeroed, side by side with the intact model."""

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import WorkerState, get_current_worker

from engine.ablation import PROBE_SEED, SAMPLE_SEED, compare_ablation

from ..colours import FAILED, MARK
from .view import RunView


def sample_cell(name, style=""):
    # A sample can end at once (BOS drawn first): say so rather than leave the cell blank.
    return Text(name, style=style) if name else Text("(empty)", style=style or "dim")


class AblationScreen(RunView, ModalScreen):
    """Measures in a thread worker: on the default config one float pass over the 200 probe
    names took 0.7-0.9 s (two passes and 10 samples: 1-2 s), far too long for the UI thread.
    It measures the weights of the moment it opened, and does not follow training; it is
    modal, so the panes stay in sight around it."""

    KEY = "x"
    CLOSE_LABEL = "restore the head"

    def __init__(self, store, layer, head):
        super().__init__(store)
        self.weights = store.weights  # an immutable snapshot: the trainer is never touched
        self.probe = store.probe_set
        self.pair = (layer, head)  # Screen has a `layer` of its own (CSS layers)
        self.temperature = store.sampling.temperature
        # The store's step and weights come from one snapshot: this is the step they are.
        steps = store.step
        self.weights_label = (f"Weights after step {steps}" if steps else
                              "The initial weights (no step yet)")
        if store.running:
            self.weights_label += " (training goes on; this view does not follow it)"
        self.comparison = None

    @property
    def head_name(self):
        layer, head = self.pair
        return f"L{layer + 1} H{head + 1}"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="ablation"):
            yield Static(id="ablation-body")

    def on_mount(self):
        box = self.query_one("#ablation")
        layer, head = self.pair
        box.border_title = f"Ablation · layer {layer + 1} · head {head + 1} zeroed"
        box.border_subtitle = "x or esc restores the head"
        self.query_one("#ablation-body", Static).update(Text(
            f"Measuring the loss on {len(self.probe)} probe names and drawing samples, with "
            f"and without {self.head_name}…", style="dim"))
        # Paint "Measuring…" first: the worker then competes with the UI for the GIL.
        self.call_after_refresh(self.start_measuring)

    def start_measuring(self):
        # x pressed twice within a few milliseconds closes the screen before this runs, and
        # a worker started on a closed screen is never cancelled: it would run for nobody.
        if self in self.app.screen_stack:
            self.measure()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def measure(self):
        # Closing the screen removes it, and Textual cancels a removed node's workers; the
        # thread runs on until compare_ablation next asks `cancelled` (before each document
        # and sample), then stops instead of competing with training for the GIL.
        worker = get_current_worker()
        return compare_ablation(self.weights, self.store.tokenizer, self.store.config, self.probe,
                                {self.pair}, temperature=self.temperature,
                                cancelled=lambda: worker.is_cancelled)

    def on_worker_state_changed(self, event):
        # A cancelled worker's screen has been closed: nothing to update. Its thread's
        # Cancelled is never an ERROR here: Textual marks the worker CANCELLED as it cancels.
        if event.state is WorkerState.SUCCESS:
            self.comparison = event.worker.result
            self.query_one("#ablation-body", Static).update(self.report(self.comparison))
        elif event.state is WorkerState.ERROR:
            # Diverged weights can overflow or make a probability 0 (log of 0).
            self.query_one("#ablation-body", Static).update(Text(
                f"Could not measure on these weights ({event.worker.error}): they have "
                "probably diverged.", style=FAILED))

    def report(self, comparison):
        table = Table(box=None, padding=(0, 1), show_edge=False)
        table.add_column("")
        table.add_column("all heads", justify="right")
        table.add_column(f"{self.head_name} zeroed", justify="right")
        change = comparison.ablated_loss - comparison.loss
        table.add_row(f"loss on {comparison.probe_size} names", f"{comparison.loss:.4f}",
                      Text(f"{comparison.ablated_loss:.4f} ({change:+.4f})",
                           style=MARK if change else ""))
        for i, (plain, ablated) in enumerate(zip(comparison.samples,
                                                 comparison.ablated_samples)):
            table.add_row(f"sample {i + 1}", sample_cell(plain),
                          sample_cell(ablated, MARK if ablated != plain else ""))
        return Group(
            Text(f"{self.weights_label}; probe names drawn with seed {PROBE_SEED}, samples "
                 f"with seed {SAMPLE_SEED} at temperature {comparison.temperature:.1f}.",
                 style="dim"),
            Text(""),
            table,
            Text(""),
            Text(f"Same weights and the same random draws in both columns: every difference "
                 f"is {self.head_name}'s. The loss is the mean over names of a training "
                 "step's loss; orange marks what changed.", style="dim"),
        )
