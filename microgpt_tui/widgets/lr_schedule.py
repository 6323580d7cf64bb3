"""The learning-rate schedule (linear decay to 0) as bars, with the current step marked."""

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.optim import learning_rate

from ..colours import BAR, MARK

EIGHTHS = " ▁▂▃▄▅▆▇█"  # a bar's height in eighths of a row


class LearningRatePlot(Widget):
    steps_taken = reactive(0)

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config

    def render(self):
        config = self.config
        width, height = self.content_size
        rows = max(1, height - 1)
        columns = max(1, width)
        # Column c shows the learning rate of the first step it covers (0-based).
        firsts = [c * config.num_steps // columns for c in range(columns)]
        # The last step taken (0-based) is marked; before the first, the first.
        current = min(max(0, self.steps_taken - 1), config.num_steps - 1)
        marked = max(c for c, first in enumerate(firsts) if first <= current)
        lines = []
        for r in range(rows):
            line = Text()
            for c, first in enumerate(firsts):
                fill = learning_rate(config, first) / config.lr * rows - (rows - 1 - r)
                glyph = EIGHTHS[round(min(1.0, max(0.0, fill)) * 8)]
                if c == marked:
                    line.append("▼" if r == 0 and glyph == " " else glyph, style=MARK)
                else:
                    line.append(glyph, style=BAR)
            lines.append(line)
        which = "step" if self.steps_taken else "next step"
        caption = f"{which} {current + 1}: lr {learning_rate(config, current):.6f}"
        lines.append(Text(caption[:columns], style=MARK))
        return Group(*lines)
