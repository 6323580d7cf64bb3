"""MicrogptApp: the panes, the keys, and the training worker behind them."""

import gc
import random
import sys
from datetime import datetime
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.content import Content
from textual.markup import escape as escape_markup
from textual.reactive import reactive
from textual.signal import Signal
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from engine import BigramCounts, Sampler, bigram_loss, count_truncated
from engine.ablation import probe_set
from engine.checkpoint import DEFAULT_CHECKPOINT
from engine.probe import PROBE_SIZE, SAMPLE_COUNT
from engine.reference import ParityCheck, is_reference_run

from .export import export_run
from .messages import (
    CheckpointFailed,
    CheckpointSaved,
    Probed,
    Rewound,
    StageTaken,
    Stepped,
    TrainingStateChanged,
)
from .screens.ablation import AblationScreen
from .screens.embedding import EmbeddingScreen
from .screens.filmstrip import FilmstripScreen
from .screens.force import ForceTokenScreen, vocabulary_hint
from .screens.gradcheck import GradientCheckScreen
from .screens.graph import GraphScreen
from .screens.help import HelpScreen
from .screens.optimizer import OptimizerScreen
from .screens.stages import StagesScreen
from .training import HISTORY_LENGTH, Command, SaveCheckpoint, TrainingLoop
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
# Datasets with at most this many letter pairs to count (docs x block_size bounds it) are
# measured (bigram, truncation) before the first frame (names.txt: 512k, ~0.05 s); bigger
# ones in a thread worker, in batches of documents.
MEASURE_INLINE_PAIRS = 2_000_000
MEASURE_BATCH_DOCS = 100_000


class MicrogptApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "microgpt-tui"

    BINDINGS = [
        Binding("s", "step", "step", tooltip="Take one training step"),
        Binding("space", "toggle_run", "run", tooltip="Train continuously, or pause"),
        Binding("n", "next_token", "next", tooltip="Sample the next letter"),
        Binding("enter", "finish_sample", "end", tooltip="Sample to the end of the name"),
        Binding("plus,equals_sign", "temperature(1)", "temp", key_display="±",
                tooltip="Temperature up (+) or down (-), 0.1 to 2.0"),
        Binding("minus", "temperature(-1)", "temperature down", show=False),
        Binding("right_square_bracket", "head(1)", "head", key_display="[/]",
                tooltip="Next (]) or previous ([) attention head"),
        Binding("left_square_bracket", "head(-1)", "previous head", show=False),
        Binding("l", "next_layer", "layer", tooltip="Next layer"),
        Binding("a", "toggle_all_heads", "all", tooltip="All heads side by side"),
        Binding("question_mark", "help", "help", key_display="?", tooltip="This help"),
        Binding("q", "quit", "quit", tooltip="Quit (also ctrl+c)"),
        Binding("r", "restart_sample", "new", tooltip="Start a new sample"),
        # The keys below are not in the footer, which is full at 80 columns; the help screen
        # and the command palette list them.
        Binding("S", "stage", "stage", key_display="S", show=False,
                tooltip="Next stage of a step: forward one letter, backward, Adam update"),
        Binding("u", "undo", "undo", show=False,
                tooltip=f"Undo the last training step (up to {HISTORY_LENGTH})"),
        Binding("w", "save_checkpoint", "save checkpoint", show=False,
                tooltip=f"Save a checkpoint (to --save PATH, else {DEFAULT_CHECKPOINT})"),
        Binding("e", "export", "export", show=False,
                tooltip="Export loss.csv, trace.json (the last step) and screen.svg"),
        Binding("G", "graph_view", "graph", show=False,
                tooltip="The last trained name's autograd graph, and a walk down it from the loss"),
        Binding("g", "gradient_check", "gradcheck", show=False, tooltip="Gradient check: "
                "backward's gradient of 10 weights beside finite differences"),
        Binding("f", "force_token", "force next letter", show=False,
                tooltip="Choose the next letter yourself (enter ends the name): the sampling "
                        "pane shows how likely the model found it"),
        Binding("x", "ablate_head", "ablate head", show=False,
                tooltip="Zero the selected head: probe loss and samples with and without it "
                        "(x or esc restores it)"),
        Binding("o", "optimizer_view", "optimizer view", show=False,
                tooltip="Optimizer view: weights, gradients, Adam m and v, update, lr schedule"),
        Binding("m", "embedding_view", "embedding map", show=False,
                tooltip="Embedding map: every letter's embedding projected to 2-D (PCA)"),
        Binding("p", "probe_filmstrip", "probe filmstrip", show=False,
                tooltip=f"Probe filmstrip: loss on {PROBE_SIZE} fixed names and "
                        f"{SAMPLE_COUNT} samples, every N steps"),
        # Learners press ctrl+c to leave a terminal program; Textual would only explain ctrl+q.
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]

    layer = reactive(0)
    head = reactive(0)
    all_heads = reactive(False)
    temperature = reactive(0.5)
    running = reactive(False)
    stage = reactive(None)  # the newest StepStage of a staged step, for StagesScreen

    def __init__(self, trainer, dataset_name="names.txt", temperature=0.5, loss_history=(),
                 checkpoint_path=DEFAULT_CHECKPOINT, export_dir=None):
        super().__init__()
        self.set_reactive(MicrogptApp.temperature, self.clamp_temperature(temperature))
        self.config = trainer.config
        self.tokenizer = trainer.tokenizer
        self.dataset_name = dataset_name
        self.n_docs = len(trainer.docs)
        # For the dataset measurements. Shared, not copied (7 million names would cost 0.2 s
        # and 56 MB): the Trainer shuffled its list once and never changes it again.
        self.docs = trainer.docs
        self.num_params = trainer.num_params
        self.loss_history = list(loss_history)  # a loaded checkpoint's losses come first
        self.loaded_steps = len(self.loss_history)  # undo cannot go back past these
        # The learning rate of the last step taken, until the next step reports its own.
        self.resumed_lr = trainer.adam.lr_at(trainer.step_count - 1) if loss_history else 0.0
        self.checkpoint_path = Path(checkpoint_path)
        self.last_result = None
        self.training = TrainingLoop(trainer, self.post_message, loss_history)
        self.sampler_rng = random.Random(self.config.seed)
        self.sampler = None
        self.sample_events = ()
        # The attention and KV panes follow training until a sample is started.
        self.show_training_views = True
        self.export_dir = export_dir  # None: the working directory at the time of export
        # The reference run's known losses apply only to its config and data.
        self.parity = ParityCheck() if is_reference_run(self.config, trainer.docs) else None
        # Read here, before the worker owns the trainer; the docs never change afterwards.
        self.probe = probe_set(trainer.docs)
        self.probes = []  # every ProbeRecord so far, oldest first
        # The views pushed over the panes follow training through these.
        self.stepped_signal = Signal(self, "stepped")
        self.probed_signal = Signal(self, "probed")
        self.rewound_signal = Signal(self, "rewound")  # a step was undone (u)

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
        if self.n_docs * config.block_size <= MEASURE_INLINE_PAIRS:
            self.notify_truncated(count_truncated(self.docs, config.block_size))
            plot.bigram = bigram_loss(self.docs, self.tokenizer, config.block_size)
        else:
            self.measure_dataset(plot)

    @work(thread=True, exclusive=True, group="training")
    def run_training(self):
        worker = get_current_worker()
        self.training.run(lambda: worker.is_cancelled)

    @work(thread=True, exclusive=True, group="dataset")
    def measure_dataset(self, plot):
        """Count the bigram baseline batch by batch, so the pane shows progress and a quit
        does not wait for the whole count."""
        worker = get_current_worker()
        self.call_from_thread(self.notify_truncated,
                              count_truncated(self.docs, self.config.block_size))
        counts = BigramCounts(self.tokenizer, self.config.block_size)
        for start in range(0, len(self.docs), MEASURE_BATCH_DOCS):
            if worker.is_cancelled:
                return
            counts.add(self.docs[start:start + MEASURE_BATCH_DOCS])
            self.call_from_thread(setattr, plot, "bigram_progress", counts.n_docs / self.n_docs)
        self.call_from_thread(setattr, plot, "bigram", counts.loss())

    def notify_truncated(self, truncated):
        if truncated:
            block_size = self.config.block_size
            self.notify(f"{truncated:,} of {self.n_docs:,} documents are longer than block_size "
                        f"{block_size} allows and are truncated: the model learns their first "
                        f"{block_size} characters, never their end.", severity="warning",
                        timeout=10)

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
        badge = self.parity_badge
        parts = [self.dataset_name, f"{self.n_docs:,} docs"]
        if width >= (110 if badge else 100):
            parts.append(f"vocab {self.tokenizer.vocab_size}")
        if badge and width < 100:
            parts = []
        self.sub_title = " · ".join(parts)
        self.mutate_reactive(App.sub_title)  # the badge may have changed: redraw the header

    @property
    def parity_badge(self):
        return self.parity.badge if self.parity else ""

    def format_title(self, title, sub_title):
        formatted = super().format_title(title, sub_title)
        if not self.parity_badge:
            return formatted
        style = "bold $text-error" if self.parity.diverged_at else "bold $text-success"
        return Content.assemble(formatted, (" · " if sub_title else " — ", "dim"),
                                (self.parity_badge, style))

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

    def action_stage(self):
        if len(self.loss_history) >= self.config.num_steps:
            self.notify(f"Training is finished ({self.config.num_steps} steps): there is no "
                        "next step to walk.", severity="warning")
            return
        if self.running:
            self.notify("Training is running: space pauses it, then S walks a step in stages.",
                        severity="warning")
            return
        self.show_view(StagesScreen, lambda: StagesScreen(self.tokenizer, self.config))
        if self.stage is not None and self.stage.result is not None:
            self.stage = None  # that step is done: the next one starts with an empty banner
        self.training.send(Command.STAGE)

    def on_stage_taken(self, message: StageTaken):
        self.stage = message.stage

    def action_undo(self):
        if self.running:
            self.notify("Training is running: space pauses it first.", severity="warning")
            return
        self.training.send(Command.UNDO)

    def on_rewound(self, message: Rewound):
        step = message.step
        if message.dropped_stage:
            self.notify(f"Dropped step {step + 1} before its update: the model is unchanged.",
                        timeout=3)
        elif not message.undone:
            self.notify("Nothing more to undo: " + (
                "no step has been taken yet." if step == 0 else
                "the steps before the checkpoint was loaded cannot be undone."
                if step == self.loaded_steps else
                f"the last {HISTORY_LENGTH} steps are kept."), severity="warning")
            return
        else:
            del self.loss_history[-1]
            self.last_result = result = message.result
            plot = self.query_one(LossPlot)
            plot.lr = result.lr if result else self.resumed_lr
            plot.losses = tuple(self.loss_history)
            if self.show_training_views:
                self.show_step(result)
            # A filmstrip frame of the undone step measured weights that no longer exist.
            self.probes = [record for record in self.probes if record.step <= step]
            self.notify(f"Undid step {step + 1}: back at step {step}.", timeout=2)
            self.rewound_signal.publish(result)
        self.stage = None

    def on_stepped(self, message: Stepped):
        self.loss_history.extend(message.losses)
        self.last_result = message.result
        plot = self.query_one(LossPlot)
        plot.lr = message.result.lr
        plot.losses = tuple(self.loss_history)
        if self.show_training_views:
            self.show_step(message.result)
        if self.parity is not None:
            badge = self.parity_badge
            first_step = message.result.step - len(message.losses) + 1
            for step, loss in enumerate(message.losses, first_step):
                self.parity.observe(step, loss)
            # The header is redrawn (and re-laid out) whenever the sub-title is set, so only
            # when the badge changed: it stays "reference-exact" for a whole reference run.
            if self.parity_badge != badge:
                self.show_sub_title(self.size.width)
        self.stepped_signal.publish(message.result)

    def on_probed(self, message: Probed):
        self.probes.append(message.record)
        self.probed_signal.publish(message.record)

    def show_step(self, result):
        """The panes for `result`, or empty ones (None: rewound to before the first step)."""
        self.query_one(AttentionMap).view = (
            result and attention_from_step(result, self.tokenizer))
        self.query_one(KVCacheTable).view = result and kv_cache_from_step(result, self.tokenizer)
        pane = self.query_one("#kv-cache")
        if pane.border_subtitle:  # setting it, even to "", repaints the whole pane
            pane.border_subtitle = ""

    def on_training_state_changed(self, message: TrainingStateChanged):
        self.running = message.running
        if message.reason:
            self.notify(message.reason, severity="warning", timeout=8)
            self.stage = None  # a failed stage leaves no staged step under way
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

    def start_sample(self):
        """A new sample from the newest weights snapshot; training state is never touched."""
        self.sampler = Sampler(self.training.weights, self.tokenizer, self.config,
                               temperature=self.temperature, rng=self.sampler_rng)
        self.sample_events = ()

    def sample_tokens(self, until_done, force=None):
        if self.sampler is None or self.sampler.done:
            self.start_sample()
        events = list(self.sample_events)
        try:
            events.append(self.sampler.step(force=force))
            while until_done and not self.sampler.done:
                events.append(self.sampler.step())
        except (ArithmeticError, ValueError) as error:
            # Weights from a diverged run give inf or nan probabilities.
            self.sampler = None
            self.notify(f"Cannot sample from these weights ({error}).", severity="error")
            return
        self.show_sample(tuple(events))

    def show_sample(self, events):
        self.sample_events = events
        self.show_training_views = False
        self.query_one(SamplingView).events = events
        if events:
            self.query_one(AttentionMap).view = attention_from_sample(events, self.tokenizer)
            self.query_one(KVCacheTable).view = kv_cache_from_sample(events, self.tokenizer)
            self.query_one("#kv-cache").border_subtitle = "inference · +1 position per token"
            # While sampling, the newest row is the news: keep it in sight.
            self.query_one("#kv-cache").scroll_end(animate=False)

    def action_next_token(self):
        self.sample_tokens(until_done=False)

    def action_finish_sample(self):
        self.sample_tokens(until_done=True)

    def action_force_token(self):
        # The forced letter shows on the main screen's panes: close any view over them.
        self.show_view(ForceTokenScreen, lambda: ForceTokenScreen(self.tokenizer.chars),
                       self.force_typed)

    def force_typed(self, typed):
        """Take the next sampling step with the typed character ("" = BOS) as its token."""
        if typed is None:
            return
        try:
            (token,) = self.tokenizer.encode(typed) if typed else (self.tokenizer.bos,)
        except ValueError:
            self.notify(f"{typed!r} is not in the vocabulary "
                        f"({vocabulary_hint(self.tokenizer.chars)}): nothing forced.",
                        severity="warning")
            return
        # After the prompt has gone: the KV pane can only scroll to its new last row once the
        # main screen is laid out again.
        self.call_after_refresh(self.sample_tokens, until_done=False, force=token)

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

    # Export -------------------------------------------------------------------------------

    def action_export(self):
        parent = Path(self.export_dir) if self.export_dir is not None else Path.cwd()
        try:
            folder = export_run(parent, datetime.now(), tuple(self.loss_history),
                                self.last_result, self.tokenizer, self.config,
                                self.export_screenshot())
        except OSError as error:
            where = error.filename or parent
            self.notify(f"Export failed: cannot write {where}: {error.strerror or error}",
                        severity="error", timeout=10)
            return
        if self.last_result is None:
            self.notify(f"Exported to {folder}/: no step yet, so loss.csv has only its header "
                        "and there is no trace.json.", timeout=8)
        else:
            self.notify(f"Exported step {self.last_result.step} to {folder}/", timeout=8)

    # View selection -----------------------------------------------------------------------

    def action_head(self, direction):
        self.head = (self.head + direction) % self.config.n_head

    def action_next_layer(self):
        self.layer = (self.layer + 1) % self.config.n_layer

    def action_toggle_all_heads(self):
        self.all_heads = not self.all_heads

    def action_ablate_head(self):
        steps = len(self.loss_history)
        # While training runs the snapshot may be a step or two ahead of the loss pane.
        label = "The newest weights (training is running)" if self.running else (
            f"Weights after step {steps}" if steps else "The initial weights (no step yet)")
        self.show_view(AblationScreen, lambda: AblationScreen(
            self.training.weights, self.tokenizer, self.config, self.probe, self.layer,
            self.head, temperature=self.temperature, weights_label=label))

    def show_view(self, view_type, make_view, on_dismiss=None):
        """Show the view of `view_type` right over the panes: one already open is kept as it
        is (popping whatever covers it), any other is closed first. Views never pile up, so
        escape always leads straight back to the panes. `on_dismiss` hears a new view's
        result."""
        open_view = next((screen for screen in self.screen_stack[1:]
                          if isinstance(screen, view_type)), None)
        while len(self.screen_stack) > 1 and self.screen is not open_view:
            self.pop_screen()
        if open_view is None:
            self.push_screen(make_view(), on_dismiss)

    def action_optimizer_view(self):
        self.show_view(OptimizerScreen, OptimizerScreen)

    def action_embedding_view(self):
        self.show_view(EmbeddingScreen, EmbeddingScreen)

    def action_probe_filmstrip(self):
        self.show_view(FilmstripScreen, FilmstripScreen)

    def action_help(self):
        self.show_view(HelpScreen, lambda: HelpScreen(self.BINDINGS))

    def action_graph_view(self):
        if not self.needs_a_step("The graph view"):
            self.show_view(GraphScreen, lambda: GraphScreen(self.training.weights,
                                                            self.last_result, self.config))

    def action_gradient_check(self):
        if not self.needs_a_step("The gradient check"):
            self.show_view(GradientCheckScreen, lambda: GradientCheckScreen(seed=self.config.seed))

    def needs_a_step(self, what):
        if self.last_result is None:
            self.notify(f"{what} uses the last trained name: press s for a training step "
                        "first.", severity="warning")
        return self.last_result is None

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if binding.action in ("help", "quit"):
                continue
            # Footer descriptions are one word to fit 80 columns; the palette has room for
            # the whole sentence. It reads help as markup: "[/]" would be a closing tag.
            key = escape_markup(binding.key_display or binding.key)
            yield SystemCommand(binding.tooltip or binding.description, f"key: {key}",
                                lambda action=binding.action: self.run_action(action))
