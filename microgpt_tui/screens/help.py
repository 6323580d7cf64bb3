"""The `?` screen: every key, and what each pane shows."""

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.ablation import ABLATION_PROBE_SIZE
from engine.probe import SAMPLE_COUNT

from ..colours import BOLD_MARK

PANES = (
    ("Loss", "each faint blue dot is one training step's loss (mean next-letter surprise "
             "over one name), every step since the first; bold orange: the running mean of "
             "the last 50 steps; yellow: ln(vocab), the loss of guessing uniformly; dashed "
             "green: counting letter pairs (bigram); once the mean is below it, the model "
             "beats counting. The y axis follows the data after 20 steps (a line out of "
             "range is named at the edge, ↑ or ↓); the x axis counts steps, and the note "
             "under it says how many steps one column holds."),
    ("Attention", "row = the position doing the looking (query), column = a position it "
                  "can see (key); each row sums to 100%. Positions to the right are masked."),
    ("KV cache", "the key (k) and value (v) vectors each position wrote for the selected "
                 "head; after a training step, the ∂k and ∂v rows are the gradients that "
                 "flowed back into them. While sampling, it grows one position per letter "
                 "(the newest one marked in orange): the cache exists for inference."),
    ("Sampling", "the model's next-letter probabilities, the letter picked, and which earlier "
                 "letters the newest one attended to. A letter forced with f shows P(letter | "
                 "context), its rank among all tokens (1 = most likely) and its surprisal in "
                 "bits, -log2 P: each bit halves the probability."),
    ("Ablation", f"x zeroes the selected head's output and shows the loss on "
                 f"{ABLATION_PROBE_SIZE} fixed probe names and {SAMPLE_COUNT} samples (same "
                 "seed) with and without it."),
)


def key_table(app, bindings):
    """Every shown key with its long description (hidden twins are described by it), and
    hidden keys that have a tooltip of their own."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style=BOLD_MARK, no_wrap=True)
    table.add_column()
    for binding in bindings:
        if binding.show or binding.tooltip:
            table.add_row(Text(app.get_key_display(binding)),
                          Text(binding.tooltip or binding.description))
    table.add_row(Text("ctrl+p"), Text("Command palette: every action by name"))
    return table


def pane_table():
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, text in PANES:
        table.add_row(name, text)
    return table


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close help")]

    def __init__(self, bindings):
        super().__init__()
        self.app_bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Text("Keys", style="bold underline"))
            yield Static(key_table(self.app, self.app_bindings))
            yield Static(Text("\nPanes", style="bold underline"))
            yield Static(pane_table())
            yield Static(Text("\nEvery number is the real model's. Esc closes this help.",
                              style="dim"))

    def on_mount(self):
        self.query_one("#help").border_title = "Help"
