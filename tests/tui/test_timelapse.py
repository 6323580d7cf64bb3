"""The attention time-lapse: frames recorded by the training worker, kept by the store, and
the T view that scrubs them."""

from engine import Trainer, forward_document
from engine.model import FLOAT_OPS
from engine.timelapse import previous_letter_share
from microgpt_tui.run import MAX_ATTENTION_FRAMES, Change, thinned
from microgpt_tui.screens.timelapse import TimelapseScreen
from microgpt_tui.training import Command
from microgpt_tui.widgets.attention import AttentionMap
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, tiny_app, wait_for
from tests.tui.test_run_store import run_worker


def replayed_weights(step):
    """The weights after `step` steps of a Trainer of its own (same config, same docs)."""
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(step):
        trainer.step()
    return trainer.weights(), trainer.tokenizer


def test_frames_are_recorded_at_the_probe_steps_with_the_float_forwards_attention():
    store, loop, _, _ = run_worker([Command.STEP] * 5, probe_every=2)
    assert [frame.step for frame in store.attention_frames] == [0, 2, 4]
    assert {frame.name for frame in store.attention_frames} == {loop.watched_name}
    for frame in store.attention_frames:
        weights, tokenizer = replayed_weights(frame.step)
        forward = forward_document(tokenizer.document(frame.name), weights, TINY, FLOAT_OPS)
        for layer in range(TINY.n_layer):
            for head in range(TINY.n_head):
                assert list(frame.attention[layer][head]) == [
                    tuple(position[layer][head]) for position in forward.attention]


def test_an_undo_drops_the_frames_of_undone_steps():
    store, _, _, _ = run_worker([Command.STEP] * 4 + [Command.UNDO] * 2, probe_every=2)
    assert [frame.step for frame in store.attention_frames] == [0, 2]
    assert Change.PROBE in store.changed[-2]


def test_past_the_cap_every_other_frame_goes_and_the_first_and_newest_stay():
    frames = list(range(MAX_ATTENTION_FRAMES + 1))
    kept = thinned(frames)
    assert kept[0] == 0 and kept[-1] == MAX_ATTENTION_FRAMES
    assert kept[1] == 2 and len(kept) == MAX_ATTENTION_FRAMES // 2 + 1
    assert thinned(frames[:-1]) == frames[:-1]


def frames_line(screen):
    return plain_text(screen.query_one("#timelapse-frames")).splitlines()[0]


async def test_t_opens_the_newest_frame_scrubs_and_follows_new_frames():
    app = tiny_app(probe_every=2)
    async with app.run_test(size=(120, 34)) as pilot:
        await step_and_wait(pilot, app, times=4)
        await wait_for(pilot, lambda: len(app.store.attention_frames) == 3)
        await pilot.press("T")
        screen = app.screen
        assert isinstance(screen, TimelapseScreen)
        await pilot.pause()
        assert frames_line(screen).startswith("frame 3 of 3 · step 4 of")
        shown = screen.query_one(AttentionMap)
        assert shown.view.weights is app.store.attention_frames[-1].attention
        name = app.training.watched_name
        assert shown.all_heads and shown.view.source.startswith(f"{name!r} at step 4")
        await pilot.press("left")
        assert frames_line(screen).startswith("frame 2 of 3 · step 2 of")
        assert shown.view.weights is app.store.attention_frames[1].attention
        await pilot.press("comma", "comma")  # no frame before the first
        assert frames_line(screen).startswith("frame 1 of 3 · step 0 of")
        await pilot.press("full_stop")
        assert frames_line(screen).startswith("frame 2 of 3")
        # Away from the newest frame, a new one does not move the view...
        await step_and_wait(pilot, app, times=2)
        await wait_for(pilot, lambda: len(app.store.attention_frames) == 4)
        await pilot.pause(0.2)
        assert frames_line(screen).startswith("frame 2 of 4 · step 2 of")
        await pilot.press("end")
        assert frames_line(screen).startswith("frame 4 of 4 · step 6 of")
        # ...at the newest, it follows.
        await step_and_wait(pilot, app, times=2)
        await wait_for(pilot, lambda: len(app.store.attention_frames) == 5)
        await wait_for(pilot, lambda: frames_line(screen).startswith("frame 5 of 5 · step 8"))
        await pilot.press("home")
        assert frames_line(screen).startswith("frame 1 of 5 · step 0 of")
        await pilot.press("escape")
        assert not isinstance(app.screen, TimelapseScreen)


async def test_each_head_shows_its_previous_letter_share_and_the_layer_follows_l():
    app = tiny_app(probe_every=2)
    async with app.run_test(size=(120, 34)) as pilot:
        await step_and_wait(pilot, app, times=2)
        await wait_for(pilot, lambda: len(app.store.attention_frames) == 2)
        await pilot.press("T")
        screen = app.screen
        await pilot.pause()
        frame = app.store.attention_frames[-1]
        heads = plain_text(screen.query_one("#timelapse-heads")).splitlines()
        for head, line in enumerate(heads[:TINY.n_head]):
            share = previous_letter_share(frame.attention[0][head])
            assert line.startswith(f"head {head + 1}  previous letter {share:>4.0%}")
        await pilot.press("l")  # the app's next layer: the view shows layer 2's heads
        assert screen.query_one(AttentionMap).shown_layer == 1
        heads = plain_text(screen.query_one("#timelapse-heads")).splitlines()
        share = previous_letter_share(frame.attention[1][0])
        assert heads[0].startswith(f"head 1  previous letter {share:>4.0%}")
        await pilot.press("T")  # its own key closes it too
        assert not isinstance(app.screen, TimelapseScreen)


async def test_t_is_in_the_help_and_the_palette():
    app = tiny_app()
    async with app.run_test(size=(120, 34)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
    (binding,) = [binding for binding in app.BINDINGS if binding.action == "view('timelapse')"]
    assert binding.key == "T" and binding.tooltip in titles
