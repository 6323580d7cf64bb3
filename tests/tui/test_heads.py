"""The H view: what each head does, measured in a cancellable worker with progress."""

import io
import time
from types import MappingProxyType

import pytest
from rich.console import Console
from textual.widgets import ProgressBar
from textual.worker import WorkerState

import microgpt_tui.screens.heads
from engine.heads import LEANS, MOSTLY
from microgpt_tui.screens.heads import HeadsScreen
from tests.tui.conftest import TINY, default_app, measure_slowly, step_and_wait, tiny_app, wait_for

SIZE = (120, 34)
TINY_PASSES = 10 * (1 + TINY.n_layer * TINY.n_head)  # 10 probe names (all of TINY_DOCS)


def shown(screen, widget_id):
    """What one of the view's Statics shows, as plain text at its width."""
    static = screen.query_one(f"#{widget_id}")
    console = Console(width=max(20, static.size.width), file=io.StringIO(), record=True)
    console.print(static.content)
    return console.export_text()


@pytest.fixture
def measured(monkeypatch):
    return measure_slowly(monkeypatch, microgpt_tui.screens.heads, "profile_heads")


async def soon(pilot, condition, timeout=10.0):
    """wait_for without its last pause, which waits for the process to be idle (up to 1 s
    while a measurement runs): for what holds only while it runs."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.01)


async def heads_opened(pilot, measured):
    """The view, just opened with no forward pass counted yet."""
    # The training thread measures the filmstrip's first frame at start, with the same forward.
    await wait_for(pilot, lambda: pilot.app.store.probes)
    measured.passes.clear()
    # Not pilot.press("H"): a press waits until the process is idle, up to 2 s.
    pilot.app.action_view("heads")
    return pilot.app.screen


async def test_progress_then_a_row_for_every_head_of_every_layer(measured):
    measured.delay = 0.02  # 50 passes: a second, long enough to watch the bar move
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await heads_opened(pilot, measured)
        assert isinstance(screen, HeadsScreen)
        await soon(pilot, lambda: measured.passes)
        bar = screen.query_one(ProgressBar)
        await soon(pilot, lambda: bar.progress > 0)
        assert bar.progress < TINY_PASSES
        assert bar.total == TINY_PASSES
        assert screen.query_one("#heads-progress").display
        assert f"of {TINY_PASSES} name passes done" in shown(screen, "heads-progress-label")
        assert screen.report is None and not shown(screen, "heads-table").strip()
        await wait_for(pilot, lambda: screen.report is not None)
        assert measured.endings == ["finished"] and len(measured.passes) == TINY_PASSES
        assert not screen.query_one("#heads-progress").display
        table = shown(screen, "heads-table")
        for name in ("L1 H1", "L1 H2", "L2 H1", "L2 H2", "even"):
            assert name in table
        assert "initial weights" in shown(screen, "heads-source")
        legend = " ".join(shown(screen, "heads-legend").split())
        assert f'"mostly …" at {MOSTLY:.0%} or more' in legend
        assert f'"leans to …" at {LEANS:g}× its even share' in legend


async def test_r_measures_again_on_the_newest_weights():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, 2)
        await pilot.press("H")
        screen = app.screen
        await wait_for(pilot, lambda: screen.report is not None)
        first = screen.report
        assert "after step 2" in shown(screen, "heads-source")
        await step_and_wait(pilot, app)  # s still trains under the view
        await wait_for(pilot, lambda: "step 3 now" in shown(screen, "heads-source"))
        assert screen.report is first  # not measured again by itself
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.report is not None and screen.report is not first)
        assert "after step 3" in shown(screen, "heads-source")
        assert "now" not in shown(screen, "heads-source")
        assert screen.report.loss != first.loss
        await pilot.press("H")  # its own key closes it
        assert not isinstance(app.screen, HeadsScreen)


async def test_r_while_measuring_cancels_the_measurement_under_way(measured):
    app = tiny_app()
    measured.delay = 0.02
    async with app.run_test(size=SIZE) as pilot:
        screen = await heads_opened(pilot, measured)
        await soon(pilot, lambda: measured.passes)
        first = screen.worker
        screen.action_remeasure()  # r; a press would wait for the process to be idle
        await wait_for(pilot, lambda: screen.report is not None)
        assert first.state is WorkerState.CANCELLED
        assert measured.endings == ["cancelled", "finished"]
        assert not screen.query_one("#heads-progress").display


async def test_closing_the_view_cancels_its_measurement(measured):
    app = default_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await heads_opened(pilot, measured)
        await wait_for(pilot, lambda: measured.passes)
        (worker,) = [worker for worker in app.workers if worker.node is screen]
        await pilot.press("escape")
        await wait_for(pilot, lambda: measured.endings)
        assert worker.state is WorkerState.CANCELLED
        assert measured.endings == ["cancelled"]
        passes = len(measured.passes)
        await pilot.pause(0.1)
        assert len(measured.passes) == passes < len(app.store.probe_set)  # stopped at once
        assert len(app.screen_stack) == 1
        assert screen.report is None and not app._notifications


async def test_h_is_in_the_help_and_the_palette():
    app = tiny_app()
    async with app.run_test(size=SIZE):
        titles = {command.title for command in app.get_system_commands(app.screen)}
    (binding,) = [binding for binding in app.BINDINGS if binding.action == "view('heads')"]
    assert binding.key == "H" and binding.tooltip in titles


async def test_diverged_weights_say_why_instead_of_crashing():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        # Huge output weights make some probability exactly 0, and log(0) fails.
        app.store.weights = MappingProxyType({
            name: tuple(tuple(w * 1e6 for w in row) for row in matrix) if name == "lm_head"
            else matrix for name, matrix in app.store.weights.items()})
        await pilot.press("H")
        screen = app.screen
        await wait_for(pilot, lambda: "Could not measure" in shown(screen, "heads-table"))
        assert not screen.query_one("#heads-progress").display
        await pilot.press("escape")
        assert not isinstance(app.screen, HeadsScreen)
