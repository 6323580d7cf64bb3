"""SVG snapshot of the T view (update with --snapshot-update after looking)."""

from microgpt_tui.screens.timelapse import TimelapseScreen
from tests.tui.conftest import default_app, step_and_wait, wait_for


def test_attention_time_lapse_at_80x24(snap_compare):
    async def run_before(pilot):
        app = pilot.app
        await step_and_wait(pilot, app, 6)
        await wait_for(pilot, lambda: len(app.store.attention_frames) == 4)
        await pilot.press("T")
        assert isinstance(app.screen, TimelapseScreen)
        await pilot.press("left")  # step 4's frame, one before the newest
        await pilot.pause()

    assert snap_compare(default_app(probe_every=2), terminal_size=(80, 24),
                        run_before=run_before)
