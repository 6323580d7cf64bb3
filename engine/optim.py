"""Adam with a linearly decaying learning rate; its state is two plain lists of floats."""

import math
import sys

# Adam squares every gradient, and a float power raises OverflowError past this.
LARGEST_SQUARABLE = math.sqrt(sys.float_info.max)


def learning_rate(config, step):
    """Learning rate of step `step` (0-based): lr falls linearly to 0 at num_steps."""
    return config.lr * (1 - step / config.num_steps)


class Adam:
    def __init__(self, n_params, config):
        self.config = config
        self.m = [0.0] * n_params
        self.v = [0.0] * n_params

    def lr_at(self, step):
        return learning_rate(self.config, step)

    def update(self, params, step):
        """Move each parameter against its grad, then zero the grad; return the lr used."""
        beta1, beta2, eps = self.config.beta1, self.config.beta2, self.config.eps
        lr_t = self.lr_at(step)
        m, v = self.m, self.v
        m_correction = 1 - beta1 ** (step + 1)
        v_correction = 1 - beta2 ** (step + 1)
        m_weight, v_weight = 1 - beta1, 1 - beta2
        for i, p in enumerate(params):
            grad = p.grad
            m_i = m[i] = beta1 * m[i] + m_weight * grad
            v_i = v[i] = beta2 * v[i] + v_weight * grad**2
            p.data -= lr_t * (m_i / m_correction) / ((v_i / v_correction) ** 0.5 + eps)
            p.grad = 0.0
        return lr_t


def check_squarable(grads):
    """An OverflowError for a gradient too large for `Adam.update` to square, raised before
    any weight moves: Adam itself would fail only midway, having moved the first ones."""
    for grad in grads:
        if LARGEST_SQUARABLE < abs(grad) < math.inf:
            raise OverflowError(f"a gradient of {grad:.3g} is too large for Adam to square")


def update_sizes(m, v, step, config):
    """lr_t * m_hat / (sqrt(v_hat) + eps) per parameter: what `update` subtracted from each
    weight in step `step` (0-based), computed from the moments that step left behind."""
    lr_t = learning_rate(config, step)
    m_correction = 1 - config.beta1 ** (step + 1)
    v_correction = 1 - config.beta2 ** (step + 1)
    return tuple(
        lr_t * (m_i / m_correction) / ((v_i / v_correction) ** 0.5 + config.eps)
        for m_i, v_i in zip(m, v)
    )
