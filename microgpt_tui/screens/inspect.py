"""The `i` screen: any name the learner types, every next-letter prediction the model makes for
it and every head's attention over it, at the newest weights beside the step-0 weights.

A name takes the float forward pass twice (~1-2 ms on the default model), so it is computed
on the UI thread as the learner types and again after training steps. The step-0 weights,
which the run does not keep, are rebuilt from the seed once per view in a thread worker: it
replays the Trainer's shuffle of every document (~10 ms for names.txt, seconds for millions).
"""

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Label, Static
from textual.worker import WorkerState

from engine.inspection import initial_weights, inspect_name

from ..colours import BAD, FAILED, GOOD, MARK
from ..run import Change
from ..widgets.attention_pairs import AttentionPair, AttentionPairs
from ..widgets.sampling import percent
from .force import vocabulary_refusal
from .view import RunView

START = "step 0"
ROSE, FELL, RIGHT = GOOD, MARK, f"bold {GOOD}"
PENDING = Text("…", style="dim")
SEPARATOR = "│"
WHAT = ("Each next letter's probability, probs[target] in the reference's "
        "loss_t = -log(probs[target]), at the newest weights and at step 0.")
HINT = "enter: to the numbers · tab: back · esc closes"


def note(vocab_size):
    return Text(
        f"bits = −log2 P, the surprise of that letter; rank among all {vocab_size} tokens (1 = "
        "the model's top guess, green when right); P in green rose since step 0, in orange it "
        "fell. The mean loss, −ln P averaged over the predictions (in nats), is this name's "
        "loss in a training step: what training minimises. After enter, s and space train "
        "and the numbers follow.", style="dim")


BIGRAM = Text("Against counting pairs: each prediction's bits beside the bigram model's, "
              "−log2 P(next | the letter read) from the dataset's letter-pair counts (the loss "
              "pane's bigram line). Green where the model needs fewer bits than counting: "
              "where that holds across names, it uses more than the letter it reads (the "
              "letters before it, through attention, or the position).", style="dim")
ATTENTION = Text("Every head's attention: rows are the letter read (the query), columns the "
                 "letters it can look at (the keys), in %.", style="dim")


def shown_bits(bits):
    return f"{bits:.2f}" if math.isfinite(bits) else "∞"


def prediction_cells(prediction, label, other=None):
    """P, rank, bits and the top guess of one position; `other` (the same position on other
    weights) colours P by whether it rose or fell."""
    style = ""
    if other is not None and prediction.p != other.p:
        style = ROSE if prediction.p > other.p else FELL
    guess = Text(f"{label(prediction.guess)} {percent(prediction.probs[prediction.guess])}",
                 style=RIGHT if prediction.guess == prediction.target else "")
    return [Text(percent(prediction.p), style=style), f"{prediction.rank}",
            shown_bits(prediction.bits), guess]


def predictions_table(now, start, now_title, label):
    """One row per position: what it reads and must predict, then both weights' numbers."""
    # Collapsed padding: one space between columns, so both sets fit 80 columns.
    table = Table(box=None, padding=(0, 1), collapse_padding=True, show_edge=False)
    table.add_column("pos", justify="right")
    table.add_column("read→next", no_wrap=True)
    for title in (now_title, START):
        table.add_column(SEPARATOR + "\n" + SEPARATOR, style="dim")
        table.add_column(f"{title}\nP(next)", justify="right", no_wrap=True)
        table.add_column("\nrank", justify="right")
        table.add_column("\nbits", justify="right")
        table.add_column("\nguess", no_wrap=True)
    for i, prediction in enumerate(now.predictions):
        old = start.predictions[i] if start is not None else None
        cells = [f"{i}", f"{label(prediction.input_token)} → {label(prediction.target)}",
                 SEPARATOR, *prediction_cells(prediction, label, old), SEPARATOR]
        cells += prediction_cells(old, label) if old is not None else [PENDING] * 4
        table.add_row(*cells)
    return table


def signed_bits(bits):
    return f"{bits:+.2f}" if math.isfinite(bits) else "+∞"


def bigram_table(now, bigram_losses, now_title, label):
    """The model's bits per position beside the bigram model's (`bigram_losses`, in nats),
    their difference, and the sums."""
    bigram_bits = [nats / math.log(2) for nats in bigram_losses]
    total_bigram = math.fsum(bigram_bits)
    table = Table(box=None, padding=(0, 1), collapse_padding=True, show_edge=False,
                  show_footer=True)
    table.add_column("pos", justify="right")
    table.add_column("read→next", no_wrap=True, footer="sum")
    table.add_column(f"{now_title}\nbits", justify="right",
                     footer=shown_bits(now.total_bits))
    table.add_column("bigram\nbits", justify="right", footer=f"{total_bigram:.2f}")
    table.add_column("model −\nbigram", justify="right",
                     footer=difference_cell(now.total_bits - total_bigram))
    for i, (prediction, bits) in enumerate(zip(now.predictions, bigram_bits)):
        table.add_row(f"{i}", f"{label(prediction.input_token)} → {label(prediction.target)}",
                      shown_bits(prediction.bits), f"{bits:.2f}",
                      difference_cell(prediction.bits - bits))
    return table


def difference_cell(difference):
    """Green where the model needs fewer bits than counting pairs, orange where more."""
    return Text(signed_bits(difference), style=ROSE if difference < 0 else FELL)


def totals(inspection, title):
    if inspection is None:
        return Text(f"{title}: rebuilding the initial weights from the seed…", style="dim")
    n = len(inspection.predictions)
    return Text.assemble(
        (f"{title}: ", "bold"), f"{shown_bits(inspection.total_bits)} bits in all · mean loss ",
        (f"{inspection.loss:.4f}", "bold"), f" nats over {n} prediction{'s' * (n > 1)}")


class InspectScreen(RunView):
    KEY = "i"
    FOLLOWS = frozenset({Change.STEPS, Change.BIGRAM})
    REDRAW_INTERVAL = 0.25

    def __init__(self, store):
        super().__init__(store)
        result = store.last_result
        # The name the last step trained on, else the one the next step will.
        self.name_wanted = result.doc if result else store.docs[store.step % store.n_docs]
        self.name_shown = None  # the name whose numbers are on screen
        self.measuring = None  # (name, step) of the newest measurement
        self.start_weights = None  # rebuilt by a worker
        self.start = None  # the NameInspection of the name shown on the step-0 weights

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with Vertical(id="inspect", classes="pane"):
            with Horizontal(id="inspect-entry"):
                yield Label("name ")
                yield Input(self.name_wanted, placeholder="type a name", compact=True,
                            id="inspect-name")
                yield Static(Text(HINT), id="inspect-hint", classes="note")
            with VerticalScroll(id="inspect-body"):
                yield Static(Text(WHAT), classes="note")
                yield Static(id="inspect-notice")
                yield Static(Text("Computing…", style="dim"), id="inspect-table")
                yield Static(id="inspect-totals")
                yield Static(note(self.store.tokenizer.vocab_size))
                yield Static(BIGRAM, id="inspect-bigram-caption", classes="note")
                yield Static(id="inspect-bigram")
                yield Static(ATTENTION, id="inspect-attention-caption")
                yield AttentionPairs(id="inspect-attention")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        self.query_one("#inspect").border_title = "Inspect a name"
        self.rebuild_start_weights(self.store.config, self.store.n_shuffled,
                                   self.store.tokenizer.vocab_size)

    @work(thread=True, group="start", exit_on_error=False)
    def rebuild_start_weights(self, config, n_docs, vocab_size):
        return initial_weights(config, n_docs, vocab_size)

    # On the default model a name takes 1-2 ms; a 4-layer, 64-wide one takes ~60 ms a set of
    # weights. Exclusive: a newer name or step cancels the measurement under way.
    @work(thread=True, group="name", exclusive=True, exit_on_error=False)
    def measure(self, name, step, weights, start_weights):
        """The name on the weights of `step`, and on `start_weights` unless they are None."""
        store = self.store
        now = inspect_name(name, weights, store.tokenizer, store.config)
        if start_weights is None:
            return step, now, None
        return step, now, inspect_name(name, start_weights, store.tokenizer, store.config)

    def on_worker_state_changed(self, event):
        # A cancelled worker's result is stale: a newer measurement is under way.
        start_weights = event.worker.group == "start"
        if event.state is WorkerState.SUCCESS and start_weights:
            self.start_weights = event.worker.result
            self.redraw()
        elif event.state is WorkerState.SUCCESS:
            self.show(*event.worker.result)
        elif event.state is WorkerState.ERROR and start_weights:
            self.notify(f"Could not rebuild the step-0 weights: {event.worker.error}",
                        severity="error")
        elif event.state is WorkerState.ERROR:
            # Diverged weights overflow, or give a letter probability 0 (log of 0).
            name, step = self.measuring
            self.show_notice(Text(f"Cannot compute {name!r} on the weights of step {step} "
                                  f"({event.worker.error}): training has probably diverged.",
                                  style=FAILED))

    # The name -------------------------------------------------------------------------------

    def refusal(self, name):
        """Why `name` cannot be inspected, or "" if it can."""
        return vocabulary_refusal(name, self.store.tokenizer)

    def on_input_changed(self, event: Input.Changed):
        refusal = self.refusal(event.value)
        if refusal:
            self.show_notice(self.refusal_notice(refusal))
        elif event.value != self.name_wanted:
            self.name_wanted = event.value
            self.redraw()

    def on_input_submitted(self, event: Input.Submitted):
        refusal = self.refusal(event.value)
        if refusal:
            self.notify(f"Cannot inspect {event.value!r}: {refusal}.", severity="warning")
        else:
            self.query_one("#inspect-body").focus()

    # Drawing --------------------------------------------------------------------------------

    def redraw(self):
        """Measure the name on the newest weights (and on the step-0 weights, once a name)."""
        store = self.store
        self.measuring = (self.name_wanted, store.step)
        start_known = self.start is not None and self.start.name == self.name_wanted
        self.measure(self.name_wanted, store.step, store.weights,
                     None if start_known else self.start_weights)

    def show(self, step, now, start):
        if start is not None:
            self.start = start
        elif self.start is not None and self.start.name != now.name:
            self.start = None  # the step-0 weights are still being rebuilt
        self.name_shown = now.name
        now_title = f"step {step}" if step else "now (step 0)"
        label = self.store.tokenizer.label
        self.query_one("#inspect-table", Static).update(
            predictions_table(now, self.start, now_title, label))
        self.query_one("#inspect-totals", Static).update(
            Group(totals(now, now_title), totals(self.start, START)))
        self.query_one("#inspect-bigram", Static).update(self.against_bigram(now, now_title))
        labels = tuple(map(label, now.inputs))
        self.query_one(AttentionPairs).pair = AttentionPair(
            labels, (now_title, START),
            (now.attention, self.start.attention if self.start else None))
        refusal = self.refusal(self.query_one("#inspect-name", Input).value)
        self.show_notice(self.refusal_notice(refusal) if refusal else self.cut_notice(now))

    def against_bigram(self, now, now_title):
        model = self.store.bigram_model
        if model is None:
            return Text(f"The bigram model is being counted "
                        f"({self.store.bigram_progress:.0%}).", style="dim")
        return bigram_table(now, model.position_losses(now.name), now_title,
                            self.store.tokenizer.label)

    def refusal_notice(self, refusal):
        return Text(f"{refusal}: still showing {self.name_wanted!r}.", style=BAD)

    def cut_notice(self, now):
        if not now.cut:
            return None
        lost = ("the end-of-name prediction is" if now.cut == 1 else
                f"the last {now.cut} predictions (the end of the name's among them) are")
        return Text(f"{len(now.name)} letters: the model reads block_size = "
                    f"{self.store.config.block_size} positions, so, as in training, {lost} "
                    "cut.", style=FELL)

    def show_notice(self, notice):
        """A line above the table (a refusal, a cut, a failure), or none."""
        shown = self.query_one("#inspect-notice", Static)
        shown.update(notice or "")
        shown.display = bool(notice)
