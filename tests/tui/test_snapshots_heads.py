"""SVG snapshot of the H view (update with --snapshot-update after looking)."""

from microgpt_tui.screens.heads import HeadsScreen
from tests.tui.conftest import default_app, step_and_wait, wait_for


def test_what_each_head_does_at_80x24(snap_compare):
    async def run_before(pilot):
        await step_and_wait(pilot, pilot.app, 10)
        await pilot.press("H")
        screen = pilot.app.screen
        assert isinstance(screen, HeadsScreen)
        await wait_for(pilot, lambda: screen.report is not None)

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)
