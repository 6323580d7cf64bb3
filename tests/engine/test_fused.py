"""The fused graph is an optimisation of the same math: equal to the per-op graph bit for bit."""

import random
import subprocess
import sys
from dataclasses import replace

import pytest

from engine import FUSED_OPS, GRAPH_OPS, Config, Trainer, Value, forward_document, fused, value
from engine.fused import Row, dot, linear, shifted_exp, total
from engine.model import float_sum, left_sum
from tests.engine.conftest import TINY, TINY_DOCS
from tests.engine.test_cli import REFERENCE_LOG


def record_grads(trainer):
    """Make `trainer` keep every parameter's grad of each step (Adam zeroes them)."""
    recorded = []
    update = trainer.adam.update

    def recording_update(params, step):
        recorded.append([p.grad for p in params])
        return update(params, step)

    trainer.adam.update = recording_update
    return recorded


@pytest.mark.parametrize("config, docs", [(TINY, TINY_DOCS), (Config(), None)],
                         ids=["tiny", "default"])
def test_fused_and_per_op_graphs_agree_bit_for_bit_for_20_steps(config, docs, names):
    docs = docs or names
    plain = Trainer(config, docs, ops=GRAPH_OPS)
    fused = Trainer(config, docs, ops=FUSED_OPS)
    plain_grads, fused_grads = record_grads(plain), record_grads(fused)
    for _ in range(20):
        a, b = plain.step(), fused.step()
        assert a.loss == b.loss
        assert a.position_losses == b.position_losses
        assert a.kv_grads == b.kv_grads
        assert plain_grads[-1] == fused_grads[-1]
        assert any(grad != 0 for grad in fused_grads[-1])
    assert plain.weights() == fused.weights()


def test_fused_graph_has_far_fewer_nodes(names):
    plain = Trainer(Config(), names, ops=GRAPH_OPS).step()
    fused = Trainer(Config(), names, ops=FUSED_OPS).step()
    assert fused.graph_size * 10 < plain.graph_size


def numeric_grads(f, xs, h=1e-6):
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += h
        down[i] -= h
        grads.append((f(up) - f(down)) / (2 * h))
    return grads


def check_against_finite_differences(build, n):
    """`build(values)` returns one node; its grads must match central differences."""
    rng = random.Random(n)
    xs = [rng.uniform(-2, 2) for _ in range(n)]
    leaves = [Value(x) for x in xs]
    # A product of the node with a second-order term makes every leaf's grad nontrivial.
    out = build(leaves)
    (out * out).backward()
    numeric = numeric_grads(lambda ys: build([Value(y) for y in ys]).data ** 2, xs)
    assert [leaf.grad for leaf in leaves] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_fused_dot_grads_match_finite_differences():
    check_against_finite_differences(lambda v: dot(v[:4], v[4:]), 8)


def test_fused_sum_of_squares_grads_match_finite_differences():
    check_against_finite_differences(lambda v: dot(v, v), 5)


def test_fused_linear_grads_match_finite_differences():
    def build(v):
        x, w = v[:3], [v[3:6], v[6:9]]
        rows = linear(x, w)
        return rows[0] * rows[1] + rows[1]

    check_against_finite_differences(build, 9)


def test_fused_total_and_shifted_exp_grads_match_finite_differences():
    check_against_finite_differences(lambda v: total(shifted_exp(x, 0.5) for x in v) * v[0], 4)


def test_full_default_run_reproduces_the_reference_log():
    proc = subprocess.run([sys.executable, "-m", "engine"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == REFERENCE_LOG.read_text()


@pytest.mark.parametrize("config, docs", [(TINY, TINY_DOCS), (Config(), None)],
                         ids=["tiny", "default"])
def test_walk_entering_shared_inputs_once_keeps_the_plain_walks_order(config, docs, names):
    trainer = Trainer(config, docs or names)
    for doc in trainer.docs[:5]:
        tokens = trainer.tokenizer.document(doc)
        loss = forward_document(tokens, trainer.params, config, FUSED_OPS).loss
        order = fused.topological_order(loss)
        assert any(isinstance(node, Row) for node in order)
        assert order == value.topological_order(loss)


def test_a_forward_pass_reads_weights_changed_since_the_previous_pass(names):
    trainer = Trainer(TINY, TINY_DOCS)
    tokens = trainer.tokenizer.document(trainer.docs[0])
    before = forward_document(tokens, trainer.params, TINY, FUSED_OPS).loss.data
    trainer.params["lm_head"][0][0].data += 1.0
    after = forward_document(tokens, trainer.params, TINY, FUSED_OPS).loss.data
    plain = forward_document(tokens, trainer.params, TINY, GRAPH_OPS).loss.data
    assert after == plain != before


def test_float_sum_adds_left_to_right_like_the_graph():
    rng = random.Random(3)
    for n in (1, 2, 16, 64, 1000):
        terms = [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 8) for _ in range(n)]
        assert float_sum(terms) == left_sum(terms)
    # Compensated summation (sum() from Python 3.12) would give 1e-16 here.
    assert float_sum([1.0, 1e-16, -1.0]) == left_sum([1.0, 1e-16, -1.0]) == 0.0
    assert (float_sum is sum) == (sys.version_info < (3, 12))


def test_ops_made_for_one_pass_keep_their_own_functions():
    def relu(x):
        return x.relu()

    custom = replace(FUSED_OPS, relu=relu)
    one_pass = custom.for_one_pass()
    assert one_pass.relu is relu and one_pass.per_pass is None
    assert one_pass.linear.func is custom.linear


def test_each_matrix_gets_its_own_numbers_within_a_pass():
    one_pass = FUSED_OPS.for_one_pass()
    x = [Value(1.0)]
    # Matrices made and dropped one after another, as id() would reuse if nothing kept them.
    outputs = [one_pass.linear(x, [[Value(float(i))]])[0].data for i in range(1, 6)]
    assert outputs == [1.0, 2.0, 3.0, 4.0, 5.0]
