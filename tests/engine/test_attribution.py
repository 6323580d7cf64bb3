"""Direct logit attribution and counterfactual patching (engine.attribution), checked
against sums and forward passes written out by hand."""

import math

import pytest

from engine.anatomy import n_positions, trace_position
from engine.attribution import HeadPatch, LetterChange, logit_attribution, patched_position
from tests.engine.conftest import TINY
from tests.engine.test_anatomy import TWO_LAYERS, linear, name_tokens, rmsnorm, softmax, trained


def hand_dot(a, b):
    total = 0.0
    for a_i, b_i in zip(a, b):
        total += a_i * b_i
    return total


@pytest.mark.parametrize("config", [TINY, TWO_LAYERS])
def test_the_parts_plus_the_remainder_are_the_logit_and_the_remainder_is_rounding(config):
    trainer = trained(config)
    weights, tokens = trainer.weights(), name_tokens(trainer, "clara")
    for position in range(n_positions(tokens, config)):
        anatomy = trace_position(weights, tokens, position, config, 1.0)
        for token in range(trainer.tokenizer.vocab_size):
            attribution = logit_attribution(anatomy, weights, token)
            assert attribution.logit == anatomy.logits[token]
            parts = [part.value for part in attribution.parts]
            assert len(parts) == 2 + config.n_layer * (config.n_head + 1)
            # remainder = logit - sum(parts), so sum(parts) + remainder is the logit up to
            # the rounding of that one subtraction and addition: rel 1e-9 is ample.
            assert math.isclose(sum(parts) + attribution.remainder, attribution.logit,
                                rel_tol=1e-9)
            # The split is exact in real arithmetic (no rmsnorm before lm_head), so what is
            # left is float rounding: far below any part, not an approximation's error.
            assert abs(attribution.remainder) <= 1e-12 * max(map(abs, parts))


def test_each_head_part_is_lm_head_row_dot_its_attn_wo_columns_times_its_output():
    config = TWO_LAYERS
    trainer = trained(config)
    weights, tokens = trainer.weights(), name_tokens(trainer, "frank")
    anatomy = trace_position(weights, tokens, 4, config, 1.0)
    token = anatomy.target
    parts = {part.label: part.value for part in logit_attribution(anatomy, weights, token).parts}
    row, d = weights["lm_head"][token], config.head_dim
    for li, layer in enumerate(anatomy.layers):
        attn_wo = weights[f"layer{li}.attn_wo"]
        for h, head in enumerate(layer.heads):
            written = [hand_dot(attn_wo[i][h * d:(h + 1) * d], head.out)
                       for i in range(config.n_embd)]
            assert math.isclose(parts[f"layer {li + 1} head {h + 1}"], hand_dot(row, written),
                                rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(parts[f"layer {li + 1} MLP"], hand_dot(row, layer.mlp_out),
                            rel_tol=1e-12, abs_tol=1e-15)
    # The embedding's two parts are lm_head · rmsnorm(tok + pos), split with its one scale.
    embedding = parts["token embedding"] + parts["position embedding"]
    assert math.isclose(embedding, hand_dot(row, anatomy.normed), rel_tol=1e-12, abs_tol=1e-15)


def test_a_one_layer_models_labels_name_no_layer():
    trainer = trained(TINY)
    anatomy = trace_position(trainer.weights(), name_tokens(trainer, "eve"), 1, TINY, 1.0)
    labels = [p.label for p in logit_attribution(anatomy, trainer.weights(), 0).parts]
    assert labels == ["token embedding", "position embedding", "head 1", "head 2", "MLP"]


@pytest.mark.parametrize("config", [TINY, TWO_LAYERS])
def test_patching_a_head_from_the_same_name_changes_nothing_bit_for_bit(config):
    trainer = trained(config)
    weights, tokens = trainer.weights(), name_tokens(trainer, "clara")
    for layer in range(config.n_layer):
        for head in range(config.n_head):
            result = patched_position(weights, tokens, 3, config,
                                      HeadPatch(layer, head, tuple(tokens)), 0.7)
            assert result.patched == result.original == result.source


def test_patching_a_head_from_another_name_equals_a_hand_computation():
    """One layer: the patched head's output replaces its slice of the concatenation; the
    rest of the pass, written out here, runs on as before."""
    config = TINY
    trainer = trained(config)
    weights = trainer.weights()
    tokens, source = name_tokens(trainer, "clara"), name_tokens(trainer, "bob")
    position, head, d = 2, 1, config.head_dim
    result = patched_position(weights, tokens, position, config,
                              HeadPatch(0, head, tuple(source)))
    original = result.original.layers[0]
    source_out = trace_position(weights, source, position, config, 1.0).layers[0].heads[head].out
    concat = list(original.x_attn)
    concat[head * d:(head + 1) * d] = source_out
    x = [a + b for a, b in zip(linear(concat, weights["layer0.attn_wo"]), original.x_in)]
    hidden = linear(rmsnorm(x), weights["layer0.mlp_fc1"])
    relu = [z if z > 0 else 0.0 for z in hidden]
    x = [a + b for a, b in zip(linear(relu, weights["layer0.mlp_fc2"]), x)]
    logits = linear(x, weights["lm_head"])
    assert result.patched.logits == tuple(logits)
    assert result.patched.probs == tuple(softmax(logits))
    assert result.patched.logits != result.original.logits
    # Only the output is patched: the head still attends as it did on the name.
    for patched_head, original_head in zip(result.patched.layers[0].heads, original.heads):
        assert patched_head.weights == original_head.weights
    assert result.patched.layers[0].heads[head].out == source_out


def test_changing_a_letter_runs_the_changed_name():
    trainer = trained(TWO_LAYERS)
    weights, tokenizer = trainer.weights(), trainer.tokenizer
    tokens = name_tokens(trainer, "clara")
    o = tokenizer.encode("o")[0]
    # Token 2 is the second letter (token 0 is BOS): clara becomes coara.
    result = patched_position(weights, tokens, 3, TWO_LAYERS, LetterChange(2, o), 0.5)
    expected = trace_position(weights, name_tokens(trainer, "coara"), 3,
                              TWO_LAYERS, 0.5)
    assert result.patched == expected
    assert result.source is None
    assert result.original == trace_position(weights, tokens, 3, TWO_LAYERS, 0.5)


@pytest.mark.parametrize("patch, message", [
    (LetterChange(4, 0), "letter 4 is not read at position 3"),
    (LetterChange(0, 0), "letter 0"),
    (HeadPatch(1, 0, ()), "no head 1 in layer 2"),
    (HeadPatch(0, 2, ()), "no head 3 in layer 1"),
])
def test_a_patch_that_does_not_fit_is_refused(patch, message):
    trainer = trained(TINY, steps=0)
    with pytest.raises(ValueError, match=message):
        patched_position(trainer.weights(), name_tokens(trainer, "clara"), 3, TINY, patch)


def test_a_second_name_too_short_for_the_position_is_refused():
    trainer = trained(TINY, steps=0)
    with pytest.raises(ValueError, match="too short"):
        patched_position(trainer.weights(), name_tokens(trainer, "clara"), 3, TINY,
                         HeadPatch(0, 0, tuple(name_tokens(trainer, "al"))))
