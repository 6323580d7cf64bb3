"""One scalar in a computation graph, and the chain rule that runs back through it.

Each node keeps the nodes it was computed from (`_children`) and, for each of them, the
derivative of this node with respect to that child (`_local_grads`), worked out when the node is
made. `backward()` then only has to multiply and add: grad(child) += local_grad * grad(node).
"""

import math


class Value:
    __slots__ = ("_children", "_local_grads", "data", "grad")
    # A fused node whose operation-node children are a list it shares with sibling nodes (a
    # row of engine.fused.linear) keeps that list here; see topological_order.
    shared_inputs = None

    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0.0
        self._children = children
        self._local_grads = local_grads

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, exponent):
        if isinstance(exponent, Value):
            raise TypeError("Value ** Value is not supported: the exponent must be a number")
        return Value(self.data**exponent, (self,), (exponent * self.data ** (exponent - 1),))

    def exp(self):
        out = math.exp(self.data)
        return Value(out, (self,), (out,))

    def log(self):
        return Value(math.log(self.data), (self,), (1 / self.data,))

    def relu(self):
        return Value(self.data if self.data > 0 else 0.0, (self,), (float(self.data > 0),))

    def tanh(self):
        out = math.tanh(self.data)
        return Value(out, (self,), (1 - out * out,))

    # Subtraction and division are built from + * and ** so that every number comes out
    # exactly as in the reference microgpt (a - b is a + (-b), a / b is a * b**-1).
    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def backward(self):
        """Fill in `.grad` of every node this one depends on; return the number of operation
        nodes (leaves, i.e. parameters and constants, are not counted).

        Grads accumulate (as in micrograd): zero the leaves' grads between steps. The graph
        is ordered by an iterative depth-first walk, so a deep graph cannot hit Python's
        recursion limit, and the order (hence every rounding) is the same as the reference's
        recursive walk.
        """
        topo = topological_order(self)
        self.grad = 1.0
        for node in reversed(topo):
            grad = node.grad
            if grad == 0:
                continue  # nothing to pass on, e.g. behind a ReLU that was off
            for child, local_grad in zip(node._children, node._local_grads):
                child.grad += local_grad * grad
        return len(topo)


def topological_order(root):
    """Operation nodes reachable from `root`, each after all of its children (depth-first
    post-order). Leaves are left out: they have nothing to pass their grad on to.

    A node with `shared_inputs` has those and leaves as children, and so do its siblings (the
    rows of one matrix-vector product all read the same vector). The first sibling entered
    walks the list; any later one would find every entry already visited, because it cannot
    be entered while the first is still walking (it would be its own descendant), so it is
    done at once: the same order as walking, at a fraction of the cost.
    """
    topo = []
    visited = {root}
    walked = set()  # ids of shared input lists already walked
    path = [root]
    pending = [iter(root._children)]
    while pending:
        for child in pending[-1]:
            if child._children and child not in visited:
                visited.add(child)
                children = child.shared_inputs
                if children is None:
                    children = child._children
                elif id(children) in walked:
                    topo.append(child)
                    continue
                else:
                    walked.add(id(children))
                path.append(child)
                pending.append(iter(children))
                break
        else:
            pending.pop()
            topo.append(path.pop())
    return topo
