"""The sampling pane's controls: temperature and top-k redraw at once, on an absolute scale,
and the first letter's distribution is there before the first n."""

import re

from engine import Sampler, Trainer
from engine.sampler import next_token_probs
from microgpt_tui.__main__ import build_parser
from microgpt_tui.app import MicrogptApp
from microgpt_tui.widgets.sampling import SamplingView
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, tiny_app, wait_for

SIZE = (120, 34)


def bars(app):
    """{letter: (shown %, shown T=1 %)} for each bar of the sampling pane ('—' if cut)."""
    rows = {}
    for line in plain_text(app.query_one(SamplingView)).splitlines():
        match = re.match(r"(\S) .*?(\d+\.\d%|—) +T=1 +(\d+\.\d)%", line)
        if match:
            rows[match[1]] = (match[2], float(match[3]))
    return rows


def expected_bars(logits, tokenizer, temperature, top_k=None):
    tempered = next_token_probs(logits, temperature, top_k)
    plain = next_token_probs(logits, 1.0)
    return {tokenizer.label(token): ("—" if top_k and p == 0 else f"{p * 100:.1f}%",
                                     round(plain[token] * 100, 1))
            for token, p in enumerate(tempered)}


async def test_before_any_n_the_pane_shows_the_first_letters_distribution():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        store = app.store
        first = Sampler(store.weights, store.tokenizer, store.config).next_logits()
        assert bars(app) == expected_bars(first, store.tokenizer, 0.5)
        assert "P(first letter | ·) (T 0.5)" in plain_text(app.query_one(SamplingView))
        await step_and_wait(pilot, app)  # new weights, a new guess
        after = Sampler(store.weights, store.tokenizer, store.config).next_logits()
        assert after != first
        await wait_for(pilot, lambda: bars(app) == expected_bars(after, store.tokenizer, 0.5))


async def test_temperature_redraws_the_shown_distribution_at_once():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        await pilot.press("n")
        event = app.store.sampling.events[-1]
        tokenizer = app.store.tokenizer
        assert bars(app) == expected_bars(event.logits, tokenizer, 0.5)
        await pilot.press("plus", "plus", "plus")
        assert bars(app) == expected_bars(event.logits, tokenizer, 0.8)
        text = plain_text(app.query_one(SamplingView))
        assert "(T 0.8), drawn at T 0.5:" in text.replace("\n", " ")
        # The bars are on one 0-100% scale: a letter's bar is as long as its probability.
        view = app.query_one(SamplingView)
        width = max(4, view.size.width - 28)
        for line in text.splitlines():
            if match := re.match(r"\S ([█▉▊▋▌▍▎▏ ]+) +(\d+\.\d)%", line):
                cells = len(match[1].rstrip())
                assert abs(cells - float(match[2]) / 100 * width) <= 1, line


async def test_top_k_cuts_letters_visibly_and_sampling_obeys_it():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        await pilot.press("k", "k", "k")  # all -> 1 -> 2 -> 3
        store = app.store
        assert store.sampling.top_k == 3
        assert "top-k 3" in app.query_one("#sampling").border_title
        first = store.sampling.first_letter_logits(store.weights)
        shown = bars(app)
        assert shown == expected_bars(first, store.tokenizer, 0.5, top_k=3)
        assert sum(percent != "—" for percent, _ in shown.values()) == 3
        assert sum(percent == "—" for percent, _ in shown.values()) == len(shown) - 3
        for _ in range(5):
            await pilot.press("n")
            event = store.sampling.events[-1]
            assert event.top_k == 3 and sum(p > 0 for p in event.probs) == 3
            assert event.probs[event.token] > 0
            if event.done:
                break


async def test_top_k_and_temperature_come_from_the_command_line():
    args = build_parser().parse_args(["--top-k", "2", "--temperature", "1.3"])
    app = MicrogptApp(Trainer(TINY, TINY_DOCS), temperature=args.temperature, top_k=args.top_k)
    async with app.run_test(size=SIZE):
        assert (app.store.sampling.temperature, app.store.sampling.top_k) == (1.3, 2)
        assert "temperature 1.3 · top-k 2" in app.query_one("#sampling").border_title
