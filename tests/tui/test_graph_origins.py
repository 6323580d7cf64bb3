"""The graph walker says where each node comes from: walked down from the loss to the logit
of the name's next letter, through that position's loss and softmax, read off the screen."""

from textual.widgets import DataTable

from engine import FLOAT_OPS, forward_document
from tests.tui.conftest import step_and_wait, tiny_app
from tests.tui.test_views import open_graph, shown


def where_column(table):
    return [table.get_row_at(row)[1] for row in range(table.row_count)]


async def test_walking_down_to_a_logit_names_each_step_of_the_pass():
    app = tiny_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await step_and_wait(pilot, app)
        result, weights = app.store.last_result, app.store.weights
        last = result.n_positions - 1
        target = result.tokens[last + 1]  # the letter the last position is to predict
        screen = await open_graph(pilot, app)
        table = screen.query_one(DataTable)
        walker = screen.query_one("#graph-walker")

        assert "node loss · loss: mean over positions" in shown(app, "#walker-node")
        await pilot.press("enter")  # into the sum of the position losses
        # The last addition of the sum: the sum so far, and the last position's loss.
        assert where_column(table) == ["loss: mean over positions",
                                       f"pos {last} · loss −log p(next)"]
        await pilot.press("down", "enter")
        assert f"node * · pos {last} · loss −log p(next)" in shown(app, "#walker-node")
        assert where_column(table) == ["loss −log p(next)", "loss −log p(next)"]  # log, -1
        await pilot.press("enter")  # into the log: its child is p(next) from the softmax
        assert where_column(table) == ["softmax"]
        probs = forward_document(result.tokens, weights, app.store.config, FLOAT_OPS).probs
        assert screen.path[-1]._children[0].data == probs[last][target]
        await pilot.press("enter")  # p = exp(logit - max) × (sum of the exps)**-1
        assert f"node * · pos {last} · softmax" in shown(app, "#walker-node")
        assert str(walker.border_title) == (f"Walker · depth 4 · loss: mean over positions › "
                                            f"pos {last} · loss −log p(next) › softmax")
        await pilot.press("enter", "enter")  # into the exp, then the logit - max
        # The logit backward reaches is the target letter's: lm_head's row of that letter.
        assert where_column(table) == [f"lm_head row {target}", "softmax"]
        await pilot.press("enter")
        assert f"pos {last} · lm_head row {target}" in shown(app, "#walker-node")
        assert "softmax › lm_head row" in str(walker.border_title)
        # Down the lm_head row's sum to its first product: a weight of that row, and the
        # residual stream leaving the last layer (a layer the node itself is in no part of).
        while not any(child in screen.analysis.names for child in screen.path[-1]._children):
            await pilot.press("enter")
        last_layer = app.store.config.n_layer - 1
        assert where_column(table) == ["", f"layer {last_layer} · residual + mlp"]
        assert table.get_row_at(0)[0] == f"lm_head[{target}][0]"
