"""The `G` screen: the autograd graph of the last trained name, and a walk down it.

The graph is rebuilt in a thread worker (about 0.2 s on the default config) from the newest
weights snapshot on fresh leaves, with the per-operation ops, so every node is one +, *, exp,
… as a learner writes it; the Trainer's own graph is fused and long gone. The walker starts at
the loss: each row is a child of the current node with where it comes from (position, layer,
head and step of gpt()), its data, its grad and the local grad backward multiplied by, so the
chain rule can be checked by hand, number by number.

A big model's graph is refused before anything is built: with n_layer 8 and n_embd 128 one
name's graph has 22 million nodes, and building it took 312 s and 9.7 GB.
"""

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import WorkerState, get_current_worker

from engine import FUSED_OPS
from engine.graph import (
    BYTES_PER_NODE,
    count_uses,
    document_graph,
    estimated_nodes,
    graph_stats,
    op_of,
)
from engine.trainer import collector_paused

from ..colours import FAILED
from .view import RunView

COLUMNS = ("child", "where", "data", "grad", "local grad", "local × grad(node)")
# How many of the steps of gpt() the path from the loss went through the walker's title shows.
STEPS_SHOWN = 3
# The biggest graph the view builds, in operation nodes: about 200 MB and a few seconds.
NODE_BUDGET = 500_000


@dataclass(frozen=True)
class GraphAnalysis:
    loss: object  # the root Value; its graph belongs to this screen alone
    names: dict  # parameter leaf -> "wte[3][5]"
    origins: dict  # every other node -> its engine.graph.Origin
    uses: dict  # node -> how many edges lead into it
    stats: object  # GraphStats of the per-op graph
    fused_stats: object  # GraphStats of the fused graph of the same loss


def analyse(weights, tokens, config, cancelled=None):
    # Hundreds of thousands of new nodes set off full garbage collections, each one holding
    # the GIL (and so the UI thread) for a good part of a second; none of them is garbage.
    with collector_paused():
        graph = document_graph(weights, tokens, config, cancelled=cancelled)
        fused = document_graph(weights, tokens, config, FUSED_OPS, cancelled)
        return GraphAnalysis(graph.loss, graph.names, graph.origins, count_uses(graph.loss),
                             graph_stats(graph.loss, graph.names),
                             graph_stats(fused.loss, fused.names))


def megabytes(nodes):
    return f"{nodes * BYTES_PER_NODE / 1e6:,.0f} MB"


def number(x):
    return f"{x:+.6g}"


def stats_text(analysis, step_loss):
    stats, fused = analysis.stats, analysis.fused_stats
    text = Text(f"loss {analysis.loss.data:.4f} on the newest weights (its training step saw "
                f"{step_loss:.4f})\n")
    text.append(f"{stats.nodes:,} nodes", style="bold")
    text.append(f", {stats.edges:,} edges, depth {stats.depth:,}, {stats.leaves:,} leaves "
                f"({stats.parameters:,} parameters)\n")
    for i, (op, count) in enumerate(stats.nodes_by_op):
        text.append(" · " if i else "")
        text.append(op, style="bold")
        text.append(f" {count:,}")
    text.append(f"\nfused engine (the Trainer's): {fused.nodes:,} nodes, {fused.edges:,} edges, "
                f"depth {fused.depth:,}", style="dim")
    return text


class GraphScreen(RunView):
    """Stays on the step it was opened on: it is a walk, and rebuilding the graph under the
    learner would lose their place."""

    BINDINGS = [
        Binding("backspace", "up", "up", tooltip="Back up to the parent node"),
    ]
    NEEDS_A_STEP = "The graph view"

    def __init__(self, store):
        super().__init__(store)
        self.weights = store.weights
        self.result = store.last_result
        self.config = store.config
        self.analysis = None
        positions = min(self.config.block_size, len(self.result.tokens) - 1)
        self.estimate = estimated_nodes(self.config, store.tokenizer.vocab_size, positions)
        self.path = []  # nodes from the loss down to the current one
        self.rows_taken = []  # the row chosen at each node of the path but the last

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with Vertical(id="graph-stats", classes="pane"):
            yield Static(f"Building the graph of {self.result.doc!r}: about "
                         f"{self.estimate:,} nodes…", id="graph-summary")
        with Vertical(id="graph-walker", classes="pane"):
            yield Static(id="walker-node")
            yield DataTable(id="walker-children", cursor_type="row", zebra_stripes=True)
            yield Static(id="walker-chain")
            yield Static("enter: into the child · backspace: back up · esc: close",
                         classes="note")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        self.query_one("#graph-stats").border_title = (
            f"Autograd graph · {self.result.doc!r} (step {self.result.step}) · one node per "
            "operation")
        self.query_one("#graph-walker").border_title = "Walker"
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        if self.estimate > NODE_BUDGET:
            self.query_one("#graph-summary", Static).update(Text(
                f"Not built: the graph of {self.result.doc!r} would have about "
                f"{self.estimate:,} nodes ({megabytes(self.estimate)}); this view builds at "
                f"most {NODE_BUDGET:,} ({megabytes(NODE_BUDGET)}). A model with a smaller "
                "--n-layer or --n-embd has a graph to walk.", style=FAILED))
            return
        table.loading = True
        self.build(self.weights, self.result.tokens, self.config)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def build(self, weights, tokens, config):
        # Closing the view cancels the worker; the build stops at its next position.
        worker = get_current_worker()
        return analyse(weights, tokens, config, lambda: worker.is_cancelled)

    def on_worker_state_changed(self, event):
        if event.state == WorkerState.SUCCESS:
            self.analysis = event.worker.result
            self.query_one("#graph-summary", Static).update(
                stats_text(self.analysis, self.result.loss))
            self.path = [self.analysis.loss]
            self.query_one(DataTable).loading = False
            self.show_node()
        elif event.state == WorkerState.ERROR:
            self.notify(f"The graph could not be built: {event.worker.error}",
                        severity="error")
            self.dismiss()

    # The walker ---------------------------------------------------------------------------

    def label(self, node):
        if node is self.analysis.loss:
            return "loss"
        if node._children:
            return op_of(node)
        return self.analysis.names.get(node, "constant")

    def where(self, node, reader=None):
        """Where `node` comes from, leaving out what `reader` (a node whose origin the reader
        has in view) tells already; "" for a parameter, whose name says it."""
        origins = self.analysis.origins
        if node not in origins:
            return ""
        return origins[node].beside(origins.get(reader))

    def steps_taken(self):
        """The steps of gpt() the path went through, each beside the one before it."""
        steps, previous = [], None
        for node in self.path:
            origin = self.analysis.origins[node]
            if origin != previous:
                steps.append(origin.beside(previous))
            previous = origin
        return steps if len(steps) <= STEPS_SHOWN else ["…", *steps[-STEPS_SHOWN:]]

    def show_node(self, row=0):
        node = self.path[-1]
        self.query_one("#graph-walker").border_title = (
            f"Walker · depth {len(self.path) - 1} · {' › '.join(self.steps_taken())}")
        self.query_one("#walker-node", Static).update(Text.assemble(
            ("node ", "dim"), (self.label(node), "bold"), " · ", (self.where(node), "bold"),
            f"\ndata {number(node.data)} · grad {number(node.grad)} · ",
            (f"{len(node._children)} children below", "dim")))
        table = self.query_one(DataTable)
        table.clear(columns=True)  # and so as wide as this node's children need
        table.add_columns(*COLUMNS)
        for child, local_grad in zip(node._children, node._local_grads):
            table.add_row(self.label(child), self.where(child, node), number(child.data),
                          number(child.grad), number(local_grad),
                          number(local_grad * node.grad))
        table.move_cursor(row=row)
        table.focus()
        self.show_chain_rule(row)

    def show_chain_rule(self, row):
        """grad(child) += local grad × grad(node), with the selected child's numbers."""
        node = self.path[-1]
        child, local_grad = node._children[row], node._local_grads[row]
        child_name, node_name = self.label(child), self.label(node)
        uses = self.analysis.uses[child]
        child_grad = f"grad({child_name})"
        rule = Table.grid(padding=(0, 1))
        rule.add_row(Text(child_grad, style="bold"),
                     Text(f"+= local grad × grad({node_name})", style="bold"))
        rule.add_row("", f"+= {number(local_grad)} × {number(node.grad)} = "
                         f"{number(local_grad * node.grad)}")
        if uses == 1:
            note = f"its only use, so {child_grad} = {number(child.grad)}"
        else:
            note = (f"{child_grad} = {number(child.grad)}: the sum of {uses} such terms, one per "
                    "use")
        self.query_one("#walker-chain", Static).update(Group(rule, Text(note, style="dim")))

    def on_data_table_row_highlighted(self, event):
        if self.path:
            self.show_chain_rule(event.cursor_row)

    def on_data_table_row_selected(self, event):
        child = self.path[-1]._children[event.cursor_row]
        if child._children:
            self.path.append(child)
            self.rows_taken.append(event.cursor_row)
            self.show_node()
        elif child in self.analysis.names:
            self.notify(f"{self.label(child)} is a parameter: a leaf, backward stops here and "
                        "Adam uses its grad.", timeout=4)
        else:
            self.notify("A constant: a leaf; its grad is computed but nothing uses it.",
                        timeout=4)

    def action_up(self):
        if len(self.path) > 1:
            self.path.pop()
            self.show_node(self.rows_taken.pop())
        elif self.path:
            self.notify("This is the loss: the top of the graph.", timeout=3)
