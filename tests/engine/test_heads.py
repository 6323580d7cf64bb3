import math
from fractions import Fraction

import pytest

import engine.probe
from engine import Config, Trainer, forward_document
from engine.ablation import compare_ablation, probe_set
from engine.heads import LEANS, MOSTLY, HeadProfile, HeadsReport, profile_heads
from engine.probe import Cancelled
from tests.engine.conftest import TINY, TINY_DOCS

TWO_LAYERS = Config(n_layer=2, n_embd=8, n_head=2, block_size=8, num_steps=50, seed=5)


@pytest.fixture(scope="module")
def trained():
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(30):
        trainer.step()
    return trainer


def profile(trainer, probe=None, **options):
    return profile_heads(trainer.weights(), trainer.tokenizer, trainer.config,
                         probe or probe_set(trainer.docs), **options)


def test_every_head_of_every_layer_has_shares_that_sum_to_one():
    trainer = Trainer(TWO_LAYERS, TINY_DOCS)
    report = profile(trainer)
    assert [(head.layer, head.head) for head in report.heads] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for head in (*report.heads, HeadProfile(None, None, report.even_mass, 0.0, None)):
        assert math.fsum(head.mass) == pytest.approx(1.0, abs=1e-12)
        assert all(0 <= mass <= 1 for mass in head.mass)
    # Every name contributes one row per position after the first.
    assert report.rows == sum(min(TWO_LAYERS.block_size, len(doc) + 1) - 1
                              for doc in probe_set(trainer.docs))


def by_key_position(attention, layer, head):
    """The shares and the mean entropy of one head, from rows [query][key] of a step's
    attention, each key sorted by its own position rather than by offset."""
    places = {"self": 0.0, "previous": 0.0, "bos": 0.0, "further": 0.0}
    entropy, rows = 0.0, attention[layer][head][1:]
    for query, row in enumerate(rows, 1):
        for key, weight in enumerate(row):
            place = ("self" if key == query else "previous" if key == query - 1
                     else "bos" if key == 0 else "further")
            places[place] += weight
            entropy += -weight * math.log(weight) / math.log(2)
    return [places[p] / len(rows) for p in ("self", "previous", "bos", "further")], \
        entropy / len(rows)


def test_the_shares_match_a_training_steps_own_attention():
    """The step's attention comes from the autograd graph (the weights before its update);
    the profile's from the float forward: the same numbers by another road."""
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(10):
        trainer.step()
    # Up to a name long enough to have rows with BOS and "further back" keys.
    while len(trainer.docs[trainer.step_count % len(trainer.docs)]) < 5:
        trainer.step()
    weights = trainer.weights()
    result = trainer.step()
    report = profile_heads(weights, trainer.tokenizer, TINY, [result.doc])
    for head in report.heads:
        mass, entropy = by_key_position(result.attention, head.layer, head.head)
        assert head.mass == pytest.approx(mass, abs=1e-12)
        assert head.entropy == pytest.approx(entropy, abs=1e-12)
    assert report.loss == pytest.approx(result.loss, abs=1e-12)


# Names whose positions 1.. are (1, 2, 3), (1, 2, 3) and (1, 2) with block_size 4.
FORCED_DOCS = ["abc", "abcd", "ab"]
FORCED = Config(n_layer=1, n_embd=8, n_head=2, block_size=4, num_steps=10, seed=1)


def forced_weights(trainer):
    """Head 1 attends to the previous position, head 2 evenly to every key.

    With no letter embedding and position p embedded as 10·e_p, rmsnorm makes x = √8·e_p.
    Head 1's keys copy x, its queries are x shifted by one (20·√8·e_(p-1)): the logit of key
    p-1 is 20·8/√4 = 80, every other key's 0. Head 2's queries are 0: every logit is 0."""
    d, weights = FORCED.n_embd, dict(trainer.weights())

    def rows(value_of):
        return tuple(tuple(float(value_of(i, j)) for j in range(d)) for i in range(d))

    weights["wte"] = tuple((0.0,) * d for _ in weights["wte"])
    weights["wpe"] = tuple(tuple(10.0 * (j == p) for j in range(d))
                           for p in range(FORCED.block_size))
    weights["layer0.attn_wk"] = rows(lambda i, j: i < 4 and i == j)
    weights["layer0.attn_wq"] = rows(lambda i, j: 20 * (i < 4 and j == i + 1))
    return weights


def test_a_head_forced_onto_the_previous_letter_and_an_even_one():
    trainer = Trainer(FORCED, FORCED_DOCS)
    report = profile_heads(forced_weights(trainer), trainer.tokenizer, FORCED, FORCED_DOCS)
    previous, even = report.heads
    assert previous.mass == pytest.approx((0, 1, 0, 0), abs=1e-9)
    assert previous.entropy == pytest.approx(0, abs=1e-6)
    assert report.label(previous) == "mostly the previous letter"

    # Spread evenly: key k of query q gets 1/(q+1). Rows q = 1, 2, 3, 1, 2, 3, 1, 2.
    queries = [1, 2, 3, 1, 2, 3, 1, 2]
    share = {
        "self": sum(Fraction(1, q + 1) for q in queries),
        "previous": sum(Fraction(1, q + 1) for q in queries),
        "bos": sum(Fraction(1, q + 1) for q in queries if q >= 2),
        "further": sum(Fraction(q - 2, q + 1) for q in queries if q >= 3),
    }
    expected = [float(share[place] / len(queries)) for place in share]
    assert report.rows == len(queries)
    assert report.even_mass == pytest.approx(expected, abs=1e-12)
    assert even.mass == pytest.approx(expected, abs=1e-12)
    expected_entropy = sum(math.log2(q + 1) for q in queries) / len(queries)
    assert report.even_entropy == pytest.approx(expected_entropy, abs=1e-12)
    assert even.entropy == pytest.approx(expected_entropy, abs=1e-9)
    assert report.label(even) == "spread out"


def test_each_heads_loss_change_is_the_ablation_comparisons(trained):
    probe = probe_set(trained.docs)
    report = profile(trained, probe)
    for head in report.heads:
        comparison = compare_ablation(trained.weights(), trained.tokenizer, TINY, probe,
                                      {(head.layer, head.head)})
        assert report.loss == comparison.loss
        assert report.change(head) == comparison.ablated_loss - comparison.loss
    assert report.uniform_loss == math.log(trained.tokenizer.vocab_size)
    assert report.learned == report.uniform_loss - report.loss


def test_progress_counts_every_pass_over_every_name(trained):
    heard = []
    report = profile(trained, progress=lambda done, total: heard.append((done, total)))
    total = len(TINY_DOCS) * (1 + TINY.n_layer * TINY.n_head)
    assert heard == [(done, total) for done in range(1, total + 1)]
    assert report.probe_size == len(TINY_DOCS)


def test_a_cancelled_profile_stops_between_two_names(trained, monkeypatch):
    passes = []

    def counted_forward(*args):
        passes.append(args)
        return forward_document(*args)

    monkeypatch.setattr(engine.probe, "forward_document", counted_forward)
    with pytest.raises(Cancelled):
        profile(trained, cancelled=lambda: len(passes) >= 11)  # into the first head's pass
    assert len(passes) == 11


def test_block_size_one_has_nothing_to_measure():
    config = Config(n_layer=1, n_embd=4, n_head=2, block_size=1, num_steps=5, seed=1)
    trainer = Trainer(config, TINY_DOCS)
    with pytest.raises(ValueError, match="block_size 1"):
        profile(trainer)


EVEN = (0.3, 0.3, 0.2, 0.2)


@pytest.mark.parametrize("mass, even_mass, label", [
    ((MOSTLY, 0.2, 0.2, 0.1), EVEN, "mostly itself"),
    ((0.1, 0.1, MOSTLY, 0.3), EVEN, "mostly BOS"),
    (EVEN, EVEN, "spread out"),
    ((0.2, 0.2, 0.1, 0.2 * LEANS + 0.01), EVEN, "leans to further back"),
    ((0.2, 0.3 * LEANS + 0.01, 0.1, 0.2 * LEANS - 0.01), EVEN, "leans to the previous letter"),
    # block_size 2: even attention never reaches BOS-further-back or further back.
    ((0.49, 0.49, 0.0, 0.02), (0.5, 0.5, 0.0, 0.0), "spread out"),
])
def test_labels_follow_the_stated_thresholds(mass, even_mass, label):
    report = HeadsReport(1, 1, 2.0, 3.0, (HeadProfile(0, 0, mass, 1.0, 2.5),), even_mass, 2.0)
    assert report.label(report.heads[0]) == label
