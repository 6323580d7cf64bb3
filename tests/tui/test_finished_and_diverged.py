"""Keys after training finished, after weights overflowed, and undo after a checkpoint load."""

import dataclasses

from engine import Trainer
from engine.checkpoint import save_checkpoint
from microgpt_tui.app import MicrogptApp
from microgpt_tui.screens.embedding import EmbeddingScreen
from microgpt_tui.screens.stages import StagesScreen
from microgpt_tui.widgets.attention import AttentionMap
from microgpt_tui.widgets.loss import LossPlot
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, wait_for

SIZE = (80, 24)


def notices(app, severity=None):
    return [n.message for n in app._notifications if severity in (None, n.severity)]


def app_with(**changes):
    return MicrogptApp(Trainer(dataclasses.replace(TINY, **changes), TINY_DOCS),
                       dataset_name="tiny.txt")


async def test_s_and_S_after_the_last_step_say_training_is_finished():
    app = app_with(num_steps=2)
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=2)
        await wait_for(pilot, lambda: "Training finished: 2 steps." in notices(app))
        await pilot.press("s")
        await wait_for(pilot, lambda: "training is finished" in notices(app, "warning"))
        await pilot.press("S")
        assert not isinstance(app.screen, StagesScreen)
        assert any("there is no next step" in n for n in notices(app, "warning"))
        assert len(app.store.loss_history) == 2


async def test_overflowing_weights_pause_training_and_no_key_crashes():
    # Step 1's loss is finite, but an lr of 1e200 sends Adam's update to infinity.
    app = app_with(lr=1e200)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.store.loss_history and not app.store.running)
        assert any("weights overflowed" in n for n in notices(app, "warning"))
        await pilot.press("n")
        assert any(n.startswith("Cannot sample from these weights") for n in
                   notices(app, "error"))
        # A forced letter needs no draw: the panes show the nan attention and gradients as such.
        await pilot.press("f", "a")
        await wait_for(pilot, lambda: app.store.sampling.events)
        assert "nan" in plain_text(app.query_one(AttentionMap))
        await pilot.press("s")
        await pilot.press("m")
        assert isinstance(app.screen, EmbeddingScreen)
        caption = app.screen.query_one("#embedding-caption")
        await wait_for(pilot, lambda: "not finite numbers: training diverged"
                       in str(caption.render()))


async def test_undo_stops_at_a_loaded_checkpoint_and_keeps_its_learning_rate(tmp_path):
    path = tmp_path / "run.json"
    trainer = Trainer(TINY, TINY_DOCS)
    losses = [trainer.step().loss for _ in range(3)]
    save_checkpoint(path, trainer, losses)
    from engine.checkpoint import load_checkpoint

    loaded, history = load_checkpoint(path, TINY_DOCS)
    app = MicrogptApp(loaded, dataset_name="tiny.txt", loss_history=history)
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("u")
        await wait_for(pilot, lambda: len(app.store.loss_history) == 3)
        plot = app.query_one(LossPlot)
        assert plot.lr == app.store.loaded_lr == trainer.adam.lr_at(2)
        await pilot.press("u")
        await wait_for(pilot, lambda: any("before the checkpoint was loaded" in n
                                          for n in notices(app, "warning")))
        assert app.store.loss_history == losses
