import math

from engine import GRAPH_OPS, Config, Trainer
from engine.gradcheck import (
    AGREE_BELOW,
    GradientCheck,
    check_gradients,
    pick_weights,
    with_weight,
)
from engine.graph import document_graph
from tests.engine.conftest import TINY_DOCS


def trained_tokens(trainer):
    return trainer.step().tokens


def test_backward_agrees_with_finite_differences_on_a_trained_model(tiny_trainer):
    for _ in range(5):
        tokens = trained_tokens(tiny_trainer)
    checks = check_gradients(tiny_trainer.weights(), tokens, tiny_trainer.config)
    assert len(checks) == 10
    assert len({(c.name, c.row, c.col) for c in checks}) == 10
    assert any(c.backward != 0 for c in checks)
    for check in checks:
        assert check.agrees, check


def test_backward_gradient_is_the_per_op_graphs_bit_for_bit(tiny_trainer):
    tokens = trained_tokens(tiny_trainer)
    weights = tiny_trainer.weights()
    params = document_graph(weights, tokens, tiny_trainer.config, GRAPH_OPS).params
    for check in check_gradients(weights, tokens, tiny_trainer.config, count=30):
        assert check.backward == params[check.name][check.row][check.col].grad
        assert check.weight == weights[check.name][check.row][check.col]


def test_the_same_seed_picks_the_same_weights(tiny_trainer):
    weights = tiny_trainer.weights()
    assert pick_weights(weights, 10, seed=4) == pick_weights(weights, 10, seed=4)
    assert pick_weights(weights, 10, seed=4) != pick_weights(weights, 10, seed=5)
    assert len(pick_weights(weights, 10**6, seed=0)) == tiny_trainer.num_params


def test_a_weight_the_document_never_reaches_has_zero_gradient_both_ways():
    trainer = Trainer(Config(n_embd=2, n_head=1, block_size=4, num_steps=1), TINY_DOCS)
    tokens = trained_tokens(trainer)
    unused = next(i for i in range(trainer.tokenizer.vocab_size) if i not in tokens)
    checks = check_gradients(trainer.weights(), tokens, trainer.config, count=trainer.num_params)
    check = next(c for c in checks if c.label == f"wte[{unused}][0]")
    assert check.backward == 0.0 == check.estimate
    assert check.relative_error == 0.0


def test_relative_error_is_relative_to_the_larger_gradient():
    check = GradientCheck("wte", 0, 0, 0.1, backward=0.03, estimate=0.01)
    assert check.relative_error == (0.03 - 0.01) / 0.03
    assert check.label == "wte[0][0]"


def test_with_weight_changes_one_entry_and_leaves_the_snapshot_alone():
    weights = {"wte": ((1.0, 2.0), (3.0, 4.0)), "wpe": ((5.0,),)}
    changed = with_weight(weights, "wte", 1, 0, 9.0)
    assert changed["wte"] == [(1.0, 2.0), [9.0, 4.0]]
    assert changed["wpe"] is weights["wpe"]
    assert weights["wte"] == ((1.0, 2.0), (3.0, 4.0))


def test_a_gradient_too_small_for_the_difference_agrees_within_its_rounding():
    # Step 187 of this run has a gradient of -2e-8 whose central difference is off by 1e-4
    # relative: float rounding in the two losses, not backward.
    config = Config(n_layer=2, n_embd=8, n_head=2, block_size=8, num_steps=100_000, seed=1)
    trainer = Trainer(config, ["abba", "cade", "fadge", "hegde", "baggage", "dad", "egg",
                               "cafe", "hedge", "badge"])
    for _ in range(187):
        tokens = trained_tokens(trainer)
    checks = check_gradients(trainer.weights(), tokens, config, seed=1)
    tiny = next(c for c in checks if c.label == "layer1.mlp_fc2[2][6]")
    assert abs(tiny.backward) < 1e-7 and tiny.relative_error > AGREE_BELOW
    assert tiny.agrees_within_rounding and tiny.agrees
    # The rounding bound is far below an ordinary gradient: it excuses tiny ones only.
    assert all(c.rounding < 1e-8 for c in checks)


def test_a_wrong_gradient_does_not_agree():
    wrong = GradientCheck("wte", 0, 0, 0.1, backward=0.0505, estimate=0.05, rounding=3e-9)
    assert not wrong.agrees and not wrong.agrees_within_rounding
    tiny = GradientCheck("wte", 0, 0, 0.1, backward=2.0758e-8, estimate=2.0756e-8,
                         rounding=3e-9)
    assert tiny.agrees and tiny.relative_error > AGREE_BELOW
    # An infinite loss makes the margin infinite: that is no agreement.
    broken = GradientCheck("wte", 0, 0, 0.1, backward=1.0, estimate=math.inf,
                           rounding=math.inf)
    assert not broken.agrees
