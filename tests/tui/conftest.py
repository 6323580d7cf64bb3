import io
import time
from types import SimpleNamespace

from rich.console import Console

import engine.probe
from engine import Config, Trainer, load_docs
from engine.model import forward_document
from engine.probe import Cancelled
from microgpt_tui.app import MicrogptApp

# Eight letters plus BOS: every next-token probability fits in the top-10 bars.
TINY_DOCS = ["abba", "cade", "fadge", "hegde", "baggage", "dad", "egg", "cafe", "hedge", "badge"]
# Enough steps that a tiny run, ~1 ms a step, is still training when a test looks at it.
TINY = Config(n_layer=2, n_embd=8, n_head=2, block_size=8, num_steps=100_000, seed=1)


def tiny_app(config=TINY, docs=TINY_DOCS, **options):
    return MicrogptApp(Trainer(config, docs), dataset_name="tiny.txt", **options)


def default_app(**options):
    return MicrogptApp(Trainer(Config(), load_docs()), **options)


async def wait_for(pilot, condition, timeout=20.0):
    """Let the app run until `condition()` holds (the worker trains in its own thread)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
    await pilot.pause()


async def step_and_wait(pilot, app, times=1):
    for _ in range(times):
        before = len(app.store.loss_history)
        await pilot.press("s")
        await wait_for(pilot, lambda before=before: len(app.store.loss_history) == before + 1)


def plain_text(widget):
    """What a render()-based widget shows, as plain text at its current width."""
    console = Console(width=max(20, widget.size.width), file=io.StringIO(), record=True)
    console.print(widget.render())
    return console.export_text()


def measure_slowly(monkeypatch, screen_module, name):
    """Every float forward pass of engine.probe, each `record.delay` seconds slower (a sleep,
    which lets the UI thread run), and how each call of `screen_module.name` (a cancellable
    measurement the screen runs) ended: "finished" or "cancelled"."""
    record = SimpleNamespace(passes=[], endings=[], delay=0.005)
    measure = getattr(screen_module, name)

    def slow_forward(*args):
        record.passes.append(args)
        time.sleep(record.delay)
        return forward_document(*args)

    def measure_and_record(*args, **kwargs):
        try:
            result = measure(*args, **kwargs)
        except Cancelled:
            record.endings.append("cancelled")
            raise
        record.endings.append("finished")
        return result

    monkeypatch.setattr(engine.probe, "forward_document", slow_forward)
    monkeypatch.setattr(screen_module, name, measure_and_record)
    return record
