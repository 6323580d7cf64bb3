"""The graph view (G), the gradient check (g) and the parity badge, driven through Pilot."""

import io

import pytest
from rich.console import Console
from textual.widgets import DataTable, Header, Static

from engine import FLOAT_OPS, Trainer, forward_document
from engine.gradcheck import GradientCheck, check_gradients
from engine.graph import document_graph, graph_stats
from engine.reference import REFERENCE_LOSSES, ParityCheck
from microgpt_tui.screens import gradcheck as gradcheck_screen
from microgpt_tui.screens.gradcheck import GradientCheckScreen
from microgpt_tui.screens.graph import GraphScreen, number
from microgpt_tui.screens.help import HelpScreen
from tests.tui.conftest import (
    TINY,
    TINY_DOCS,
    default_app,
    step_and_wait,
    tiny_app,
    wait_for,
)

SIZE = (80, 24)


def notices(app):
    return [notification.message for notification in app._notifications]


def static_text(static):
    """What a Static shows (Rich tables included), as plain text at its width."""
    console = Console(width=static.size.width, file=io.StringIO(), record=True)
    console.print(static.content)
    return console.export_text()


def shown(app, selector):
    return static_text(app.screen.query_one(selector, Static))


async def open_graph(pilot, app):
    await pilot.press("G")
    await wait_for(pilot, lambda: isinstance(app.screen, GraphScreen)
                   and app.screen.analysis is not None)
    return app.screen


async def open_gradient_check(pilot, app):
    await pilot.press("g")
    await wait_for(pilot, lambda: isinstance(app.screen, GradientCheckScreen)
                   and app.screen.checks)
    return app.screen


@pytest.mark.parametrize("key", ["G", "g"])
async def test_before_any_step_the_views_say_to_step_first(key):
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        assert not isinstance(app.screen, (GraphScreen, GradientCheckScreen))
        assert any("press s for a training step first" in n for n in notices(app))


# The graph view ---------------------------------------------------------------------------


async def test_graph_view_counts_the_last_trained_names_graph():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        weights, result = app.store.weights, app.store.last_result
        screen = await open_graph(pilot, app)
        summary = shown(app, "#graph-summary")
        # The loss on the newest weights, by the float forward pass (no graph at all).
        float_loss = forward_document(result.tokens, weights, app.store.config, FLOAT_OPS).loss
        assert f"loss {float_loss:.4f} on the newest weights" in summary
        assert f"its training step saw {result.loss:.4f}" in summary
        graph = document_graph(weights, result.tokens, app.store.config)
        stats = graph_stats(graph.loss, graph.names)
        assert f"{stats.nodes:,} nodes, {stats.edges:,} edges, depth {stats.depth:,}" in summary
        for op, count in stats.nodes_by_op:
            assert f"{op} {count:,}" in summary
        assert f"fused engine (the Trainer's): {screen.analysis.fused_stats.nodes:,} nodes" \
            in summary
        assert screen.analysis.fused_stats.nodes < stats.nodes
        assert f"{result.doc!r} (step {result.step})" in str(
            screen.query_one("#graph-stats").border_title)
        await pilot.press("escape")
        assert not isinstance(app.screen, GraphScreen)


async def test_walker_shows_the_chain_rule_with_the_real_numbers():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        screen = await open_graph(pilot, app)
        loss = screen.analysis.loss
        table = screen.query_one(DataTable)
        assert screen.path == [loss]
        assert table.row_count == 2  # loss = (1/n) * (sum of the position losses)
        n = app.store.last_result.n_positions
        total, constant = loss._children
        assert constant.data == loss._local_grads[0] == 1 / n
        # d loss / d sum = 1/n: backward's number, and the chain rule line says how it got it.
        chain = shown(app, "#walker-chain")
        assert (f"grad(+) += local grad × grad(loss) += {number(1 / n)} × {number(1.0)} = "
                f"{number(1 / n)}") in " ".join(chain.split())
        assert total.grad == 1 / n
        await pilot.press("down")
        assert "grad(constant) += local grad × grad(loss)" in shown(app, "#walker-chain")
        await pilot.press("up", "enter")
        assert screen.path == [loss, total]
        assert str(screen.query_one("#graph-walker").border_title) == (
            "Walker · depth 1 · loss: mean over positions")  # the sum is the mean's too
        await pilot.press("down", "enter")
        assert len(screen.path) == 3
        await pilot.press("backspace")
        assert screen.path == [loss, total]
        assert table.cursor_row == 1  # back on the child it went into
        await pilot.press("backspace", "backspace")
        assert screen.path == [loss]
        assert any("top of the graph" in n for n in notices(app))


async def test_walking_down_reaches_a_parameter_whose_grad_sums_its_uses():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        screen = await open_graph(pilot, app)
        names, uses = screen.analysis.names, screen.analysis.uses
        table = screen.query_one(DataTable)
        for _ in range(300):
            node = screen.path[-1]
            rows = [i for i, child in enumerate(node._children) if child in names]
            if rows:
                break
            await pilot.press("enter")  # row 0: down the first operation
        else:
            raise AssertionError("no parameter within 300 levels")
        table.move_cursor(row=rows[0])
        await pilot.pause()
        parameter = node._children[rows[0]]
        local_grad = node._local_grads[rows[0]]
        chain = " ".join(shown(app, "#walker-chain").split())
        assert (f"grad({names[parameter]}) += local grad × grad({screen.label(node)}) += "
                f"{number(local_grad)} × {number(node.grad)} = "
                f"{number(local_grad * node.grad)}") in chain
        assert f"grad({names[parameter]}) = {number(parameter.grad)}" in chain
        assert f"the sum of {uses[parameter]} such terms" in chain
        assert uses[parameter] > 1  # a weight is used at every position
        await pilot.press("enter")
        assert screen.path[-1] is node  # a leaf has nothing below it
        assert any(f"{names[parameter]} is a parameter" in n for n in notices(app))


# The gradient check -----------------------------------------------------------------------


async def test_gradient_check_shows_backward_beside_finite_differences():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=2)
        screen = await open_gradient_check(pilot, app)
        store = app.store
        expected = check_gradients(store.weights, store.last_result.tokens, store.config,
                                   seed=store.config.seed)
        assert screen.checks == expected
        table = shown(app, "#gradcheck-table")
        for check in expected:
            line = next(line for line in table.splitlines() if check.label in line)
            if check.backward == check.estimate == 0:
                assert "both 0" in line
            else:
                assert f"{check.backward:+.8e}" in line and f"{check.estimate:+.8e}" in line
                assert f"{check.relative_error:.1e}" in line
        assert all(check.agrees for check in expected)
        assert "10 of 10 agree" in shown(app, "#gradcheck-verdict")
        doc = app.store.last_result.doc
        assert f"{doc!r} (the name of step 2)" in shown(app, "#gradcheck-source")


async def test_gradient_check_follows_training_and_p_picks_other_weights():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        screen = await open_gradient_check(pilot, app)
        first = screen.checks
        await step_and_wait(pilot, app)  # s still trains on this screen
        await wait_for(pilot, lambda: "name of step 2" in shown(app, "#gradcheck-source"))
        assert screen.checks == check_gradients(app.store.weights, app.store.last_result.tokens,
                                                app.store.config, seed=app.store.config.seed)
        assert [c.label for c in screen.checks] == [c.label for c in first]
        assert [c.backward for c in screen.checks] != [c.backward for c in first]
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.seed == app.store.config.seed + 1
                       and f"seed {screen.seed}" in shown(app, "#gradcheck-source"))
        assert [c.label for c in screen.checks] != [c.label for c in first]


async def test_gradient_check_keeps_up_while_training_runs():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        screen = await open_gradient_check(pilot, app)
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.store.loss_history) >= 30
                       and "name of step 1)" not in shown(app, "#gradcheck-source"))
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.store.running)
        final_step = app.store.last_result.step
        await wait_for(pilot, lambda: not screen.busy
                       and f"name of step {final_step})" in shown(app, "#gradcheck-source"))
        assert all(check.agrees for check in screen.checks)
        await pilot.press("escape")
        assert not isinstance(app.screen, GradientCheckScreen)


async def test_a_check_that_fails_is_reported_in_one_line(monkeypatch):
    def overflow(*args, **kwargs):
        raise OverflowError("math range error")

    monkeypatch.setattr(gradcheck_screen, "check_gradients", overflow)
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("g")
        await wait_for(pilot, lambda: any("failed" in n for n in notices(app)))
        assert "The gradient check failed: math range error" in notices(app)
        assert isinstance(app.screen, GradientCheckScreen)
        await wait_for(pilot, lambda: not app.screen.busy)  # the next step may try again


# Keys, palette, help ----------------------------------------------------------------------


@pytest.mark.parametrize("search, screen_type", [("graph", GraphScreen),
                                                 ("gradcheck", GradientCheckScreen)])
async def test_the_command_palette_opens_each_view(search, screen_type):
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("ctrl+p", *search)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, screen_type))


async def test_help_lists_both_views():
    app = tiny_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(" ".join(static_text(static).split())
                        for static in app.screen.query(Static))
        assert "G The last trained name's autograd graph, and a walk down it" in text
        assert "g Gradient check: backward's gradient" in text


# The parity badge -------------------------------------------------------------------------


def header_text(app):
    return str(app.screen.query_one(Header).format_title())


async def test_the_default_run_is_reference_exact_from_step_1():
    app = default_app()
    async with app.run_test(size=SIZE) as pilot:
        assert "reference" not in header_text(app)
        await step_and_wait(pilot, app)
        assert header_text(app).endswith("— reference-exact")
        # Wider terminals make room for the dataset again, then for the vocabulary.
        for width, ending in ((100, "heads — names.txt · 32,033 docs · reference-exact"),
                              (120, "names.txt · 32,033 docs · vocab 27 · reference-exact")):
            await pilot.resize_terminal(width, 34)
            await pilot.pause()
            assert header_text(app).endswith(ending)


async def test_continuous_training_checks_every_known_step():
    app = default_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.store.loss_history) >= 10)
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.store.running)
        assert app.store.parity.matched == set(REFERENCE_LOSSES)
        assert "reference-exact" in header_text(app)


async def test_a_run_that_differs_from_the_expectation_is_diverged():
    app = default_app()
    # A made-up expectation the real run cannot meet at step 2.
    app.store.parity = ParityCheck({1: REFERENCE_LOSSES[1], 2: 3.0})
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        assert "reference-exact" in header_text(app)
        await step_and_wait(pilot, app)
        assert header_text(app).endswith("— diverged at step 2")


async def test_other_configs_show_no_badge():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=10)
        assert app.store.parity is None
        assert header_text(app).endswith("tiny.txt · 10 docs")


def test_every_zero_gradient_gets_its_reason_and_no_other_weight_does():
    """Against the autograd graph: every weight whose gradient is exactly 0 for the name is
    explained by its own reason (a letter not read, a position past the name, a ReLU unit
    off everywhere), and no weight with a gradient is given one."""
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(3):
        result = trainer.step()
    weights, tokens = trainer.weights(), result.tokens
    params = document_graph(weights, tokens, TINY).params
    units_off = gradcheck_screen.units_off_everywhere(weights, tokens, TINY)
    label = trainer.tokenizer.label
    explained = 0
    for name, matrix in params.items():
        for r, row in enumerate(matrix):
            for c, leaf in enumerate(row):
                check = GradientCheck(name, r, c, leaf.data, 0.0, 0.0)
                reason = gradcheck_screen.zero_reason(check, tokens, TINY, units_off, label)
                if leaf.grad == 0:
                    assert reason != "the loss does not reach it", check.label
                    explained += 1
                else:
                    assert reason == "the loss does not reach it", (check.label, reason)
    assert explained  # the name does not read every letter: some weights had none
