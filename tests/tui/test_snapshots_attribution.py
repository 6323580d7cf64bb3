"""SVG snapshots of the anatomy view's logit attribution (D) and counterfactual (C) at the
smallest supported terminal."""

from microgpt_tui.screens.anatomy import AnatomyScreen
from tests.tui.conftest import default_app, wait_for
from tests.tui.test_snapshots import sample_three_letters


async def open_and_wait(pilot, key):
    await sample_three_letters(pilot)
    await pilot.press(key)
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, AnatomyScreen)
                   and app.screen.anatomy is not None)
    return app.screen


def test_logit_attribution_of_the_sample_in_progress(snap_compare):
    async def run_before(pilot):
        await open_and_wait(pilot, "D")

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)


def test_a_counterfactual_head_patch_on_the_sample_in_progress(snap_compare):
    async def run_before(pilot):
        view = await open_and_wait(pilot, "C")
        await pilot.press(*"1.2 emma", "enter")
        await wait_for(pilot, lambda: view.counterfactual is not None)

    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=run_before)
