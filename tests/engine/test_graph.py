import random
from collections import Counter

import pytest

from engine import FUSED_OPS, GRAPH_OPS, Config, Tokenizer, Value, forward_document, init_params
from engine.fused import total
from engine.graph import (
    Node,
    count_uses,
    document_graph,
    estimated_nodes,
    graph_stats,
    leaf_params,
    op_of,
)
from engine.value import topological_order
from tests.engine.conftest import TINY

UNARY = {
    "relu": lambda x: x.relu(),
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "tanh": lambda x: x.tanh(),
    "**-1": lambda x: x**-1,
    "**-0.5": lambda x: x**-0.5,
    "**3": lambda x: x**3,
}


@pytest.mark.parametrize("op, x", [(op, x) for op in sorted(UNARY)
                                   for x in (1.0, 2.5, 0.5, -1.0, -2.5)
                                   if x > 0 or op not in ("log", "**-0.5")])
def test_a_unary_operation_of_a_node_is_labelled_and_computes_as_a_values(op, x):
    leaf = Node(x)
    node, plain = UNARY[op](leaf), UNARY[op](Value(x))
    assert isinstance(node, Node) and op_of(node) == op
    assert node._children == (leaf,)
    assert (node.data, node._local_grads) == (plain.data, plain._local_grads)


@pytest.mark.parametrize("a, b", [(1.0, 1.0), (2.0, 2.0), (0.0, 0.0), (-3.5, 0.25), (1.0, 0.0)])
def test_a_sum_and_a_product_of_nodes_are_labelled_with_a_number_on_either_side(a, b):
    assert op_of(Node(a) + Node(b)) == op_of(Node(a) + b) == op_of(b + Node(a)) == "+"
    assert op_of(Node(a) * Node(b)) == op_of(Node(a) * b) == op_of(b * Node(a)) == "*"


def test_operations_built_from_others_make_labelled_nodes_with_a_values_grads():
    def expression(a, b):
        return (a - b) / (2.0 - a) + (-b) ** 2 / b

    leaves, plain_leaves = [Node(1.5), Node(-0.5)], [Value(1.5), Value(-0.5)]
    out, plain = expression(*leaves), expression(*plain_leaves)
    assert out.backward() == plain.backward()
    assert out.data == plain.data
    assert [leaf.grad for leaf in leaves] == [leaf.grad for leaf in plain_leaves]
    # a - b is a + b * -1 and x / y is x * y**-1, as in Value.
    ops = Counter(map(op_of, topological_order(out)))
    assert ops == {"+": 3, "*": 5, "**-1": 2, "**2": 1}


def test_op_of_a_leaf_and_of_a_node_no_single_operation_makes():
    assert op_of(Node(2.0)) == op_of(Value(2.0)) == ""
    assert op_of(total([Node(1.0), Node(2.0), Node(3.0)])) == "other"
    # A plain Value keeps no label (the Trainer's nodes are plain Values).
    assert op_of(Value(1.0) * Value(2.0)) == "other"


def test_stats_of_a_small_graph_counted_by_hand():
    a, b = Node(0.5), Node(-1.5)
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
    graph = clara_graph(tiny_trainer, GRAPH_OPS)
    loss, params, names = graph.loss, graph.params, graph.names
    bos = tiny_trainer.tokenizer.bos
    tokens = (bos, *tiny_trainer.tokenizer.encode("clara"), bos)
    own = forward_document(tokens, tiny_trainer.params, TINY, tiny_trainer.ops).loss
    own.backward()
    assert loss.data == own.data
    assert [p.grad for p in tiny_trainer.param_list] == [
        p.grad for matrix in params.values() for row in matrix for p in row]
    assert names[params["lm_head"][2][1]] == "lm_head[2][1]"


def test_per_op_model_graph_is_only_plain_operations(tiny_trainer):
    graph = clara_graph(tiny_trainer, GRAPH_OPS)
    loss = graph.loss
    stats = graph_stats(loss, graph.names)
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
    plain, fused = clara_graph(tiny_trainer, GRAPH_OPS), clara_graph(tiny_trainer, FUSED_OPS)
    plain_stats = graph_stats(plain.loss, plain.names)
    fused_stats = graph_stats(fused.loss, fused.names)
    assert fused.loss.data == plain.loss.data
    assert fused_stats.nodes < plain_stats.nodes / 5
    assert fused_stats.depth < plain_stats.depth
    assert fused_stats.parameters == plain_stats.parameters
    # wte rows of letters not in the document, and unused positions, are not reached.
    assert plain_stats.parameters < tiny_trainer.num_params


@pytest.mark.parametrize("n_layer, n_embd, n_head, doc", [
    (1, 16, 4, "emma"), (1, 16, 4, "christopher"), (2, 8, 2, "ab"), (2, 32, 4, "olivia"),
    (3, 12, 3, "abcdefghijklmnopqrstuvwxyz"),
])
def test_the_node_estimate_is_close_to_the_real_graph(n_layer, n_embd, n_head, doc):
    config = Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, block_size=16)
    tokenizer = Tokenizer(tuple("abcdefghijklmnopqrstuvwxyz"))
    weights = init_params(config, tokenizer.vocab_size, random.Random(0))
    tokens = tokenizer.document(doc)
    graph = document_graph(weights, tokens, config)
    real = graph_stats(graph.loss, graph.names).nodes
    positions = min(config.block_size, len(tokens) - 1)
    assert estimated_nodes(config, tokenizer.vocab_size, positions) == pytest.approx(real,
                                                                                     rel=0.05)
