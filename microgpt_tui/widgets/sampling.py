"""Token-by-token sampling: the sample so far and why the newest letter was picked."""

import math

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.sampler import rank, surprisal_bits

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


class SamplingView(Widget):
    DEFAULT_CSS = "SamplingView { height: auto; }"

    events = reactive((), layout=True)  # the TokenEvents of the sample in progress
    layer = reactive(0)
    head = reactive(0)

    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer

    def render(self):
        if not self.events:
            return Text("Press n to sample a name one letter at a time, enter to finish "
                        "it, r to start over, +/- to change the temperature.", style="dim")
        event = self.events[-1]
        context = self.forced_line(event) if event.forced else self.context_line(event)
        return Group(self.sample_line(), context, *self.probability_bars(event),
                     self.attention_line(event))

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
        return Text(f"P(next | {self.seen()}) at position {event.position}:", style="dim")

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

    def probability_bars(self, event):
        ranked = sorted(range(len(event.probs)), key=lambda i: -event.probs[i])[:TOP]
        width = max(4, self.size.width - 18)
        lines = []
        for token in ranked:
            p = event.probs[token]
            chosen = token == event.token
            line = Text(f"{self.tokenizer.label(token)} ",
                        style=CHOSEN if chosen else "bold")
            line.append(bar(p / event.probs[ranked[0]], width), style=BAR)
            line.append(f" {p * 100:5.1f}%")
            if chosen:
                line.append(" ◀ forced" if event.forced else " ◀ drawn", style=MARK)
            lines.append(line)
        if event.token not in ranked and not event.forced:  # the forced line says it
            lines.append(Text(f"{self.tokenizer.label(event.token)} chosen at "
                              f"{event.probs[event.token] * 100:.2f}%", style=MARK))
        return lines

    def attention_line(self, event):
        layer = event.attention[min(self.layer, len(event.attention) - 1)]
        weights = layer[min(self.head, len(layer) - 1)]
        line = Text(f"L{self.layer + 1} H{self.head + 1} looks at ", style="dim")
        for e, w in zip(self.events, weights):
            line.append(self.tokenizer.label(e.input_token), style=heat_style(w))
        top = max(range(len(weights)), key=weights.__getitem__)
        line.append(f"  most {self.tokenizer.label(self.events[top].input_token)!r} "
                    f"{weights[top] * 100:.0f}%")
        return line
