"""The main screen's four panes, drawn from the run store."""

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import var

from ..newest import NewestOnly
from ..run import Change
from ..views import (
    attention_from_sample,
    attention_from_step,
    kv_cache_from_sample,
    kv_cache_from_step,
)
from .attention import AttentionMap
from .kv_cache import KVCacheTable
from .kv_cache_pane import KVCachePane
from .loss import LossPlot
from .sampling import SamplingView

# The changes that can alter what the attention and KV panes show.
SHOWN_RUN = frozenset({Change.STEPS, Change.SAMPLE})
# Under each pane, the line of the model it shows.
PANE_LINES = {
    "#loss": "loss = mean of -log P(next letter) over one name",
    "#attention": "attn_weights = softmax(q·k / √head_dim), per row",
    "#sampling": "next letter ~ probs = softmax(logits / T)",
    "#kv-cache": "k, v: what each position wrote · ∂: gradients",
}
# The KV cache pane's line while it shows a sample instead of a training step.
KV_SAMPLING_LINE = "inference · +1 position per token"
# The first letter's distribution is one forward pass, about 50 ns a parameter: 0.3 ms on the
# default model, 80 ms with n_layer 8 and n_embd 128 (or a vocabulary of 100,000), on every
# report. Above this many parameters (~5 ms) it is computed in a thread worker.
PREVIEW_ON_UI_THREAD = 100_000


class Panes(Horizontal):
    """Loss and attention on the left, sampling and the KV cache on the right. The app binds
    the selected layer and head (and all_heads) down; everything else comes from the store."""

    # Not `layer`: a widget's `layer` is its CSS layer. var, not reactive: a change would
    # repaint all four panes; the titles and the panes bound to these repaint what changes.
    shown_layer = var(0)
    shown_head = var(0)
    all_heads = var(False)

    def __init__(self, store, **kwargs):
        super().__init__(**kwargs)
        self.store = store
        self.first_letter_weights = None  # the weights the first-letter bars were made from
        self.previewing_in_worker = NewestOnly(self, self.first_letter_logits,
                                               self.show_first_logits, self.no_first_logits)

    def compose(self) -> ComposeResult:
        with Vertical(id="left"):
            with Vertical(id="loss", classes="pane"):
                yield LossPlot(id="loss-plot")
            with VerticalScroll(id="attention", classes="pane"):
                yield AttentionMap(id="attention-map").data_bind(
                    Panes.all_heads, Panes.shown_layer, head=Panes.shown_head)
        with Vertical(id="right"):
            with VerticalScroll(id="sampling", classes="pane"):
                yield SamplingView(self.store.tokenizer, id="sampling-view").data_bind(
                    Panes.shown_layer, head=Panes.shown_head)
            yield KVCachePane(KVCacheTable(id="kv-table").data_bind(
                Panes.shown_layer, head=Panes.shown_head), id="kv-cache", classes="pane")

    def on_mount(self):
        plot = self.query_one(LossPlot)
        plot.num_steps = self.store.config.num_steps
        plot.vocab_size = self.store.tokenizer.vocab_size
        for pane, line in PANE_LINES.items():
            self.query_one(pane).border_subtitle = line
        self.store.changed.subscribe(self, self.show)
        self.show(frozenset(Change))

    @property
    def previewing(self):
        """No letter drawn yet: the sampling pane shows the first letter's distribution."""
        return not self.store.sampling.events

    def show(self, changes):
        store = self.store
        plot = self.query_one(LossPlot)
        if Change.STEPS in changes:
            plot.lr = store.lr
            plot.losses = tuple(store.loss_history)
        if Change.BIGRAM in changes:
            plot.bigram_progress, plot.bigram = store.bigram_progress, store.bigram
        if Change.VALIDATION in changes:
            plot.validation = store.validation
        if Change.BRANCH in changes:
            plot.branch = store.branch
        if changes & {Change.SAMPLE, Change.NOVELTY}:
            self.query_one(SamplingView).novelty = store.novelty
        if changes & SHOWN_RUN:
            if store.showing_training:
                self.show_step(store.last_result)
            elif Change.SAMPLE in changes:
                self.show_sample(store.sampling.events)
        if Change.SAMPLE in changes:
            view = self.query_one(SamplingView)
            view.temperature = store.sampling.temperature
            view.top_k = store.sampling.top_k
        if changes & SHOWN_RUN and self.previewing:
            self.show_first_letter()
        if changes & {Change.STATE, Change.SAMPLE}:
            self.update_titles()

    def show_first_letter(self):
        store = self.store
        if store.weights is self.first_letter_weights:
            return
        self.first_letter_weights = store.weights
        if store.num_params > PREVIEW_ON_UI_THREAD:
            self.previewing_in_worker(store.weights)
            return
        try:
            logits = self.first_letter_logits(store.weights)
        except (ArithmeticError, ValueError) as error:
            self.no_first_logits(error)
        else:
            self.show_first_logits(logits)

    def first_letter_logits(self, weights, cancelled=None):
        return self.store.sampling.first_letter_logits(weights)

    def no_first_logits(self, _error):
        self.show_first_logits(None)  # diverged weights: the loss pane says so

    def show_first_logits(self, logits):
        view = self.query_one(SamplingView)
        if (view.first_logits is None) != (logits is None):
            view.refresh(layout=True)  # the bars appear or go: the pane changes height
        view.first_logits = logits

    def show_step(self, result):
        """The panes for `result`, or empty ones (None: no step, or rewound past the first)."""
        tokenizer = self.store.tokenizer
        self.query_one(AttentionMap).view = result and attention_from_step(result, tokenizer)
        self.query_one(KVCacheTable).view = result and kv_cache_from_step(result, tokenizer)
        pane = self.query_one("#kv-cache")
        if pane.border_subtitle != PANE_LINES["#kv-cache"]:  # setting it repaints the pane
            pane.border_subtitle = PANE_LINES["#kv-cache"]

    def show_sample(self, events):
        self.query_one(SamplingView).events = events
        if events:
            tokenizer = self.store.tokenizer
            self.query_one(AttentionMap).view = attention_from_sample(events, tokenizer)
            self.query_one(KVCacheTable).view = kv_cache_from_sample(events, tokenizer)
            pane = self.query_one("#kv-cache", KVCachePane)
            pane.border_subtitle = KV_SAMPLING_LINE
            # While sampling, the newest row is the news: keep it in sight.
            pane.scroll_to_newest()

    def update_titles(self):
        config = self.store.config
        layer, head = self.shown_layer, self.shown_head
        where = f"layer {layer + 1}/{config.n_layer}"
        heads = "all heads" if self.all_heads else f"head {head + 1}/{config.n_head}"
        running = " · running" if self.store.running else ""
        sampling = self.store.sampling
        top_k = f" · top-k {sampling.top_k}" if sampling.top_k else ""
        titles = {
            "#loss": f"Loss{running}",
            "#attention": f"Attention · {where} · {heads}",
            "#kv-cache": f"KV cache · {where} · head {head + 1}/{config.n_head}",
            "#sampling": f"Sampling · temperature {sampling.temperature:.1f}{top_k}",
        }
        for selector, title in titles.items():
            pane = self.query_one(selector)
            if pane.border_title != title:  # setting one, even to itself, repaints the pane
                pane.border_title = title

    def watch_shown_layer(self):
        self.update_titles()

    def watch_shown_head(self):
        self.update_titles()

    def watch_all_heads(self):
        self.update_titles()
