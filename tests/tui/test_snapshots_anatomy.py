"""SVG snapshot of the anatomy view (A) at the smallest supported terminal."""

from microgpt_tui.screens.anatomy import AnatomyScreen
from tests.tui.conftest import default_app, wait_for
from tests.tui.test_snapshots import sample_three_letters


def test_anatomy_of_the_sample_in_progress(snap_compare):
    async def run_before(pilot):
        await sample_three_letters(pilot)
        await pilot.press("A")
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, AnatomyScreen)
                       and app.screen.anatomy is not None)

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)
