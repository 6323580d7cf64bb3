import math
import re
import time
from types import MappingProxyType

from engine import Trainer, Value
from microgpt_tui.app import MicrogptApp
from microgpt_tui.screens.help import HelpScreen
from microgpt_tui.training import Command, TrainingLoop
from microgpt_tui.widgets.attention import AttentionMap
from microgpt_tui.widgets.kv_cache import KVCacheTable
from microgpt_tui.widgets.loss import LossPlot
from microgpt_tui.widgets.sampling import SamplingView
from tests.tui.conftest import (
    TINY,
    TINY_DOCS,
    default_app,
    plain_text,
    step_and_wait,
    tiny_app,
    wait_for,
)

SIZE = (120, 34)


async def test_step_key_advances_the_step_and_changes_the_loss():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        first = plain_text(app.query_one(LossPlot))
        assert "step 1/100000" in first
        await step_and_wait(pilot, app)
        second = plain_text(app.query_one(LossPlot))
        assert "step 2/100000" in second
        assert app.store.loss_history[0] != app.store.loss_history[1]
        assert f"loss {app.store.loss_history[1]:.4f}" in second


async def test_one_step_with_defaults_shows_the_reference_loss():
    app = default_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        assert "loss 3.3660" in plain_text(app.query_one(LossPlot))


async def test_space_runs_and_pauses_training():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.store.running and len(app.store.loss_history) >= 5)
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.store.running)
        await pilot.pause(0.3)
        paused_at = len(app.store.loss_history)
        await pilot.pause(0.3)
        assert len(app.store.loss_history) == paused_at
        assert app.training.trainer.step_count == paused_at


async def test_keys_are_answered_while_training_runs():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.store.loss_history) >= 3)
        await pilot.press("right_square_bracket")
        assert app.head == 1
        assert app.store.running
        await pilot.press("space")


async def test_head_and_layer_keys_change_the_heatmap():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        heatmap = app.query_one(AttentionMap)
        before = plain_text(heatmap)
        await pilot.press("right_square_bracket")
        assert app.head == 1 and heatmap.head == 1
        after_head = plain_text(heatmap)
        assert after_head != before
        await pilot.press("l")
        assert app.layer == 1 and heatmap.shown_layer == 1
        assert plain_text(heatmap) not in (before, after_head)
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.head == 1  # wraps around: 1 -> 0 -> 1
        assert "layer 2/2 · head 2/2" in str(app.query_one("#attention").border_title)


async def test_all_heads_view_shows_every_head():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("a")
        text = plain_text(app.query_one(AttentionMap))
        assert "head 1" in text and "head 2" in text
        assert "all heads" in str(app.query_one("#attention").border_title)


async def test_next_token_grows_the_sample_by_one_and_bars_sum_to_100_percent():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert len(app.store.sampling.events) == 1
        await pilot.press("n")
        events = app.store.sampling.events
        assert len(events) in (1, 2)  # a fresh sample starts if the first token was BOS
        view = app.query_one(SamplingView)
        text = plain_text(view)
        # Every letter's bar, at the sampling temperature and, beside it, at T=1.
        tempered = [float(p) for p in re.findall(r"(\d+\.\d)% T=1", text)]
        untempered = [float(p) for p in re.findall(r"T=1 +(\d+\.\d)%", text)]
        assert len(tempered) == len(untempered) == app.store.tokenizer.vocab_size
        assert abs(sum(tempered) - 100) < 1.0 and abs(sum(untempered) - 100) < 1.0
        assert math.isclose(sum(events[-1].probs), 1.0)
        assert tempered[0] == round(max(events[-1].probs) * 100, 1)
        header = plain_text(app.query_one("#kv-cache .kv-header"))
        assert header.split()[:2] == ["pos", "tok"]
        kv_lines = plain_text(app.query_one(KVCacheTable)).splitlines()
        assert [line.split()[-5] for line in kv_lines] == ["k", "v"] * len(events)


async def test_sample_grows_exactly_one_token_per_keypress():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        while not app.store.sampling.events[-1].done:
            before = len(app.store.sampling.events)
            await pilot.press("n")
            assert len(app.store.sampling.events) == before + 1
        assert "done" in plain_text(app.query_one(SamplingView))


async def test_enter_finishes_and_r_restarts_the_sample():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "enter")
        assert app.store.sampling.events[-1].done
        await pilot.press("r")
        assert app.store.sampling.events == ()
        await pilot.press("n")
        assert len(app.store.sampling.events) == 1


async def test_temperature_changes_in_tenths_and_clamps():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus")
        assert app.store.sampling.temperature == 0.6
        await pilot.press(*["plus"] * 25)
        assert app.store.sampling.temperature == 2.0
        await pilot.press(*["minus"] * 30)
        assert app.store.sampling.temperature == 0.1
        assert "temperature 0.1" in str(app.query_one("#sampling").border_title)
        await pilot.press("n")
        assert app.store.sampling.sampler.temperature == 0.1


async def test_question_mark_opens_help_and_escape_closes_it():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_q_quits_cleanly_even_while_training():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.store.loss_history) >= 2)
        started = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - started < 1.0
    assert app.return_code in (0, None)


async def test_sampling_while_training_leaves_training_state_alone():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=2)
        state = app.training.trainer.export_state()
        await pilot.press("n", "enter", "r", "n")
        assert app.training.trainer.export_state() == state


async def test_command_palette_offers_the_actions():
    app = tiny_app()
    async with app.run_test(size=SIZE):
        titles = {command.title for command in app.get_system_commands(app.screen)}
    assert {"Take one training step", "Sample the next letter",
            "Train continuously, or pause", "All heads side by side"} <= titles


def deep_contains_engine_object(obj):
    """True if `obj` holds a Value or any mutable container, anywhere inside."""
    if isinstance(obj, (Value, list, dict, set)):
        return True
    if isinstance(obj, MappingProxyType):
        return deep_contains_engine_object(tuple(obj.values()))
    if isinstance(obj, tuple):
        return any(deep_contains_engine_object(item) for item in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return any(deep_contains_engine_object(getattr(obj, name))
                   for name in obj.__dataclass_fields__)
    return not isinstance(obj, (int, float, str, bool, type(None)))


def test_worker_messages_carry_only_frozen_plain_data():
    posted = []
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), posted.append)
    for command in (Command.STEP, Command.RUN):
        loop.send(command)
    deadline = time.monotonic() + 5
    loop.send(Command.PAUSE)
    loop.send(Command.STEP)
    loop.send(Command.STOP)
    loop.run(lambda: time.monotonic() > deadline)
    assert any(m.snapshot.new_losses for m in posted)
    for message in posted:
        assert not deep_contains_engine_object(message.snapshot)
    assert not deep_contains_engine_object(loop.weights)


async def test_widgets_never_hold_live_engine_objects():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("n")
        for widget, names in ((app.query_one(AttentionMap), ("view",)),
                              (app.query_one(KVCacheTable), ("view",)),
                              (app.query_one(SamplingView), ("events",)),
                              (app.query_one(LossPlot), ("losses",))):
            for name in names:
                assert not deep_contains_engine_object(getattr(widget, name)), name
        assert isinstance(app, MicrogptApp)


async def test_a_too_small_terminal_gets_a_message_instead_of_garbage():
    app = tiny_app()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("too-small")
        message = app.query_one("#too-small")
        assert message.display and "at least 80×24" in str(message.render())
        assert not app.query_one("#panes").display
        await pilot.resize_terminal(120, 34)
        await pilot.pause()
        assert not app.screen.has_class("too-small")
        assert app.query_one("#panes").display


async def test_resizing_during_training_keeps_training():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.store.loss_history) >= 2)
        for size in ((80, 24), (40, 12), (160, 50), SIZE):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.05)
        steps = len(app.store.loss_history)
        await wait_for(pilot, lambda: len(app.store.loss_history) > steps)
        assert app.store.running
        await pilot.press("space")


async def test_a_diverging_run_pauses_itself_and_says_why():
    from engine import Config

    app = tiny_app(Config(n_layer=1, n_embd=8, n_head=2, block_size=8, lr=1e6, num_steps=500))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.store.loss_history and not app.store.running)
        notices = [n.message for n in app._notifications]
        assert any("training paused" in message for message in notices)
