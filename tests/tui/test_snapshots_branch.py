"""SVG snapshot of a branch's curve beside the run's (update with --snapshot-update after
looking)."""

from tests.tui.conftest import default_app, step_and_wait, wait_for


def test_branch_from_here_at_80x24(snap_compare):
    async def run_before(pilot):
        app = pilot.app
        await step_and_wait(pilot, app, 20)
        await pilot.press("B")  # lr ×2, from step 20
        await wait_for(pilot, lambda: app.store.branch is not None)
        await step_and_wait(pilot, app, 20)
        await wait_for(pilot, lambda: len(app.store.branch.losses) == 20)
        app.clear_notifications()  # the "Branched at step 20" notice times out on its own
        await pilot.pause()

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)
