"""The `g` screen: backward's gradient of a few weights beside a finite-difference estimate.

The check runs in a thread worker on the newest weights snapshot (on the default config it
takes about 120 ms: 20 float forward passes and one backward) and again after training steps,
at most about twice a second, so it stays live while training runs.
"""

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Header, Static
from textual.worker import WorkerState

from engine.anatomy import n_positions, trace_position
from engine.gradcheck import AGREE_BELOW, CHECKED_WEIGHTS, STEP, check_gradients

from ..colours import BAD, GOOD
from ..run import Change
from .view import RunView

EXPLANATION = (
    f"backward: ∂loss/∂w by the chain rule, back through the graph.\n"
    f"finite difference: (loss(w+h) − loss(w−h)) / 2h with h = {STEP:g}, from the plain "
    f"float forward pass.\np picks {CHECKED_WEIGHTS} other weights; s and space train, and the "
    "check follows."
)


def units_off_everywhere(weights, tokens, config):
    """For each layer, the MLP units whose ReLU is off at every position of the name: no
    gradient comes back through them, so their mlp_fc1 row and mlp_fc2 column get none."""
    positions = n_positions(tokens, config)
    anatomies = [trace_position(weights, tokens, pos, config, 1.0) for pos in range(positions)]
    return tuple(
        frozenset.intersection(*(frozenset(anatomy.layers[li].dead_units)
                                 for anatomy in anatomies))
        for li in range(config.n_layer))


def zero_reason(check, tokens, config, units_off, label):
    """Why this name's loss does not depend on the weight, in a few words."""
    positions = n_positions(tokens, config)
    layer, _, matrix = check.name.rpartition(".")
    if check.name == "wte" and check.row not in tokens[:positions]:
        return f"{label(check.row)!r} is not read in this name"
    if check.name == "wpe" and check.row >= positions:
        return f"position {check.row} is past this name"
    if matrix in ("mlp_fc1", "mlp_fc2"):
        unit = check.row if matrix == "mlp_fc1" else check.col
        if unit in units_off[int(layer.removeprefix("layer"))]:
            return f"ReLU unit {unit} is off at every position"
    return "the loss does not reach it"


def checks_table(checks, reasons=None):
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("weight", no_wrap=True)
    table.add_column("backward", justify="right")
    table.add_column("finite diff.", justify="right")
    table.add_column("rel. error", justify="right")
    for check in checks:
        if check.backward == check.estimate == 0:
            # The loss does not depend on this weight for this name: both sides say so
            # exactly, and the reason says why.
            why = f": {reasons[check]}" if reasons and check in reasons else ""
            table.add_row(check.label, "0", "0", Text(f"both 0{why}", style="dim"))
            continue
        error = f"{check.relative_error:.1e}"
        if check.agrees_within_rounding:
            error = f"≈ {error}"
        table.add_row(check.label, f"{check.backward:+.8e}", f"{check.estimate:+.8e}",
                      Text(error, style=GOOD if check.agrees else BAD))
    return table


def verdict(checks):
    agree = sum(check.agrees for check in checks)
    worst = max(check.relative_error for check in checks)
    within_rounding = sum(check.agrees_within_rounding for check in checks)
    text = (f"{agree} of {len(checks)} agree (relative error < {AGREE_BELOW:.0e}"
            f"{', or ≈' if within_rounding else ''}); the largest error is {worst:.1e}.")
    if within_rounding:
        text += (" ≈: a gradient so small that float rounding in the two losses moves the "
                 "finite difference by more; they agree as closely as it can tell.")
    return text


class GradientCheckScreen(RunView):
    BINDINGS = [
        Binding("p", "pick_others", "other weights",
                tooltip=f"Check {CHECKED_WEIGHTS} other weights"),
    ]
    FOLLOWS = frozenset({Change.STEPS})
    NEEDS_A_STEP = "The gradient check"
    # Back to back, checks (which hold the GIL) slowed continuous training to under half its
    # speed: a new check starts at most twice a second.
    REDRAW_INTERVAL = 0.5

    def __init__(self, store):
        super().__init__(store)
        self.seed = store.config.seed
        self.checking = False  # a check is running
        self.stale = False  # a step or an undo arrived meanwhile
        self.checks = ()

    @property
    def busy(self):
        """A check is running, or the next one waits for its turn."""
        return self.checking or self.throttled_redraw.timer is not None

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with Vertical(id="gradcheck", classes="pane"):
            yield Static(id="gradcheck-source")
            yield Static("Checking…", id="gradcheck-table")
            yield Static(id="gradcheck-verdict")
            yield Static(EXPLANATION, id="gradcheck-note", classes="note")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        self.query_one("#gradcheck").border_title = "Gradient check"

    def action_pick_others(self):
        self.seed += 1
        self.redraw()  # a key is answered at once; only training's steps are throttled

    def redraw(self):
        """Check the newest snapshot now, or once the running check is over."""
        if self.checking:
            self.stale = True
            return
        self.stale = False
        result = self.store.last_result
        if result is None:  # every step was undone: there is no trained name to check
            self.checks = ()
            self.query_one("#gradcheck-source", Static).update(
                "No training step left to check: take a step first (s).")
            self.query_one("#gradcheck-table", Static).update("")
            self.query_one("#gradcheck-verdict", Static).update("")
            return
        self.checking = True
        source = (f"{result.doc!r} (the name of step {result.step}) on the newest weights · "
                  f"seed {self.seed}")
        self.run_check(self.store.weights, result.tokens, self.store.config, self.seed, source)

    @work(thread=True, exit_on_error=False)
    def run_check(self, weights, tokens, config, seed, source):
        checks = check_gradients(weights, tokens, config, seed=seed)
        zeros = [check for check in checks if check.backward == check.estimate == 0]
        units_off = units_off_everywhere(weights, tokens, config) if zeros else ()
        label = self.store.tokenizer.label
        reasons = {check: zero_reason(check, tokens, config, units_off, label)
                   for check in zeros}
        return source, checks, reasons

    def on_worker_state_changed(self, event):
        if event.state == WorkerState.SUCCESS:
            source, self.checks, reasons = event.worker.result
            self.query_one("#gradcheck-source", Static).update(source)
            self.query_one("#gradcheck-table", Static).update(checks_table(self.checks, reasons))
            self.query_one("#gradcheck-verdict", Static).update(verdict(self.checks))
        elif event.state == WorkerState.ERROR:
            self.notify(f"The gradient check failed: {event.worker.error}", severity="error")
        else:
            return
        self.checking = False
        if self.stale:
            self.throttled_redraw()
