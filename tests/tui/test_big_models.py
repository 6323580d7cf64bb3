"""Big vocabularies and big models stay responsive: heavy work runs off the UI thread, in
slices or cancellable workers, or is refused or sampled above a stated size."""

import threading
import time

import pytest
from textual import events
from textual.widgets import DataTable

from engine import Config, Trainer, load_docs
from engine.sampler import Sampler
from microgpt_tui.app import MicrogptApp
from microgpt_tui.screens import embedding, graph
from microgpt_tui.screens.embedding import MAP_LIMIT, EmbeddingScreen
from microgpt_tui.screens.graph import NODE_BUDGET, GraphScreen
from microgpt_tui.training import Command, TrainingLoop
from microgpt_tui.widgets.panes import PREVIEW_ON_UI_THREAD, Panes
from microgpt_tui.widgets.sampling import SamplingView
from microgpt_tui.widgets.scatter import Scatter
from tests.tui.conftest import plain_text, step_and_wait

WIDE = (120, 34)

# Big enough that the probe (50 names' float forward and 5 samples, ~1.6 s) is far slower
# than a training step (~0.3 s), small enough for a quick test.
SLOW = Config(n_layer=2, n_embd=64, num_steps=1000)


def test_a_step_asked_for_at_start_does_not_wait_for_the_first_probe():
    posted = []
    loop = TrainingLoop(Trainer(SLOW, load_docs()),
                        lambda message: posted.append((time.monotonic(), message.snapshot)))
    loop.send(Command.STEP)
    loop.send(Command.STOP)
    started = time.monotonic()
    loop.run(lambda: False)
    stepped = next(when for when, snapshot in posted if snapshot.step == 1)
    # The step itself takes ~0.3 s; the whole first probe would have taken ~1.6 s first.
    assert stepped - started < 1.0, stepped - started
    # The probe was left unfinished when the loop stopped: quitting does not wait for it.
    assert not any(snapshot.probe for _, snapshot in posted)


async def test_a_big_models_graph_is_refused_before_it_is_built_with_the_numbers(monkeypatch):
    times = recording_analyse(monkeypatch)
    app = MicrogptApp(Trainer(Config(n_layer=2, n_embd=64, block_size=8), ["abcdefg"]))
    async with app.run_test(size=WIDE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("G")
        summary = str(app.screen.query_one("#graph-summary").render())
        assert "Not built: the graph of 'abcdefg' would have about" in summary
        assert f"this view builds at most {NODE_BUDGET:,}" in summary
        assert app.screen.query_one(DataTable).row_count == 0
        await pilot.pause()
        assert not times  # nothing was started


def recording_analyse(monkeypatch):
    """Patch the graph view's build to note when it starts and ends (it runs in a thread)."""
    times, real_analyse = {}, graph.analyse

    def analyse(*args, **kwargs):
        times["start"] = time.monotonic()
        try:
            return real_analyse(*args, **kwargs)
        finally:
            times["end"] = time.monotonic()

    monkeypatch.setattr("microgpt_tui.screens.graph.analyse", analyse)
    return times


def wait_for_thread(times, timeout=5.0):
    deadline = time.monotonic() + timeout
    while "end" not in times:
        assert time.monotonic() < deadline, "the build did not stop"
        time.sleep(0.01)  # the build's thread is outside the event loop: poll it


# One 16-letter name on a 1-layer, n_embd 32 model: ~420,000 nodes, under the budget, and a
# few seconds to build.
LONG_NAME = Config(n_layer=1, n_embd=32, block_size=16)
LONG_DOCS = ["abcdefghijklmnopq"]


def send_key(app, key):
    """Press `key` as the terminal would. Pilot.press also waits for the process to go idle,
    which it does not while a build runs in a thread: pressing and timing apart."""
    event = events.Key(key, None)
    event.set_sender(app)
    app._driver.send_message(event)


async def until(pilot, condition, timeout=5.0):
    """Let the app run until `condition()` holds, without waiting for idle; the seconds."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "condition not met in time"
        await pilot.pause(0.01)
    return time.monotonic() - start


@pytest.mark.parametrize("key", ["escape", "ctrl+c"])
async def test_closing_the_graph_view_or_quitting_stops_its_build_at_once(monkeypatch, key):
    times = recording_analyse(monkeypatch)
    app = MicrogptApp(Trainer(LONG_NAME, LONG_DOCS))
    async with app.run_test(size=WIDE) as pilot:
        await step_and_wait(pilot, app)
        send_key(app, "G")
        await until(pilot, lambda: isinstance(app.screen, GraphScreen) and "start" in times)
        summary = str(app.screen.query_one("#graph-summary").render())
        assert "Building the graph of 'abcdefghijklmnopq': about 441," in summary
        assert "end" not in times  # the build takes seconds; it is under way
        pressed = time.monotonic()
        send_key(app, key)
        if key == "escape":
            handled = await until(pilot, lambda: not isinstance(app.screen, GraphScreen))
        else:
            handled = await until(pilot, lambda: app.return_code == 0)
    wait_for_thread(times)
    assert handled < 0.5, handled
    assert times["end"] - pressed < 1.0, times["end"] - pressed


def many_characters(count):
    """Names over `count` distinct characters (CJK ideographs), each used at least once;
    the first ones most often."""
    chars = [chr(0x4E00 + i) for i in range(count)]
    return ["".join(chars[i:i + 8]) for i in range(0, count, 8)] + ["".join(chars[:8])] * 3


async def test_a_big_vocabularys_map_plots_the_most_frequent_tokens_and_says_so(monkeypatch):
    # The projection waits until the notice has been read: on a fast machine it could
    # otherwise be done before the test looks.
    notice_read = threading.Event()
    project = embedding.project

    def project_when_read(*args):
        notice_read.wait(10)
        return project(*args)

    monkeypatch.setattr(embedding, "project", project_when_read)
    app = MicrogptApp(Trainer(Config(num_steps=1000), many_characters(3000)))
    async with app.run_test(size=WIDE) as pilot:
        send_key(app, "m")
        await until(pilot, lambda: isinstance(app.screen, EmbeddingScreen))
        caption = app.screen.query_one("#embedding-caption")
        # At once, before the worker is done: what is being computed.
        assert "Projecting 3,001 token embeddings by PCA…" in str(caption.render())
        notice_read.set()
        scatter = app.screen.query_one(Scatter)
        await until(pilot, lambda: scatter.points)
        assert len(scatter.points) == MAP_LIMIT
        labels = {label for _, _, label, _ in scatter.points}
        assert {*many_characters(3000)[-1], "·"} <= labels  # the most frequent, and BOS
        assert (f"the {MAP_LIMIT} most frequent of 3,001 tokens"
                in app.screen.query_one("#embedding").border_title)
        assert (f"Only the {MAP_LIMIT} most frequent tokens are projected and plotted"
                in str(caption.render()))
        # A key is handled while the view is open: s takes a step under it.
        send_key(app, "s")
        await until(pilot, lambda: app.store.step == 1)


async def test_a_big_models_first_letter_preview_is_computed_off_the_ui_thread():
    app = MicrogptApp(Trainer(Config(n_layer=2, n_embd=72), load_docs()))
    assert app.store.num_params > PREVIEW_ON_UI_THREAD
    async with app.run_test(size=WIDE) as pilot:
        view = app.query_one(SamplingView)
        await until(pilot, lambda: view.first_logits is not None)
        weights = app.store.weights
        expected = Sampler(weights, app.store.tokenizer, app.store.config).next_logits()
        assert list(view.first_logits) == list(expected)
        assert "P(first letter | ·)" in plain_text(view)
        assert app.query_one(Panes).previewing_in_worker.worker is not None
