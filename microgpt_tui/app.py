"""MicrogptApp: the layout, the keys, and which view is on screen.

What the app shows about the run is kept by the run store (run.py); the training worker
(training.py) reports to it, and the panes and views draw from it.
"""

from datetime import datetime
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.content import Content
from textual.reactive import var
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from engine.checkpoint import DEFAULT_CHECKPOINT

from .export import export_notice
from .keys import BINDINGS, palette_commands
from .messages import Reported
from .run import RunStore
from .screens.ablation import AblationScreen
from .screens.anatomy import AnatomyScreen
from .screens.embedding import EmbeddingScreen
from .screens.filmstrip import FilmstripScreen
from .screens.force import ForceTokenScreen, vocabulary_hint
from .screens.gradcheck import GradientCheckScreen
from .screens.graph import GraphScreen
from .screens.heads import HeadsScreen
from .screens.help import HelpScreen
from .screens.inspect import InspectScreen
from .screens.optimizer import OptimizerScreen
from .screens.stages import StagesScreen
from .screens.timelapse import TimelapseScreen
from .training import Command, SaveCheckpoint, TrainingLoop
from .widgets.panes import Panes

MIN_WIDTH, MIN_HEIGHT = 80, 24
# The views a key opens with no more than the store: the name in its binding's view('...').
VIEWS = {"graph": GraphScreen, "gradient check": GradientCheckScreen, "inspect": InspectScreen,
         "anatomy": AnatomyScreen, "heads": HeadsScreen, "optimizer": OptimizerScreen,
         "embedding": EmbeddingScreen, "filmstrip": FilmstripScreen,
         "timelapse": TimelapseScreen}


class MicrogptApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "microgpt-tui"
    BINDINGS = BINDINGS

    # var, not reactive: an App reactive repaints the whole screen when it changes; the
    # panes bound to these repaint just what they show.
    layer = var(0)
    head = var(0)
    all_heads = var(False)

    def __init__(self, trainer, dataset_name="names.txt", temperature=0.5, loss_history=(),
                 checkpoint_path=DEFAULT_CHECKPOINT, export_dir=None, probe_every=None,
                 top_k=None):
        super().__init__()
        self.dataset_name = dataset_name
        self.checkpoint_path = Path(checkpoint_path)
        self.export_dir = export_dir  # None: the working directory at the time of export
        self.training = TrainingLoop(trainer, self.post_message, loss_history, probe_every)
        self.store = RunStore(self, trainer, self.training.send, temperature=temperature,
                              top_k=top_k,
                              probe_every=self.training.probe_every,
                              probe_docs=self.training.probe_docs)
        # The run as it starts (a loaded checkpoint's losses included) comes in as every
        # report does; the worker has not started yet.
        self.store.apply(self.training.snapshot())

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Panes(self.store, id="panes").data_bind(
            MicrogptApp.all_heads, shown_layer=MicrogptApp.layer, shown_head=MicrogptApp.head)
        yield Static(id="too-small")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        store, config = self.store, self.store.config
        self.title = (f"{store.num_params:,} params · {config.n_layer} "
                      f"layer{'s' * (config.n_layer > 1)} · {config.n_head} heads")
        if store.step:
            self.notify(f"Continuing from a checkpoint at step {store.step}.")
        self.run_training()
        if store.dataset_is_small:
            store.measure_dataset(self.notify_truncated, store.bigram_counted)
        else:
            self.measure_dataset()

    @work(thread=True, exclusive=True, group="training")
    def run_training(self):
        worker = get_current_worker()
        self.training.run(lambda: worker.is_cancelled)

    def on_reported(self, message: Reported):
        badge = self.store.parity_badge
        notice = self.store.apply(message.snapshot)
        if notice:
            text, severity, timeout = notice
            self.notify(text, severity=severity, timeout=timeout)
        # The header is redrawn (and re-laid out) whenever the sub-title is set, so only
        # when the badge changed: it stays "reference-exact" for a whole reference run.
        if self.store.parity_badge != badge:
            self.show_sub_title(self.size.width)

    @work(thread=True, exclusive=True, group="dataset")
    def measure_dataset(self):
        """A big dataset is measured batch by batch, so the pane shows progress and a quit
        does not wait for the whole count."""
        worker = get_current_worker()
        self.store.measure_dataset(
            lambda truncated: self.call_from_thread(self.notify_truncated, truncated),
            lambda *counted: self.call_from_thread(self.store.bigram_counted, *counted),
            lambda: worker.is_cancelled)

    def notify_truncated(self, truncated):
        if truncated:
            self.notify(self.store.truncation_notice(truncated), severity="warning", timeout=10)

    def on_unmount(self):
        self.training.send(Command.STOP)

    # Titles -------------------------------------------------------------------------------

    def on_resize(self, event):
        width, height = event.size
        self.show_sub_title(width)
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(too_small, "too-small")
        self.query_one("#too-small", Static).update(
            f"microgpt-tui needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is "
            f"{width}×{height}. Make it bigger (training and keys keep working).")

    def show_sub_title(self, width):
        # The vocabulary is also on the loss pane, so it is the first thing to go when narrow;
        # then the dataset makes room for the parity badge (which only names.txt gets).
        badge = self.store.parity_badge
        held_out = f" + {self.store.held_out:,} held out" if self.store.held_out else ""
        parts = [self.dataset_name, f"{self.store.n_docs:,} docs{held_out}"]
        if width >= (110 if badge else 100):
            parts.append(f"vocab {self.store.tokenizer.vocab_size}")
        if badge and width < 100:
            parts = []
        self.sub_title = " · ".join(parts)
        self.mutate_reactive(App.sub_title)  # the badge may have changed: redraw the header

    def format_title(self, title, sub_title):
        formatted, badge = super().format_title(title, sub_title), self.store.parity_badge
        if not badge:
            return formatted
        style = "bold $text-error" if self.store.parity.diverged_at else "bold $text-success"
        return Content.assemble(formatted, (" · " if sub_title else " — ", "dim"), (badge, style))

    # Training -----------------------------------------------------------------------------

    def refused_while_running(self, then=""):
        if self.store.running:
            self.notify(f"Training is running: space pauses it{then or ' first'}.",
                        severity="warning")
        return self.store.running

    def action_step(self):
        if not self.refused_while_running():
            self.store.show_training()
            self.training.send(Command.STEP)

    def action_toggle_run(self):
        self.store.show_training()
        self.training.send(Command.PAUSE if self.store.running else Command.RUN)

    def action_stage(self):
        num_steps = self.store.config.num_steps
        if self.store.step >= num_steps:
            self.notify(f"Training is finished ({num_steps} steps): there is no next step to "
                        "walk.", severity="warning")
        elif not self.refused_while_running(", then S walks a step in stages"):
            self.show_view(StagesScreen)
            self.store.stage_requested()
            self.training.send(Command.STAGE)

    def action_undo(self):
        if not self.refused_while_running():
            self.training.send(Command.UNDO)

    def action_branch(self):
        self.store.branch_from_here(ablated=(self.layer, self.head))

    def action_save_checkpoint(self):
        # The worker owns the trainer: it saves between two steps and reports back.
        self.training.send(SaveCheckpoint(str(self.checkpoint_path)))

    # Sampling -----------------------------------------------------------------------------

    def sample(self, until_done=False, force=None):
        try:
            self.store.sample(until_done, force)
        except (ArithmeticError, ValueError) as error:
            # Weights from a diverged run give inf or nan probabilities.
            self.notify(f"Cannot sample from these weights ({error}).", severity="error")

    def action_next_token(self):
        self.sample()

    def action_finish_sample(self):
        self.sample(until_done=True)

    def action_force_token(self):
        # The forced letter shows on the main screen's panes: close any view over them.
        chars = self.store.tokenizer.chars
        self.show_view(ForceTokenScreen, lambda: ForceTokenScreen(chars), self.force_typed)

    def force_typed(self, typed):
        """Take the next sampling step with the typed character ("" = BOS) as its token."""
        if typed is None:
            return
        tokenizer = self.store.tokenizer
        if typed and typed not in tokenizer.chars:
            self.notify(f"{typed!r} is not in the vocabulary "
                        f"({vocabulary_hint(tokenizer.chars)}): nothing forced.",
                        severity="warning")
            return
        # After the prompt has gone: the KV pane can only scroll to its new last row once the
        # main screen is laid out again.
        token = tokenizer.encode(typed)[0] if typed else tokenizer.bos
        self.call_after_refresh(self.sample, force=token)

    def action_restart_sample(self):
        self.store.new_sample()
        self.notify("New sample: press n for its first letter.", timeout=2)

    def action_temperature(self, direction):
        self.store.change_temperature(direction)

    def action_top_k(self):
        self.store.next_top_k()

    def action_export(self):
        parent = Path(self.export_dir) if self.export_dir is not None else Path.cwd()
        store = self.store
        text, severity, timeout = export_notice(
            parent, datetime.now(), tuple(store.loss_history), store.last_result,
            store.tokenizer, store.config, self.export_screenshot())
        self.notify(text, severity=severity, timeout=timeout)

    # Views --------------------------------------------------------------------------------

    def action_head(self, direction):
        self.head = (self.head + direction) % self.store.config.n_head

    def action_next_layer(self):
        self.layer = (self.layer + 1) % self.store.config.n_layer

    def action_toggle_all_heads(self):
        self.all_heads = not self.all_heads

    def show_view(self, view_type, make_view=None, on_dismiss=None):
        """Show the view of `view_type` right over the panes: one already open is kept as it
        is (popping whatever covers it), any other is closed first. Views never pile up, so
        escape always leads straight back to the panes. `make_view` makes a new one (by
        default `view_type(store)`); `on_dismiss` hears its result."""
        open_view = next((screen for screen in self.screen_stack[1:]
                          if isinstance(screen, view_type)), None)
        while len(self.screen_stack) > 1 and self.screen is not open_view:
            self.pop_screen()
        if open_view is None:
            self.push_screen(make_view() if make_view else view_type(self.store), on_dismiss)

    def action_ablate_head(self):
        layer, head = self.layer, self.head
        self.show_view(AblationScreen, lambda: AblationScreen(self.store, layer, head))

    def action_view(self, name):
        """Open one of VIEWS by its name (the bindings' `view('name')`)."""
        view_type = VIEWS[name]
        if view_type.NEEDS_A_STEP and self.store.last_result is None:
            self.notify(f"{view_type.NEEDS_A_STEP} uses the last trained name: press s for a "
                        "training step first.", severity="warning")
        else:
            self.show_view(view_type)

    def action_anatomy(self, section):
        """The anatomy view with its logit attribution or its counterfactual open."""
        self.show_view(AnatomyScreen)
        self.screen.open_section(section)

    def action_help(self):
        self.show_view(HelpScreen, lambda: HelpScreen(self.BINDINGS))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield from palette_commands(self, self.BINDINGS)
