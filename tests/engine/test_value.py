import math
import random

import pytest

from engine import Value
from engine.value import topological_order

H = 1e-6


def central_difference(f, xs, i):
    up = list(xs)
    down = list(xs)
    up[i] += H
    down[i] -= H
    return (f(*up) - f(*down)) / (2 * H)


def check_gradients(expression, *inputs, rel=1e-5, abs_tol=1e-7):
    """Backward's grads of `expression` at `inputs` agree with finite differences."""
    leaves = [Value(x) for x in inputs]
    out = expression(*leaves)
    out.backward()

    def f(*xs):
        return expression(*xs)

    for i, leaf in enumerate(leaves):
        expected = central_difference(f, inputs, i)
        assert leaf.grad == pytest.approx(expected, rel=rel, abs=abs_tol), f"input {i}"


FLOAT_FUNCTIONS = {"exp": math.exp, "log": math.log, "tanh": math.tanh,
                   "relu": lambda x: max(0.0, x)}


def apply(name, x):
    """x.name() for a Value, the matching math function for a float."""
    return getattr(x, name)() if isinstance(x, Value) else FLOAT_FUNCTIONS[name](x)


UNARY_OPS = {
    "exp": (lambda a: apply("exp", a), 0.7),
    "log": (lambda a: apply("log", a), 1.3),
    "relu+": (lambda a: apply("relu", a), 0.4),
    "relu-": (lambda a: apply("relu", a), -0.4),
    "tanh": (lambda a: apply("tanh", a), 0.3),
    "neg": (lambda a: -a, 0.9),
    "pow3": (lambda a: a**3, 1.1),
    "pow-0.5": (lambda a: a**-0.5, 1.7),
    "pow-1": (lambda a: a**-1, -2.5),
}


@pytest.mark.parametrize("name", sorted(UNARY_OPS))
def test_unary_op_gradient_matches_finite_difference(name):
    op, x = UNARY_OPS[name]
    check_gradients(op, x)


BINARY_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", sorted(BINARY_OPS))
def test_binary_op_gradient_matches_finite_difference(name):
    check_gradients(BINARY_OPS[name], 1.3, -0.7)


@pytest.mark.parametrize("name", sorted(BINARY_OPS))
def test_binary_op_with_a_number_on_either_side(name):
    op = BINARY_OPS[name]
    a = Value(1.5)
    left = op(a, 2.0)
    right = op(2.0, a)
    assert left.data == pytest.approx(op(1.5, 2.0))
    assert right.data == pytest.approx(op(2.0, 1.5))
    left.backward()
    assert a.grad == pytest.approx(central_difference(lambda x: op(x, 2.0), [1.5], 0))
    a.grad = 0.0
    right.backward()
    assert a.grad == pytest.approx(central_difference(lambda x: op(2.0, x), [1.5], 0))


def micrograd_sanity(x):
    z = 2 * x + 2 + x
    q = apply("relu", z) + z * x
    h = apply("relu", z * z)
    return h + q + q * x


def micrograd_more_ops(a, b):
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + apply("relu", b + a)
    d = d + 3 * d + apply("relu", b - a)
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def test_micrograd_sanity_expression():
    check_gradients(micrograd_sanity, -4.0)


def test_micrograd_more_ops_expression():
    check_gradients(micrograd_more_ops, -4.0, 2.0, rel=1e-4)


def test_composite_with_exp_log_tanh():
    def expression(a, b, c):
        return (apply("tanh", a * b) + apply("log", apply("exp", c) + 1)) / (a * a + 1)

    check_gradients(expression, 0.3, -1.2, 0.8)


def test_a_node_used_twice_gets_both_contributions():
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0


def test_backward_accumulates_into_leaves_like_micrograd():
    a = Value(2.0)
    b = Value(5.0)
    out = a * b
    out.backward()
    out.backward()
    assert a.grad == 10.0
    assert b.grad == 4.0


def test_backward_returns_the_number_of_operation_nodes():
    a, b = Value(1.0), Value(2.0)
    out = a * b + a  # a*b and a*b+a; the leaves a and b are not counted
    assert out.backward() == 2


def test_backward_on_a_very_deep_graph_needs_no_recursion():
    x = Value(1.0)
    out = x
    for _ in range(200_000):
        out = out + x * 1e-6
    out.backward()
    assert x.grad == pytest.approx(1 + 200_000 * 1e-6)


def test_topological_order_puts_children_first_and_leaves_out_leaves():
    rng = random.Random(0)
    leaves = [Value(rng.random()) for _ in range(5)]
    out = (leaves[0] * leaves[1] + leaves[2]).exp() * (leaves[3] - leaves[4])
    order = topological_order(out)
    position = {id(node): i for i, node in enumerate(order)}
    assert len(position) == len(order)
    for node in order:
        assert node._children
        for child in node._children:
            assert not child._children or position[id(child)] < position[id(node)]
    # *, +, exp, the constant -1's *, +, and the final *: every operation, no leaf.
    assert len(order) == 6
    assert order[-1] is out


def test_value_exponent_is_refused():
    with pytest.raises(TypeError):
        Value(2.0) ** Value(3.0)
