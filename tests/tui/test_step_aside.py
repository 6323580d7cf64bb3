"""While training runs, the loop steps aside for a busy UI thread (training.py): it waits
while the UI thread's CPU clock moves, stops as soon as the UI thread is idle, never waits
longer than MAX_STEP_ASIDE, and falls back to a fixed pause without per-thread clocks.
Clocks and sleeps are faked: these tests count polls, they do not time anything."""

import threading
import time
from types import SimpleNamespace

import pytest

from engine import Trainer
from microgpt_tui import training
from microgpt_tui.training import TrainingLoop, thread_cpu_clock
from tests.tui.conftest import TINY, TINY_DOCS


@pytest.fixture
def fake_time(monkeypatch):
    """The training module's clock, advanced only by its sleeps."""
    clock = SimpleNamespace(now=0.0, sleeps=[])

    def sleep(seconds):
        clock.sleeps.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(training, "time",
                        SimpleNamespace(sleep=sleep, monotonic=lambda: clock.now))
    return clock


def loop_watching(ui_cpu):
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), lambda message: None)
    loop._ui_cpu = ui_cpu
    return loop


def test_it_waits_while_the_ui_thread_works_and_not_a_poll_longer(fake_time):
    busy_polls = 3
    readings = iter([0.0, *(i * TrainingLoop.UI_POLL for i in range(1, busy_polls + 1)),
                     busy_polls * TrainingLoop.UI_POLL])
    loop_watching(lambda: next(readings))._step_aside()
    assert fake_time.sleeps == [TrainingLoop.UI_POLL] * (busy_polls + 1)


def test_an_idle_ui_thread_costs_one_poll(fake_time):
    loop_watching(lambda: 1.0)._step_aside()
    assert fake_time.sleeps == [TrainingLoop.UI_POLL]


def test_a_ui_thread_busy_for_good_does_not_stop_training(fake_time):
    loop = loop_watching(lambda: fake_time.now)  # it uses all the CPU it can
    loop._step_aside()
    assert sum(fake_time.sleeps) == pytest.approx(TrainingLoop.MAX_STEP_ASIDE)


def test_without_per_thread_clocks_it_pauses_for_the_redraw(fake_time):
    loop_watching(None)._step_aside()
    assert fake_time.sleeps == [TrainingLoop.REDRAW_PAUSE]


@pytest.mark.skipif(not hasattr(time, "pthread_getcpuclockid"),
                    reason="no per-thread CPU clocks on this platform")
def test_the_clock_of_the_thread_that_made_the_loop_is_watched():
    clock = thread_cpu_clock(threading.get_ident())
    before = clock()
    deadline = time.perf_counter() + 0.02
    while time.perf_counter() < deadline:
        pass
    assert clock() - before > 0.005
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), lambda message: None)
    read_elsewhere = []
    before = clock()
    thread = threading.Thread(target=lambda: read_elsewhere.append(loop._ui_cpu()))
    thread.start()
    thread.join()
    # Read by the training thread, it is still this thread's clock (which has run 20+ ms).
    assert before <= read_elsewhere[0] <= clock()
