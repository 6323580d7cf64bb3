"""The anatomy view's logit attribution (d, D) and counterfactual (c, C), through Pilot: the
numbers shown are engine.attribution's on the store's weights, and bad input is a notice."""

from textual.widgets import Input

from engine.attribution import HeadPatch, LetterChange, logit_attribution, patched_position
from microgpt_tui.screens.anatomy import AnatomyScreen
from tests.tui.conftest import step_and_wait, tiny_app, wait_for
from tests.tui.test_anatomy import SIZE, type_name, wait_for_position
from tests.tui.test_views import notices, shown


async def open_with(pilot, app, key):
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, AnatomyScreen)
                   and app.screen.anatomy is not None)
    return app.screen


async def test_D_opens_the_anatomy_with_the_next_letters_logit_split_and_d_hides_it():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        view = await open_with(pilot, app, "D")
        await type_name(pilot, view, "badge")
        await pilot.press("right", "right")
        anatomy = await wait_for_position(pilot, view, 3, "badge")
        await wait_for(pilot, lambda: view.attributions[0].logit == anatomy.logits[anatomy.target])
        expected = logit_attribution(anatomy, app.store.weights, anatomy.target)
        assert view.attributions[0] == expected
        body = shown(app, "#anatomy-body")
        assert "Direct logit attribution (d)" in body
        assert f"logit of {app.store.tokenizer.label(anatomy.target)!r}" in body
        for part in expected.parts:
            assert part.label in body and f"{part.value:+.3f}" in body
        assert f"{expected.logit:+.3f}" in body
        await pilot.press("d")
        assert "Direct logit attribution" not in shown(app, "#anatomy-body")


async def test_C_asks_for_a_change_and_shows_the_patched_head_beside_the_original():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        view = await open_with(pilot, app, "C")
        change = view.query_one("#anatomy-change", Input)
        assert change.has_focus
        await pilot.press(*"2.1 hedge", "enter")  # on the last trained name, then on badge
        await type_name(pilot, view, "badge")
        await pilot.press("right", "right")
        await wait_for_position(pilot, view, 3, "badge")
        hedge = tuple(app.store.tokenizer.document("hedge"))
        await wait_for(pilot, lambda: view.counterfactual[0] == HeadPatch(1, 0, hedge)
                       and view.counterfactual[1].original == view.anatomy)
        store = app.store
        patch = view.counterfactual[0]
        expected = patched_position(store.weights, store.tokenizer.document("badge"), 3,
                                    store.config, patch, store.sampling.temperature)
        assert view.counterfactual[1] == expected
        body = shown(app, "#anatomy-body")
        assert "Counterfactual (c): layer 2 head 1's output from 'hedge'" in body
        assert "original 'badge' at 3" in body and "changed 'badge' at 3" in body
        target = expected.original.target
        assert f"{expected.patched.drawn_probs[target]:.2%}" in body


async def test_a_changed_letter_a_bad_change_and_an_empty_one():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        view = await open_with(pilot, app, "A")
        await type_name(pilot, view, "cafe")
        await pilot.press("right", "right")
        await wait_for_position(pilot, view, 3, "cafe")
        await pilot.press("c", *"2=e", "enter")
        await wait_for(pilot, lambda: view.counterfactual is not None)
        assert view.counterfactual[0] == LetterChange(2, app.store.tokenizer.encode("e")[0])
        assert "changed 'cefe' at 3" in shown(app, "#anatomy-body")
        # Not a change, a letter outside the vocabulary: one-line notices, nothing changes.
        await pilot.press("c", *" x", "enter")
        await pilot.press("c", "ctrl+u", *"2=z", "enter")
        assert any("is not a change" in n for n in notices(app))
        assert any("'z' is not in the vocabulary" in n for n in notices(app))
        # A letter not read yet: said in the section, the anatomy still shown.
        await pilot.press("c", "ctrl+u", *"4=a", "enter")
        await wait_for(pilot, lambda: isinstance(view.counterfactual[1], str))
        assert "Nothing changed: letter 4 is not read at position 3" in shown(app,
                                                                               "#anatomy-body")
        # An empty change takes the counterfactual away.
        await pilot.press("c", "ctrl+u", "enter")
        await wait_for(pilot, lambda: view.counterfactual == (None, None))
        assert "Counterfactual" not in shown(app, "#anatomy-body")


async def test_both_are_in_the_command_palette():
    app = tiny_app()
    async with app.run_test(size=SIZE):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert any(title.startswith("Logit attribution:") for title in titles)
        assert any(title.startswith("Counterfactual:") for title in titles)
