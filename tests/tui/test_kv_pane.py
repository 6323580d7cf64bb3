"""The KV cache pane: its column header stays in sight over rows that scroll, on the main
screen and in the stages view, and its line says what the rows are."""

from textual.widgets import Static

from engine.trainer import BACKWARD
from microgpt_tui.widgets.kv_cache import KVCacheTable
from microgpt_tui.widgets.kv_cache_pane import KVCachePane
from tests.tui.conftest import plain_text, step_and_wait, tiny_app, wait_for

SMALLEST = (80, 24)


def header_and_rows(pane):
    return pane.query_one(".kv-header", Static), pane.query_one(".kv-rows")


def assert_header_pinned(pane, header, rows):
    """The header is the pane's first line, the scrolled rows are under it."""
    assert header.region.y == pane.content_region.y and header.region.height == 1
    assert rows.region.y == header.region.y + 1
    assert plain_text(header).split()[:3] == ["pos", "tok", "0"]


async def test_the_header_stays_while_the_rows_scroll_at_80_by_24():
    app = tiny_app()
    async with app.run_test(size=SMALLEST) as pilot:
        await step_and_wait(pilot, app)
        pane = app.query_one("#kv-cache", KVCachePane)
        header, rows = header_and_rows(pane)
        assert pane.border_subtitle == "k, v: what each position wrote · ∂: gradients"
        await wait_for(pilot, lambda: rows.max_scroll_y > 0)  # a name of 3+ letters overflows
        rows.scroll_end(animate=False)
        await wait_for(pilot, lambda: rows.scroll_y == rows.max_scroll_y)
        assert_header_pinned(pane, header, rows)
        # Sampling keeps the newest position in sight, under the same header.
        for _ in range(3):
            await pilot.press("n")
        await pilot.pause(0.1)
        assert pane.border_subtitle == "inference · +1 position per token"
        assert rows.scroll_y == rows.max_scroll_y
        assert_header_pinned(pane, header, rows)


async def test_the_stages_view_pins_the_header_and_scrolls_the_rows():
    app = tiny_app(docs=["baggage"])  # 8 positions: 32 rows of k, ∂k, v, ∂v after backward
    async with app.run_test(size=SMALLEST) as pilot:
        while app.store.stage is None or app.store.stage.kind != BACKWARD:
            before = app.store.stage
            await pilot.press("S")
            await wait_for(pilot, lambda before=before: app.store.stage is not before)
        pane = app.screen.query_one("#stage-kv", KVCachePane)
        header, rows = header_and_rows(pane)
        assert len(plain_text(pane.query_one(KVCacheTable)).splitlines()) == 4 * 8
        await wait_for(pilot, lambda: rows.max_scroll_y > 0)
        rows.scroll_end(animate=False)
        await wait_for(pilot, lambda: rows.scroll_y == rows.max_scroll_y)
        assert_header_pinned(pane, header, rows)


async def test_no_header_over_the_hint_before_the_first_step():
    app = tiny_app()
    async with app.run_test(size=SMALLEST):
        header, _ = header_and_rows(app.query_one("#kv-cache", KVCachePane))
        assert not header.display
        assert "s fills the cache" in plain_text(app.query_one(KVCacheTable))


