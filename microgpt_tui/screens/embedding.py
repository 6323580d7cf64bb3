"""The embedding map: every token's embedding (a row of wte) projected to 2-D by PCA.

The projection runs in a thread worker: with 5,000 tokens the PCA and the placing of the
labels took 13 s on the UI thread. Above MAP_LIMIT tokens the map shows the MAP_LIMIT most
frequent ones (BOS among them), and says so: more labels than that do not fit a terminal."""

import math
from collections import Counter
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.pca import pca
from engine.probe import stop_if_cancelled

from ..colours import BOLD_MARK, BOS, FAILED
from ..newest import NewestOnly
from ..run import Change
from ..widgets.scatter import Scatter
from .view import RunView

VOWELS = frozenset("aeiouAEIOU")
VOWEL, CONSONANT = BOLD_MARK, "bold"
# The most tokens the map plots: a 120×34 terminal has about 3,000 cells for labels, and
# labels only stay readable when most of them keep a cell of their own.
MAP_LIMIT = 500
# Documents counted between two looks at cancellation.
COUNT_BATCH = 10_000


def style_of(label, bos_label):
    if label == bos_label:
        return BOS
    return VOWEL if label in VOWELS else CONSONANT


def frequent_tokens(tokenizer, docs, limit=MAP_LIMIT, cancelled=None):
    """Every token id in order, or above `limit` tokens BOS and the `limit` - 1 characters
    most frequent in `docs` (the earlier in the vocabulary first among equals), in order."""
    if tokenizer.vocab_size <= limit:
        return tuple(range(tokenizer.vocab_size))
    counts = Counter()
    for start in range(0, len(docs), COUNT_BATCH):
        stop_if_cancelled(cancelled)
        counts.update("".join(docs[start:start + COUNT_BATCH]))
    chars = tokenizer.chars
    ranked = sorted(range(len(chars)), key=lambda token: (-counts[chars[token]], token))
    return (*sorted(ranked[:limit - 1]), tokenizer.bos)


@dataclass(frozen=True)
class EmbeddingMap:
    step: int
    tokens: tuple  # the token ids plotted
    projection: object  # their embeddings' Projection, or None if they are not finite


def project(step, wte, tokens, previous_axes, k, cancelled):
    rows = [wte[token] for token in tokens]
    if not all(math.isfinite(x) for row in rows for x in row):
        return EmbeddingMap(step, tokens, None)
    return EmbeddingMap(step, tokens, pca(rows, k=k, previous_axes=previous_axes,
                                          cancelled=cancelled))


class EmbeddingScreen(RunView):
    KEY = "m"
    FOLLOWS = frozenset({Change.STEPS})
    # While training runs, steps arrive ten times a second; the map moves slowly, and a PCA
    # plus a redraw twice a second is plenty.
    REDRAW_INTERVAL = 0.5

    tokens = None  # the token ids plotted, chosen once (counting a big dataset takes a while)
    axes = ()  # the axes of the map on screen: the next one keeps their orientation

    def __init__(self, store):
        super().__init__(store)
        self.projecting = NewestOnly(self, self.compute, self.show, self.failed)

    def compose(self) -> ComposeResult:
        with Vertical(id="embedding"):
            yield Scatter(id="embedding-scatter")
            yield Static(Text(f"Projecting {self.store.tokenizer.vocab_size:,} token embeddings "
                              "by PCA…", style="dim"), id="embedding-caption")

    def redraw(self):
        self.projecting(self.store.step, self.store.weights["wte"], self.axes)

    def compute(self, step, wte, previous_axes, cancelled):
        if self.tokens is None:
            self.tokens = frequent_tokens(self.store.tokenizer, self.store.docs,
                                          cancelled=cancelled)
        # A one-number embedding (n_embd 1) has one axis: its points lie on a line.
        return project(step, wte, self.tokens, previous_axes, min(2, self.store.config.n_embd),
                       cancelled)

    def failed(self, error):
        self.query_one("#embedding-caption", Static).update(Text(
            f"The embeddings could not be projected ({error}).", style=FAILED))

    def show(self, embedding_map):
        tokenizer, steps = self.store.tokenizer, embedding_map.step
        projection = embedding_map.projection
        if projection is None:
            # A diverged run's embeddings (inf or nan) have no principal axes to plot on.
            self.query_one(Scatter).points = ()
            self.query_one("#embedding-caption", Static).update(Text(
                f"The embeddings of step {steps} are not finite numbers: training diverged, "
                "so there is nothing to project.", style=FAILED))
            return
        self.axes = projection.axes
        first, second = (*projection.explained, 0.0)[:2]
        points = [(*point, 0.0)[:2] for point in projection.points]
        labels = [tokenizer.label(token) for token in embedding_map.tokens]
        bos_label = tokenizer.label(tokenizer.bos)
        self.query_one(Scatter).points = tuple(
            (x, y, label, style_of(label, bos_label))
            for (x, y), label in zip(points, labels)
        )
        shown = len(embedding_map.tokens)
        which = (f"{shown} token embeddings" if shown == tokenizer.vocab_size else
                 f"the {shown} most frequent of {tokenizer.vocab_size:,} tokens")
        self.query_one("#embedding").border_title = (
            f"Embedding map · {which} (wte) by PCA · step {steps}")
        caption = Text.assemble(
            f"→ PC1: {first:.0%} of the variance · ↑ PC2: {second:.0%} · ",
            ("vowels", VOWEL), " in orange, ", (bos_label, BOS), " is BOS (a name's start and "
            "end) · letters used alike move together · esc closes",
        )
        if shown < tokenizer.vocab_size:
            caption.append(f"\nOnly the {shown} most frequent tokens are projected and "
                           f"plotted: {tokenizer.vocab_size:,} labels would not fit.",
                           style="dim")
        self.query_one("#embedding-caption", Static).update(caption)
