"""The views follow an undo (u), and opening a view never piles screens up."""

import io

from rich.console import Console
from textual.command import CommandPalette
from textual.widgets import DataTable, Static

from engine.gradcheck import check_gradients
from microgpt_tui.screens.ablation import AblationScreen
from microgpt_tui.screens.embedding import EmbeddingScreen
from microgpt_tui.screens.filmstrip import FilmstripScreen
from microgpt_tui.screens.force import ForceTokenScreen
from microgpt_tui.screens.gradcheck import GradientCheckScreen
from microgpt_tui.screens.graph import GraphScreen
from microgpt_tui.screens.help import HelpScreen
from microgpt_tui.screens.optimizer import OptimizerScreen
from microgpt_tui.screens.stages import StagesScreen
from microgpt_tui.widgets.matrix_map import MatrixMap
from tests.tui.conftest import plain_text, step_and_wait, tiny_app, wait_for

SIZE = (80, 24)


def shown(app, selector):
    """What a Static on the current screen shows, as plain text at its width."""
    static = app.screen.query_one(selector, Static)
    console = Console(width=max(20, static.size.width), file=io.StringIO(), record=True)
    console.print(static.content)
    return console.export_text()


async def undo_and_wait(pilot, app):
    before = len(app.store.loss_history)
    await pilot.press("u")
    await wait_for(pilot, lambda: len(app.store.loss_history) == before - 1)


def stack_types(app):
    return [type(screen) for screen in app.screen_stack[1:]]


# Views after an undo ------------------------------------------------------------------------


async def test_optimizer_view_shows_the_step_undone_to():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        screen = app.screen
        grads_map = screen.query_one("#grads", MatrixMap)
        await step_and_wait(pilot, app)
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.step == 1)
        after_one = screen.snapshot
        await step_and_wait(pilot, app)
        await wait_for(pilot, lambda: screen.snapshot.step == 2)
        after_two = screen.query_one("#weights", MatrixMap).matrix
        await undo_and_wait(pilot, app)
        await wait_for(pilot, lambda: screen.snapshot.step == 1)
        assert "after step 1" in str(screen.query_one("#optimizer-info").render())
        weights = screen.query_one("#weights", MatrixMap).matrix
        assert weights == app.store.weights["wte"] and weights != after_two
        # Step 1's gradients are back, drawn as right after step 1, and so is all the rest.
        assert screen.snapshot.grads == after_one.grads
        assert screen.snapshot == after_one
        assert grads_map.matrix == after_one.matrix(after_one.grads, 0)
        assert "after a step" not in plain_text(grads_map)
        await undo_and_wait(pilot, app)
        await wait_for(pilot, lambda: screen.snapshot.step == 0)
        assert "before the first step" in str(screen.query_one("#optimizer-info").render())
        assert grads_map.matrix is None and "after a step" in plain_text(grads_map)


async def test_gradient_check_rechecks_the_step_undone_to():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        first_doc = app.store.last_result.doc
        await step_and_wait(pilot, app)
        await pilot.press("g")
        screen = app.screen
        await wait_for(pilot, lambda: "name of step 2)" in shown(app, "#gradcheck-source"))
        await undo_and_wait(pilot, app)
        await wait_for(pilot, lambda: "name of step 1)" in shown(app, "#gradcheck-source")
                       and not screen.busy)
        assert shown(app, "#gradcheck-source").startswith(f"{first_doc!r} (the name of step 1)")
        assert screen.checks == check_gradients(app.store.weights, app.store.last_result.tokens,
                                                app.store.config, seed=app.store.config.seed)


async def test_s_g_u_p_says_to_take_a_step_instead_of_crashing():
    """The keys as a learner types them: the check of step 1 is still running or resting
    when the undo arrives, and p asks for a check while there is no step at all."""
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("g", "u", "p")
        screen = app.screen
        assert isinstance(screen, GradientCheckScreen)
        await wait_for(pilot, lambda: app.store.last_result is None and not screen.busy
                       and "take a step first" in shown(app, "#gradcheck-source"))
        assert screen.checks == () and shown(app, "#gradcheck-verdict").strip() == ""
        # With no check running, u and p meet no step at once: the same note, no crash.
        await pilot.press("p")
        assert "take a step first" in shown(app, "#gradcheck-source")
        await step_and_wait(pilot, app)
        await wait_for(pilot, lambda: "name of step 1)" in shown(app, "#gradcheck-source"))
        assert "10 of 10 agree" in shown(app, "#gradcheck-verdict")


async def test_s_g_u_p_with_each_key_served_before_the_next():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("g")
        screen = app.screen
        await wait_for(pilot, lambda: screen.checks and not screen.busy)
        await undo_and_wait(pilot, app)
        assert "take a step first" in shown(app, "#gradcheck-source")
        await pilot.press("p")
        assert not screen.busy and "take a step first" in shown(app, "#gradcheck-source")


async def test_filmstrip_drops_undone_frames_and_redo_adds_them_once():
    app = tiny_app(probe_every=1)
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=2)
        await wait_for(pilot, lambda: len(app.store.probes) == 3)
        await pilot.press("p")
        table = app.screen.query_one(DataTable)

        def rows():
            return [(str(table.get_row_at(i)[0]), table.get_row_at(i)[1])
                    for i in range(table.row_count)]

        def expected():
            return [(str(record.step), f"{record.loss:.4f}") for record in app.store.probes]

        assert [step for step, _ in rows()] == ["0", "1", "2"]
        await undo_and_wait(pilot, app)
        await wait_for(pilot, lambda: table.row_count == 2)
        assert rows() == expected() and [record.step for record in app.store.probes] == [0, 1]
        await step_and_wait(pilot, app)
        await wait_for(pilot, lambda: len(app.store.probes) == 3)
        await pilot.pause()
        assert [step for step, _ in rows()] == ["0", "1", "2"] and rows() == expected()
        assert table.cursor_row == 2  # still following the newest frame
        await undo_and_wait(pilot, app)
        await undo_and_wait(pilot, app)
        await wait_for(pilot, lambda: table.row_count == 1)
        assert rows() == expected() and app.store.probes[0].step == 0


# One view at a time ---------------------------------------------------------------------------


async def one_escape_returns_to_the_panes(pilot, app):
    await pilot.press("escape")
    await pilot.pause()
    assert len(app.screen_stack) == 1


async def test_views_replace_each_other_and_one_escape_returns_to_the_panes():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        for key, view in [("m", EmbeddingScreen), ("o", OptimizerScreen),
                          ("m", EmbeddingScreen), ("o", OptimizerScreen),
                          ("p", FilmstripScreen), ("G", GraphScreen),
                          ("g", GradientCheckScreen), ("question_mark", HelpScreen)]:
            await pilot.press(key)
            await wait_for(pilot, lambda view=view: stack_types(app) == [view])
        await one_escape_returns_to_the_panes(pilot, app)


async def test_f_over_a_view_closes_it_so_the_forced_letter_shows_on_the_panes():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", "f")
        await wait_for(pilot, lambda: stack_types(app) == [ForceTokenScreen])
        await pilot.press("a")
        await wait_for(pilot, lambda: app.store.sampling.events)
        assert len(app.screen_stack) == 1
        assert app.store.sampling.events[-1].forced and app.store.sampling.events[-1].text == "a"


async def test_m_o_m_o_p_G_then_one_escape():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("m", "o", "m", "o", "p", "G")
        await wait_for(pilot, lambda: isinstance(app.screen, GraphScreen))
        await one_escape_returns_to_the_panes(pilot, app)


async def test_S_from_a_view_returns_to_the_one_stages_screen():
    app = tiny_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("S")
        await wait_for(pilot, lambda: app.store.stage is not None)
        stages = app.screen
        assert isinstance(stages, StagesScreen)
        await pilot.press("S")  # on the stages screen: the same screen, the next stage
        await wait_for(pilot, lambda: app.store.stage.number == 2)
        assert app.screen is stages
        await pilot.press("o")
        assert stack_types(app) == [OptimizerScreen]
        await pilot.press("S")
        await wait_for(pilot, lambda: app.store.stage.number == 3)
        assert stack_types(app) == [StagesScreen]
        # A new stages screen, drawn from where the step stands.
        assert "stage 3/" in shown(app, "#stage-banner")
        await one_escape_returns_to_the_panes(pilot, app)


async def test_x_over_a_view_replaces_it_and_one_escape_returns_to_the_panes():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("o")
        assert stack_types(app) == [OptimizerScreen]
        await pilot.press("x")
        await wait_for(pilot, lambda: stack_types(app) == [AblationScreen]
                       and app.screen.comparison is not None)
        await one_escape_returns_to_the_panes(pilot, app)


async def test_a_view_already_open_under_a_modal_is_popped_back_to_not_rebuilt():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        optimizer = app.screen
        await pilot.press("ctrl+p")  # the command palette opens over whatever is shown
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await app.run_action("view('optimizer')")
        await pilot.pause()
        assert app.screen is optimizer and len(app.screen_stack) == 2
