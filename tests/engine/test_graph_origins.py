"""Where each node of the per-operation graph comes from (engine.graph.Origin), checked
against what the node is computed from: which weight rows it depends on, and its numbers."""

import math
from collections import Counter

import pytest

from engine import FLOAT_OPS, Config, Trainer, forward_document
from engine.graph import Origin, document_graph, op_of
from engine.model import param_shapes
from engine.value import topological_order
from tests.engine.conftest import TINY, TINY_DOCS

TWO_LAYERS = Config(n_layer=2, n_embd=8, n_head=2, block_size=8, seed=5)
CONFIGS = {"tiny": TINY, "two layers": TWO_LAYERS, "default": Config()}


def test_an_origin_reads_widest_place_first_and_leaves_out_what_a_reader_knows():
    logit = Origin("attention logit q·k of pos 1", position=3, layer=0, head=2)
    assert str(logit) == "pos 3 · layer 0 · head 2 · attention logit q·k of pos 1"
    assert str(Origin("mlp_fc1", position=1, layer=0, row=17)) == "pos 1 · layer 0 · mlp_fc1 row 17"
    assert str(Origin("loss: mean over positions")) == "loss: mean over positions"
    softmax = Origin("softmax", position=3, layer=0, head=2)
    assert logit.beside(softmax) == "attention logit q·k of pos 1"
    query = Origin("attn_wq", position=3, layer=0, row=4)
    assert Origin("softmax", position=3, layer=0, head=1).beside(query) == "head 1 · softmax"
    # Fewer places than the reader's node: all of them, so that it is not read as its layer's.
    assert Origin("rmsnorm", position=3).beside(query) == "pos 3 · rmsnorm"
    assert Origin("attn_wk", position=1, layer=0, row=4).beside(logit) == \
        "pos 1 · layer 0 · attn_wk row 4"
    assert query.beside(None) == str(query)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def graph_of_a_name(request):
    """(config, tokens, DocumentGraph) of a trained-for-three-steps model's name."""
    config = CONFIGS[request.param]
    trainer = Trainer(config, TINY_DOCS)
    for _ in range(3):
        trainer.step()
    tokens = trainer.tokenizer.document("clara")
    return config, tokens, document_graph(trainer.weights(), tokens, config)


def test_every_node_says_where_it_comes_from(graph_of_a_name):
    _, _, graph = graph_of_a_name
    for node in topological_order(graph.loss):
        assert isinstance(graph.origins[node], Origin)
        for child in node._children:  # leaves: parameters by name, constants by origin
            assert (child in graph.names) != (child in graph.origins)


def test_each_positions_loss_is_its_log_node_with_the_float_passs_number(graph_of_a_name):
    config, tokens, graph = graph_of_a_name
    float_pass = forward_document(tokens, _floats(graph.params), config,
                                  FLOAT_OPS)
    logs = [node for node in topological_order(graph.loss) if op_of(node) == "log"]
    by_position = {graph.origins[node].position: node for node in logs}
    assert {graph.origins[node] for node in logs} == {
        Origin("loss −log p(next)", position=p) for p in range(len(float_pass.probs))}
    for p, node in by_position.items():
        assert node.data == math.log(float_pass.probs[p][tokens[p + 1]])
    assert graph.origins[graph.loss] == Origin("loss: mean over positions")


def _floats(params):
    return {name: [[leaf.data for leaf in row] for row in matrix]
            for name, matrix in params.items()}


def test_the_exps_of_each_softmax_are_one_per_key_or_per_token(graph_of_a_name):
    config, tokens, graph = graph_of_a_name
    exps = Counter(graph.origins[node] for node in topological_order(graph.loss)
                   if op_of(node) == "exp")
    expected = {}
    for p in range(len(tokens) - 1):
        expected[Origin("softmax", position=p)] = len(graph.params["wte"])  # the vocabulary
        for layer in range(config.n_layer):
            for head in range(config.n_head):
                # position p attends to the keys of positions 0..p
                expected[Origin("softmax", position=p, layer=layer, head=head)] = p + 1
    assert exps == expected


def rows_reached(graph, config):
    """node -> {matrix name: bitmask of the rows of it the node is computed from}, by a
    walk of the graph alone (no origins)."""
    offsets, at = {}, 0
    for name, rows, _ in param_shapes(config, len(graph.params["wte"])):
        offsets[name] = (at, rows)
        at += rows
    leaf_bits = {leaf: 1 << (offsets[name][0] + r)
                 for name, matrix in graph.params.items()
                 for r, row in enumerate(matrix) for leaf in row}
    bits = {}
    for node in topological_order(graph.loss):
        mask = 0
        for child in node._children:
            mask |= bits[child] if child._children else leaf_bits.get(child, 0)
        bits[node] = mask
    return {node: {name: (mask >> start) & ((1 << rows) - 1)
                   for name, (start, rows) in offsets.items()}
            for node, mask in bits.items()}


def test_each_node_depends_only_on_the_weights_its_origin_says(graph_of_a_name):
    config, _, graph = graph_of_a_name
    head_dim = config.head_dim
    last_position = 0
    for node, reached in rows_reached(graph, config).items():
        origin = graph.origins[node]
        if origin.position is not None:
            # Its own position's embedding, and no later position's.
            assert reached["wpe"].bit_length() - 1 == origin.position, origin
            last_position = max(last_position, origin.position)
        else:
            assert origin == Origin("loss: mean over positions")
            assert reached["wpe"].bit_length() - 1 == last_position
        if origin.step in ("embedding wte+wpe", "rmsnorm") and origin.layer is None:
            assert not any(rows for name, rows in reached.items()
                           if name not in ("wte", "wpe")), origin
        if origin.layer is not None:
            later_layers = [name for name in reached if name.startswith("layer")
                            and int(name[5:name.index(".")]) > origin.layer]
            assert not any(reached[name] for name in later_layers), origin
        if origin.row is not None:
            matrix = ("" if origin.layer is None else f"layer{origin.layer}.") + origin.step
            assert reached[matrix] == 1 << origin.row, origin
        if origin.head is not None:
            head_rows = ((1 << head_dim) - 1) << (origin.head * head_dim)
            for vector in "qkv":
                assert not reached[f"layer{origin.layer}.attn_w{vector}"] & ~head_rows, origin
        if origin.step.startswith("attention logit") and origin.layer == 0:
            # In the first layer a position's stream is its own embedding alone: a logit is
            # computed from the query's position and the key's.
            key_position = int(origin.step.rsplit(" ", 1)[1])
            assert reached["wpe"] == (1 << key_position) | (1 << origin.position), origin


def test_every_attention_logit_is_labelled_with_its_query_and_key_positions(graph_of_a_name):
    config, tokens, graph = graph_of_a_name
    logits = {origin for origin in graph.origins.values()
              if origin.step.startswith("attention logit")}
    assert logits == {
        Origin(f"attention logit q·k of pos {key}", position=p, layer=layer, head=head)
        for p in range(len(tokens) - 1) for key in range(p + 1)
        for layer in range(config.n_layer) for head in range(config.n_head)}
