"""The dataset as the app presents it: the bigram baseline, truncation, odd datasets."""

import subprocess
import sys

import pytest

from engine import Config, Tokenizer, Trainer, bigram_loss
from engine import cli as engine_cli
from microgpt_tui import __main__ as tui_main
from microgpt_tui import run as run_module
from microgpt_tui.app import MicrogptApp
from microgpt_tui.widgets.loss import LossPlot
from tests.engine.test_data import BAD_DATASETS, make_bad_dataset
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, tiny_app, wait_for

SIZE = (120, 34)


def warnings(app):
    return [n.message for n in app._notifications if n.severity == "warning"]


@pytest.mark.parametrize("size", [SIZE, (80, 24)])
async def test_the_loss_pane_shows_the_bigram_baseline(size):
    app = tiny_app()
    expected = bigram_loss(TINY_DOCS, Tokenizer.from_docs(TINY_DOCS), TINY.block_size)
    async with app.run_test(size=size) as pilot:
        plot = app.query_one(LossPlot)
        assert plot.bigram == expected
        await step_and_wait(pilot, app)
        text = plain_text(plot)
    assert f"bigram {expected:.4f}" in text
    assert "╌" in text.split("bigram")[1]  # its line is drawn in the plot, not only named


async def test_truncated_documents_are_counted_in_a_notice():
    # block_size 5 fits at most 4 letters and the end: fadge, hegde, baggage, hedge and badge
    # (5 letters or more) are cut; abba, cade, dad, egg and cafe fit.
    config = Config(n_layer=1, n_embd=8, n_head=2, block_size=5, num_steps=100)
    app = tiny_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        notices = warnings(app)
    assert notices == ["5 of 10 documents are longer than block_size 5 allows and are "
                       "truncated: the model learns their first 5 characters, never their end."]


async def test_no_truncation_notice_when_every_document_fits():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert warnings(app) == []


async def test_a_single_document_dataset_trains_and_samples():
    app = MicrogptApp(Trainer(TINY, ["hello"]), dataset_name="one.txt")
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.store.last_result.doc == "hello"
        assert app.store.sampling.events and app.store.sampling.events[-1].done
        assert app.query_one(LossPlot).bigram is not None


async def test_a_big_dataset_is_measured_in_a_worker_while_keys_work(monkeypatch):
    monkeypatch.setattr(run_module, "MEASURE_INLINE_PAIRS", 0)
    monkeypatch.setattr(run_module, "MEASURE_BATCH_DOCS", 3)
    config = Config(n_layer=1, n_embd=8, n_head=2, block_size=5, num_steps=100)
    app = tiny_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        plot = app.query_one(LossPlot)
        await wait_for(pilot, lambda: plot.bigram is not None)
        assert plot.bigram_progress == 1.0
        # Batches add the same pairs in another order: equal up to rounding.
        assert plot.bigram == pytest.approx(
            bigram_loss(TINY_DOCS, Tokenizer.from_docs(TINY_DOCS), 5), rel=1e-12)
        assert len(warnings(app)) == 1 and warnings(app)[0].startswith("5 of 10 documents")


async def test_the_counting_progress_is_shown_until_the_bigram_is_known():
    app = tiny_app()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(LossPlot)
        plot.bigram, plot.bigram_progress = None, 0.4
        await pilot.pause()
        assert "╌ bigram counting 40%" in plain_text(plot)


def test_a_big_dataset_is_announced_before_the_app_starts(tmp_path, monkeypatch, capsys):
    data = tmp_path / "words.txt"
    data.write_text("ab\nba\n")
    monkeypatch.setattr(engine_cli, "ANNOUNCE_LOAD_BYTES", data.stat().st_size - 1)
    tui_main.build_app(tui_main.build_parser().parse_args(["--data", str(data)]))
    assert capsys.readouterr().err == (
        "microgpt-tui: loading words.txt (0 MB, ctrl+c cancels): reading… building the "
        "vocabulary… shuffling 2 documents… starting the app… ready\n")
    monkeypatch.setattr(engine_cli, "ANNOUNCE_LOAD_BYTES", data.stat().st_size)
    tui_main.build_app(tui_main.build_parser().parse_args(["--data", str(data)]))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("case", sorted(BAD_DATASETS))
def test_a_bad_dataset_is_one_line_and_exit_code_2(tmp_path, case):
    content, message = BAD_DATASETS[case]
    path = make_bad_dataset(tmp_path, content)
    proc = subprocess.run([sys.executable, "-m", "microgpt_tui", "--data", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert lines[0].startswith("microgpt-tui: error: ")
