"""S walks a training step in stages; u undoes steps. Driven through Pilot and the worker."""

import io
import math
import time

from rich.console import Console

from engine import Trainer
from engine.checkpoint import load_checkpoint
from microgpt_tui.messages import Event
from microgpt_tui.screens.help import HelpScreen
from microgpt_tui.screens.stages import StagesScreen
from microgpt_tui.training import (
    HISTORY_LENGTH,
    Command,
    FollowOptimizer,
    SaveCheckpoint,
    TrainingLoop,
)
from microgpt_tui.widgets.attention import AttentionMap
from microgpt_tui.widgets.kv_cache import KVCacheTable
from microgpt_tui.widgets.loss import LossPlot
from microgpt_tui.widgets.matrices import MatrixNorms
from microgpt_tui.widgets.positions import PositionLosses
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, tiny_app, wait_for

SIZE = (120, 34)


async def stage_and_wait(pilot, app):
    before = app.store.stage
    await pilot.press("S")
    await wait_for(pilot, lambda: app.store.stage is not before)
    return app.store.stage


def cells(table, row):
    return [str(cell).strip() for cell in table.get_row_at(row)]


def notices(app):
    return [notification.message for notification in app._notifications]


def reference_losses(n):
    trainer = Trainer(TINY, TINY_DOCS)
    return [trainer.step().loss for _ in range(n)]


def kv_rows(kv):
    """The k, ∂k, v, ∂v rows the KV cache widget draws (the header is its pane's)."""
    return len(plain_text(kv).splitlines())


async def test_S_walks_one_step_stage_by_stage_with_the_real_numbers():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        stage = await stage_and_wait(pilot, app)
        assert isinstance(app.screen, StagesScreen)
        positions = app.screen.query_one(PositionLosses)
        kv = app.screen.query_one(KVCacheTable)
        matrices = app.screen.query_one(MatrixNorms)
        for pos in range(stage.n_positions):
            if pos:
                stage = await stage_and_wait(pilot, app)
            assert (stage.kind, stage.number) == ("forward", pos + 1)
            # The cache grows by one position (a k and a v row) per forward stage, and the
            # attention map by that position's row.
            assert kv_rows(kv) == 2 * (pos + 1)
            attention = app.screen.query_one(AttentionMap)
            assert attention.view.weights == stage.attention
            assert len(attention.view.weights[0][0]) == pos + 1
            # Each computed position shows its real loss; the ones still to come show none.
            assert cells(positions, pos)[3] == f"{stage.position_losses[pos]:.4f}"
            if pos + 1 < stage.n_positions:
                assert cells(positions, pos + 1)[3] == "·"
            assert all(cells(matrices, row)[2] == "·" for row in range(matrices.row_count))
        assert app.store.loss_history == []  # nothing applied yet

        backward = await stage_and_wait(pilot, app)
        assert backward.kind == "backward"
        assert kv_rows(kv) == 4 * backward.n_positions  # ∂k and ∂v rows arrived
        assert [cells(matrices, row)[2] for row in range(matrices.row_count)] == [
            f"{norm:.4f}" for _, norm in backward.grad_norms]
        assert "backward" in plain_text(app.screen.query_one("#stage-banner"))

        update = await stage_and_wait(pilot, app)
        assert update.kind == "update"
        assert [cells(matrices, row)[3] for row in range(matrices.row_count)] == [
            f"{norm:.4f}" for _, norm in update.update_norms]
        await wait_for(pilot, lambda: len(app.store.loss_history) == 1)
        assert app.store.loss_history == reference_losses(1)  # exactly step()'s loss
        banner = plain_text(app.screen.query_one("#stage-banner")).replace("\n", "")
        assert f"learning rate {update.lr:.6f}" in banner
        # What the banner says of Adam's first step holds for every matrix: its change is
        # lr·√(how many of its weights had a gradient), a little less where a gradient is
        # so small that eps (1e-8) is a visible part of |g| + eps.
        assert "Adam's first step" in banner
        trainer = Trainer(TINY, TINY_DOCS)
        trainer.step()
        for (name, norm), (_, _, _, offset) in zip(update.update_norms, trainer.layout):
            size = next(rows * cols for n, rows, cols, _ in trainer.layout if n == name)
            with_gradient = sum(g != 0 for g in trainer.last_grads[offset:offset + size])
            bound = update.lr * math.sqrt(with_gradient)
            assert 0.99 * bound <= norm <= bound

        second = await stage_and_wait(pilot, app)  # S goes on with the next step
        assert (second.step, second.number) == (2, 1)


async def test_s_finishes_a_half_walked_step_and_escape_goes_back():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await stage_and_wait(pilot, app)
        await stage_and_wait(pilot, app)
        await pilot.press("escape")
        assert not isinstance(app.screen, StagesScreen)
        stage = await stage_and_wait(pilot, app)  # back on the screen, where it left off
        assert isinstance(app.screen, StagesScreen) and stage.number == 3
        await pilot.press("s")
        await wait_for(pilot, lambda: len(app.store.loss_history) == 1
                       and app.store.stage.kind == "update")
        await step_and_wait(pilot, app)
        assert app.store.loss_history == reference_losses(2)
        assert "step 2/100000" in plain_text(app.query_one(LossPlot))


async def test_S_while_training_runs_asks_for_a_pause():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.store.running)
        await pilot.press("S")
        assert not isinstance(app.screen, StagesScreen)
        assert any("space pauses it" in message for message in notices(app))
        await pilot.press("space")


async def test_u_undoes_steps_and_redoing_repeats_the_losses_bit_for_bit():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        losses = list(app.store.loss_history)
        await pilot.press("u")
        await wait_for(pilot, lambda: len(app.store.loss_history) == 2)
        assert app.training.trainer.step_count == 2
        weights_after_two = app.store.weights
        plot = app.query_one(LossPlot)
        assert plot.losses == tuple(losses[:2])
        assert "step 2/100000" in plain_text(plot)
        assert app.store.last_result.step == 2
        assert "step 2" in app.query_one(KVCacheTable).view.source
        await pilot.press("u")
        await wait_for(pilot, lambda: len(app.store.loss_history) == 1)
        await step_and_wait(pilot, app, times=2)
        assert app.store.loss_history == losses
        await pilot.press("u")
        await wait_for(pilot, lambda: len(app.store.loss_history) == 2)
        assert dict(app.store.weights) == dict(weights_after_two)
        assert app.training.trainer.export_state() == _state_after(2)


def _trained(steps):
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(steps):
        trainer.step()
    return trainer


def _state_after(steps):
    return _trained(steps).export_state()


async def test_u_with_nothing_to_undo_says_so():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("u")
        await wait_for(pilot, lambda: any("Nothing more to undo" in m for m in notices(app)))
        await step_and_wait(pilot, app)
        await pilot.press("u")
        await wait_for(pilot, lambda: app.store.loss_history == [])
        await pilot.press("u")
        await wait_for(pilot, lambda: sum("Nothing more to undo" in m for m in notices(app)) == 2)
        assert app.training.trainer.step_count == 0
        assert app.query_one(KVCacheTable).view is None  # no step left to show


async def test_u_drops_a_half_walked_step_and_undoes_a_staged_one():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await stage_and_wait(pilot, app)
        await stage_and_wait(pilot, app)
        await pilot.press("u")
        await wait_for(pilot, lambda: app.store.stage is None)
        assert any("Dropped step 1" in message for message in notices(app))
        assert app.training.trainer.staged is None
        assert app.training.trainer.step_count == 0
        assert "S runs the next stage" in plain_text(app.screen.query_one("#stage-banner"))
        while app.store.stage is None or app.store.stage.kind != "update":
            await stage_and_wait(pilot, app)
        await wait_for(pilot, lambda: len(app.store.loss_history) == 1)
        assert app.store.loss_history == reference_losses(1)
        await pilot.press("u")
        await wait_for(pilot, lambda: app.store.loss_history == [])
        assert app.training.trainer.export_state() == Trainer(TINY, TINY_DOCS).export_state()


async def test_help_and_command_palette_offer_both_keys():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Next stage of a step: forward one letter, backward, Adam update",
                f"Undo the last training step (up to {HISTORY_LENGTH})"} <= titles
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=200, file=io.StringIO(), record=True)
        for static in app.screen.query("Static"):
            console.print(static.content)
        text = console.export_text()
        assert "Undo the last training step" in text
        assert "forward one letter, backward, Adam update" in text


def run_loop(loop, commands):
    for command in (*commands, Command.STOP):
        loop.send(command)
    deadline = time.monotonic() + 30
    loop.run(lambda: time.monotonic() > deadline)


def test_the_worker_keeps_the_last_50_steps_and_no_more():
    posted = []
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), posted.append)
    total = HISTORY_LENGTH + 5
    run_loop(loop, [Command.STEP] * total + [Command.UNDO] * (HISTORY_LENGTH + 1))
    undos = [m.snapshot for m in posted
             if m.snapshot.event in (Event.UNDONE, Event.NOTHING_TO_UNDO)]
    assert [s.event for s in undos] == [Event.UNDONE] * HISTORY_LENGTH + [Event.NOTHING_TO_UNDO]
    assert [s.step for s in undos[:3]] == [total - 1, total - 2, total - 3]
    assert undos[-1].step == loop.trainer.step_count == total - HISTORY_LENGTH
    # Each undo hands back the record of the step now newest.
    assert all(s.result.step == s.step for s in undos)
    assert loop.trainer.export_state() == _state_after(total - HISTORY_LENGTH)


def test_a_staged_step_through_the_worker_is_the_plain_step():
    posted = []
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), posted.append)
    run_loop(loop, [Command.STAGE] * 3 + [Command.STEP, Command.STEP])
    stages = [m.snapshot.stage for m in posted if m.snapshot.stage]
    assert [s.kind for s in stages] == ["forward"] * 3 + ["update"]  # s posts the last stage
    losses = [loss for m in posted for loss in m.snapshot.new_losses]
    assert losses == reference_losses(2)


def test_a_checkpoint_saved_after_an_undo_holds_only_the_steps_kept(tmp_path):
    path = tmp_path / "after-undo.json"
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), lambda message: None)
    run_loop(loop, [Command.STEP] * 3 + [Command.UNDO, SaveCheckpoint(str(path))])
    trainer, losses = load_checkpoint(path, TINY_DOCS)
    assert trainer.step_count == 2
    assert losses == reference_losses(2)


def test_undo_gives_the_optimizer_view_back_the_step_undone_to():
    """Its gradients included; dropping a staged step that got to backward changes nothing."""
    posted = []
    third_name = Trainer(TINY, TINY_DOCS).docs[2]
    forward_stages = min(TINY.block_size, len(third_name) + 1)
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), posted.append)
    run_loop(loop, [Command.STEP, Command.STEP, *[Command.STAGE] * (forward_stages + 1),
                    FollowOptimizer(True), Command.UNDO, Command.UNDO, Command.UNDO])
    assert [m.snapshot.stage.kind for m in posted if m.snapshot.stage][-1] == "backward"
    undos = [m.snapshot for m in posted if m.snapshot.event is not None]
    assert [s.event for s in undos] == [Event.DROPPED_STAGE, Event.UNDONE, Event.UNDONE]
    # As right after steps 2 and 1, with their gradients; none at step 0 (the view says so).
    assert [s.optimizer for s in undos] == [_trained(steps).optimizer_snapshot()
                                            for steps in (2, 1, 0)]


def test_undo_back_to_a_loaded_checkpoint_has_no_gradients_as_at_its_loading(tmp_path):
    path = tmp_path / "run.json"
    run_loop(TrainingLoop(Trainer(TINY, TINY_DOCS), lambda message: None),
             [Command.STEP, Command.STEP, SaveCheckpoint(str(path))])
    posted = []
    trainer, losses = load_checkpoint(path, TINY_DOCS)
    loop = TrainingLoop(trainer, posted.append, losses)
    run_loop(loop, [FollowOptimizer(True), Command.STEP, Command.UNDO])
    followed, undone = posted[1].snapshot.optimizer, posted[-1].snapshot
    assert followed.step == 2 and followed.grads is None
    assert undone.event is Event.UNDONE and undone.optimizer == followed
