"""SVG snapshots of the screens a learner sees (update with --snapshot-update after looking)."""

from microgpt_tui.screens.gradcheck import GradientCheckScreen
from microgpt_tui.screens.graph import GraphScreen
from microgpt_tui.widgets.scatter import Scatter
from tests.tui.conftest import default_app, step_and_wait, wait_for

WIDE = (120, 34)


async def take_one_step(pilot):
    await step_and_wait(pilot, pilot.app)


async def sample_three_letters(pilot):
    await take_one_step(pilot)
    await pilot.press("n", "n", "n")


def test_start_screen(snap_compare):
    assert snap_compare(default_app(), terminal_size=WIDE)


def test_after_one_step(snap_compare):
    assert snap_compare(default_app(), terminal_size=WIDE, run_before=take_one_step)


def test_all_heads_view(snap_compare):
    async def run_before(pilot):
        await take_one_step(pilot)
        await pilot.press("a")

    assert snap_compare(default_app(), terminal_size=WIDE, run_before=run_before)


def test_mid_sample(snap_compare):
    assert snap_compare(default_app(), terminal_size=WIDE, run_before=sample_three_letters)


def test_help_screen(snap_compare):
    assert snap_compare(default_app(), terminal_size=WIDE, press=["question_mark"])


def test_smallest_supported_terminal(snap_compare):
    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=sample_three_letters)


def test_large_terminal(snap_compare):
    """200x50: the heatmap's cells grow with its pane, the KV cache has room for every row."""
    async def run_before(pilot):
        await step_and_wait(pilot, pilot.app, times=3)

    assert snap_compare(default_app(), terminal_size=(200, 50), run_before=run_before)


def test_large_terminal_mid_sample(snap_compare):
    assert snap_compare(default_app(), terminal_size=(200, 50), run_before=sample_three_letters)


def test_step_in_stages_mid_forward(snap_compare):
    async def run_before(pilot):
        app = pilot.app
        for _ in range(5):  # forward through positions 0-4 of 'yuheng' (7 positions)
            before = app.store.stage
            await pilot.press("S")
            await wait_for(pilot, lambda before=before: app.store.stage is not before)

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)


def test_forced_letter(snap_compare):
    async def run_before(pilot):
        await sample_three_letters(pilot)
        await pilot.press("f", "x")

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)


def test_graph_view_walked_down_to_a_weight(snap_compare):
    async def run_before(pilot):
        app = pilot.app
        await take_one_step(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: isinstance(app.screen, GraphScreen)
                       and app.screen.analysis is not None)
        # Down the first child until a node has a parameter among its children; select it.
        names = app.screen.analysis.names
        while not any(child in names for child in app.screen.path[-1]._children):
            await pilot.press("enter")
        if app.screen.path[-1]._children[0] not in names:
            await pilot.press("down")

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)


def test_gradient_check(snap_compare):
    async def run_before(pilot):
        app = pilot.app
        await take_one_step(pilot)
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, GradientCheckScreen)
                       and app.screen.checks)

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)


def test_ablation_view(snap_compare):
    async def run_before(pilot):
        await step_and_wait(pilot, pilot.app, times=20)
        await pilot.press("right_square_bracket", "right_square_bracket", "x")
        await wait_for(pilot, lambda: pilot.app.screen.comparison is not None)

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)
SMALLEST = (80, 24)


def test_optimizer_view(snap_compare):
    async def run_before(pilot):
        await take_one_step(pilot)
        await pilot.press("o")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "snapshot", None) is not None)

    assert snap_compare(default_app(), terminal_size=SMALLEST, run_before=run_before)


def test_embedding_map(snap_compare):
    async def run_before(pilot):
        await take_one_step(pilot)
        await pilot.press("m")
        scatter = pilot.app.screen.query_one(Scatter)
        await wait_for(pilot, lambda: scatter.points)  # projected in a thread worker

    assert snap_compare(default_app(), terminal_size=SMALLEST, run_before=run_before)


def test_probe_filmstrip(snap_compare):
    app = default_app(probe_every=1)

    async def run_before(pilot):
        await step_and_wait(pilot, app, times=2)
        await wait_for(pilot, lambda: len(app.store.probes) == 3)
        await pilot.press("p")

    assert snap_compare(app, terminal_size=SMALLEST, run_before=run_before)
