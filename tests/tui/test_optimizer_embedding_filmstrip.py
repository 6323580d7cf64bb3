"""The optimizer view (o), the embedding map (m) and the probe filmstrip (p)."""

import time

import pytest
from textual.widgets import DataTable

from engine import Trainer
from engine.optim import learning_rate
from engine.pca import pca
from engine.probe import mean_loss
from microgpt_tui.screens.embedding import EmbeddingScreen
from microgpt_tui.screens.filmstrip import FilmstripScreen
from microgpt_tui.screens.optimizer import MAPS, OptimizerScreen
from microgpt_tui.training import Command, FollowOptimizer, TrainingLoop
from microgpt_tui.widgets.heatmap import pool_strongest
from microgpt_tui.widgets.lr_schedule import LearningRatePlot
from microgpt_tui.widgets.matrix_map import MatrixMap
from microgpt_tui.widgets.scatter import Scatter, place, scale
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, tiny_app, wait_for

SMALLEST = (80, 24)


def test_pooling_keeps_the_strongest_entry_of_each_block_with_its_sign():
    rows = [[1, -5, 2], [3, 0, -4], [0.5, 0.1, 0.2]]
    assert pool_strongest(rows, 2, 2) == [[-5, -4], [0.5, 0.2]]
    assert pool_strongest(rows, 1, 1) == rows


def test_scatter_cells_span_the_grid_and_never_collide():
    cells = scale([(0, 0), (10, 5), (10, 5), (5, 2.5)], 11, 6)
    assert cells[:2] == [(0, 5), (10, 0)]
    placed = place(cells, 11, 6)
    assert len(set(placed)) == 4
    assert placed[2] in {(9, 0), (10, 1)}  # the twin moved to a neighbouring cell


def test_the_loop_reports_the_optimizer_while_followed_and_probes_every_n_steps():
    posted = []
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), posted.append, probe_every=2)
    for command in (Command.STEP, FollowOptimizer(True), Command.STEP, FollowOptimizer(False),
                    Command.STEP, Command.STEP, Command.STOP):
        loop.send(command)
    deadline = time.monotonic() + 10
    loop.run(lambda: time.monotonic() > deadline)
    snapshots = [m.snapshot for m in posted]
    assert [s.probe.step for s in snapshots if s.probe] == [0, 2, 4]
    # Following starts with a report of its own (step 1), then each report carries it.
    followed = [s.optimizer for s in snapshots if s.optimizer]
    assert [o.step for o in followed] == [1, 2, 2]  # step 2's report, then its probe's
    assert followed[0].grads is not None
    assert all(s.optimizer is None for s in snapshots if s.step > 2)


async def wait_for_snapshot(pilot, screen, step):
    await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.step == step)


async def test_optimizer_view_shows_the_chosen_matrix_as_adam_sees_it():
    app = tiny_app()
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.press("o")
        screen = app.screen
        assert isinstance(screen, OptimizerScreen)
        await wait_for_snapshot(pilot, screen, 0)
        assert screen.query_one("#grads", MatrixMap).matrix is None
        assert "after a step" in plain_text(screen.query_one("#grads", MatrixMap))
        # s still steps under the view, and the view follows.
        await step_and_wait(pilot, app, times=2)
        await wait_for_snapshot(pilot, screen, 2)
        snapshot = screen.snapshot
        weights = app.store.weights
        assert screen.query_one("#weights", MatrixMap).matrix == weights["wte"]
        for widget_id, title, field, _ in MAPS:
            widget = screen.query_one(f"#{widget_id}", MatrixMap)
            assert widget.matrix == snapshot.matrix(getattr(snapshot, field), 0)
            biggest = max(abs(x) for row in widget.matrix for x in row)
            assert widget.border_title.startswith(title) and f"{biggest:.2g}" in widget.border_title
        assert "after step 2" in str(screen.query_one("#optimizer-info").render())
        await pilot.press("right_square_bracket")
        assert screen.query_one("#weights", MatrixMap).matrix == weights["wpe"]
        await pilot.press("left_square_bracket", "left_square_bracket")
        last = snapshot.layout[-1][0]
        assert screen.query_one("#weights", MatrixMap).matrix == weights[last]
        assert last in str(screen.query_one("#optimizer-info").render())
        plot = plain_text(screen.query_one(LearningRatePlot))
        assert f"step 2: lr {learning_rate(TINY, 1):.6f}" in plot
        await pilot.press("escape")
        assert not isinstance(app.screen, OptimizerScreen)


async def test_large_matrices_are_pooled_with_a_note_at_80_by_24():
    app = tiny_app()
    async with app.run_test(size=SMALLEST) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("o")
        screen = app.screen
        await wait_for_snapshot(pilot, screen, 1)
        fc1 = next(i for i, entry in enumerate(screen.snapshot.layout)
                   if entry[0] == "layer0.mlp_fc1")
        for _ in range(fc1):
            await pilot.press("right_square_bracket")
        widget = screen.query_one("#weights", MatrixMap)
        assert len(widget.matrix) == 4 * TINY.n_embd
        lines = plain_text(widget).rstrip("\n").split("\n")
        assert len(lines) <= widget.content_size.height
        assert "pooled" in widget.border_subtitle


async def test_embedding_map_plots_every_token_by_pca_and_follows_training():
    app = tiny_app()
    async with app.run_test(size=SMALLEST) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("m")
        screen = app.screen
        assert isinstance(screen, EmbeddingScreen)
        scatter = screen.query_one(Scatter)
        await wait_for(pilot, lambda: scatter.points)  # projected in a thread worker
        expected = pca(app.store.weights["wte"]).points
        assert [(x, y) for x, y, _, _ in scatter.points] == list(expected)
        labels = [label for _, _, label, _ in scatter.points]
        assert labels == [*app.store.tokenizer.chars, "·"]
        drawn = plain_text(scatter)
        assert all(label in drawn for label in labels)
        assert "step 1" in screen.query_one("#embedding").border_title
        before = scatter.points
        await pilot.press("space")
        await wait_for(pilot, lambda: scatter.points != before and len(app.store.loss_history) > 3)
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.store.running)
        steps, weights = (app.store.step, app.store.weights)
        # The throttled refresh catches up with the last step.
        box = screen.query_one("#embedding")
        await wait_for(pilot, lambda: f"step {steps}" in box.border_title)
        # Each axis keeps the previous frame's orientation, so it may point either way here.
        for shown, expected in zip(zip(*[(x, y) for x, y, _, _ in scatter.points]),
                                   zip(*pca(weights["wte"]).points)):
            assert shown == expected or shown == tuple(-c for c in expected)
        await pilot.press("m")
        assert not isinstance(app.screen, EmbeddingScreen)


async def test_filmstrip_lists_probe_frames_and_grows_while_open():
    app = tiny_app(probe_every=2)
    async with app.run_test(size=SMALLEST) as pilot:
        await step_and_wait(pilot, app, times=4)
        await wait_for(pilot, lambda: len(app.store.probes) == 3)
        assert [record.step for record in app.store.probes] == [0, 2, 4]
        # The newest frame is the loss of the weights on screen, on the same names.
        assert app.store.probes[-1].loss == mean_loss(app.store.probe_docs, app.store.weights,
                                                app.store.tokenizer, app.store.config)
        await pilot.press("p")
        assert isinstance(app.screen, FilmstripScreen)
        table = app.screen.query_one(DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [str(row[0]) for row in rows] == ["0", "2", "4"]
        assert [row[1] for row in rows] == [f"{record.loss:.4f}" for record in app.store.probes]
        assert rows[2][2] == "  ".join(app.store.probes[2].samples)
        await step_and_wait(pilot, app, times=2)
        await wait_for(pilot, lambda: table.row_count == 4)
        assert str(table.get_row_at(3)[0]) == "6" and table.cursor_row == 3
        await pilot.press("escape")
        assert not isinstance(app.screen, FilmstripScreen)


@pytest.mark.parametrize("title, screen_type", [
    ("optimizer view", OptimizerScreen),
    ("embedding map", EmbeddingScreen),
    ("probe filmstrip", FilmstripScreen),
])
async def test_each_view_opens_from_the_command_palette(title, screen_type):
    app = tiny_app()
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*title)
        await pilot.pause(0.3)  # the palette searches in the background
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, screen_type))


async def test_palette_search_survives_keys_that_look_like_markup():
    # The head command's key is shown as "[/]", which the palette once read as a markup tag.
    app = tiny_app()
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"previous head")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.head == TINY.n_head - 1)


async def test_embedding_map_of_one_number_embeddings_is_a_line():
    from engine import Config

    app = tiny_app(Config(n_layer=1, n_embd=1, n_head=1, block_size=8, num_steps=100, seed=1))
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.press("m")
        scatter = app.screen.query_one(Scatter)
        await wait_for(pilot, lambda: scatter.points)
        points = scatter.points
        assert len(points) == app.store.tokenizer.vocab_size
        assert {y for _, y, _, _ in points} == {0.0}
        assert "PC2: 0%" in str(app.screen.query_one("#embedding-caption").render())
