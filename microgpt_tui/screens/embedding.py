"""The embedding map: every token's embedding (a row of wte) projected to 2-D by PCA."""

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.pca import pca

from ..colours import BOLD_MARK, BOS, FAILED
from ..run import Change
from ..widgets.scatter import Scatter
from .view import RunView

VOWELS = frozenset("aeiouAEIOU")
VOWEL, CONSONANT = BOLD_MARK, "bold"


def style_of(label, bos_label):
    if label == bos_label:
        return BOS
    return VOWEL if label in VOWELS else CONSONANT


class EmbeddingScreen(RunView):
    KEY = "m"
    FOLLOWS = frozenset({Change.STEPS})
    # While training runs, steps arrive ten times a second; the map moves slowly, and a PCA
    # plus a redraw twice a second is plenty.
    REDRAW_INTERVAL = 0.5

    def compose(self) -> ComposeResult:
        with Vertical(id="embedding"):
            yield Scatter(id="embedding-scatter")
            yield Static(id="embedding-caption")

    def redraw(self):
        steps, weights, tokenizer = self.store.step, self.store.weights, self.store.tokenizer
        # A one-number embedding (n_embd 1) has one axis: its points lie on a line.
        if not all(math.isfinite(x) for row in weights["wte"] for x in row):
            # A diverged run's embeddings (inf or nan) have no principal axes to plot on.
            self.query_one(Scatter).points = ()
            self.query_one("#embedding-caption", Static).update(Text(
                f"The embeddings of step {steps} are not finite numbers: training diverged, "
                "so there is nothing to project.", style=FAILED))
            return
        projection = pca(weights["wte"], k=min(2, self.store.config.n_embd))
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
