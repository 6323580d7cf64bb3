import math

import pytest

from engine import FLOAT_OPS, Config, Sampler, Trainer, forward_document
from engine.anatomy import n_positions, trace_position
from engine.probe import Cancelled
from tests.engine.conftest import TINY, TINY_DOCS

TWO_LAYERS = Config(n_layer=2, n_embd=12, n_head=3, block_size=6, num_steps=50, seed=9)


def trained(config, steps=15):
    trainer = Trainer(config, TINY_DOCS)
    for _ in range(steps):
        trainer.step()
    return trainer


def name_tokens(trainer, name):
    return trainer.tokenizer.document(name)


@pytest.mark.parametrize("config", [TINY, TWO_LAYERS])
@pytest.mark.parametrize("temperature, top_k", [(0.5, None), (1.3, None), (0.8, 3)])
def test_probabilities_equal_the_samplers_for_the_same_name_bit_for_bit(config, temperature,
                                                                         top_k):
    trainer = trained(config)
    weights, tokens = trainer.weights(), name_tokens(trainer, "frank")
    sampler = Sampler(weights, trainer.tokenizer, config, temperature=temperature, top_k=top_k)
    for position in range(n_positions(tokens, config)):
        event = sampler.step(force=tokens[position + 1])
        anatomy = trace_position(weights, tokens, position, config, temperature, top_k)
        assert anatomy.drawn_probs == event.probs
        assert anatomy.logits == event.logits
        if top_k is None:
            assert anatomy.probs == event.probs
        else:
            assert sum(p > 0 for p in anatomy.drawn_probs) == top_k
        assert anatomy.layers[-1].heads[0].weights == event.attention[-1][0]


@pytest.mark.parametrize("config", [TINY, TWO_LAYERS])
def test_logits_equal_the_float_forward_pass(config):
    trainer = trained(config)
    weights, tokens = trainer.weights(), name_tokens(trainer, "gina")
    forward = forward_document(tokens, weights, config, FLOAT_OPS)
    for position in range(n_positions(tokens, config)):
        anatomy = trace_position(weights, tokens, position, config, 1.0)
        assert anatomy.logits == tuple(forward.logits[position])
        assert anatomy.probs == tuple(forward.probs[position])  # temperature 1: z * 1 == z


# An independent forward pass, written out loop by loop from the spec: every stage the
# anatomy shows must be this one's number, exactly.
def left_sum(terms):
    total = 0
    for term in terms:
        total += term
    return total


def linear(x, w):
    return [left_sum(w_j * x_j for w_j, x_j in zip(row, x)) for row in w]


def rmsnorm(x):
    scale = (left_sum(xi * xi for xi in x) * len(x) ** -1 + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def softmax(z):
    m = max(z)
    exps = [math.exp(zi - m) for zi in z]
    total = left_sum(exps)
    return [e * total**-1 for e in exps]


def hand_forward(weights, tokens, position, config):
    """Every stage of the last position, as a list of (name, vector)."""
    d = config.head_dim
    keys = [[] for _ in range(config.n_layer)]
    values = [[] for _ in range(config.n_layer)]
    for pos in range(position + 1):
        stages = []
        x = [t + p for t, p in zip(weights["wte"][tokens[pos]], weights["wpe"][pos])]
        stages.append(("embedded", x))
        x = rmsnorm(x)
        stages.append(("normed", x))
        for li in range(config.n_layer):
            w = {name.split(".")[1]: m for name, m in weights.items()
                 if name.startswith(f"layer{li}.")}
            x_in = x
            x = rmsnorm(x)
            q, k, v = linear(x, w["attn_wq"]), linear(x, w["attn_wk"]), linear(x, w["attn_wv"])
            keys[li].append(k)
            values[li].append(v)
            concat = []
            for h in range(config.n_head):
                sl = slice(h * d, (h + 1) * d)
                logits = [left_sum(a * b for a, b in zip(q[sl], key[sl])) * (d**0.5) ** -1
                          for key in keys[li]]
                attn = softmax(logits)
                out = [left_sum(attn[t] * values[li][t][j] for t in range(len(attn)))
                       for j in range(sl.start, sl.stop)]
                stages += [(f"{li}.logits{h}", logits), (f"{li}.weights{h}", attn),
                           (f"{li}.out{h}", out)]
                concat += out
            x = [a + b for a, b in zip(linear(concat, w["attn_wo"]), x_in)]
            stages += [(f"{li}.x_norm", rmsnorm(x_in)), (f"{li}.q", q), (f"{li}.k", k),
                       (f"{li}.v", v), (f"{li}.x_mid", x)]
            x_mid = x
            hidden = linear(rmsnorm(x), w["mlp_fc1"])
            relu = [z if z > 0 else 0.0 for z in hidden]
            x = [a + b for a, b in zip(linear(relu, w["mlp_fc2"]), x_mid)]
            stages += [(f"{li}.hidden", hidden), (f"{li}.activated", relu), (f"{li}.x_out", x)]
        stages.append(("logits", linear(x, weights["lm_head"])))
    return stages


def anatomy_stages(anatomy):
    stages = {"embedded": anatomy.embedded, "normed": anatomy.normed, "logits": anatomy.logits}
    for li, layer in enumerate(anatomy.layers):
        for name in ("x_norm", "q", "k", "v", "x_mid", "hidden", "activated", "x_out"):
            stages[f"{li}.{name}"] = getattr(layer, name)
        for h, head in enumerate(layer.heads):
            stages.update({f"{li}.logits{h}": head.logits, f"{li}.weights{h}": head.weights,
                           f"{li}.out{h}": head.out})
    return stages


@pytest.mark.parametrize("config", [TINY, TWO_LAYERS])
def test_every_stage_equals_a_hand_written_forward_pass(config):
    trainer = trained(config)
    weights, tokens = trainer.weights(), name_tokens(trainer, "clara")
    position = 3
    anatomy = trace_position(weights, tokens, position, config, 0.5)
    stages = anatomy_stages(anatomy)
    hand = hand_forward(weights, tokens, position, config)
    assert len(hand) == len(stages)
    for name, vector in hand:
        assert stages[name] == tuple(vector), name
    assert anatomy.embedded == tuple(a + b for a, b in zip(anatomy.tok_emb, anatomy.pos_emb))
    assert anatomy.scaled_logits == tuple(z / 0.5 for z in anatomy.logits)
    assert (anatomy.token, anatomy.target) == (tokens[3], tokens[4])


def test_dead_units_are_those_the_relu_zeroes():
    trainer = trained(TINY)
    tokens = name_tokens(trainer, "eve")
    layer = trace_position(trainer.weights(), tokens, 2, TINY, 0.5).layers[0]
    assert layer.dead_units == tuple(i for i, a in enumerate(layer.activated) if a == 0.0)
    assert 0 < len(layer.dead_units) < len(layer.hidden)


def test_a_position_outside_the_document_or_a_bad_temperature_is_refused():
    trainer = trained(TINY, steps=0)
    tokens = name_tokens(trainer, "eve")  # 4 positions: BOS e v e
    with pytest.raises(ValueError, match="position 4"):
        trace_position(trainer.weights(), tokens, 4, TINY, 0.5)
    with pytest.raises(ValueError, match="temperature"):
        trace_position(trainer.weights(), tokens, 1, TINY, 0)


def test_cancelled_stops_before_the_next_position():
    trainer = trained(TINY, steps=0)
    with pytest.raises(Cancelled):
        trace_position(trainer.weights(), name_tokens(trainer, "eve"), 2, TINY, 0.5,
                       cancelled=lambda: True)
