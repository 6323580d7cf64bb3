"""A staged step's forward pass, one row per position: what it read, what it should predict,
how likely the model found that, and the loss; rows fill in one forward stage at a time."""

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from engine.trace import FORWARD

PENDING = Text(f"{'·':>8}", style="dim")


class PositionLosses(DataTable):
    stage = reactive(None)  # the newest StepStage, or None before the first

    def __init__(self, tokenizer, **kwargs):
        # No cell padding: the columns pad themselves, so the table fits half of 80 columns.
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, **kwargs)
        self.tokenizer = tokenizer

    def watch_stage(self):
        self.clear(columns=True)
        stage = self.stage
        if stage is None:
            self.add_column(Text("S runs the first stage of the next step", style="dim"))
            return
        label = self.tokenizer.label
        # Text, not str: DataTable wraps a str cell, which drops the padding before it.
        self.add_columns(*map(Text, ("pos", " in→next", " p(next)", "    loss", "  guess")))
        for pos in range(stage.n_positions):
            target = stage.tokens[pos + 1]
            cells = [f"{pos:>3}", f"  {label(stage.tokens[pos])} → {label(target)}"]
            if pos < stage.positions_done:
                probs = stage.probs[pos]
                guess = max(range(len(probs)), key=probs.__getitem__)
                cells += [f"{probs[target]:>8.1%}", f"{stage.position_losses[pos]:>8.4f}",
                          f"  {label(guess)} {probs[guess]:>3.0%}"]
                self.add_row(*map(Text, cells))
            else:
                self.add_row(*map(Text, cells), *[PENDING] * 3)
        # The cursor marks the position the newest forward stage computed.
        self.show_cursor = stage.kind == FORWARD
        if self.show_cursor:
            self.move_cursor(row=stage.positions_done - 1)
