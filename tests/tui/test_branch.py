"""B forks the run: the branch steps with it, the loss pane overlays its mean, u drops it."""

from engine import Trainer
from engine.branch import fork
from microgpt_tui.run import ABLATED_HEAD, BRANCH_CHOICES
from microgpt_tui.widgets.loss import LossPlot
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, tiny_app, wait_for

SIZE = (120, 34)


async def branch(pilot, app):
    made = app.store.branches_made
    await pilot.press("B")
    await wait_for(pilot, lambda: app.store.branch is not None
                   and app.store.branch.label == BRANCH_CHOICES[made].label)


async def test_a_branch_steps_with_the_run_and_is_drawn_in_the_loss_pane():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, 3)
        await branch(pilot, app)  # lr x2
        assert app.store.branch.start == 3
        await step_and_wait(pilot, app, 4)
        await wait_for(pilot, lambda: len(app.store.branch.losses) == 4)
        run_losses = app.store.loss_history[3:]
        # The first step's loss comes before any update: the same; after it they part.
        assert app.store.branch.losses[0] == run_losses[0]
        assert app.store.branch.losses[1:] != tuple(run_losses[1:])
        text = plain_text(app.screen.query_one(LossPlot))
        assert "branch lr ×2 from step 3: mean" in text


async def test_a_branch_with_no_change_repeats_the_run_bit_for_bit():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, 2)
        app.store.branches_made = BRANCH_CHOICES.index(
            next(choice for choice in BRANCH_CHOICES if choice.label == "no change"))
        await branch(pilot, app)
        await step_and_wait(pilot, app, 5)
        await wait_for(pilot, lambda: len(app.store.branch.losses) == 5)
        assert app.store.branch.losses == tuple(app.store.loss_history[2:])
        assert "(level" in plain_text(app.screen.query_one(LossPlot))


async def test_undo_drops_the_branch():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, 2)
        await branch(pilot, app)
        await step_and_wait(pilot, app)
        await pilot.press("u")
        await wait_for(pilot, lambda: app.store.branch is None)
        assert "branch" not in plain_text(app.screen.query_one(LossPlot))
        await step_and_wait(pilot, app)
        assert app.store.branch is None


async def test_a_branch_without_the_selected_head_trains_without_it():
    """Its loss differs from the first step (the head's output is gone from the forward
    pass), and it is the loss of a Trainer forked the same way by hand."""
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, 2)
        await pilot.press("l", "right_square_bracket")  # layer 2, head 2 of the tiny model
        app.store.branches_made = BRANCH_CHOICES.index(ABLATED_HEAD)
        await pilot.press("B")
        await wait_for(pilot, lambda: app.store.branch is not None
                       and app.store.branch.label == "without L2 H2")
        await step_and_wait(pilot, app, 3)
        await wait_for(pilot, lambda: len(app.store.branch.losses) == 3)
        assert app.store.branch.losses[0] != app.store.loss_history[2]
        replay = Trainer(TINY, TINY_DOCS)
        for _ in range(2):
            replay.step()
        expected = fork(replay, ablate={(1, 1)})
        assert app.store.branch.losses == tuple(expected.step().loss for _ in range(3))
