import math

import pytest

from engine import Tokenizer, load_docs
from engine.baseline import BigramCounts, bigram_loss, count_truncated, sentinels


def loss_of(docs, block_size=8):
    return bigram_loss(docs, Tokenizer.from_docs(docs), block_size)


def test_bigram_loss_by_hand():
    # Vocabulary a, b and BOS (·): V = 3. The model sees ·ab· and ·b·, whose pairs are
    # ·a ab b· and ·b b·. Counts: after ·: a 1, b 1 (2); after a: b 1 (1); after b: · 2 (2).
    # Add-one: P(a|·) = (1+1)/(2+3) = 2/5, P(b|·) = 2/5, P(b|a) = (1+1)/(1+3) = 1/2,
    # P(·|b) = (2+1)/(2+3) = 3/5. Each document's mean loss, then the mean over documents:
    ab = (math.log(5 / 2) + math.log(2) + math.log(5 / 3)) / 3
    b = (math.log(5 / 2) + math.log(5 / 3)) / 2
    assert math.isclose(loss_of(["ab", "b"]), (ab + b) / 2, rel_tol=1e-12)


def test_pairs_beyond_block_size_are_neither_counted_nor_scored():
    # block_size 2: of ·abc· the model trains on ·a and ab only. V = 4 (a, b, c, ·), and
    # each context was seen once: P(a|·) = P(b|a) = (1+1)/(1+4) = 2/5.
    assert math.isclose(loss_of(["abc"], block_size=2), math.log(5 / 2), rel_tol=1e-12)


def test_letters_that_look_like_the_internal_markers_are_ordinary_tokens():
    # ·xy·, each context seen once with V = 3: every pair has P = (1+1)/(1+3) = 1/2.
    assert math.isclose(loss_of(["\ue000\ue001"]), math.log(2), rel_tol=1e-12)


def test_counting_in_batches_gives_the_same_loss():
    docs = load_docs()
    tokenizer = Tokenizer.from_docs(docs)
    counts = BigramCounts(tokenizer, 16)
    for start in range(0, len(docs), 5000):
        counts.add(docs[start:start + 5000])
    assert math.isclose(counts.loss(), bigram_loss(docs, tokenizer, 16), rel_tol=1e-12)


def test_on_names_the_bigram_beats_a_uniform_guess():
    docs = load_docs()
    assert 2.0 < loss_of(docs, block_size=16) < math.log(27)


def test_count_truncated_counts_documents_whose_end_the_model_never_sees():
    # block_size 2: ·a· fits (2 positions); ·ab· needs 3 positions, ·abc· 4.
    assert count_truncated(["abc", "ab", "a"], block_size=2) == 2


def test_a_dataset_of_every_private_use_character_still_has_a_baseline():
    # The markers used to be taken from the 6,400 private-use characters only: a dataset of
    # all of them left none, and the app died at startup counting the bigram line.
    every = [chr(code) for code in range(0xE000, 0xF900)]
    docs = ["".join(every[i:i + 8]) for i in range(0, len(every), 8)]
    loss = loss_of(docs)
    assert math.isfinite(loss) and loss > 0


def test_markers_are_never_characters_of_the_vocabulary():
    used = {chr(code) for code in range(0xD800, 0xF900)}
    assert not set(sentinels(used)) & used


def test_position_losses_by_hand():
    docs = ["ab", "ba", "aa"]
    tokenizer = Tokenizer.from_docs(docs)  # a, b and BOS: V = 3
    counts = BigramCounts(tokenizer, block_size=8)
    counts.add(docs)
    model = counts.model()
    # Pairs: ·a ab b· | ·b ba a· | ·a aa a·  -> from a: ab, a·, aa, a· (4); from ·: a, b, a (3)
    expected = (-math.log((2 + 1) / (3 + 3)), -math.log((1 + 1) / (4 + 3)),
                -math.log((1 + 1) / (2 + 3)))  # ·→a, a→b, b→· (from b: b·, ba)
    assert model.position_losses("ab") == pytest.approx(expected)


def test_each_documents_mean_position_loss_averages_to_the_bigram_loss(names):
    counts = BigramCounts(Tokenizer.from_docs(names), block_size=16)
    counts.add(names)
    model = counts.model()
    means = [math.fsum(losses) / len(losses)
             for losses in map(model.position_losses, names)]
    assert math.fsum(means) / len(means) == pytest.approx(counts.loss(), rel=1e-12)


def test_position_losses_stop_at_block_size():
    docs = ["abcdef"]
    counts = BigramCounts(Tokenizer.from_docs(docs), block_size=3)
    counts.add(docs)
    assert len(counts.model().position_losses("abcdef")) == 3
