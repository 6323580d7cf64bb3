import math

import pytest

from engine import Trainer
from engine.probe import (
    PROBE_SIZE,
    SAMPLE_COUNT,
    SAMPLE_TEMPERATURE,
    draw_samples,
    mean_loss,
    probe,
    probe_documents,
    probe_interval,
    probe_slices,
)
from tests.engine.conftest import TINY, TINY_DOCS


def test_interval_is_a_twentieth_of_the_run():
    assert probe_interval(1000) == 50
    assert probe_interval(200) == 10
    assert probe_interval(7) == 1


def test_probe_documents_are_fixed_by_the_seed():
    docs = [f"name{i}" for i in range(1000)]
    chosen = probe_documents(docs, seed=42)
    assert len(chosen) == PROBE_SIZE == len(set(chosen))
    assert probe_documents(reversed(docs[::-1]), seed=42) == chosen
    assert probe_documents(docs, seed=43) != chosen
    assert sorted(probe_documents(TINY_DOCS, seed=1)) == sorted(TINY_DOCS)


def test_mean_loss_matches_the_training_loss_of_the_same_document():
    trainer = Trainer(TINY, TINY_DOCS)
    doc = trainer.next_document()
    weights = trainer.weights()  # before the step: the weights the step's loss was taken on
    result = trainer.step()
    assert mean_loss((doc,), weights, trainer.tokenizer, TINY) == pytest.approx(result.loss)


def test_training_lowers_the_probe_loss_and_samples_repeat_for_the_same_weights():
    trainer = Trainer(TINY, TINY_DOCS)
    docs = probe_documents(trainer.docs, TINY.seed)
    before = probe(trainer.weights(), 0, docs, trainer.tokenizer, TINY)
    for _ in range(TINY.num_steps):
        trainer.step()
    after = probe(trainer.weights(), TINY.num_steps, docs, trainer.tokenizer, TINY)
    assert after.loss < before.loss - 0.3, (before.loss, after.loss)
    assert math.isfinite(before.loss) and before.loss > 0
    assert len(after.samples) == SAMPLE_COUNT
    again = probe(trainer.weights(), TINY.num_steps, docs, trainer.tokenizer, TINY)
    assert again.samples == after.samples and again.loss == after.loss


def test_a_probe_in_slices_yields_after_every_document_and_sample():
    trainer = Trainer(TINY, TINY_DOCS)
    trainer.step()
    weights, docs = trainer.weights(), probe_documents(trainer.docs, TINY.seed)
    slices = probe_slices(weights, 1, docs, trainer.tokenizer, TINY)
    yielded = 0
    while True:
        try:
            next(slices)
        except StopIteration as done:
            record = done.value
            break
        yielded += 1
    assert yielded == len(docs) + SAMPLE_COUNT
    assert record.step == 1
    assert record.loss == pytest.approx(mean_loss(docs, weights, trainer.tokenizer, TINY))
    assert record.samples == draw_samples(weights, trainer.tokenizer, TINY,
                                          temperature=SAMPLE_TEMPERATURE, seed=TINY.seed)
