"""--val-fraction in the app, the inspect view's bigram column and the sampling pane's
novelty line, driven through Pilot and checked against independent computations."""

import math
from collections import Counter
from itertools import pairwise

from engine import GRAPH_OPS, Trainer, forward_document
from engine.inspection import inspect_name
from microgpt_tui.app import MicrogptApp
from microgpt_tui.widgets.loss import LossPlot, validation_gap
from microgpt_tui.widgets.sampling import SamplingView
from tests.engine.test_novelty import brute_distance
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, wait_for
from tests.tui.test_inspect import open_inspect, shown, type_name

SIZE = (120, 34)
FRACTION = 0.3  # 3 of the 10 tiny names held out


def validation_app():
    trainer = Trainer(TINY, TINY_DOCS, val_fraction=FRACTION)
    return MicrogptApp(trainer, dataset_name="tiny.txt", probe_every=2)


def graph_validation_loss(steps):
    """The validation loss after `steps` steps of a run of its own, on the autograd graph."""
    trainer = Trainer(TINY, TINY_DOCS, val_fraction=FRACTION)
    for _ in range(steps):
        trainer.step()
    losses = [forward_document(trainer.tokenizer.document(doc), trainer.params, TINY,
                               GRAPH_OPS).loss.data for doc in trainer.validation_docs]
    return sum(losses) / len(losses)


async def test_validation_points_reach_the_loss_pane_with_the_gap_in_words():
    app = validation_app()
    async with app.run_test(size=SIZE) as pilot:
        store = app.store
        assert store.held_out == 3 and store.n_docs == 7 and store.n_shuffled == 10
        await step_and_wait(pilot, app, 4)
        await wait_for(pilot, lambda: len(store.validation) == 3)
        assert [step for step, _ in store.validation] == [0, 2, 4]
        for step, loss in store.validation:
            assert math.isclose(loss, graph_validation_loss(step), rel_tol=1e-12)
        plot = app.query_one(LossPlot)
        assert plot.validation == store.validation
        _, loss = store.validation[-1]
        mean = math.fsum(store.loss_history[:4]) / 4
        gap = loss - mean
        words = f"{abs(gap):.2f} {'above' if gap > 0 else 'below'}"
        text = plain_text(plot)
        assert f"◆ validation {loss:.2f}, {words} training's mean" in text  # 56 columns
        assert validation_gap(store.validation, store.loss_history)[0] == (
            f"validation {loss:.2f} at step 4, {words} the running mean of training "
            f"({mean:.2f})")
        assert text.count("◆") == 4  # the sentence's and one per point
        # An undo drops the point of the step it undoes.
        await pilot.press("u")
        await wait_for(pilot, lambda: len(store.validation) == 2)
        assert plot.validation == store.validation


async def test_a_run_without_a_validation_set_shows_none():
    app = MicrogptApp(Trainer(TINY, TINY_DOCS), probe_every=2)
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, 2)
        assert app.store.validation == () and "validation" not in plain_text(
            app.query_one(LossPlot))


def hand_bigram_bits(docs, name, vocab_size):
    """-log2 P(next | this) with add-one smoothing, counted here pair by pair."""
    pairs = Counter()
    for doc in docs:
        wrapped = ["·", *doc, "·"]
        pairs.update(pairwise(wrapped))
    contexts = Counter()
    for (first, _), n in pairs.items():
        contexts[first] += n
    wrapped = ["·", *name, "·"]
    return [-math.log2((pairs[pair] + 1) / (contexts[pair[0]] + vocab_size))
            for pair in pairwise(wrapped)]


async def test_inspect_sets_the_models_bits_beside_the_bigrams():
    app = MicrogptApp(Trainer(TINY, TINY_DOCS))
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, 3)
        screen = await open_inspect(pilot)
        await type_name(pilot, "cab")
        expected = hand_bigram_bits(TINY_DOCS, "cab", app.store.tokenizer.vocab_size)
        lines = [line.split() for line in shown(screen, "#inspect-bigram").splitlines()]
        rows = [line for line in lines if line and line[0].isdigit()]
        model_bits = [float(row[4]) for row in rows]
        assert [float(row[5]) for row in rows] == [round(bits, 2) for bits in expected]
        assert [row[1:4] for row in rows] == [["·", "→", "c"], ["c", "→", "a"],
                                              ["a", "→", "b"], ["b", "→", "·"]]
        total = next(line for line in lines if line and line[0] == "sum")
        assert float(total[1]) == round(screen_total_bits(screen), 2)
        assert float(total[2]) == round(math.fsum(expected), 2)
        assert all(math.isclose(float(row[6]), a - b, abs_tol=0.011)
                   for row, a, b in zip(rows, model_bits, expected))


def screen_total_bits(screen):
    store = screen.store
    return inspect_name("cab", store.weights, store.tokenizer, store.config).total_bits


async def test_a_finished_sample_says_if_it_is_new_and_its_nearest_training_name():
    app = MicrogptApp(Trainer(TINY, TINY_DOCS))
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(SamplingView)
        tokenizer = app.store.tokenizer
        for token in [*tokenizer.encode("dad"), tokenizer.bos]:
            app.store.sample(force=token)
        await wait_for(pilot, lambda: app.store.novelty is not None)
        assert "a copy of a training name" in plain_text(view)
        for token in [*tokenizer.encode("dadg"), tokenizer.bos]:
            app.store.sample(force=token)
        assert app.store.novelty is None  # being looked up: the pane says so meanwhile
        await wait_for(pilot, lambda: app.store.novelty is not None)
        nearest = app.store.novelty
        assert nearest.sample == "dadg" and nearest.distance == 1
        assert brute_distance("dadg", nearest.name) == 1 and nearest.name in TINY_DOCS
        assert (f"new name; nearest training name: {nearest.name!r} (1 edit)"
                in plain_text(view))
        await pilot.press("enter")  # a drawn sample, looked up the same way
        await wait_for(pilot, lambda: app.store.novelty is not None)
        sample = app.store.sampling.sampler.text
        best = min(brute_distance(sample, name) for name in TINY_DOCS)
        assert app.store.novelty.distance == best
        view.novelty = None
        assert "looking it up among the training names…" in plain_text(view)
