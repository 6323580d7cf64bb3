"""The embedding map: every token's embedding (a row of wte) projected to 2-D by PCA."""

import math
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from engine.pca import pca

from ..widgets.scatter import Scatter

VOWELS = frozenset("aeiouAEIOU")
VOWEL, CONSONANT, BOS = "bold dark_orange", "bold", "bold magenta"
# While training runs, steps arrive ten times a second; the map moves slowly, and a PCA
# plus a redraw twice a second is plenty.
REFRESH_INTERVAL = 0.5


def style_of(label, bos_label):
    if label == bos_label:
        return BOS
    return VOWEL if label in VOWELS else CONSONANT


class EmbeddingScreen(Screen):
    BINDINGS = [Binding("escape,m", "dismiss", "close")]

    def __init__(self):
        super().__init__()
        self.shown_weights = None  # the weights snapshot on screen
        self.last_refresh = 0.0

    def compose(self) -> ComposeResult:
        with Vertical(id="embedding"):
            yield Scatter(id="embedding-scatter")
            yield Static(id="embedding-caption")

    def on_mount(self):
        self.app.stepped_signal.subscribe(self, self.on_new_step)
        # A step that arrived too soon after the last refresh is drawn by this timer.
        self.set_interval(REFRESH_INTERVAL, self.refresh_map)
        self.refresh_map()

    def on_new_step(self, _result):
        if time.monotonic() - self.last_refresh >= REFRESH_INTERVAL:
            self.refresh_map()

    def refresh_map(self):
        steps, weights = self.app.training.stamped_weights
        if weights is self.shown_weights:
            return
        self.shown_weights = weights
        self.last_refresh = time.monotonic()
        tokenizer = self.app.tokenizer
        # A one-number embedding (n_embd 1) has one axis: its points lie on a line.
        if not all(math.isfinite(x) for row in weights["wte"] for x in row):
            # A diverged run's embeddings (inf or nan) have no principal axes to plot on.
            self.query_one(Scatter).points = ()
            self.query_one("#embedding-caption", Static).update(Text(
                f"The embeddings of step {steps} are not finite numbers: training diverged, "
                "so there is nothing to project.", style="red"))
            return
        projection = pca(weights["wte"], k=min(2, self.app.config.n_embd))
        first, second = (*projection.explained, 0.0)[:2]
        points = [(*point, 0.0)[:2] for point in projection.points]
        labels = [tokenizer.label(token) for token in range(tokenizer.vocab_size)]
        bos_label = tokenizer.label(tokenizer.bos)
        self.query_one(Scatter).points = tuple(
            (x, y, label, style_of(label, bos_label))
            for (x, y), label in zip(points, labels)
        )
        self.query_one("#embedding").border_title = (
            f"Embedding map · {tokenizer.vocab_size} token embeddings (wte) by PCA · "
            f"step {steps}")
        self.query_one("#embedding-caption", Static).update(Text.assemble(
            f"→ PC1: {first:.0%} of the variance · ↑ PC2: {second:.0%} · ",
            ("vowels", VOWEL), " in orange, ", (bos_label, BOS), " is BOS (a name's start and "
            "end) · letters used alike move together · esc closes",
        ))
