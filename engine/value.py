"""One scalar in a computation graph, and the chain rule that runs back through it.

As in micrograd and the reference microgpt, each operation makes a node that keeps the nodes
it was computed from (`_children`) and, for each of them, the derivative of the new node with
respect to that child (`_local_grads`), worked out by the operation itself. `backward()` then
only has to multiply and add: grad(child) += local_grad * grad(node).
"""

import math


class Value:
    __slots__ = ("_children", "_local_grads", "data", "grad")

    def __init__(self, data, children=(), local_grads=()):
        self.data = data  # the number, computed in the forward pass
        self.grad = 0.0  # d(the node backward() ran from) / d(this node)
        self._children = children  # the nodes this one was computed from
        self._local_grads = local_grads  # d(this node) / d(each child)

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

    # The rest are built from the operations above, so that every number comes out exactly as
    # in the reference microgpt (a - b is a + (-b), a / b is a * b**-1).
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

        Grads accumulate, as in micrograd: zero the leaves' grads between steps.
        """
        topo = topological_order(self)
        self.grad = 1.0
        for node in reversed(topo):
            for child, local_grad in zip(node._children, node._local_grads):
                child.grad += local_grad * node.grad
        return len(topo)


def topological_order(root):
    """The operation nodes `root` depends on, itself included, each after all of its children.

    The order of the reference's recursive depth-first walk (children in order, each node
    after its last child), kept on an explicit stack so that a deep graph cannot hit Python's
    recursion limit. Leaves are left out: they have no children to pass a grad on to.
    """
    topo = []
    visited = {root}
    stack = [(root, iter(root._children))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if child._children and child not in visited:
                visited.add(child)
                stack.append((child, iter(child._children)))
                break
        else:
            stack.pop()
            topo.append(node)
    return topo
