"""The inspect-a-name view (i), driven through Pilot: every key path, and the numbers shown
against the engine's own."""

import io

from rich.console import Console
from textual.widgets import Input, Static

from engine.inspection import initial_weights, inspect_name
from microgpt_tui.screens import inspect as inspect_screen
from microgpt_tui.screens.inspect import InspectScreen, shown_bits
from microgpt_tui.widgets.attention_pairs import AttentionPairs
from microgpt_tui.widgets.sampling import percent
from tests.tui.conftest import step_and_wait, tiny_app, wait_for

SIZE = (120, 34)


def shown(screen, selector):
    """What a Static shows (a Rich table included), as plain text at its width."""
    static = screen.query_one(selector, Static)
    console = Console(width=max(20, static.size.width), file=io.StringIO(), record=True)
    console.print(static.content)
    return console.export_text()


def notices(app):
    return [notification.message for notification in app._notifications]


async def open_inspect(pilot):
    app = pilot.app
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen)
                   and app.screen.start is not None)
    return app.screen


async def type_name(pilot, name):
    """Type `name` over what the name field holds (all of it selected, as on focus)."""
    field = pilot.app.screen.query_one("#inspect-name", Input)
    field.focus()
    field.select_all()
    await pilot.press(*name)
    screen = pilot.app.screen
    if not screen.refusal(name):
        await wait_for(pilot, lambda: screen.name_shown == name)


def table_rows(screen):
    """The table's rows, each as its cells split on whitespace (a cell like 'a 5.0%' is two)."""
    lines = shown(screen, "#inspect-table").splitlines()
    return [line.replace("│", " ").split() for line in lines[2:] if line.strip()]


def expected_rows(app, name):
    store = app.store
    start_weights = initial_weights(store.config, store.n_docs, store.tokenizer.vocab_size)
    now = inspect_name(name, store.weights, store.tokenizer, store.config)
    start = inspect_name(name, start_weights, store.tokenizer, store.config)
    label = store.tokenizer.label
    rows = []
    for i, (p_now, p_start) in enumerate(zip(now.predictions, start.predictions)):
        row = [str(i), label(p_now.input_token), "→", label(p_now.target)]
        for prediction in (p_now, p_start):
            row += [percent(prediction.p), str(prediction.rank), shown_bits(prediction.bits),
                    label(prediction.guess), percent(prediction.probs[prediction.guess])]
        rows.append(row)
    return now, start, rows


async def test_i_opens_on_the_last_trained_name_with_the_engines_numbers():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, 3)
        screen = await open_inspect(pilot)
        name = app.store.last_result.doc
        assert screen.query_one("#inspect-name", Input).value == name == screen.name_shown
        assert screen.query_one("#inspect-name", Input).has_focus
        now, start, rows = expected_rows(app, name)
        assert table_rows(screen) == rows
        totals = shown(screen, "#inspect-totals")
        assert f"step 3: {now.total_bits:.2f} bits in all · mean loss {now.loss:.4f}" in totals
        assert f"step 0: {start.total_bits:.2f} bits in all · mean loss {start.loss:.4f}" in totals
        pair = screen.query_one(AttentionPairs).pair
        assert pair.weights == (now.attention, start.attention)
        assert pair.labels == tuple(app.store.tokenizer.label(t) for t in now.inputs)


async def test_typing_a_name_shows_it_and_i_is_a_letter_there():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspect(pilot)
        await type_name(pilot, "cab")
        assert app.screen is screen and screen.name_shown == "cab"
        assert table_rows(screen) == expected_rows(app, "cab")[2]
        assert [row[1:4] for row in table_rows(screen)] == [
            ["·", "→", "c"], ["c", "→", "a"], ["a", "→", "b"], ["b", "→", "·"]]
        # Before any step the newest weights are the step-0 weights: both columns agree.
        assert "now (step 0)" in shown(screen, "#inspect-table")
        assert [row[4:9] for row in table_rows(screen)] == [row[9:] for row in
                                                            table_rows(screen)]
        await type_name(pilot, "i")  # not a letter of the tiny vocabulary: refused, not closed
        assert app.screen is screen and screen.query_one("#inspect-name", Input).value == "i"


async def test_letters_outside_the_vocabulary_are_refused_by_name():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspect(pilot)
        await type_name(pilot, "bea")
        await type_name(pilot, "Zoë")
        notice = shown(screen, "#inspect-notice")
        assert "'Z', 'o', 'ë' are not in the vocabulary (abcdefgh)" in notice
        assert "still showing 'bea'" in notice
        assert screen.name_shown == "bea" and len(table_rows(screen)) == 4
        app.action_step()  # the s key would type an s: the refusal outlives a redraw
        await wait_for(pilot, lambda: "step 1" in shown(screen, "#inspect-table"))
        assert "still showing 'bea'" in shown(screen, "#inspect-notice")
        await pilot.press("enter")
        assert notices(app)[-1] == ("Cannot inspect 'Zoë': 'Z', 'o', 'ë' are not in the "
                                    "vocabulary (abcdefgh).")
        assert screen.query_one("#inspect-name", Input).has_focus  # still there to correct
        await pilot.press("backspace", "backspace", "backspace")
        assert not screen.query_one("#inspect-notice", Static).display


async def test_enter_goes_to_the_numbers_which_follow_training_and_tab_comes_back():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspect(pilot)
        await type_name(pilot, "dad")
        start = table_rows(screen)
        await pilot.press("enter")
        assert screen.query_one("#inspect-body").has_focus
        await step_and_wait(pilot, app, 2)  # s reaches the app from the numbers
        await wait_for(pilot, lambda: "step 2" in shown(screen, "#inspect-table"))
        rows = table_rows(screen)
        assert rows == expected_rows(app, "dad")[2]
        assert [row[9:] for row in rows] == [row[9:] for row in start]  # step 0 stays
        await pilot.press("tab")
        assert screen.query_one("#inspect-name", Input).has_focus
        await pilot.press("shift+tab", "i")  # i closes the view once the name is left
        assert app.screen is not screen


async def test_escape_closes_from_the_name_field():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspect(pilot)
        await pilot.press("escape")
        assert app.screen is not screen and not isinstance(app.screen, InspectScreen)


async def test_a_name_longer_than_the_block_is_said_to_be_cut():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspect(pilot)
        await type_name(pilot, "abcdefg")  # 7 letters: 8 predictions, block_size 8
        assert not screen.query_one("#inspect-notice", Static).display
        await type_name(pilot, "abcdefgha")
        assert len(table_rows(screen)) == 8
        assert ("9 letters: the model reads block_size = 8 positions, so, as in training, the "
                "last 2 predictions (the end of the name's among them) are cut."
                in " ".join(shown(screen, "#inspect-notice").split()))


async def test_weights_it_cannot_compute_on_are_said_in_one_line(monkeypatch):
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspect(pilot)

        def diverged(*_args):
            raise ValueError("math domain error")

        monkeypatch.setattr(inspect_screen, "inspect_name", diverged)
        screen.query_one("#inspect-name", Input).select_all()
        await pilot.press(*"egg")
        await wait_for(pilot, lambda: screen.query_one("#inspect-notice", Static).display)
        notice = " ".join(shown(screen, "#inspect-notice").split())
        assert notice == ("Cannot compute 'egg' on the weights of step 0 (math domain error): "
                          "training has probably diverged.")
