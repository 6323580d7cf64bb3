"""The KV cache and attention panes measure themselves from their lines and re-layout only
when their size changes (widgets/lines.py): what the snapshots cannot see is a pane that
keeps a stale size, or a measurement that differs from the one Rich would make."""

import itertools

from textual.geometry import Size
from textual.widget import Widget

from microgpt_tui.widgets.attention import AttentionMap
from microgpt_tui.widgets.kv_cache import KVCacheTable
from tests.tui.conftest import step_and_wait, tiny_app

SIZE = (120, 34)


async def test_the_panes_grow_with_each_sampled_letter():
    """While sampling, every letter adds a position: k and v rows to the KV cache, a row to
    the heatmap. Each must be laid out again at its new height, not clipped to the old."""
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        kv, attention = app.query_one(KVCacheTable), app.query_one(AttentionMap)
        await pilot.press("r", "n")
        await pilot.pause()
        heights = []
        for _ in range(3):
            await pilot.press("n")
            await pilot.pause()
            assert kv.size.height == len(kv.lines())
            assert attention.size.height == len(attention.lines())
            heights.append((kv.size.height, attention.size.height))
        # A k and a v row a letter; a heatmap row (as tall as its cells) a letter.
        growth = [(k1 - k0, a1 - a0) for (k0, a0), (k1, a1) in itertools.pairwise(heights)]
        assert [k for k, _ in growth] == [2, 2] and all(a >= 1 for _, a in growth)


async def test_the_kv_pane_follows_a_training_name_of_another_length():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        kv = app.query_one(KVCacheTable)
        seen = set()
        for _ in range(12):  # the tiny docs are 3 to 7 letters long
            await step_and_wait(pilot, app)
            await pilot.pause()
            positions = len(app.store.last_result.inputs)
            assert kv.size.height == 4 * positions  # k, ∂k, v, ∂v rows (the pane has the header)
            seen.add(positions)
        assert len(seen) > 1


async def test_measured_as_rich_would_measure_the_render():
    """The shortcut measurement equals Textual's own (which renders the lines), also when a
    line is too wide and wraps, and for the wrapped hint shown before the first step."""
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        kv, attention = app.query_one(KVCacheTable), app.query_one(AttentionMap)
        for stepped in (False, True):
            if stepped:
                await step_and_wait(pilot, app)
            for widget in (kv, attention):
                widest = max(line.cell_len for line in widget.lines() or [widget.render()])
                for width in (widest + 5, widest, widest - 1, 12):
                    container = Size(width, 40)
                    widget.clear_cached_dimensions()
                    ours = (widget.get_content_width(container, container),
                            widget.get_content_height(container, container, width))
                    widget.clear_cached_dimensions()
                    richs = (Widget.get_content_width(widget, container, container),
                             Widget.get_content_height(widget, container, container, width))
                    assert ours == richs, (type(widget).__name__, stepped, width)
