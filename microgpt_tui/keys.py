"""Every key of the app, with the sentence the help screen and the command palette show."""

from textual.app import SystemCommand
from textual.binding import Binding
from textual.markup import escape as escape_markup

from engine.ablation import ABLATION_PROBE_SIZE
from engine.checkpoint import DEFAULT_CHECKPOINT
from engine.gradcheck import CHECKED_WEIGHTS
from engine.probe import PROBE_SIZE, SAMPLE_COUNT

from .run import MAX_TEMPERATURE, MIN_TEMPERATURE, TEMPERATURE_STEP, TOP_K_CHOICES
from .training import HISTORY_LENGTH

BINDINGS = [
    Binding("s", "step", "step", tooltip="Take one training step"),
    Binding("space", "toggle_run", "run", tooltip="Train continuously, or pause"),
    Binding("n", "next_token", "next", tooltip="Sample the next letter"),
    Binding("enter", "finish_sample", "end", tooltip="Sample to the end of the name"),
    Binding("plus,equals_sign", "temperature(1)", "temp", key_display="±",
            tooltip=f"Temperature up (+) or down (-) by {TEMPERATURE_STEP}, "
                    f"{MIN_TEMPERATURE} to {MAX_TEMPERATURE}"),
    Binding("minus", "temperature(-1)", "temperature down", show=False),
    Binding("k", "top_k", "top-k", show=False,
            tooltip="Top-k: sample only from the k most likely letters (k steps through "
                    f"{', '.join(str(k) for k in TOP_K_CHOICES[1:])}, then all)"),
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
    Binding("B", "branch", "branch from here", key_display="B", show=False,
            tooltip="Branch from here: fork the run (weights, Adam, step, order) with lr ×2; "
                    "again: lr ÷2, a new order, without the selected head, no change. The "
                    "loss pane overlays its mean"),
    Binding("w", "save_checkpoint", "save checkpoint", show=False,
            tooltip=f"Save a checkpoint (to --save PATH, else {DEFAULT_CHECKPOINT})"),
    Binding("e", "export", "export", show=False,
            tooltip="Export loss.csv, trace.json (the last step) and screen.svg"),
    Binding("A", "view('anatomy')", "anatomy", show=False,
            tooltip="Anatomy: one position of a name through every stage of gpt(), in "
                    "real numbers"),
    Binding("D", "anatomy('attribution')", "logit attribution", key_display="D", show=False,
            tooltip="Logit attribution: the next letter's logit split into what the "
                    "embeddings, each head and each MLP wrote (in the anatomy view, d)"),
    Binding("C", "anatomy('counterfactual')", "counterfactual", key_display="C", show=False,
            tooltip="Counterfactual: change one letter of the name, or patch one head in "
                    "from another name; next letters and attention beside the original"),
    Binding("G", "view('graph')", "graph", show=False,
            tooltip="The last trained name's autograd graph, and a walk down it from the loss"),
    Binding("g", "view('gradient check')", "gradcheck", show=False, tooltip="Gradient check: "
            f"backward's gradient of {CHECKED_WEIGHTS} weights beside finite differences"),
    Binding("f", "force_token", "force next letter", show=False,
            tooltip="Choose the next letter yourself (enter ends the name): the sampling "
                    "pane shows how likely the model found it"),
    Binding("i", "view('inspect')", "inspect a name", show=False,
            tooltip="Inspect a name you type: each next letter's probability, rank and bits, "
                    "and every head's attention, now and at step 0"),
    Binding("x", "ablate_head", "ablate head", show=False,
            tooltip="Zero the selected head: probe loss and samples with and without it "
                    "(x or esc restores it)"),
    Binding("H", "view('heads')", "what each head does", key_display="H", show=False,
            tooltip=f"What each head does: where it looks on the {ABLATION_PROBE_SIZE} probe "
                    "names, the loss without it"),
    Binding("o", "view('optimizer')", "optimizer view", show=False,
            tooltip="Optimizer view: weights, gradients, Adam m and v, update, lr schedule"),
    Binding("m", "view('embedding')", "embedding map", show=False,
            tooltip="Embedding map: every letter's embedding projected to 2-D (PCA)"),
    Binding("p", "view('filmstrip')", "probe filmstrip", show=False,
            tooltip=f"Probe filmstrip: loss on {PROBE_SIZE} fixed names and "
                    f"{SAMPLE_COUNT} samples, every N steps"),
    Binding("T", "view('timelapse')", "attention time-lapse", key_display="T", show=False,
            tooltip="Attention time-lapse: one probe name's attention, every head, at each "
                    "filmstrip frame (←/→ scrub)"),
    # Learners press ctrl+c to leave a terminal program; Textual would only explain ctrl+q.
    Binding("ctrl+c", "quit", "quit", show=False, priority=True),
]


def palette_commands(app, bindings):
    """A command palette entry for every key but help and quit, with its whole sentence:
    footer descriptions are one word to fit 80 columns, the palette has room."""
    for binding in bindings:
        if binding.action in ("help", "quit"):
            continue
        # The palette reads help as markup: "[/]" would be a closing tag.
        key = escape_markup(binding.key_display or binding.key)
        yield SystemCommand(binding.tooltip or binding.description, f"key: {key}",
                            lambda action=binding.action: app.run_action(action))
