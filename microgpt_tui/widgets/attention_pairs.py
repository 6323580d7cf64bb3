"""Every head's attention over one name on two sets of weights, each head's two heatmaps side
by side, as many heads to a row as the width allows."""

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from .attention import HEAD_GAP, LABEL_WIDTH
from .heatmap import cell_width_for, legend, render_matrix
from .lines import TextLines

PAIR_GAP = 1  # between a head's two heatmaps


@dataclass(frozen=True)
class AttentionPair:
    labels: tuple  # the token each position reads: the rows (queries) and the columns (keys)
    titles: tuple  # what the two sets of weights are, e.g. ("now", "step 0")
    weights: tuple  # two [layer][head][query_pos][key_pos], the second None while unknown


def pad(text, width):
    return text.append(" " * max(0, width - text.cell_len))


class AttentionPairs(TextLines):
    DEFAULT_CSS = "AttentionPairs { height: auto; }"

    pair = reactive(None)
    SIZE_INPUTS = ("pair",)

    def lines_inputs(self):
        return self.pair, self.size.width

    def render_other(self):
        return Text("")

    def build_lines(self):
        pair = self.pair
        if pair is None:
            return None
        n = len(pair.labels)
        # The widest cells (percentages at 3) with which one head's two maps fit the width.
        width = cell_width_for((self.size.width - LABEL_WIDTH - PAIR_GAP) // 2, n)
        map_width = max(n * width, *(len(title) for title in pair.titles))
        block = LABEL_WIDTH + 2 * map_width + PAIR_GAP
        per_row = max(1, (self.size.width + HEAD_GAP) // (block + HEAD_GAP))
        heads = [(li, h) for li, layer in enumerate(pair.weights[0]) for h in range(len(layer))]
        lines = []
        for first in range(0, len(heads), per_row):
            row = [self.head_block(pair, li, h, width, map_width)
                   for li, h in heads[first:first + per_row]]
            for parts in zip(*row):
                line = Text()
                for part in parts:
                    line.append_text(pad(part, block + HEAD_GAP))
                line.rstrip()
                lines.append(line)
        lines.append(legend())
        return lines

    def head_block(self, pair, layer, head, width, map_width):
        """The lines of one head: its name, the two titles, then the two maps row by row."""
        name = f"layer {layer + 1} · head {head + 1}"
        if len(name) > LABEL_WIDTH + 2 * map_width + PAIR_GAP:
            name = f"L{layer + 1} H{head + 1}"
        titles = Text(" " * LABEL_WIDTH)
        maps = []
        for title, weights in zip(pair.titles, pair.weights):
            titles.append_text(pad(Text(title, style="dim"), map_width + PAIR_GAP))
            if weights is None:
                maps.append([Text("…", style="dim") for _ in range(len(pair.labels) + 1)])
            else:
                maps.append(render_matrix(weights[layer][head], pair.labels, pair.labels,
                                          width, 0))
        lines = [Text(name, style="bold"), titles]
        for i, (now, start) in enumerate(zip(*maps)):
            label = pair.labels[i - 1] if i else ""
            line = Text(f"{label:<{LABEL_WIDTH}}"[:LABEL_WIDTH])
            line.append_text(pad(now, map_width + PAIR_GAP))
            line.append_text(start)
            lines.append(line)
        return lines
