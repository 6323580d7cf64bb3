"""The `H` view: what each attention head does, over the 200 probe names.

One row per head of every layer: where its attention goes (itself, the previous letter, BOS,
further back), how spread out it is, and how much the probe loss rises when it alone is
zeroed. The numbers come from engine.heads, in a thread worker: 1 + heads passes over the
probe names take a second or more on the default config.
"""

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, ProgressBar, Static
from textual.worker import WorkerState, get_current_worker

from engine.ablation import PROBE_SEED
from engine.heads import LEANS, MOSTLY, SPREAD_OUT, profile_heads

from ..colours import BOLD_MARK, FAILED
from ..run import Change
from .view import RunView

HEADER = ("itself", "prev.", "BOS", "further")  # engine.heads' SELF, PREVIOUS, BOS, FURTHER
# Below this many nats under a uniform guess, "a share of what the model has learned" would
# be the ratio of two tiny numbers (or of a negative one): the share is left out.
SHARE_FROM = 0.1

WHAT = ("Every head's attn_weights = softmax(attn_logits) over {names} probe names, and the "
        "probe loss without that head's output.")


def weights_label(step):
    return f"the weights after step {step}" if step else "the initial weights (no step yet)"


def legend(report, vocab_size):
    share = (f"; %: of the {report.learned:.4f} the model is below a uniform guess "
             f"(ln {vocab_size} = {report.uniform_loss:.4f})"
             if report.learned >= SHARE_FROM else "")
    return (
        "Shares of attention on the letter itself, the one before it (BOS before the first "
        f"letter), BOS further back and the rest, over {report.rows:,} positions (not "
        "position 0: its only key is itself); \"even\": attention spread evenly over every "
        "key. Entropy: mean bits per position.\n"
        f"Δ loss: the probe loss with only that head zeroed, minus {report.loss:.4f} with "
        f"every head{share}.\n"
        f"Label: \"mostly …\" at {MOSTLY:.0%} or more on one place; \"leans to …\" at "
        f"{LEANS:g}× its even share; else \"{SPREAD_OUT}\". Orange: each head's largest "
        "share, and the largest Δ loss.")


def heads_table(report):
    show_share = report.learned >= SHARE_FROM
    # collapse_padding: one space between columns, so that the label fits beside them at 80.
    table = Table(box=None, padding=(0, 1), collapse_padding=True, show_edge=False)
    table.add_column("head", no_wrap=True)
    for place in HEADER:
        table.add_column(place, justify="right", no_wrap=True)
    table.add_column("entropy", justify="right", no_wrap=True)
    table.add_column("Δ loss", justify="right", no_wrap=True)
    if show_share:
        table.add_column("%", justify="right", no_wrap=True)
    table.add_column("label")
    changes = [report.change(profile) for profile in report.heads]
    for profile, change in zip(report.heads, changes):
        shares = [Text(f"{mass:.0%}", style=BOLD_MARK if place == profile.top else "")
                  for place, mass in enumerate(profile.mass)]
        change_style = BOLD_MARK if change == max(changes) else ""
        row = [profile.name, *shares, f"{profile.entropy:.2f}",
               Text(f"{change:+.4f}", style=change_style)]
        if show_share:
            row.append(Text(f"{change / report.learned:+.1%}", style=change_style))
        table.add_row(*row, report.label(profile))
    # What the shares and the entropy would be with no preference at all.
    table.add_row("even", *(f"{mass:.0%}" for mass in report.even_mass),
                  f"{report.even_entropy:.2f}", *[""] * (1 + show_share), "every key alike",
                  style="dim")
    return table


class HeadsScreen(RunView):
    """Measures the weights of the moment it opened (or of the last `r`), not every step:
    a measurement holds the GIL for seconds, and would slow training to a crawl."""

    KEY = "H"
    BINDINGS = [Binding("r", "remeasure", "re-measure",
                        tooltip="Measure again, on the newest weights")]
    FOLLOWS = frozenset({Change.STEPS})  # only to say that the weights have moved on
    REDRAW_INTERVAL = 0.5

    @dataclass
    class Progress(Message):
        """`done` of `total` forward passes over a probe name, from the worker `worker`."""

        worker: object
        done: int
        total: int

    def __init__(self, store):
        super().__init__(store)
        self.probe = store.probe_set
        self.report = None
        self.measured_step = None
        self.worker = None  # the measurement under way or done: an older one's news is stale

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with VerticalScroll(id="heads", classes="pane"):
            yield Static(WHAT.format(names=len(self.probe)), id="heads-what", classes="note")
            yield Static(id="heads-source")
            with Vertical(id="heads-progress"):
                yield Static(id="heads-progress-label")
                yield ProgressBar(show_eta=False)
            yield Static(id="heads-table")
            yield Static(id="heads-legend", classes="note")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        self.query_one("#heads").border_title = "What each head does"
        # Paint the view first: the worker then competes with the UI for the GIL.
        self.call_after_refresh(self.action_remeasure)

    def action_remeasure(self):
        # A key pressed twice at once can close the view before this runs, and a worker
        # started on a closed view is never cancelled: it would run for nobody.
        if self not in self.app.screen_stack:
            return
        self.report = None
        self.measured_step = self.store.step
        self.query_one("#heads-table", Static).update("")
        self.query_one("#heads-legend", Static).update("")
        self.show_progress(0, None)  # None: how many passes, the first report says
        self.worker = self.measure(self.store.weights)
        self.redraw()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def measure(self, weights):
        # Closing the view removes it, and Textual cancels a removed node's workers (as a new
        # measurement cancels the one before: exclusive); the thread runs on until
        # profile_heads next asks `cancelled` (before each name), then stops.
        worker = get_current_worker()
        return profile_heads(
            weights, self.store.tokenizer, self.store.config, self.probe,
            cancelled=lambda: worker.is_cancelled,
            progress=lambda done, total: self.post_message(self.Progress(worker, done, total)))

    def on_heads_screen_progress(self, message):
        if message.worker is self.worker and self.report is None:
            self.show_progress(message.done, message.total)

    def show_progress(self, done, total):
        self.query_one("#heads-progress").display = True
        label = "Measuring…"
        if total:
            label = (f"Measuring: {total // len(self.probe)} passes over the {len(self.probe)} "
                     "names (every head, then each head zeroed in turn); "
                     f"{done:,} of {total:,} name passes done…")
        self.query_one("#heads-progress-label", Static).update(label)
        self.query_one(ProgressBar).update(total=total, progress=done)

    def on_worker_state_changed(self, event):
        # A cancelled worker's view has been closed, or a newer measurement replaced it.
        if event.worker is not self.worker:
            return
        if event.state is WorkerState.SUCCESS:
            self.report = event.worker.result
            self.query_one("#heads-progress").display = False
            self.query_one("#heads-table", Static).update(heads_table(self.report))
            self.query_one("#heads-legend", Static).update(
                legend(self.report, self.store.tokenizer.vocab_size))
        elif event.state is WorkerState.ERROR:
            self.query_one("#heads-progress").display = False
            # Diverged weights can overflow or make a probability 0 (log of 0).
            self.query_one("#heads-table", Static).update(Text(
                f"Could not measure on these weights: {event.worker.error}.", style=FAILED))

    def redraw(self):
        """Say which weights were measured, and whether training has moved on since."""
        if self.measured_step is None:
            return
        source = (f"Measured on {weights_label(self.measured_step)} · probe names drawn with "
                  f"seed {PROBE_SEED}")
        if self.store.step != self.measured_step:
            source += f" · training is at step {self.store.step} now: r measures again"
        self.query_one("#heads-source", Static).update(source)
