"""The `S` screen: one training step walked stage by stage, with each stage's real numbers.

The app runs the stages on the training worker and the run store keeps the newest
`StepStage`; this screen only draws it (and follows the app's layer and head).
"""

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Static

from engine import param_shapes
from engine.trace import BACKWARD, FORWARD

from ..colours import BOLD_MARK
from ..run import Change
from ..views import attention_from_stage, kv_cache_from_stage
from ..widgets.attention import AttentionMap
from ..widgets.kv_cache import KVCacheTable
from ..widgets.kv_cache_pane import KVCachePane
from ..widgets.matrices import MatrixNorms
from ..widgets.positions import PositionLosses
from .view import RunView


def stage_banner(stage, label):
    """Two lines: which stage this is, and what it just did, in the stage's numbers."""
    if stage is None:
        return Text.assemble(
            ("One training step in stages", "bold"),
            "\nS runs the next stage: forward one letter at a time, then backward, then the "
            "Adam update. s finishes the step, u drops it, esc goes back.")
    where = Text.assemble((f"Step {stage.step} · {stage.doc!r} · ", "bold"),
                          (f"stage {stage.number}/{stage.n_stages}: ", "bold"))
    if stage.kind == FORWARD:
        pos = stage.positions_done - 1
        where.append(f"forward, position {pos}", style=BOLD_MARK)
        what = (f"\nread {label(stage.tokens[pos])!r}, wrote its k and v to the cache and "
                f"gave {label(stage.tokens[pos + 1])!r} a loss of "
                f"{stage.position_losses[pos]:.4f}")
        if stage.loss is not None:
            what += f"; mean loss {stage.loss:.4f}, the number backward starts from"
    elif stage.kind == BACKWARD:
        where.append("backward", style=BOLD_MARK)
        what = (f"\nfrom the loss {stage.loss:.4f} the chain rule sent a gradient to every "
                "cached k and v (∂k, ∂v) and to every weight (‖∂W‖)")
    else:
        where.append("Adam update", style=BOLD_MARK)
        what = (f"\nAdam moved every weight (‖ΔW‖) at learning rate {stage.lr:.6f}: step "
                f"{stage.step} is done; S starts the next one")
        if stage.step == 1:
            # Adam's moments start at 0: after one step m̂ = g and v̂ = g², so each weight
            # moves by lr·g/(|g| + eps), lr against its gradient's sign, whatever the size.
            what += (f". Adam's first step: m̂ = g and v̂ = g², so every weight with a "
                     f"gradient moved by lr·g/(|g|+eps) ≈ ±{stage.lr:g}, whatever the size of "
                     "g: ‖ΔW‖ ≈ lr·√(how many of W's weights had a gradient)")
    return where.append(what)


class StagesScreen(RunView):
    # The app's S and u, listed here too so this screen's footer shows them first.
    BINDINGS = [
        Binding("S", "app.stage", "next stage", tooltip="Run the next stage of the step"),
        Binding("u", "app.undo", "undo", tooltip="Drop the step under way, or undo the last"),
        # Also the app's: listed here so that an 80-column footer still has room for them.
        Binding("question_mark", "app.help", "help", key_display="?"),
        Binding("q", "app.quit", "quit"),
    ]
    CLOSE_LABEL = "back"
    FOLLOWS = frozenset({Change.STAGE})
    REDRAW_INTERVAL = 0  # one stage a key press: every one is shown

    def compose(self) -> ComposeResult:
        tokenizer, config = self.store.tokenizer, self.store.config
        yield Static(id="stage-banner")
        with Horizontal(id="stage-panes"):
            with Vertical(id="stage-left"):
                with Vertical(id="stage-positions", classes="pane"):
                    yield PositionLosses(tokenizer, id="position-losses")
                with Vertical(id="stage-matrices", classes="pane"):
                    yield MatrixNorms(param_shapes(config, tokenizer.vocab_size),
                                      id="matrix-norms")
            with Vertical(id="stage-right"):
                # Filled a row per forward stage: each position's attention as it is computed.
                with VerticalScroll(id="stage-attention", classes="pane"):
                    yield AttentionMap(id="stage-attention-map")
                yield KVCachePane(KVCacheTable(id="stage-kv-table"), id="stage-kv",
                                  classes="pane")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        self.query_one("#stage-matrices").border_title = "Weights · norms of ∂W and ΔW"
        self.watch(self.app, "layer", self.follow_selection)
        self.watch(self.app, "head", self.follow_selection)

    def redraw(self):
        stage, tokenizer = self.store.stage, self.store.tokenizer
        self.query_one("#stage-banner", Static).update(stage_banner(stage, tokenizer.label))
        self.query_one(PositionLosses).stage = stage
        self.query_one(MatrixNorms).stage = stage
        self.query_one(KVCacheTable).view = (
            None if stage is None else kv_cache_from_stage(stage, tokenizer,
                                                           self.store.config.n_head))
        self.query_one(AttentionMap).view = (
            None if stage is None or not stage.positions_done
            else attention_from_stage(stage, tokenizer))
        mean = "" if stage is None or stage.loss is None else f" · mean {stage.loss:.4f}"
        self.query_one("#stage-positions").border_title = f"Loss per position{mean}"

    def follow_selection(self):
        layer, head = self.app.layer, self.app.head
        for widget in (self.query_one(KVCacheTable), self.query_one(AttentionMap)):
            widget.shown_layer, widget.head = layer, head
        config = self.store.config
        where = f"layer {layer + 1}/{config.n_layer} · head {head + 1}/{config.n_head}"
        self.query_one("#stage-kv").border_title = f"KV cache · {where}"
        self.query_one("#stage-attention").border_title = f"Attention · {where}"
