import math
import random

import pytest

from engine import FLOAT_OPS, Config, Trainer, Value, forward_document
from tests.engine.conftest import TINY, TINY_DOCS

# The reference microgpt's losses (seed 42, default config), at full float precision.
REFERENCE_STEP_1 = 3.3659669475848504
REFERENCE_STEP_10 = 3.2228882401182624


def test_default_config_matches_the_reference_run(names):
    trainer = Trainer(Config(), names)
    assert len(trainer.docs) == 32033
    assert trainer.tokenizer.vocab_size == 27
    assert trainer.num_params == 4192
    losses = [trainer.step().loss for _ in range(10)]
    assert losses[0] == REFERENCE_STEP_1
    assert losses[9] == REFERENCE_STEP_10
    assert f"{losses[0]:.4f}" == "3.3660"
    assert f"{losses[9]:.4f}" == "3.2229"


def document_loss(trainer, weights, tokens):
    return forward_document(tokens, weights, trainer.config, FLOAT_OPS).loss


@pytest.mark.parametrize("config", [
    TINY,
    Config(n_layer=2, n_embd=12, n_head=3, block_size=6, seed=9),
])
def test_model_gradient_matches_finite_differences(config):
    trainer = Trainer(config, TINY_DOCS)
    bos = trainer.tokenizer.bos
    tokens = (bos, *trainer.tokenizer.encode("frank"), bos)
    forward = forward_document(tokens, trainer.params, config, trainer.ops)
    forward.loss.backward()
    weights = {name: [list(row) for row in matrix] for name, matrix in trainer.weights().items()}
    pick = random.Random(1)
    names = list(weights)
    h = 1e-5
    for _ in range(12):
        name = pick.choice(names)
        row = pick.randrange(len(weights[name]))
        col = pick.randrange(len(weights[name][row]))
        original = weights[name][row][col]
        weights[name][row][col] = original + h
        up = document_loss(trainer, weights, tokens)
        weights[name][row][col] = original - h
        down = document_loss(trainer, weights, tokens)
        weights[name][row][col] = original
        numeric = (up - down) / (2 * h)
        analytic = trainer.params[name][row][col].grad
        assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-8), (name, row, col)


def test_float_forward_equals_graph_forward_bit_for_bit(tiny_trainer):
    bos = tiny_trainer.tokenizer.bos
    tokens = (bos, *tiny_trainer.tokenizer.encode("clara"), bos)
    graph = forward_document(tokens, tiny_trainer.params, TINY, tiny_trainer.ops)
    plain = forward_document(tokens, tiny_trainer.weights(), TINY, FLOAT_OPS)
    assert plain.loss == graph.loss.data
    assert plain.probs == [[p.data for p in row] for row in graph.probs]


def test_attention_is_causal_and_each_row_sums_to_one(tiny_trainer):
    result = tiny_trainer.step()
    for layer in result.attention:
        for head in layer:
            assert len(head) == result.n_positions
            for query_pos, row in enumerate(head):
                assert len(row) == query_pos + 1
                assert math.fsum(row) == pytest.approx(1.0, abs=1e-12)


def test_any_config_with_divisible_heads_trains():
    config = Config(n_layer=3, n_embd=6, n_head=3, block_size=5, num_steps=3)
    trainer = Trainer(config, TINY_DOCS)
    results = [trainer.step() for _ in range(3)]
    assert all(math.isfinite(r.loss) for r in results)
    assert len(results[0].attention) == 3
    assert len(results[0].attention[0]) == 3


def test_deep_long_context_model_backpropagates():
    config = Config(n_layer=16, n_embd=4, n_head=2, block_size=64, num_steps=1)
    trainer = Trainer(config, ["abcdefghij" * 7])
    result = trainer.step()
    assert result.n_positions == 64
    assert result.graph_size > 100_000
    assert all(norm > 0 for _, norm in result.grad_norms)


def test_documents_longer_than_the_block_are_truncated():
    config = Config(n_layer=1, n_embd=4, n_head=1, block_size=4, num_steps=1)
    trainer = Trainer(config, ["abcdefgh"])
    result = trainer.step()
    assert result.n_positions == 4
    assert result.inputs == (trainer.tokenizer.bos, 0, 1, 2)
    assert result.targets == (0, 1, 2, 3)


def test_leaf_values_keep_their_identity_across_steps(tiny_trainer):
    first = tiny_trainer.param_list[0]
    tiny_trainer.step()
    assert tiny_trainer.param_list[0] is first
    assert isinstance(first, Value)
    assert first.grad == 0.0
