"""`python -m microgpt_tui.bench`: how fast the app answers keys while it trains.

The app runs headless (Textual's test driver) with the default model. The same key is
pressed while idle and while training runs continuously; the time from posting the key to
its action running is measured both ways in this one process, so a noisy machine moves both.
"""

import asyncio
import statistics
import time

from engine import Config, Trainer, load_docs

from .__main__ import prepare_interpreter
from .app import MicrogptApp

PRESSES = 40


class TimedApp(MicrogptApp):
    """The app, recording when each head switch actually ran."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handled_at = []
        self.reports = 0

    def action_head(self, direction):
        self.handled_at.append(time.perf_counter())
        super().action_head(direction)

    def on_reported(self, message):
        self.reports += bool(message.snapshot.new_losses)
        super().on_reported(message)


async def key_latencies(app, pilot):
    latencies = []
    for _ in range(PRESSES):
        pressed = time.perf_counter()
        await pilot.press("right_square_bracket")
        latencies.append((app.handled_at[-1] - pressed) * 1000)
        await pilot.pause(0.05)
    return latencies


async def measure():
    app = TimedApp(Trainer(Config(), load_docs()))
    prepare_interpreter()  # as microgpt-tui runs the app
    async with app.run_test(size=(120, 34)) as pilot:
        idle = await key_latencies(app, pilot)
        await pilot.press("space")
        losses = app.store.loss_history
        while len(losses) < 3:
            await pilot.pause(0.05)
        started, steps_before, reports_before = time.perf_counter(), len(losses), app.reports
        busy = await key_latencies(app, pilot)
        elapsed = time.perf_counter() - started
        steps = len(losses) - steps_before
        reports = app.reports - reports_before
        await pilot.press("space")
    return idle, busy, steps / elapsed, reports / elapsed


def summary(name, latencies):
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (f"| {name:<16} | {statistics.median(ordered):7.1f} | {p95:7.1f} | "
            f"{ordered[-1]:7.1f} |")


def main():
    idle, busy, steps_per_s, redraws_per_s = asyncio.run(measure())
    print(f"key -> action latency over {PRESSES} presses each (ms), default model")
    print("| state            |  median |     p95 |     max |")
    print("| ---------------- | ------: | ------: | ------: |")
    print(summary("idle", idle))
    print(summary("while training", busy))
    print(f"training: {steps_per_s:.1f} steps/s, pane updates: {redraws_per_s:.1f}/s "
          "(throttled to <= 10/s)")
    print(f"median ratio training/idle: {statistics.median(busy) / statistics.median(idle):.1f}x")


if __name__ == "__main__":
    main()
