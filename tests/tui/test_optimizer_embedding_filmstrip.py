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
from microgpt_tui.widgets.attention import TALLEST_CELL, WIDEST_CELL
from microgpt_tui.widgets.heatmap import pool_strongest
from microgpt_tui.widgets.lr_schedule import LearningRatePlot
from microgpt_tui.widgets.matrix_map import MatrixMap, line_labels
from microgpt_tui.widgets.scatter import Scatter, place, scale
from tests.tui.conftest import (
    TINY,
    TINY_DOCS,
    default_app,
    plain_text,
    step_and_wait,
    tiny_app,
    wait_for,
)

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


def test_a_line_is_labelled_with_the_rows_it_draws():
    labels = tuple("abcde")
    # Two rows a line (▀), then two rows pooled into each half line.
    assert line_labels(labels, 1, 1) == ["a–b", "c–d", "e"]
    assert line_labels(labels, 2, 1) == ["a–d", "e"]
    # A row a line; a row a line and a half: on the line of its middle.
    assert line_labels(labels, 1, 2) == list(labels)
    assert line_labels(labels, 1, 3) == ["a", "", "b", "c", "", "d", "e", ""]


async def open_matrix(pilot, app, name):
    """The optimizer view after a step, on matrix `name`."""
    await step_and_wait(pilot, app)
    await pilot.press("o")
    screen = app.screen
    await wait_for_snapshot(pilot, screen, 1)
    index = next(i for i, entry in enumerate(screen.snapshot.layout) if entry[0] == name)
    for _ in range(index):
        await pilot.press("right_square_bracket")
    return screen


def drawn_labels(widget):
    """Each drawn line's row label (what precedes the heatmap's ▀ cells)."""
    lines = plain_text(widget).rstrip("\n").split("\n")
    return [line.split("▀", 1)[0].strip() for line in lines], lines


@pytest.mark.parametrize("size", [SMALLEST, (120, 34), (200, 50)])
@pytest.mark.parametrize("name", ["wte", "wpe", "lm_head", "layer0.attn_wq"])
async def test_matrix_rows_are_named_and_cells_fill_the_panel(name, size):
    app = tiny_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_matrix(pilot, app, name)
        tokenizer = app.store.tokenizer
        for widget_id, *_ in MAPS:
            widget = screen.query_one(f"#{widget_id}", MatrixMap)
            n_rows, n_cols = len(widget.matrix), len(widget.matrix[0])
            width, height = widget.content_size
            labels, lines = drawn_labels(widget)
            row_block, half_lines, _, col_block, cell_width = widget.layout()
            assert row_block == col_block == 1  # the tiny model's matrices fit at 80x24
            if name == "layer0.attn_wq":
                assert widget.row_labels is None and not any(labels)
            else:
                names = ([tokenizer.label(i) for i in range(n_rows)] if name != "wpe"
                         else [str(p) for p in range(n_rows)])
                if half_lines == 1:  # two rows a line: the first and last of them
                    assert labels[0] == f"{names[0]}–{names[1]}"
                    assert "2 rows a line" in widget.border_subtitle
                else:
                    assert [label for label in labels if label] == names
                last = [label for label in labels if label][-1]
                assert last.endswith("·") or name == "wpe"  # BOS is the last token
            # Cells grow until one more half line a row, or one more column a cell, would
            # not fit (or they are as big as the attention map's).
            label_width = len(lines[0]) - n_cols * cell_width
            assert len(lines) == -(-n_rows * half_lines // 2) <= height
            assert half_lines == 2 * TALLEST_CELL or n_rows * (half_lines + 1) > 2 * height
            assert cell_width == WIDEST_CELL or n_cols * (cell_width + 1) + label_width > width


async def test_pooled_letter_rows_are_labelled_with_the_letters_they_pool_at_80_by_24():
    app = default_app()
    async with app.run_test(size=SMALLEST) as pilot:
        screen = await open_matrix(pilot, app, "wte")
        widget = screen.query_one("#weights", MatrixMap)
        labels, _ = drawn_labels(widget)
        # 27 rows in 9 lines: two rows a half line, four a line.
        assert widget.layout()[:2] == (2, 1)
        assert labels == ["a–d", "e–h", "i–l", "m–p", "q–t", "u–x", "y–·"]
        assert widget.border_subtitle == "pooled 2×1, max |x|"


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
