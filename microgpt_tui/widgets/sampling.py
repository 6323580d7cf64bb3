"""Token-by-token sampling: the sample so far and why the newest letter was picked."""

import math

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive, var
from textual.widget import Widget

from engine.sampler import next_token_probs, rank, surprisal_bits

from ..colours import BAR, CHOSEN, GOOD, MARK
from .heatmap import heat_style

TOP = 10
PARTIAL = " ▏▎▍▌▋▊▉"


def percent(p):
    """A probability as a percentage with at least two significant digits."""
    return f"{p * 100:.1f}%" if p >= 0.01 else f"{p * 100:.2g}%"


def bar(fraction, width):
    """A horizontal bar of `fraction` * `width` cells, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (PARTIAL[rest] if rest else "")).ljust(width)


def settings_text(temperature, top_k):
    return f"T {temperature:.1f}" + (f", top-k {top_k}" if top_k else "")


class SamplingView(Widget):
    DEFAULT_CSS = "SamplingView { height: auto; }"

    events = reactive((), layout=True)  # the TokenEvents of the sample in progress
    # Before the first letter: the logits a new sample's first letter is drawn from. Not a
    # layout reactive: new weights give new numbers in the same lines, and re-laying out the
    # screen on every training report would cost more than the pane.
    first_logits = reactive(None)
    temperature = reactive(0.5)
    top_k = reactive(None)
    # Not `layer`: a widget's `layer` is the compositor layer it is drawn on. Only a sample's
    # attention line shows these: vars, so that switching the head does not redraw the first
    # letter's bars (the watchers below redraw a sample).
    shown_layer = var(0)
    head = var(0)
    # The finished sample's nearest training name (engine.novelty.Nearest), once looked up.
    novelty = reactive(None)

    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer

    def render(self):
        if not self.events:
            return Group(
                Text("n next · enter whole name · r restart · +/- T · k top-k",
                     style="dim"),
                Text(f"P(first letter | ·) {self.settings()}, before any n:", style="dim"),
                *self.probability_bars(self.first_logits))
        event = self.events[-1]
        context = self.forced_line(event) if event.forced else self.context_line(event)
        novelty = [self.novelty_line()] if event.done else []
        return Group(self.sample_line(), *novelty, context,
                     *self.probability_bars(event.logits, event),
                     self.attention_line(event))

    def novelty_line(self):
        """Whether the finished sample is a training name, or which one is nearest."""
        nearest = self.novelty
        name = self.tokenizer.decode([event.token for event in self.events])
        if nearest is None or nearest.sample != name:
            return Text("looking it up among the training names…", style="dim")
        if nearest.is_copy:
            return Text("a copy of a training name", style=MARK)
        edits = f"{nearest.distance} edit{'s' * (nearest.distance > 1)}"
        among = "" if nearest.complete else f", of the first {nearest.scanned:,} checked"
        # The pane is narrow at 80 columns: the longest wording that fits one line.
        for words in ("new name; nearest training name:", "new name; nearest:", "new; nearest"):
            line = f"{words} {nearest.name!r} ({edits}{among})"
            if len(line) <= self.size.width:
                break
        new = words.split(";")[0]
        return Text.assemble((new, GOOD), line[len(new):])

    def settings(self):
        return f"({settings_text(self.temperature, self.top_k)})"

    def sample_line(self):
        line = Text("sample ")
        for i, event in enumerate(self.events):
            style = CHOSEN if i == len(self.events) - 1 else "bold"
            line.append(self.tokenizer.label(event.token), style=style)
        if self.events[-1].done:
            line.append("  done", style=GOOD)
        return line

    def seen(self):
        return "".join(self.tokenizer.label(e.input_token) for e in self.events)

    def context_line(self, event):
        # The bars follow + - and k at once; the letter was drawn with the settings of then.
        note = ("" if (event.temperature, event.top_k) == (self.temperature, self.top_k) else
                f", drawn at {settings_text(event.temperature, event.top_k)}")
        return Text(f"P(next | {self.seen()}) at position {event.position} "
                    f"{self.settings()}{note}:", style="dim")

    def forced_line(self, event):
        """How likely the model found the letter the learner forced, in place of the context
        line (the pane has no spare row): P(letter | context), its rank, its surprisal."""
        p = event.probs[event.token]
        bits = surprisal_bits(p)
        shown_bits = f"{bits:.2f}" if math.isfinite(bits) else "∞"
        stats = (f" {percent(p)} · rank {rank(event.probs, event.token)}/{len(event.probs)}"
                 f" · {shown_bits} bits")
        label = self.tokenizer.label(event.token)
        given = f"P({label} | {self.seen()})"
        if len(given) + len(stats) > self.size.width:
            given = f"P({label})"  # narrow pane: the context is on the sample line anyway
        return Text(given + stats, style=MARK)

    def probability_bars(self, logits, event=None):
        """The TOP most likely letters of softmax(logits / T) (top-k applied), each bar on an
        absolute 0-100% scale, with the untempered (T 1) probability beside it; letters top-k
        cuts off are listed as such. `event`: the letter it drew is marked."""
        if logits is None:
            return []
        probs = next_token_probs(logits, self.temperature, self.top_k)
        plain = next_token_probs(logits, 1.0)
        ranked = sorted(range(len(probs)), key=lambda i: (-probs[i], -plain[i]))[:TOP]
        width = max(4, self.size.width - 28)
        lines = []
        for token in ranked:
            p = probs[token]
            chosen = event is not None and token == event.token
            line = Text(f"{self.tokenizer.label(token)} ", style=CHOSEN if chosen else "bold")
            if p == 0.0 and self.top_k:
                line.append(f"{'cut by top-k':<{width}}", style="dim")
                line.append("     — ")
            else:
                line.append(bar(p, width), style=BAR)
                line.append(f" {p * 100:5.1f}%")
            line.append(f" T=1 {plain[token] * 100:4.1f}%", style="dim")
            if chosen:
                line.append(" ◀ forced" if event.forced else " ◀ drawn", style=MARK)
            lines.append(line)
        if event is not None and event.token not in ranked and not event.forced:
            lines.append(Text(f"{self.tokenizer.label(event.token)} chosen at "
                              f"{event.probs[event.token] * 100:.2f}%", style=MARK))
        return lines

    def attention_line(self, event):
        layer = event.attention[min(self.shown_layer, len(event.attention) - 1)]
        weights = layer[min(self.head, len(layer) - 1)]
        line = Text(f"L{self.shown_layer + 1} H{self.head + 1} looks at ", style="dim")
        for e, w in zip(self.events, weights):
            line.append(self.tokenizer.label(e.input_token), style=heat_style(w))
        top = max(range(len(weights)), key=weights.__getitem__)
        line.append(f"  most {self.tokenizer.label(self.events[top].input_token)!r} "
                    f"{weights[top] * 100:.0f}%")
        return line

    def watch_shown_layer(self):
        self.refresh_attention_line()

    def watch_head(self):
        self.refresh_attention_line()

    def refresh_attention_line(self):
        if self.events:
            self.refresh()
