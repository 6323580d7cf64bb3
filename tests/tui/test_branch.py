"""B forks the run: the branch steps with it, the loss pane overlays its mean, u drops it."""

from microgpt_tui.run import BRANCH_CHOICES
from microgpt_tui.widgets.loss import LossPlot
from tests.tui.conftest import plain_text, step_and_wait, tiny_app, wait_for

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
