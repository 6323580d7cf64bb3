import io
import time

from rich.console import Console

from engine import Config, Trainer, load_docs
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
