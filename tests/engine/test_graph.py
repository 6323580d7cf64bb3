import random

import pytest

from engine import FUSED_OPS, GRAPH_OPS, Value, forward_document
from engine.fused import total
from engine.graph import count_uses, document_graph, graph_stats, leaf_params, op_of
from engine.value import topological_order
from tests.engine.conftest import TINY

UNARY = {
    "relu": Value.relu,
    "exp": Value.exp,
    "log": Value.log,
    "tanh": Value.tanh,
    "**-1": lambda x: x**-1,
    "**-0.5": lambda x: x**-0.5,
    "**3": lambda x: x**3,
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_op_of_recognises_each_unary_operation(op):
    rng = random.Random(op)
    # 1.0 is where several operations' numbers meet (relu(1) = 1 = 1**-1); log and the
    # square root need x > 0.
    xs = [1.0, 2.0, 0.5] + [rng.uniform(0.01, 4) for _ in range(200)]
    if op in ("relu", "exp", "tanh", "**-1", "**3"):
        xs += [-1.0, -2.5] + [rng.uniform(-4, -0.01) for _ in range(200)]
    for x in xs:
        assert op_of(UNARY[op](Value(x))) == op, x


@pytest.mark.parametrize("a, b", [(1.0, 1.0), (2.0, 2.0), (0.0, 0.0), (-3.5, 0.25), (1.0, 0.0)])
def test_op_of_tells_a_sum_from_a_product(a, b):
    assert op_of(Value(a) + Value(b)) == "+"
    assert op_of(Value(a) * Value(b)) == "*"
    assert op_of(Value(a) * 1) == "*"


def test_op_of_a_leaf_and_of_a_node_no_single_operation_makes():
    assert op_of(Value(2.0)) == ""
    assert op_of(total([Value(1.0), Value(2.0), Value(3.0)])) == "other"


def test_stats_of_a_small_graph_counted_by_hand():
    a, b = Value(0.5), Value(-1.5)
    product = a * b  # *
    summed = product + a  # +
    loss = summed.exp() * 2  # exp, then * with the constant 2
    stats = graph_stats(loss, parameters=[a, b])
    assert dict(stats.nodes_by_op) == {"*": 2, "+": 1, "exp": 1}
    assert stats.nodes == 4 == loss.backward()
    assert stats.edges == 2 + 2 + 1 + 2
    assert stats.depth == 4  # loss -> exp -> + -> * -> a
    assert (stats.leaves, stats.parameters, stats.constants) == (3, 2, 1)


def test_count_uses_counts_every_edge_into_a_node():
    a, b = Value(3.0), Value(4.0)
    square = a * a
    out = square + a * b
    uses = count_uses(out)
    assert uses[a] == 3  # twice in a * a, once in a * b
    assert uses[b] == 1
    assert uses[square] == 1
    assert out not in uses


def test_leaf_params_are_new_leaves_named_by_matrix_row_and_column():
    weights = {"wte": ((0.1, 0.2), (0.3, 0.4)), "wpe": ((0.5, 0.6),)}
    params, names = leaf_params(weights)
    assert [[p.data for p in row] for row in params["wte"]] == [[0.1, 0.2], [0.3, 0.4]]
    assert names[params["wte"][1][0]] == "wte[1][0]"
    assert names[params["wpe"][0][1]] == "wpe[0][1]"
    assert len(names) == 6


def clara_graph(trainer, ops):
    bos = trainer.tokenizer.bos
    tokens = (bos, *trainer.tokenizer.encode("clara"), bos)
    return document_graph(trainer.weights(), tokens, trainer.config, ops)


def test_document_graph_is_the_trainers_loss_and_gradient(tiny_trainer):
    loss, params, names = clara_graph(tiny_trainer, GRAPH_OPS)
    bos = tiny_trainer.tokenizer.bos
    tokens = (bos, *tiny_trainer.tokenizer.encode("clara"), bos)
    own = forward_document(tokens, tiny_trainer.params, TINY, tiny_trainer.ops).loss
    own.backward()
    assert loss.data == own.data
    assert [p.grad for p in tiny_trainer.param_list] == [
        p.grad for matrix in params.values() for row in matrix for p in row]
    assert names[params["lm_head"][2][1]] == "lm_head[2][1]"


def test_per_op_model_graph_is_only_plain_operations(tiny_trainer):
    loss, _, names = clara_graph(tiny_trainer, GRAPH_OPS)
    stats = graph_stats(loss, names)
    by_op = dict(stats.nodes_by_op)
    positions = len("clara") + 1
    assert "other" not in by_op
    assert stats.nodes == len(topological_order(loss))
    assert by_op["log"] == positions
    assert by_op["relu"] == positions * TINY.n_layer * 4 * TINY.n_embd
    assert by_op["**-0.5"] == positions * (1 + 2 * TINY.n_layer)  # every rmsnorm
    # Every exp of a softmax: attention over 1..positions keys per head, and the vocabulary.
    attention_exps = TINY.n_layer * TINY.n_head * positions * (positions + 1) // 2
    vocab_exps = positions * tiny_trainer.tokenizer.vocab_size
    assert by_op["exp"] == attention_exps + vocab_exps
    binary = by_op["+"] + by_op["*"]
    assert stats.edges == 2 * binary + (stats.nodes - binary)  # the rest have one child


def test_fused_graph_is_smaller_and_reaches_the_same_parameters(tiny_trainer):
    plain, _, names = clara_graph(tiny_trainer, GRAPH_OPS)
    fused, _, fused_names = clara_graph(tiny_trainer, FUSED_OPS)
    plain_stats = graph_stats(plain, names)
    fused_stats = graph_stats(fused, fused_names)
    assert fused.data == plain.data
    assert fused_stats.nodes < plain_stats.nodes / 5
    assert fused_stats.depth < plain_stats.depth
    assert fused_stats.parameters == plain_stats.parameters
    # wte rows of letters not in the document, and unused positions, are not reached.
    assert plain_stats.parameters < tiny_trainer.num_params
