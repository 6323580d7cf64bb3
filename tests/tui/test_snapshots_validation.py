"""SVG snapshot of a run with a validation set (update with --snapshot-update after looking)."""

from engine import Config, Trainer, load_docs
from microgpt_tui.app import MicrogptApp
from tests.tui.conftest import step_and_wait, wait_for


def test_validation_points_and_a_finished_samples_novelty_at_80x24(snap_compare):
    app = MicrogptApp(Trainer(Config(), load_docs(), val_fraction=0.1), probe_every=2)

    async def run_before(pilot):
        await step_and_wait(pilot, app, 6)
        await wait_for(pilot, lambda: len(app.store.validation) == 4)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.store.novelty is not None)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
