"""The `T` view: the attention time-lapse. One fixed probe name's attention, every head of the
selected layer side by side, at each filmstrip frame of the run (the worker measures it with
the probe, float forward on that step's weights), so a learner sees when a head forms: a
"previous letter" head lights up just below the diagonal.
"""

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from engine.timelapse import previous_letter_share

from ..run import Change
from ..views import AttentionView, labels_of
from ..widgets.attention import AttentionMap
from ..widgets.heatmap import heat_color
from .view import RunView

BARS = "▁▂▃▄▅▆▇█"
LABEL_WIDTH = 31  # "head 12  previous letter 100% ", and the frame strip's label padded alike
WHAT = ("One probe name's attn_weights = softmax(attn_logits), frame by frame of the "
        "filmstrip. previous letter: the mean weight on the token just before the query.")


def strip_columns(count, width):
    """Which frames a strip `width` characters wide shows: all of them if they fit, else
    evenly spaced ones (the first, and the last in the last column)."""
    columns = max(1, min(count, width))
    if columns == 1:
        return [count - 1]
    return [round(c * (count - 1) / (columns - 1)) for c in range(columns)]


def nearest_column(columns, index):
    """The strip's column that shows frame `index`, or the one nearest to it."""
    return min(range(len(columns)), key=lambda c: abs(columns[c] - index))


class TimelapseScreen(RunView):
    KEY = "T"
    BINDINGS = [
        # Priority, so the scroll area's own left, right, home and end do not take them.
        Binding("left,comma", "frame(-1)", "frame", key_display="←/→", priority=True,
                tooltip="The previous (← or ,) or next (→ or .) frame"),
        Binding("right,full_stop", "frame(1)", "next frame", show=False, priority=True),
        Binding("home", "first_frame", "first", priority=True,
                tooltip="The first frame (the model as it started)"),
        Binding("end", "newest_frame", "newest", priority=True,
                tooltip="The newest frame, and follow new ones as they come"),
    ]
    FOLLOWS = frozenset({Change.PROBE})

    def __init__(self, store):
        super().__init__(store)
        self.shown_step = None  # the step of the frame shown; None: follow the newest frame

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with VerticalScroll(id="timelapse", classes="pane"):
            yield Static(WHAT, id="timelapse-what", classes="note")
            yield Static(id="timelapse-frames")
            yield Static(id="timelapse-heads")
            yield AttentionMap(id="timelapse-map")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        self.query_one("#timelapse").border_title = "Attention time-lapse"
        attention_map = self.query_one(AttentionMap)
        attention_map.all_heads = True
        # The layer (l) and the highlighted head ([ and ]) are the app's, as on the panes.
        self.watch(self.app, "layer", self.redraw, init=False)
        self.watch(self.app, "head", self.redraw, init=False)

    def on_resize(self):
        self.redraw()  # the frame strip is as wide as the view

    @property
    def frames(self):
        return self.store.attention_frames

    def shown_index(self):
        """The index of the frame shown: the newest while following, else the one of the
        chosen step (or the newest before it, once an undo or the thinning dropped it)."""
        frames = self.frames
        if self.shown_step is None:
            return len(frames) - 1
        return max((i for i, frame in enumerate(frames) if frame.step <= self.shown_step),
                   default=0)

    def show_frame(self, index):
        frames = self.frames
        if not frames:
            return
        index = min(len(frames) - 1, max(0, index))
        # At the newest frame the view follows the frames still to come.
        self.shown_step = None if index == len(frames) - 1 else frames[index].step
        self.redraw()

    def action_frame(self, direction):
        self.show_frame(self.shown_index() + direction)

    def action_first_frame(self):
        self.show_frame(0)

    def action_newest_frame(self):
        self.show_frame(len(self.frames) - 1)

    def redraw(self):
        frames = self.frames
        if not frames:
            self.query_one("#timelapse-frames", Static).update(
                Text("The first frame is being measured…", style="dim"))
            return
        index = self.shown_index()
        frame = frames[index]
        layer = min(self.app.layer, len(frame.attention) - 1)
        n_layer = len(frame.attention)
        width = self.query_one("#timelapse").content_size.width
        columns = strip_columns(len(frames), max(8, width - LABEL_WIDTH - 8))
        shown_column = nearest_column(columns, index)
        self.query_one("#timelapse-frames", Static).update(
            self.frames_lines(frames, index, columns, shown_column))
        positions = len(frame.attention[layer][0])
        # What a head that spreads its attention evenly over the keys would score.
        even = previous_letter_share([(1 / (query + 1),) * (query + 1)
                                      for query in range(positions)])
        self.query_one("#timelapse-heads", Static).update(Text("\n").join((
            *(self.head_line(frames, layer, head, frame, columns, shown_column)
              for head in range(len(frame.attention[layer]))),
            Text("" if even is None else f"even attention would give {even:.0%}",
                 style="dim"))))
        tokens = self.store.tokenizer.document(frame.name)[: len(frame.attention[0][0])]
        where = f" · layer {layer + 1} of {n_layer} (l)" if n_layer > 1 else ""
        attention_map = self.query_one(AttentionMap)
        attention_map.head = self.app.head
        attention_map.view = AttentionView(f"{frame.name!r} at step {frame.step}{where}",
                                           labels_of(tokens, self.store.tokenizer),
                                           frame.attention)
        attention_map.shown_layer = layer

    def frames_lines(self, frames, index, columns, shown_column):
        """Which frame is shown, and a strip of the frames with it marked."""
        frame, num_steps = frames[index], self.store.config.num_steps
        following = "newest: follows" if self.shown_step is None else "end: newest"
        title = Text.assemble((f"frame {index + 1} of {len(frames)}", "bold"),
                              f" · step {frame.step:,} of {num_steps:,} · {following} · "
                              "←/→ ,/. home")
        strip = Text(f"{'steps':<{LABEL_WIDTH}}")
        for column in range(len(columns)):
            strip.append("●" if column == shown_column else "·",
                         style="bold reverse" if column == shown_column else "dim")
        strip.append(f" {frames[0].step}–{frames[-1].step}", style="dim")
        return Text("\n").join((title, strip))

    def head_line(self, frames, layer, head, frame, columns, shown_column):
        """`head`'s previous-letter share at the shown frame, and over the frames."""
        share = previous_letter_share(frame.attention[layer][head])
        number = "  –" if share is None else f"{share:>4.0%}"
        line = Text.assemble((f"head {head + 1}", "reverse" if head == self.app.head else "bold"),
                             f"  previous letter {number}")
        line.pad_right(LABEL_WIDTH - len(line))
        for column, frame_index in enumerate(columns):
            value = previous_letter_share(frames[frame_index].attention[layer][head]) or 0.0
            line.append(BARS[round(value * (len(BARS) - 1))],
                        style=Style(color=heat_color(value), reverse=column == shown_column))
        return line
