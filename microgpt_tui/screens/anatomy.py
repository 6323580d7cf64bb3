"""The `A` screen: one position of one name, end to end through `gpt()`.

Every vector the model computes for that one token is shown as a strip of its real numbers,
each beside the line of the reference microgpt that computes it (engine.anatomy). The
name is the sample in progress, else the last trained name, else the one the learner types;
←/→ move along it. It follows training: the numbers are the newest weights'. `d` adds the
next letter's logit split into each part's direct contribution, `c` a counterfactual beside
the position (screens/attribution.py).
"""

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Static
from textual.worker import WorkerState, get_current_worker

from engine.anatomy import n_positions, trace_position
from engine.attribution import logit_attribution, patched_position

from ..colours import BOLD_MARK, FAILED, MARK
from ..run import Change
from ..widgets.heatmap import legend
from ..widgets.vector_strip import CELL, strip_width, vector_strip
from .attribution import (
    CHANGE_HINT,
    TOP_LETTERS,
    attribution_section,
    counterfactual_section,
    describe,
    parse_change,
)
from .force import vocabulary_refusal
from .view import RunView

SUMMARY = ("Every vector gpt() computes for this one token, in order, beside the reference "
           "microgpt line that computes it.")
TITLE_WIDTH = 30  # the stage column when title, strip and code sit side by side
CODE_WIDTH = 44  # at least this much room for the code column, else the stages stack


@dataclass(frozen=True)
class Stage:
    title: str  # what the vector is
    code: str  # the reference line that computes it
    values: tuple
    probabilities: bool = False
    labels: tuple | None = None  # one per value: the letters, or the positions' tokens
    group: int = 0  # values per attention head, for vectors laid out head by head
    dead: frozenset = frozenset()  # a ReLU's zeroed units
    note: str = ""


def weight(matrix):
    """The reference's name for this layer's matrix."""
    return f"state_dict[f'layer{{li}}.{matrix}']"


def layer_stages(li, layer, config, position_labels):
    d = config.head_dim
    name = f"layer {li + 1} of {config.n_layer} · " if config.n_layer > 1 else ""
    yield f"{name}Attention"
    yield Stage("rmsnorm(x), the residual kept", "x_residual = x; x = rmsnorm(x)",
                layer.x_norm)
    for vector, matrix in (("q", "attn_wq"), ("k", "attn_wk"), ("v", "attn_wv")):
        yield Stage(f"{vector} = {matrix} · x, by head", f"{vector} = linear(x, "
                    f"{weight(matrix)})", getattr(layer, vector), group=d)
    for h, head in enumerate(layer.heads):
        yield f"{name}Head {h + 1} of {config.n_head}: values {h * d}–{(h + 1) * d - 1} of q, k, v"
        yield Stage(f"logits q·k / √{d}, per position",
                    "attn_logits = [sum(q_h[j] * k_h[t][j] for j in range(head_dim)) "
                    "/ head_dim**0.5 for t in range(len(k_h))]", head.logits,
                    labels=position_labels)
        yield Stage("attention weights (%)", "attn_weights = softmax(attn_logits)",
                    head.weights, probabilities=True, labels=position_labels)
        yield Stage("head output Σ weight·v", "head_out = [sum(attn_weights[t] * v_h[t][j] "
                    "for t in range(len(v_h))) for j in range(head_dim)]", head.out)
    yield f"{name}Heads together"
    yield Stage("concat of the heads", "x_attn.extend(head_out)", layer.x_attn, group=d)
    yield Stage("attn_wo · concat", f"x = linear(x_attn, {weight('attn_wo')})",
                layer.attn_out)
    yield Stage("+ residual", "x = [a + b for a, b in zip(x, x_residual)]", layer.x_mid)
    yield f"{name}MLP"
    yield Stage("rmsnorm(x), the residual kept", "x_residual = x; x = rmsnorm(x)",
                layer.mlp_norm)
    yield Stage("mlp_fc1 · x", f"x = linear(x, {weight('mlp_fc1')})", layer.hidden)
    dead = layer.dead_units
    yield Stage("ReLU", "x = [xi.relu() for xi in x]", layer.activated, dead=frozenset(dead),
                note=f"{len(dead)} of {len(layer.hidden)} units dead (≤ 0 → 0), grey")
    yield Stage("mlp_fc2 · x", f"x = linear(x, {weight('mlp_fc2')})", layer.mlp_out)
    yield Stage("+ residual", "x = [a + b for a, b in zip(x, x_residual)]", layer.x_out)


def stages(anatomy, tokenizer, config):
    """The sections (a str heading) and stages (a Stage) of the anatomy, top to bottom."""
    token, position = tokenizer.label(anatomy.token), anatomy.position
    position_labels = tuple(tokenizer.label(t) for t in anatomy.tokens[: position + 1])
    vocab_labels = tuple(tokenizer.label(t) for t in range(tokenizer.vocab_size))
    yield f"Input: {token!r} at position {position}"
    yield Stage(f"token embedding wte[{token}]", "tok_emb = state_dict['wte'][token_id]",
                anatomy.tok_emb)
    yield Stage(f"position embedding wpe[{position}]", "pos_emb = state_dict['wpe'][pos_id]",
                anatomy.pos_emb)
    yield Stage("x = tok_emb + pos_emb", "x = [t + p for t, p in zip(tok_emb, pos_emb)]",
                anatomy.embedded)
    yield Stage("rmsnorm(x)", "x = rmsnorm(x)", anatomy.normed)
    for li, layer in enumerate(anatomy.layers):
        yield from layer_stages(li, layer, config, position_labels)
    yield "Output: the next token"
    yield Stage("logits = lm_head · x", "logits = linear(x, state_dict['lm_head'])",
                anatomy.logits, labels=vocab_labels)
    yield Stage(f"logits / temperature {anatomy.temperature:g}",
                "[l / temperature for l in logits]", anatomy.scaled_logits, labels=vocab_labels)
    yield Stage("softmax: probabilities (%)", "probs = softmax([l / temperature for l in "
                "logits])", anatomy.probs, probabilities=True, labels=vocab_labels)
    if anatomy.top_k is not None:
        yield Stage(f"top-k {anatomy.top_k}: what is drawn from (%)", "not in the reference: "
                    "the k likeliest kept, the rest 0, renormalised", anatomy.drawn_probs,
                    probabilities=True, labels=vocab_labels)


def prediction(anatomy, tokenizer):
    """The most likely next letters, and the name's own next letter among them."""
    probs = anatomy.drawn_probs
    ranked = sorted(range(len(probs)), key=lambda t: -probs[t])
    text = Text("Most likely next: ", style="bold")
    for t in ranked[:TOP_LETTERS]:
        text.append(f"{tokenizer.label(t)} {probs[t]:.1%}  ",
                    style=BOLD_MARK if t == anatomy.target else "")
    target = anatomy.target
    text.append(f"· the name's next token {tokenizer.label(target)!r}: {probs[target]:.2%}, "
                f"rank {ranked.index(target) + 1} of {len(probs)}")
    return text


def title_text(stage):
    title = Text.assemble((stage.title, "bold"))
    if stage.note:
        title.append(f"  {stage.note}", style=MARK)
    return title


def legend_text():
    return Text.assemble(("Colour: ", "dim"), legend("0", "the row's max |x| · "),
                         legend("0 %", "100 %"), style="dim")


def strip_of(stage, width):
    return vector_strip(stage.values, width, probabilities=stage.probabilities,
                        labels=stage.labels, group=stage.group, dead=stage.dead)


def stacked(stage, width):
    """The stage's title and code (lined up in a column where they fit on one line), then
    its strip below at the full width."""
    title = title_text(stage)
    if title.cell_len + 1 + len(stage.code) > width:
        return [title, Text(f"  {stage.code}", style="dim"), *strip_of(stage, width)]
    code_column = max(title.cell_len + 1, min(TITLE_WIDTH + 1, width - len(stage.code)))
    title.pad_right(code_column - title.cell_len)
    return [title.append(stage.code, style="dim"), *strip_of(stage, width)]


def render_stages(items, width, n_embd):
    """Each section's heading, then its stages: stacked, or where an n_embd vector fits
    between the title and the code, one table row each, title | strip | code."""
    strip_room = width - TITLE_WIDTH - CODE_WIDTH - 2  # 1 column between columns
    side_by_side = strip_room >= n_embd * CELL
    rendered, table = [], None
    for item in items:
        if isinstance(item, str):
            rendered += [Text(""), Text(item, style="bold underline")]
            table = None
        elif not side_by_side:
            rendered += stacked(item, width)
        else:
            if table is None:
                # One table per section, all with the same widths, so the columns line up.
                table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False,
                              expand=True)
                table.add_column(width=TITLE_WIDTH)
                table.add_column(width=strip_width(strip_room, 4 * n_embd))
                table.add_column(ratio=1)
                rendered.append(table)
            table.add_row(title_text(item), Text("\n").join(strip_of(item, table.columns[1].width)),
                          Text(item.code, style="dim"))
    return Group(*rendered)


class AnatomyScreen(RunView):
    KEY = "A"
    BINDINGS = [
        # Priority, so the footer shows them over the scroll area's own (unused) left and
        # right; check_action passes them on to the name's input while it has the focus.
        Binding("left", "move(-1)", "position", key_display="←/→", priority=True,
                tooltip="The previous (←) or next (→) position of the name"),
        Binding("right", "move(1)", "next position", show=False, priority=True),
        Binding("t", "type_name", "type a name", tooltip="Type a name to look inside"),
        Binding("d", "toggle_attribution", "attribution",
                tooltip="Split the next letter's logit into each head's, MLP's and "
                        "embedding's direct part"),
        Binding("c", "counterfactual", "counterfactual",
                tooltip="Change one letter, or patch one head in from another name, and "
                        "compare"),
    ]
    FOLLOWS = frozenset({Change.STEPS, Change.SAMPLE})
    # A pass over a name takes ~20 ms on the default config (a whole block, 16 positions);
    # twice a second leaves training the GIL.
    REDRAW_INTERVAL = 0.5
    AUTO_FOCUS = "#anatomy-scroll"

    def __init__(self, store):
        super().__init__(store)
        self.doc = None  # the name looked inside (a document), None until there is one
        self.position = 0
        self.source = ""  # where the name came from
        self.followed_events = None  # the sample's events the name was taken from
        self.anatomy = None
        self.step_shown = 0  # the step whose weights the anatomy shown ran on
        self.requests = 0  # each computation's number: only the newest one's result is shown
        self.attribution_shown = False
        self.attributions = ()  # LogitAttribution of the next letter (and the likeliest one)
        self.change = None  # the counterfactual's LetterChange or HeadPatch, None: none asked
        # The change shown and its Counterfactual (or why it could not be made, a str), as
        # computed with the anatomy shown; None: none shown.
        self.counterfactual = None
        self.change_asked = False  # opened to ask for a counterfactual (the C key)
        self.pick_default_name()

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        with Vertical(id="anatomy", classes="pane"):
            with Horizontal(id="anatomy-bar"):
                yield Static("name ", id="anatomy-name-label")
                yield Input(self.doc or "", max_length=self.store.config.block_size,
                            compact=True, placeholder="type a name", id="anatomy-name")
                yield Static(id="anatomy-where")
            with Horizontal(id="anatomy-change-bar"):
                yield Static("change ", id="anatomy-change-label")
                yield Input(compact=True, placeholder=CHANGE_HINT, id="anatomy-change")
            with VerticalScroll(id="anatomy-scroll"):
                yield Static("Running the model…", id="anatomy-body")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self):
        self.query_one("#anatomy").border_title = "Anatomy · one position, end to end"
        if self.change_asked:
            self.ask_change()
        elif self.doc is None:
            self.query_one("#anatomy-name", Input).focus()

    @property
    def tokens(self):
        return self.store.tokenizer.document(self.doc)

    def pick_default_name(self):
        """The sample in progress (at its newest letter), else the last trained name."""
        events, result = self.store.sampling.events, self.store.last_result
        if events:
            self.doc, self.position = events[-1].text, events[-1].position
            self.source, self.followed_events = "the sample in progress", events
        elif result is not None:
            self.doc, self.source = result.doc, f"the name of step {result.step}"
            self.position = min(1, n_positions(self.tokens, self.store.config) - 1)

    def redraw(self):
        events = self.store.sampling.events
        if self.followed_events is not None and events and events is not self.followed_events:
            # A name taken from the sample follows it to its newest letter.
            self.pick_default_name()
            self.query_one("#anatomy-name", Input).value = self.doc
        if self.doc is None:
            self.query_one("#anatomy-where", Static).update(Text(
                "No name yet: type one and press enter.", style="bold"))
            return
        self.requests += 1
        # A bigger model takes a while (4 layers of 64: ~0.15 s for the 16th position).
        self.query_one("#anatomy").border_subtitle = (
            f"running positions 0–{self.position} of {self.doc!r}…")
        sampling = self.store.sampling
        self.compute(self.requests, self.store.step, self.store.weights, self.tokens,
                     self.position, sampling.temperature, sampling.top_k, self.change)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def compute(self, request, step, weights, tokens, position, temperature, top_k, change):
        # A newer request cancels this worker (exclusive): its thread stops at the next
        # position instead of finishing a pass nobody will see.
        worker = get_current_worker()
        run = dict(config=self.store.config, temperature=temperature, top_k=top_k,
                   cancelled=lambda: worker.is_cancelled)
        counterfactual = anatomy = None
        if change is not None:
            try:
                counterfactual = patched_position(weights, tokens, position, patch=change, **run)
                anatomy = counterfactual.original
            except ValueError as refusal:  # e.g. the second name is shorter than the position
                counterfactual = f"Nothing changed: {refusal}."
        if anatomy is None:
            anatomy = trace_position(weights, tokens, position, **run)
        likeliest = max(range(len(anatomy.probs)), key=anatomy.probs.__getitem__)
        attributions = tuple(logit_attribution(anatomy, weights, token) for token in
                             dict.fromkeys((anatomy.target, likeliest)))
        return request, step, anatomy, attributions, (change, counterfactual)

    def on_worker_state_changed(self, event):
        if event.state is WorkerState.SUCCESS:
            request, step, anatomy, attributions, counterfactual = event.worker.result
            if request != self.requests:
                return
            self.anatomy, self.step_shown = anatomy, step
            self.attributions, self.counterfactual = attributions, counterfactual
            self.show()
        elif event.state is WorkerState.ERROR:
            self.query_one("#anatomy-body", Static).update(Text(
                f"Could not run the model on these weights ({event.worker.error}).",
                style=FAILED))
        else:
            return
        self.query_one("#anatomy").border_subtitle = ""

    def show(self):
        anatomy, tokenizer = self.anatomy, self.store.tokenizer
        if anatomy is None:
            return
        last = n_positions(anatomy.tokens, self.store.config) - 1
        self.query_one("#anatomy-where", Static).update(Text.assemble(
            (f" position {anatomy.position} of 0–{last}: ", "bold"),
            (f"{tokenizer.label(anatomy.token)} → {tokenizer.label(anatomy.target)}",
             BOLD_MARK), " (←/→ move)"))
        scroll = self.query_one("#anatomy-scroll", VerticalScroll)
        width = max(40, scroll.scrollable_content_region.width - 1)
        self.query_one("#anatomy-body", Static).update(Group(
            Text(f"{self.source.capitalize()}, on the weights of step {self.step_shown}. "
                 f"{SUMMARY}", style="dim"),
            prediction(anatomy, tokenizer), *self.experiments(width), legend_text(),
            render_stages(stages(anatomy, tokenizer, self.store.config), width,
                          self.store.config.n_embd)))

    def experiments(self, width):
        """The logit attribution and the counterfactual, each where the learner asked."""
        if self.attribution_shown:
            yield attribution_section(self.attributions, self.store.tokenizer)
        change, counterfactual = self.counterfactual or (None, None)
        if change is not None:
            tokenizer = self.store.tokenizer
            yield counterfactual_section(counterfactual, describe(change, self.anatomy.tokens,
                                                                  tokenizer), tokenizer, width)

    def on_resize(self):
        self.call_after_refresh(self.show)

    def check_action(self, action, parameters):
        if action == "move":
            return not any(field.has_focus for field in self.query(Input))
        return True

    def open_section(self, section):
        """Show the logit attribution ("attribution") or ask for a counterfactual."""
        if section == "attribution":
            self.attribution_shown = True
            self.show()
        elif self.is_mounted:
            self.ask_change()
        else:
            self.change_asked = True  # on_mount asks

    def ask_change(self):
        self.query_one("#anatomy-change-bar").display = True
        self.query_one("#anatomy-change", Input).focus()

    def action_toggle_attribution(self):
        self.attribution_shown = not self.attribution_shown
        self.show()

    def action_counterfactual(self):
        self.open_section("counterfactual")

    def action_move(self, direction):
        if self.doc is None:
            return
        last = n_positions(self.tokens, self.store.config) - 1
        position = min(last, max(0, self.position + direction))
        if position != self.position:
            self.position = position
            self.redraw()

    def action_type_name(self):
        self.query_one("#anatomy-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted):
        if event.input.id == "anatomy-change":
            self.change_submitted(event.value)
            return
        name = event.value
        refusal = vocabulary_refusal(name, self.store.tokenizer) if name else "no letters typed"
        if refusal:
            # The name stays in the input, which keeps the focus, to be corrected.
            self.notify(f"{refusal}: the name stays {self.doc!r}." if self.doc else
                        f"{refusal}.", severity="warning")
            return
        self.doc, self.source, self.followed_events = name, "typed", None
        self.position = min(self.position, n_positions(self.tokens, self.store.config) - 1)
        self.query_one("#anatomy-scroll").focus()
        self.redraw()

    def change_submitted(self, text):
        """An empty change removes the counterfactual; a bad one is a notification."""
        if not text.strip():
            self.change = None
            self.query_one("#anatomy-change-bar").display = False
        else:
            try:
                self.change = parse_change(text, self.store.tokenizer)
            except ValueError as refusal:
                self.notify(f"{refusal}.", severity="warning")
                return
        self.query_one("#anatomy-scroll").focus()
        self.redraw()
