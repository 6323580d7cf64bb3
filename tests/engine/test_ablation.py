import math

import pytest

import engine.probe
from engine import FLOAT_OPS, Config, Sampler, Trainer, forward_document
from engine.ablation import compare_ablation, probe_set
from engine.model import NO_ABLATION
from engine.probe import Cancelled, draw_samples, mean_loss
from tests.engine.conftest import TINY, TINY_DOCS


@pytest.fixture
def trained():
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(30):
        trainer.step()
    return trainer


def tokens_of(trainer, doc):
    bos = trainer.tokenizer.bos
    return (bos, *trainer.tokenizer.encode(doc), bos)


def test_ablating_nothing_is_bit_identical_to_the_plain_forward(trained):
    tokens = tokens_of(trained, "clara")
    weights = trained.weights()
    plain = forward_document(tokens, weights, TINY, FLOAT_OPS)
    empty = forward_document(tokens, weights, TINY, FLOAT_OPS, frozenset())
    assert empty.loss == plain.loss
    assert empty.probs == plain.probs
    assert empty.attention == plain.attention
    graph = forward_document(tokens, trained.params, TINY, trained.ops, NO_ABLATION)
    assert graph.loss.data == plain.loss
    assert (Sampler(weights, trained.tokenizer, TINY, seed=4, ablate=()).sample()
            == Sampler(weights, trained.tokenizer, TINY, seed=4).sample())


def test_an_ablated_head_still_attends_but_its_output_is_gone(trained):
    tokens = tokens_of(trained, "frank")
    weights = trained.weights()
    plain = forward_document(tokens, weights, TINY, FLOAT_OPS)
    ablated = forward_document(tokens, weights, TINY, FLOAT_OPS, {(0, 1)})
    assert ablated.loss != plain.loss
    assert ablated.probs != plain.probs
    # In a one-layer model the head's output is added after attention, so every head's
    # weights are the same with or without it.
    assert ablated.attention == plain.attention


def test_an_ablated_head_gets_no_gradient(trained):
    """Nothing downstream sees the head, so its query, key and value rows learn nothing."""
    forward = forward_document(tokens_of(trained, "gina"), trained.params, TINY, trained.ops,
                               {(0, 1)})
    forward.loss.backward()
    lo, hi = TINY.head_dim, 2 * TINY.head_dim
    for name in ("attn_wq", "attn_wk", "attn_wv"):
        rows = trained.params[f"layer0.{name}"]
        assert all(p.grad == 0 for row in rows[lo:hi] for p in row), name
        assert any(p.grad != 0 for row in rows[:lo] for p in row), name


def test_ablation_changes_the_probe_loss_and_the_samples(trained):
    weights, tokenizer = trained.weights(), trained.tokenizer
    probe = probe_set(trained.docs)
    comparison = compare_ablation(weights, tokenizer, TINY, probe, {(0, 0)}, temperature=1.0)
    assert comparison.probe_size == len(TINY_DOCS)
    assert comparison.loss == mean_loss(probe, weights, tokenizer, TINY)
    assert comparison.ablated_loss == mean_loss(probe, weights, tokenizer, TINY, {(0, 0)})
    assert comparison.ablated_loss != comparison.loss
    assert comparison.samples == draw_samples(weights, tokenizer, TINY, temperature=1.0)
    assert comparison.ablated_samples != comparison.samples
    assert len(comparison.samples) == len(comparison.ablated_samples) == 5


def test_mean_loss_is_the_mean_of_each_documents_loss(trained):
    weights = trained.weights()
    docs = ["anna", "bob"]
    each = [forward_document(tokens_of(trained, doc), weights, TINY, FLOAT_OPS).loss
            for doc in docs]
    assert mean_loss(docs, weights, trained.tokenizer, TINY) == pytest.approx(sum(each) / 2)
    with pytest.raises(ValueError, match="no documents"):
        mean_loss([], weights, trained.tokenizer, TINY)


def test_probe_set_is_a_fixed_seeded_choice(names):
    probe = probe_set(names)
    assert len(probe) == 200 == len(set(probe))
    assert set(probe) <= set(names)
    assert probe == probe_set(names)
    assert probe != probe_set(names, seed=1)
    assert sorted(probe_set(TINY_DOCS)) == sorted(TINY_DOCS)


@pytest.mark.parametrize("pair", [(1, 0), (0, 2), (-1, 0), (0,), "0,1", (0.0, 1)])
def test_heads_the_model_does_not_have_are_refused(trained, pair):
    with pytest.raises(ValueError, match="cannot ablate"):
        forward_document(tokens_of(trained, "eve"), trained.weights(), TINY, FLOAT_OPS, {pair})
    with pytest.raises(ValueError, match="cannot ablate"):
        Sampler(trained.weights(), trained.tokenizer, TINY, ablate={pair})


def test_two_layer_ablation_reaches_the_later_layer():
    config = Config(n_layer=2, n_embd=8, n_head=2, block_size=8, num_steps=10, seed=2)
    trainer = Trainer(config, TINY_DOCS)
    tokens = tokens_of(trainer, "hal")
    weights = trainer.weights()
    plain = forward_document(tokens, weights, config, FLOAT_OPS)
    first_layer_off = forward_document(tokens, weights, config, FLOAT_OPS, {(0, 1)})
    # Layer 1 reads layer 0's output, so its attention changes; layer 0's does not.
    assert [pos[0] for pos in first_layer_off.attention] == [pos[0] for pos in plain.attention]
    assert [pos[1] for pos in first_layer_off.attention] != [pos[1] for pos in plain.attention]
    assert math.isfinite(first_layer_off.loss)


def test_comparing_against_no_ablation_gives_two_equal_columns(trained):
    comparison = compare_ablation(trained.weights(), trained.tokenizer, TINY,
                                  probe_set(trained.docs), frozenset())
    assert comparison.ablated_loss == comparison.loss
    assert comparison.ablated_samples == comparison.samples


def test_a_cancelled_comparison_stops_between_two_documents(trained, monkeypatch):
    passes = []

    def counted_forward(*args):
        passes.append(args)
        return forward_document(*args)

    monkeypatch.setattr(engine.probe, "forward_document", counted_forward)
    probe = probe_set(trained.docs)
    with pytest.raises(Cancelled):
        compare_ablation(trained.weights(), trained.tokenizer, TINY, probe, {(0, 1)},
                         cancelled=lambda: len(passes) >= 3)
    assert len(passes) == 3 < len(probe)


def test_cancelled_samples_stop_between_two_names(trained, monkeypatch):
    drawn = []
    sample = Sampler.sample

    def counted_sample(sampler):
        drawn.append(sampler)
        return sample(sampler)

    monkeypatch.setattr(Sampler, "sample", counted_sample)
    with pytest.raises(Cancelled):
        draw_samples(trained.weights(), trained.tokenizer, TINY, temperature=0.5, count=5,
                     cancelled=lambda: len(drawn) >= 2)
    assert len(drawn) == 2


def test_asking_whether_to_cancel_changes_nothing_else(trained):
    args = (trained.weights(), trained.tokenizer, TINY, probe_set(trained.docs), {(0, 1)})
    assert compare_ablation(*args, cancelled=lambda: False) == compare_ablation(*args)
