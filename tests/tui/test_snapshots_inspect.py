"""SVG snapshot of the inspect-a-name view (update with --snapshot-update after looking)."""

from microgpt_tui.screens.inspect import InspectScreen
from tests.tui.conftest import default_app, step_and_wait, wait_for


def test_inspect_a_typed_name_at_80x24(snap_compare):
    async def run_before(pilot):
        app = pilot.app
        await step_and_wait(pilot, app, 3)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen)
                       and app.screen.start is not None)
        await pilot.press(*"emma")
        await wait_for(pilot, lambda: app.screen.name_shown == "emma")

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)
