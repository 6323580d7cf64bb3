"""Inference views: the sample's own attention and KV cache, forced letters, head ablation."""

import asyncio
import io
import math
import re
import time
from types import MappingProxyType

import pytest
from rich.console import Console
from textual.worker import WorkerState

import microgpt_tui.screens.ablation
from engine.probe import draw_samples, mean_loss
from microgpt_tui.colours import CHOSEN
from microgpt_tui.screens.ablation import AblationScreen
from microgpt_tui.screens.force import ForceTokenScreen
from microgpt_tui.widgets.attention import AttentionMap
from microgpt_tui.widgets.kv_cache import KVCacheTable
from microgpt_tui.widgets.sampling import SamplingView
from tests.tui.conftest import (
    default_app,
    measure_slowly,
    plain_text,
    step_and_wait,
    tiny_app,
    wait_for,
)

SIZE = (120, 34)


def body_text(screen):
    """What the ablation screen's body shows, as plain text at its width."""
    body = screen.query_one("#ablation-body")
    console = Console(width=body.size.width, file=io.StringIO(), record=True)
    console.print(body.content)
    return console.export_text()


def heatmap_rows(app):
    """The percentages on each row of the attention heatmap, as drawn."""
    # After the title, the axes and the column labels; a cell may be several lines tall,
    # with its number and its row's label on the middle one.
    lines = plain_text(app.query_one(AttentionMap)).splitlines()[3:]
    n = len(app.store.sampling.events)
    rows = [line for line in lines if line[:1].strip()][:n]
    return [[int(x) for x in re.findall(r"\d+", line)] for line in rows]


def kv_rows(app):
    """(pos, name, numbers) for every k/v row of the KV cache pane, as drawn."""
    rows, pos = [], None
    for line in plain_text(app.query_one(KVCacheTable)).splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0].isdigit():
            pos, fields = int(fields[0]), fields[2:]
        rows.append((pos, fields[0], [float(x) for x in fields[1:]]))
    return rows


async def test_sampling_shows_the_samples_own_attention_and_kv_cache():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("l", "right_square_bracket")  # layer 2, head 2 of the tiny model
        layer, head = 1, 1
        head_dim = app.store.config.head_dim
        for press in range(6):
            was_done = bool(app.store.sampling.events) and app.store.sampling.events[-1].done
            before = 0 if was_done else len(app.store.sampling.events)
            await pilot.press("n")
            events = app.store.sampling.events
            assert len(events) == before + 1, press
            weights = app.query_one(AttentionMap).view.weights
            # One row per position so far, each the Sampler's own TokenEvent attention.
            for li in range(app.store.config.n_layer):
                for h in range(app.store.config.n_head):
                    assert weights[li][h] == tuple(e.attention[li][h] for e in events)
            assert heatmap_rows(app) == [[round(w * 100) for w in e.attention[layer][head]]
                                         for e in events]
            # Exactly one k row and one v row per position, the newest one being the last
            # token's: the cache the next token will attend over.
            rows = kv_rows(app)
            assert [(pos, name) for pos, name, _ in rows] == [
                (pos, name) for pos in range(len(events)) for name in ("k", "v")]
            cache = events[-1].kv_cache[layer]
            for pos, name, numbers in rows:
                vector = cache[pos][0 if name == "k" else 1]
                expected = vector[head * head_dim:(head + 1) * head_dim]
                assert numbers == [float(f"{x:+.2f}") for x in expected]
            assert app.query_one("#kv-cache").border_subtitle == (
                "inference · +1 position per token")
            assert "inference" in plain_text(app.query_one(AttentionMap)).splitlines()[0]


async def test_the_newest_kv_position_is_marked_while_sampling_only():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)

        def marked_lines():
            lines = app.query_one(KVCacheTable).render().renderables
            return [line.plain.split()[0] for line in lines
                    if any(span.style == CHOSEN for span in line.spans)]

        assert marked_lines() == []  # a training step writes every position at once
        await pilot.press("n")
        assert marked_lines() == ["0"]
        if not app.store.sampling.events[-1].done:
            await pilot.press("n")
            assert marked_lines() == ["1"]
        await step_and_wait(pilot, app)
        assert marked_lines() == []
        assert app.query_one("#kv-cache").border_subtitle == (
            "k, v: what each position wrote · ∂: gradients")


def forced_stats(event):
    """Probability, rank and surprisal of the forced token, worked out independently."""
    p = event.probs[event.token]
    ordered = sorted(event.probs, reverse=True)
    return p, ordered.index(p) + 1, -math.log(p) / math.log(2)


async def force(pilot, typed):
    await pilot.press("f")
    assert isinstance(pilot.app.screen, ForceTokenScreen)
    await pilot.press(typed)


async def test_forcing_a_letter_shows_its_probability_rank_and_surprisal():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        await force(pilot, "h")
        assert not isinstance(app.screen, ForceTokenScreen)
        event = app.store.sampling.events[-1]
        assert event.forced and event.token == app.store.tokenizer.encode("h")[0]
        assert event.position == 0 and event.text == "h"
        p, rank, bits = forced_stats(event)
        text = plain_text(app.query_one(SamplingView))
        assert f"P(h | ·) {p * 100:.1f}% · rank {rank}/9 · {bits:.2f} bits" in text
        assert "◀ forced" in text
        await pilot.press("n")  # drawn letters still say where they came from
        assert not app.store.sampling.events[-1].forced or app.store.sampling.events[-1].done
        if not app.store.sampling.events[-1].done:
            assert "P(next |" in plain_text(app.query_one(SamplingView))


async def test_enter_forces_the_end_of_the_name():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await force(pilot, "a")
        await force(pilot, "enter")
        event = app.store.sampling.events[-1]
        assert event.forced and event.token == app.store.tokenizer.bos and event.done
        assert event.text == "a"
        text = plain_text(app.query_one(SamplingView))
        assert "done" in text and "P(· | ·a)" in text
        await force(pilot, "b")  # a finished sample: forcing starts a new one
        assert [e.text for e in app.store.sampling.events] == ["b"]


async def test_a_letter_outside_the_vocabulary_is_refused_in_one_line():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        events = app.store.sampling.events
        await force(pilot, "z")
        await pilot.pause()
        assert app.store.sampling.events == events
        assert not isinstance(app.screen, ForceTokenScreen)
        notices = [n.message for n in app._notifications]
        assert notices == ["'z' is not in the vocabulary (abcdefgh): nothing forced."]
        await force(pilot, "escape")  # cancelling forces nothing either
        assert app.store.sampling.events == events
        assert not isinstance(app.screen, ForceTokenScreen)


async def test_x_compares_the_model_with_and_without_the_selected_head():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=5)
        state = app.training.trainer.export_state()
        await pilot.press("right_square_bracket", "x")
        screen = app.screen
        assert isinstance(screen, AblationScreen)
        await wait_for(pilot, lambda: screen.comparison is not None)
        comparison = screen.comparison
        weights, tokenizer, config = app.store.weights, app.store.tokenizer, app.store.config
        assert comparison.ablate == {(0, 1)}
        assert comparison.loss == mean_loss(app.store.probe_set, weights, tokenizer, config)
        assert comparison.ablated_loss == mean_loss(app.store.probe_set, weights, tokenizer, config,
                                                    {(0, 1)})
        assert comparison.ablated_loss != comparison.loss
        assert comparison.ablated_samples == draw_samples(
            weights, tokenizer, config, temperature=app.store.sampling.temperature, ablate={(0, 1)})
        text = body_text(screen)
        assert f"{comparison.loss:.4f}" in text and f"{comparison.ablated_loss:.4f}" in text
        assert "L1 H2 zeroed" in text and "Weights after step 5" in text
        for plain, ablated in zip(comparison.samples, comparison.ablated_samples):
            assert re.search(rf"{plain or '[(]empty[)]'}\s+{ablated or '[(]empty[)]'}", text)
        assert "head 2 zeroed" in str(screen.query_one("#ablation").border_title)
        await pilot.press("x")  # x again restores the head
        assert not isinstance(app.screen, AblationScreen)
        await pilot.press("x")
        assert isinstance(app.screen, AblationScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, AblationScreen)
        assert app.training.trainer.export_state() == state  # the trainer was never touched


async def test_ablation_is_measured_off_the_ui_thread():
    app = default_app()  # 200 names, twice: about a second of work
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        started = time.monotonic()
        app.action_ablate_head()
        await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        assert time.monotonic() - started < 0.5  # the event loop kept running
        screen = app.screen
        assert isinstance(screen, AblationScreen) and screen.comparison is None
        assert "Measuring" in body_text(screen)
        await wait_for(pilot, lambda: screen.comparison is not None)
        assert screen.comparison.probe_size == 200
        assert "The initial weights" in body_text(screen)


@pytest.fixture
def measured(monkeypatch):
    return measure_slowly(monkeypatch, microgpt_tui.screens.ablation, "compare_ablation")


async def ablation_opened(pilot, measured):
    """The ablation screen, just opened with no forward pass counted yet."""
    # The training thread measures the filmstrip's first frame at start, with the same forward.
    await wait_for(pilot, lambda: pilot.app.store.probes)
    measured.passes.clear()
    # Not pilot.press("x"): a press waits until the process is idle, up to 2 s.
    pilot.app.action_ablate_head()
    return pilot.app.screen


async def test_closing_the_ablation_screen_cancels_its_measurement(measured):
    app = default_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ablation_opened(pilot, measured)
        await wait_for(pilot, lambda: measured.passes)
        (worker,) = [worker for worker in app.workers if worker.node is screen]
        body = screen.query_one("#ablation-body")
        await pilot.press("escape")
        await wait_for(pilot, lambda: measured.endings)
        assert worker.state is WorkerState.CANCELLED
        assert measured.endings == ["cancelled"]
        # Within the first of the two loss loops:
        assert len(measured.passes) < len(app.store.probe_set)
        assert len(app.screen_stack) == 1
        assert screen.comparison is None and not app._notifications
        assert "Measuring" in str(body.content)  # neither a result nor an error was shown


async def test_x_twice_at_once_leaves_no_measurement_running(measured):
    app = default_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ablation_opened(pilot, measured)
        await asyncio.sleep(0)
        screen.dismiss()  # before it is mounted, like a second x right after the first
        await pilot.pause(0.2)
        assert len(app.screen_stack) == 1
        assert not [worker for worker in app.workers if worker.node is screen]


async def test_the_new_keys_are_in_the_help_and_the_palette():
    app = tiny_app()
    async with app.run_test(size=SIZE):
        titles = {command.title for command in app.get_system_commands(app.screen)}
    tooltips = {binding.tooltip for binding in app.BINDINGS
                if binding.action in ("force_token", "ablate_head")}
    assert len(tooltips) == 2 and tooltips <= titles


async def test_ablation_on_diverged_weights_says_why_instead_of_crashing():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        # Huge output weights make some probability exactly 0, and log(0) fails.
        app.store.weights = MappingProxyType({
            name: tuple(tuple(w * 1e6 for w in row) for row in matrix) if name == "lm_head"
            else matrix for name, matrix in app.store.weights.items()})
        await pilot.press("x")
        screen = app.screen
        await wait_for(pilot, lambda: "Could not measure" in body_text(screen))
        assert screen.comparison is None
        await pilot.press("escape")
        assert not isinstance(app.screen, AblationScreen)


async def test_ablation_while_training_runs_uses_the_newest_snapshot():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.store.running and len(app.store.loss_history) >= 3)
        await pilot.press("x")
        screen = app.screen
        await wait_for(pilot, lambda: screen.comparison is not None)
        # It names the step of the weights it measured: one the run had reached.
        shown = re.search(r"Weights after step (\d+) \(training goes on; this view does not "
                          r"follow it\)", " ".join(body_text(screen).split()))
        assert shown and 3 <= int(shown[1]) <= app.store.step
        steps = len(app.store.loss_history)
        await wait_for(pilot, lambda: len(app.store.loss_history) > steps)  # training went on
        await pilot.press("escape", "space")
        await wait_for(pilot, lambda: not app.store.running)
