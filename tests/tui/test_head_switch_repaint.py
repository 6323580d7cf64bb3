"""A head switch redraws what shows the head and nothing else: an App reactive used to
repaint the whole screen on ], which made the frame a key waits for twice as long."""

from microgpt_tui.widgets.attention import AttentionMap
from microgpt_tui.widgets.kv_cache import KVCacheTable
from microgpt_tui.widgets.loss import LossPlot
from microgpt_tui.widgets.sampling import SamplingView
from tests.tui.conftest import plain_text, step_and_wait, tiny_app

SIZE = (120, 34)


def count_drawn_lines(monkeypatch, *widget_types):
    drawn = {}
    for widget_type in widget_types:
        def render_lines(self, crop, _original=widget_type.render_lines):
            drawn[type(self)] = drawn.get(type(self), 0) + 1
            return _original(self, crop)
        monkeypatch.setattr(widget_type, "render_lines", render_lines)
    return drawn


async def test_a_head_switch_leaves_the_loss_pane_alone(monkeypatch):
    """(Textual redraws whole widgets in the rectangle around what changed, so the sampling
    pane may be drawn again from its cached lines; the loss pane, above it all, is not.)"""
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.pause()
        drawn = count_drawn_lines(monkeypatch, LossPlot, AttentionMap, KVCacheTable)
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert set(drawn) == {AttentionMap, KVCacheTable}
        assert "head 2/2" in app.query_one("#attention").border_title


async def test_a_samples_attention_line_follows_the_head():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("n", "n")
        await pilot.pause()
        view = app.query_one(SamplingView)
        assert "L1 H1 looks at" in plain_text(view)
        await pilot.press("right_square_bracket", "l")
        await pilot.pause()
        assert "L2 H2 looks at" in plain_text(view)
