import math

import pytest

from engine import Sampler, TokenEvent
from engine.sampler import next_token_probs, rank, surprisal_bits
from tests.engine.conftest import TINY


@pytest.fixture
def sampler(tiny_trainer):
    for _ in range(20):
        tiny_trainer.step()
    return Sampler(tiny_trainer.weights(), tiny_trainer.tokenizer, TINY, seed=7)


def test_each_step_yields_one_token_event(sampler):
    event = sampler.step()
    assert isinstance(event, TokenEvent)
    assert event.position == 0
    assert event.input_token == sampler.tokenizer.bos
    assert len(event.probs) == sampler.tokenizer.vocab_size
    assert math.fsum(event.probs) == pytest.approx(1.0)
    assert len(event.attention) == TINY.n_layer
    assert len(event.attention[0]) == TINY.n_head
    assert event.attention[0][0] == (1.0,)
    assert len(event.kv_cache[0]) == 1


def test_the_kv_cache_grows_one_row_per_token(sampler):
    sampler.start()
    sizes = []
    for event in sampler:
        sizes.append(len(event.kv_cache[0]))
        assert all(len(row) == event.position + 1 for row in event.attention[0])
    assert sizes == list(range(1, len(sizes) + 1))
    assert sampler.done


def test_same_seed_gives_same_samples(tiny_trainer):
    weights = tiny_trainer.weights()
    a = Sampler(weights, tiny_trainer.tokenizer, TINY, seed=5)
    b = Sampler(weights, tiny_trainer.tokenizer, TINY, seed=5)
    assert [a.sample() for _ in range(5)] == [b.sample() for _ in range(5)]


def test_forcing_a_token_draws_no_random_number(sampler):
    before = sampler.rng.getstate()
    forced = sampler.tokenizer.encode("e")[0]
    event = sampler.step(force=forced)
    assert event.forced and event.token == forced
    assert event.text == "e"
    assert sampler.rng.getstate() == before


def test_forced_token_out_of_range_is_refused(sampler):
    with pytest.raises(ValueError, match="forced token"):
        sampler.step(force=99)


def test_low_temperature_sharpens_the_distribution(sampler):
    sampler.temperature = 2.0
    flat = sampler.step().probs
    sampler.start()
    sampler.temperature = 0.1
    sharp = sampler.step().probs
    assert max(sharp) > max(flat)
    with pytest.raises(ValueError):
        sampler.temperature = 0


def test_top_k_keeps_only_the_k_most_likely_tokens(sampler):
    sampler.top_k = 3
    event = sampler.step()
    kept = [p for p in event.probs if p > 0]
    assert len(kept) == 3
    assert math.fsum(kept) == pytest.approx(1.0)
    assert event.probs[event.token] > 0


def test_a_sample_stops_at_bos_or_a_full_context(sampler):
    for _ in range(10):
        text = sampler.sample()
        assert len(text) <= TINY.block_size
    with pytest.raises(RuntimeError):
        sampler.step()


def test_sampling_does_not_touch_the_trainer(tiny_trainer):
    before = tiny_trainer.export_state()
    Sampler(tiny_trainer.weights(), tiny_trainer.tokenizer, TINY, seed=1).sample()
    assert tiny_trainer.export_state() == before


def test_rank_counts_the_tokens_more_likely_than_this_one():
    probs = (0.1, 0.4, 0.1, 0.25, 0.15)
    assert [rank(probs, token) for token in range(5)] == [4, 1, 4, 2, 3]


def test_surprisal_is_minus_log2_of_the_probability():
    assert surprisal_bits(1.0) == 0
    assert surprisal_bits(0.5) == 1
    assert surprisal_bits(1 / 8) == 3
    assert surprisal_bits(0.0) == math.inf


def test_a_forced_tokens_rank_and_surprisal_come_from_its_event(sampler):
    event = sampler.step()
    least_likely = min(range(len(event.probs)), key=event.probs.__getitem__)
    sampler.start()
    forced = sampler.step(force=least_likely)
    assert forced.probs == event.probs  # same weights, same position: same distribution
    assert rank(forced.probs, least_likely) == len(forced.probs) - sum(
        p == forced.probs[least_likely] for p in forced.probs) + 1
    assert 2 ** -surprisal_bits(forced.probs[least_likely]) == pytest.approx(
        forced.probs[least_likely])
    assert surprisal_bits(forced.probs[least_likely]) > surprisal_bits(max(forced.probs))


def test_next_logits_are_the_logits_the_next_step_draws_from(sampler):
    letter = 0  # forced, so that the sample cannot end at BOS halfway through the test
    peeked = sampler.next_logits()
    assert len(sampler.kv_cache[0]) == 0  # peeking runs on a copy of the cache
    assert sampler.step(force=letter).logits == peeked
    peeked = sampler.next_logits()
    assert sampler.step(force=letter).logits == peeked and len(sampler.kv_cache[0]) == 2


def test_an_event_keeps_its_logits_and_the_settings_its_probs_came_from(tiny_trainer):
    sampler = Sampler(tiny_trainer.weights(), tiny_trainer.tokenizer, tiny_trainer.config,
                      temperature=0.7, top_k=3)
    event = sampler.step()
    assert (event.temperature, event.top_k) == (0.7, 3)
    assert list(event.probs) == next_token_probs(event.logits, 0.7, 3)
    # softmax(logits / T) by hand, then the 3 most likely kept and renormalised.
    exps = [math.exp(z / 0.7 - max(event.logits) / 0.7) for z in event.logits]
    plain = [e / sum(exps) for e in exps]
    kept = sorted(range(len(plain)), key=lambda i: -plain[i])[:3]
    for i, p in enumerate(event.probs):
        expected = plain[i] / sum(plain[j] for j in kept) if i in kept else 0.0
        assert math.isclose(p, expected, rel_tol=1e-12)
