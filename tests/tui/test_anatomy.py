"""The anatomy view (A), driven through Pilot: its numbers are the sampler's, and its keys."""

import re

from textual.widgets import Input

from engine import Sampler
from microgpt_tui.screens.anatomy import AnatomyScreen
from tests.tui.conftest import TINY, step_and_wait, tiny_app, wait_for
from tests.tui.test_views import notices, shown

SIZE = (120, 34)
NUMBER = re.compile(r"[+-]\d+\.\d\d")  # a strip's cell


async def open_anatomy(pilot, app):
    await pilot.press("A")
    await wait_for(pilot, lambda: isinstance(app.screen, AnatomyScreen))
    return app.screen


async def wait_for_position(pilot, view, position, doc=None):
    """Until the view shows `position` (of `doc`) computed on the newest weights."""
    def shown_now():
        anatomy = view.anatomy
        return (anatomy is not None and anatomy.position == position
                and (doc is None or anatomy.tokens == view.store.tokenizer.document(doc))
                and view.step_shown == view.store.step)
    await wait_for(pilot, shown_now)
    return view.anatomy


async def type_name(pilot, view, name):
    await pilot.press("t", *name, "enter")  # t selects the name shown: typing replaces it


async def test_the_probabilities_are_the_samplers_for_the_sample_in_progress():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("n", "n", "n")
        events = app.store.sampling.events
        view = await open_anatomy(pilot, app)
        anatomy = await wait_for_position(pilot, view, events[-1].position, events[-1].text)
        assert anatomy.drawn_probs == events[-1].probs
        assert len(anatomy.layers) == TINY.n_layer == 2
        await pilot.press("left")
        anatomy = await wait_for_position(pilot, view, events[-2].position)
        assert anatomy.drawn_probs == events[-2].probs
        assert anatomy.layers[-1].heads[0].weights == events[-2].attention[-1][0]
        body = shown(app, "#anatomy-body")
        top = max(range(len(anatomy.probs)), key=anatomy.probs.__getitem__)
        label = app.store.tokenizer.label(top)
        assert f"{label} {anatomy.probs[top]:.1%}" in body
        assert "layer 2 of 2 · MLP" in body
        assert "The sample in progress" in body


async def test_a_typed_name_is_the_samplers_with_those_letters_forced():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        view = await open_anatomy(pilot, app)  # the last trained name
        await wait_for(pilot, lambda: view.anatomy is not None)
        await type_name(pilot, view, "badge")
        anatomy = await wait_for_position(pilot, view, 1, "badge")
        store = app.store
        sampler = Sampler(store.weights, store.tokenizer, store.config,
                          temperature=store.sampling.temperature)
        tokens = store.tokenizer.document("badge")
        forced = [sampler.step(force=token) for token in tokens[1:]]
        assert anatomy.drawn_probs == forced[1].probs
        # Four steps right reach the last position, 5 ('e' → end); a fifth stays there.
        await pilot.press(*["right"] * 5)
        anatomy = await wait_for_position(pilot, view, 5, "badge")
        assert anatomy.drawn_probs == forced[5].probs
        assert "e → ·" in shown(app, "#anatomy-where")


async def test_a_letter_outside_the_vocabulary_is_refused_with_a_notice():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_anatomy(pilot, app)
        # No step and no sample yet: the view asks for a name, its input focused.
        assert "No name yet" in shown(app, "#anatomy-where")
        assert view.query_one("#anatomy-name", Input).has_focus
        await pilot.press(*"bzx", "enter")
        assert view.anatomy is None and view.doc is None
        assert any("'z', 'x' are not in the vocabulary (abcdefgh)" in n for n in notices(app))
        # The refused name stays in the input, which keeps the focus, to be corrected.
        view.query_one("#anatomy-name", Input).value = "ca"
        await pilot.press(*"fe", "enter")
        anatomy = await wait_for_position(pilot, view, 0, "cafe")
        assert view.source == "typed"
        assert "Typed, on the weights of step 0" in shown(app, "#anatomy-body")
        await pilot.press("left")  # already at the first position: it stays
        assert anatomy.position == 0


async def test_left_and_right_edit_the_name_while_it_is_typed():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        view = await open_anatomy(pilot, app)
        await type_name(pilot, view, "dad")
        await wait_for_position(pilot, view, 1, "dad")  # a new name keeps the position
        await pilot.press("t", "end", "left", "e")  # the cursor moves, not the position
        assert view.query_one("#anatomy-name", Input).value == "daed"
        assert view.position == 1
        await pilot.press("enter", "right")
        await wait_for_position(pilot, view, 2, "daed")


async def test_it_follows_training_and_the_sample():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("n")
        view = await open_anatomy(pilot, app)
        before = await wait_for_position(pilot, view, 0)
        await step_and_wait(pilot, app)  # s still trains with the view open
        after = await wait_for_position(pilot, view, 0)
        assert after.probs != before.probs
        await pilot.press("n")  # the name taken from the sample follows it
        events = app.store.sampling.events
        await wait_for_position(pilot, view, events[-1].position, events[-1].text)


async def test_A_and_escape_close_it():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await open_anatomy(pilot, app)
        await pilot.press("A")
        assert not isinstance(app.screen, AnatomyScreen)
        await open_anatomy(pilot, app)
        await pilot.press("escape")
        assert not isinstance(app.screen, AnatomyScreen)


async def test_a_wide_terminal_puts_each_vector_between_its_title_and_its_code():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        view = await open_anatomy(pilot, app)
        await wait_for(pilot, lambda: view.anatomy is not None)

        def embedding_line():
            body = shown(app, "#anatomy-body")
            return next(line for line in body.splitlines() if "token embedding" in line)

        stacked = embedding_line()  # the numbers are on the lines below
        assert "tok_emb = state_dict['wte'][token_id]" in stacked
        assert not NUMBER.findall(stacked)
        await pilot.resize_terminal(200, 50)
        await pilot.pause(0.2)
        wide = embedding_line()
        assert "tok_emb = state_dict['wte'][token_id]" in wide
        assert len(NUMBER.findall(wide)) == TINY.n_embd


async def test_with_top_k_the_last_strip_is_what_the_sampler_draws_from():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("k", "k", "k", "n", "n")  # top-k 3
        event = app.store.sampling.events[-1]
        assert event.top_k == 3
        view = await open_anatomy(pilot, app)
        anatomy = await wait_for_position(pilot, view, event.position, event.text)
        assert anatomy.drawn_probs == event.probs
        assert sum(p > 0 for p in anatomy.drawn_probs) == 3
        assert "top-k 3: what is drawn from" in shown(app, "#anatomy-body")
