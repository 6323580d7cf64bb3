"""MicrogptApp: the panes, the keys, and the training worker behind them."""

import gc
import random
import sys
from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.signal import Signal
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from engine import Sampler
from engine.checkpoint import DEFAULT_CHECKPOINT

from .messages import CheckpointFailed, CheckpointSaved, Probed, Stepped, TrainingStateChanged
from .screens.embedding import EmbeddingScreen
from .screens.filmstrip import FilmstripScreen
from .screens.help import HelpScreen
from .screens.optimizer import OptimizerScreen
from .training import Command, SaveCheckpoint, TrainingLoop
from .views import (
    attention_from_sample,
    attention_from_step,
    kv_cache_from_sample,
    kv_cache_from_step,
)
from .widgets.attention import AttentionMap
from .widgets.kv_cache import KVCacheTable
from .widgets.loss import LossPlot
from .widgets.sampling import SamplingView

MIN_TEMPERATURE, MAX_TEMPERATURE, TEMPERATURE_STEP = 0.1, 2.0, 0.1
MIN_WIDTH, MIN_HEIGHT = 80, 24
# The training thread never waits on I/O, so it keeps the GIL until Python forces a switch;
# at the default 5 ms every redraw the UI thread does is stretched several times over, and
# keys waited 100+ ms. At 1 ms the UI answers keys in a few ms while training runs.
GIL_SWITCH_INTERVAL = 0.001


class MicrogptApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "microgpt-tui"

    BINDINGS = [
        Binding("s", "step", "step", tooltip="Take one training step"),
        Binding("space", "toggle_run", "run", tooltip="Train continuously, or pause"),
        Binding("n", "next_token", "next", tooltip="Sample the next letter"),
        Binding("enter", "finish_sample", "finish", tooltip="Sample to the end of the name"),
        Binding("plus,equals_sign", "temperature(1)", "temp", key_display="+/-",
                tooltip="Temperature up (+) or down (-), 0.1 to 2.0"),
        Binding("minus", "temperature(-1)", "temperature down", show=False),
        Binding("right_square_bracket", "head(1)", "head", key_display="[/]",
                tooltip="Next (]) or previous ([) attention head"),
        Binding("left_square_bracket", "head(-1)", "previous head", show=False),
        Binding("l", "next_layer", "layer", tooltip="Next layer"),
        Binding("a", "toggle_all_heads", "heads", tooltip="All heads side by side"),
        Binding("question_mark", "help", "help", key_display="?", tooltip="This help"),
        Binding("q", "quit", "quit", tooltip="Quit (also ctrl+c)"),
        Binding("r", "restart_sample", "restart", tooltip="Start a new sample"),
        # Not in the footer, which is full at 80 columns; the help and the palette list it.
        Binding("w", "save_checkpoint", "save checkpoint", show=False,
                tooltip=f"Save a checkpoint (to --save PATH, else {DEFAULT_CHECKPOINT})"),
        Binding("o", "optimizer_view", "optimizer view", show=False,
                tooltip="Optimizer view: weights, gradients, Adam m and v, update, lr schedule"),
        Binding("m", "embedding_view", "embedding map", show=False,
                tooltip="Embedding map: every letter's embedding projected to 2-D (PCA)"),
        Binding("p", "probe_filmstrip", "probe filmstrip", show=False,
                tooltip="Probe filmstrip: loss on 200 fixed names and 5 samples, every N steps"),
        # Learners press ctrl+c to leave a terminal program; Textual would only explain ctrl+q.
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]

    layer = reactive(0)
    head = reactive(0)
    all_heads = reactive(False)
    temperature = reactive(0.5)
    running = reactive(False)

    def __init__(self, trainer, dataset_name="names.txt", temperature=0.5, loss_history=(),
                 checkpoint_path=DEFAULT_CHECKPOINT):
        super().__init__()
        self.set_reactive(MicrogptApp.temperature, self.clamp_temperature(temperature))
        self.trainer = trainer  # touched only by the training worker once it starts
        self.config = trainer.config
        self.tokenizer = trainer.tokenizer
        self.dataset_name = dataset_name
        self.n_docs = len(trainer.docs)
        self.num_params = trainer.num_params
        self.loss_history = list(loss_history)  # a loaded checkpoint's losses come first
        # The learning rate of the last step taken, until the next step reports its own.
        self.resumed_lr = trainer.adam.lr_at(trainer.step_count - 1) if loss_history else 0.0
        self.checkpoint_path = Path(checkpoint_path)
        self.last_result = None
        self.training = TrainingLoop(trainer, self.post_message, loss_history)
        self.sampler_rng = random.Random(self.config.seed)
        self.sampler = None
        self.sample_events = ()
        self.probes = []  # every ProbeRecord so far, oldest first
        # The views pushed over the panes follow training through these.
        self.stepped_signal = Signal(self, "stepped")
        self.probed_signal = Signal(self, "probed")

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with Horizontal(id="panes"):
            with Vertical(id="left"):
                with Vertical(id="loss", classes="pane"):
                    yield LossPlot(id="loss-plot")
                with VerticalScroll(id="attention", classes="pane"):
                    yield AttentionMap(id="attention-map").data_bind(
                        MicrogptApp.layer, MicrogptApp.head, MicrogptApp.all_heads)
            with Vertical(id="right"):
                with VerticalScroll(id="sampling", classes="pane"):
                    yield SamplingView(self.tokenizer, id="sampling-view").data_bind(
                        MicrogptApp.layer, MicrogptApp.head)
                with ScrollableContainer(id="kv-cache", classes="pane"):
                    yield KVCacheTable(id="kv-table").data_bind(
                        MicrogptApp.layer, MicrogptApp.head)
        yield Static(id="too-small")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        config = self.config
        self.title = (f"{self.num_params:,} params · {config.n_layer} "
                      f"layer{'s' * (config.n_layer > 1)} · {config.n_head} heads")
        plot = self.query_one(LossPlot)
        plot.num_steps = config.num_steps
        plot.vocab_size = self.tokenizer.vocab_size
        if self.loss_history:
            plot.losses, plot.lr = tuple(self.loss_history), self.resumed_lr
            self.notify(f"Continuing from a checkpoint at step {len(self.loss_history)}.")
        self.update_titles()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        # What is alive now (the dataset, the parameters, the widgets) lives as long as the
        # app; freezing it spares every later full collection from rescanning it mid-frame.
        gc.freeze()
        self.run_training()

    @work(thread=True, exclusive=True, group="training")
    def run_training(self):
        worker = get_current_worker()
        self.training.run(lambda: worker.is_cancelled)

    def on_unmount(self):
        self.training.send(Command.STOP)

    # Titles -------------------------------------------------------------------------------

    def on_resize(self, event):
        width, height = event.size
        # The vocabulary is also on the loss pane, so it is the first thing to go when narrow.
        self.sub_title = f"{self.dataset_name} · {self.n_docs:,} docs"
        if width >= 100:
            self.sub_title += f" · vocab {self.tokenizer.vocab_size}"
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(too_small, "too-small")
        self.query_one("#too-small", Static).update(
            f"microgpt-tui needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is "
            f"{width}×{height}. Make it bigger (training and keys keep working).")

    def update_titles(self):
        where = f"layer {self.layer + 1}/{self.config.n_layer}"
        heads = "all heads" if self.all_heads else f"head {self.head + 1}/{self.config.n_head}"
        self.query_one("#loss").border_title = "Loss" + (" · running" if self.running else "")
        self.query_one("#attention").border_title = f"Attention · {where} · {heads}"
        self.query_one("#kv-cache").border_title = (
            f"KV cache · {where} · head {self.head + 1}/{self.config.n_head}")
        self.query_one("#sampling").border_title = f"Sampling · temperature {self.temperature:.1f}"

    def watch_layer(self):
        self.update_titles()

    def watch_head(self):
        self.update_titles()

    def watch_all_heads(self):
        self.update_titles()

    def watch_running(self):
        self.update_titles()

    def watch_temperature(self):
        self.update_titles()

    # Training -----------------------------------------------------------------------------

    def action_step(self):
        if self.running:
            self.notify("Training is running: space pauses it first.", severity="warning")
            return
        self.show_training_views = True
        self.training.send(Command.STEP)

    def action_toggle_run(self):
        self.show_training_views = True
        self.training.send(Command.PAUSE if self.running else Command.RUN)

    def on_stepped(self, message: Stepped):
        self.loss_history.extend(message.losses)
        self.last_result = message.result
        plot = self.query_one(LossPlot)
        plot.lr = message.result.lr
        plot.losses = tuple(self.loss_history)
        if self.show_training_views:
            self.show_step(message.result)
        self.stepped_signal.publish(message.result)

    def on_probed(self, message: Probed):
        self.probes.append(message.record)
        self.probed_signal.publish(message.record)

    def show_step(self, result):
        self.query_one(AttentionMap).view = attention_from_step(result, self.tokenizer)
        self.query_one(KVCacheTable).view = kv_cache_from_step(result, self.tokenizer)

    def on_training_state_changed(self, message: TrainingStateChanged):
        self.running = message.running
        if message.reason:
            self.notify(message.reason, severity="warning", timeout=8)
        elif message.finished and not message.running:
            self.notify(f"Training finished: {self.config.num_steps} steps.")

    # Checkpoints --------------------------------------------------------------------------

    def action_save_checkpoint(self):
        # The worker owns the trainer: it saves between two steps and reports back.
        self.training.send(SaveCheckpoint(str(self.checkpoint_path)))

    def on_checkpoint_saved(self, message: CheckpointSaved):
        self.notify(f"Saved step {message.step} to {Path(message.path).absolute()}")

    def on_checkpoint_failed(self, message: CheckpointFailed):
        self.notify(message.reason, severity="error", timeout=10)

    # Sampling -----------------------------------------------------------------------------

    show_training_views = True

    def start_sample(self):
        """A new sample from the newest weights snapshot; training state is never touched."""
        self.sampler = Sampler(self.training.weights, self.tokenizer, self.config,
                               temperature=self.temperature, rng=self.sampler_rng)
        self.sample_events = ()

    def sample_tokens(self, until_done):
        if self.sampler is None or self.sampler.done:
            self.start_sample()
        events = list(self.sample_events)
        events.append(self.sampler.step())
        while until_done and not self.sampler.done:
            events.append(self.sampler.step())
        self.show_sample(tuple(events))

    def show_sample(self, events):
        self.sample_events = events
        self.show_training_views = False
        self.query_one(SamplingView).events = events
        if events:
            self.query_one(AttentionMap).view = attention_from_sample(events, self.tokenizer)
            self.query_one(KVCacheTable).view = kv_cache_from_sample(events, self.tokenizer)
            # While sampling, the newest row is the news: keep it in sight.
            self.query_one("#kv-cache").scroll_end(animate=False)

    def action_next_token(self):
        self.sample_tokens(until_done=False)

    def action_finish_sample(self):
        self.sample_tokens(until_done=True)

    def action_restart_sample(self):
        self.start_sample()
        self.show_sample(())
        self.notify("New sample: press n for its first letter.", timeout=2)

    @staticmethod
    def clamp_temperature(value):
        return min(MAX_TEMPERATURE, max(MIN_TEMPERATURE, round(value, 1)))

    def action_temperature(self, direction):
        self.temperature = self.clamp_temperature(self.temperature + direction * TEMPERATURE_STEP)
        if self.sampler is not None:
            self.sampler.temperature = self.temperature

    # View selection -----------------------------------------------------------------------

    def action_head(self, direction):
        self.head = (self.head + direction) % self.config.n_head

    def action_next_layer(self):
        self.layer = (self.layer + 1) % self.config.n_layer

    def action_toggle_all_heads(self):
        self.all_heads = not self.all_heads

    def action_optimizer_view(self):
        self.push_screen(OptimizerScreen())

    def action_embedding_view(self):
        self.push_screen(EmbeddingScreen())

    def action_probe_filmstrip(self):
        self.push_screen(FilmstripScreen())

    def action_help(self):
        self.push_screen(HelpScreen(self.BINDINGS))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if binding.action in ("help", "quit"):
                continue
            # The help is markup: "[/]" (the head keys) would be read as a closing tag.
            key = escape(binding.key_display or binding.key)
            yield SystemCommand(binding.description, f"key: {key}",
                                lambda action=binding.action: self.run_action(action))
