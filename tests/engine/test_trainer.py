import json
import math
from array import array

import pytest

from engine import Config, StepResult, Trainer, Value
from engine.trace import BACKWARD
from tests.engine.conftest import TINY, TINY_DOCS


def contains_live_value(obj):
    if isinstance(obj, Value):
        return True
    if isinstance(obj, (tuple, list)):
        return any(contains_live_value(item) for item in obj)
    return False


def test_step_result_holds_only_plain_immutable_data(tiny_trainer):
    result = tiny_trainer.step()
    assert isinstance(result, StepResult)
    for field in result.__dataclass_fields__:
        value = getattr(result, field)
        assert not contains_live_value(value), field
        assert not isinstance(value, (list, dict, set)), field
    with pytest.raises(AttributeError):
        result.loss = 0.0


def test_step_result_describes_the_step(tiny_trainer):
    doc = tiny_trainer.next_document()
    result = tiny_trainer.step()
    bos = tiny_trainer.tokenizer.bos
    assert result.step == 1
    assert result.doc == doc
    assert result.tokens == (bos, *tiny_trainer.tokenizer.encode(doc), bos)
    assert result.n_positions == min(TINY.block_size, len(doc) + 1)
    assert result.lr == TINY.lr
    assert result.loss == pytest.approx(math.fsum(result.position_losses) / result.n_positions)
    for pos, probs in enumerate(result.probs):
        assert len(probs) == tiny_trainer.tokenizer.vocab_size
        assert math.fsum(probs) == pytest.approx(1.0)
        target = result.targets[pos]
        assert result.position_losses[pos] == pytest.approx(-math.log(probs[target]))
    assert [name for name, _ in result.grad_norms][:3] == ["wte", "wpe", "lm_head"]
    assert result.graph_size > 0


def test_kv_cache_and_its_gradients_have_one_entry_per_position(tiny_trainer):
    result = tiny_trainer.step()
    assert len(result.kv_cache) == TINY.n_layer
    for layer, layer_grads in zip(result.kv_cache, result.kv_grads):
        assert len(layer) == result.n_positions
        for (key, value), (key_grad, value_grad) in zip(layer, layer_grads):
            assert len(key) == len(value) == len(key_grad) == len(value_grad) == TINY.n_embd
    assert any(g != 0.0 for layer in result.kv_grads for k, v in layer for g in k + v)


def test_learning_rate_decays_linearly(tiny_trainer):
    lrs = [tiny_trainer.step().lr for _ in range(3)]
    assert lrs == [TINY.lr * (1 - s / TINY.num_steps) for s in range(3)]


def test_export_and_restore_reproduce_the_next_step_exactly(tiny_trainer):
    for _ in range(3):
        tiny_trainer.step()
    state = json.loads(json.dumps(tiny_trainer.export_state()))
    expected = [tiny_trainer.step().loss for _ in range(3)]

    fresh = Trainer(TINY, TINY_DOCS)
    fresh.restore_state(state)
    assert fresh.step_count == 3
    assert [fresh.step().loss for _ in range(3)] == expected


def test_restoring_an_earlier_state_undoes_steps(tiny_trainer):
    state = tiny_trainer.export_state()
    first = tiny_trainer.step().loss
    tiny_trainer.step()
    tiny_trainer.restore_state(state)
    assert tiny_trainer.step().loss == first
    assert tiny_trainer.rng.getstate() == Trainer(TINY, TINY_DOCS).rng.getstate()


def test_restore_takes_the_gradients_of_the_step_that_led_to_the_state(tiny_trainer):
    tiny_trainer.step()
    state, grads = tiny_trainer.export_state(), tiny_trainer.last_grads
    tiny_trainer.step()
    tiny_trainer.restore_state(state, array("d", grads))  # packed, as the undo history keeps them
    assert tiny_trainer.last_grads == grads
    tiny_trainer.restore_state(state)  # as from a checkpoint, which keeps no gradients
    assert tiny_trainer.last_grads is None
    with pytest.raises(ValueError, match="last gradients"):
        tiny_trainer.restore_state(state, grads[1:])


def test_restore_refuses_a_state_of_another_shape(tiny_trainer):
    other = Trainer(Config(n_layer=1, n_embd=4, n_head=2, block_size=8), TINY_DOCS)
    with pytest.raises(ValueError, match="shape"):
        tiny_trainer.restore_state(other.export_state())
    with pytest.raises(ValueError, match="lacks"):
        tiny_trainer.restore_state({"step": 0})


def test_training_stops_after_num_steps():
    trainer = Trainer(Config(n_embd=4, n_head=1, block_size=4, num_steps=2), TINY_DOCS)
    trainer.step()
    trainer.step()
    assert trainer.finished
    with pytest.raises(RuntimeError, match="finished"):
        trainer.step()


def test_training_lowers_the_loss_on_a_tiny_dataset():
    config = Config(n_layer=1, n_embd=8, n_head=2, block_size=8, num_steps=300, lr=0.02)
    trainer = Trainer(config, TINY_DOCS)
    losses = [trainer.step().loss for _ in range(300)]
    early = sum(losses[:len(TINY_DOCS)]) / len(TINY_DOCS)
    late = sum(losses[-len(TINY_DOCS):]) / len(TINY_DOCS)
    assert late < early - 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"n_embd": 10, "n_head": 4}, "divisible"),
    ({"block_size": 0}, "block_size"),
    ({"n_layer": -1}, "n_layer"),
    ({"lr": float("nan")}, "lr"),
    ({"beta1": 1.0}, "beta1"),
])
def test_bad_config_is_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Config(**kwargs)


def test_optimizer_snapshot_before_any_step_has_no_gradients(tiny_trainer):
    snapshot = tiny_trainer.optimizer_snapshot()
    assert snapshot.step == 0 and snapshot.grads is None and snapshot.update is None
    assert snapshot.m == snapshot.v == (0.0,) * tiny_trainer.num_params
    assert snapshot.matrix(snapshot.weights, 0) == tiny_trainer.weights()["wte"]


def test_optimizer_snapshot_holds_the_step_just_taken(tiny_trainer):
    tiny_trainer.step()
    before = tiny_trainer.weights()
    result = tiny_trainer.step()
    snapshot = tiny_trainer.optimizer_snapshot()
    after = tiny_trainer.weights()
    assert snapshot.step == 2 and snapshot.lr == result.lr
    for index, (name, rows, cols, _) in enumerate(snapshot.layout):
        assert len(after[name]) == rows and len(after[name][0]) == cols
        assert snapshot.matrix(snapshot.weights, index) == after[name]
        grads = snapshot.matrix(snapshot.grads, index)
        assert math.hypot(*(g for row in grads for g in row)) == dict(result.grad_norms)[name]
        # The update is exactly what the step moved each weight by.
        for row_before, row_after, row_update in zip(
                before[name], after[name], snapshot.matrix(snapshot.update, index)):
            for b, a, u in zip(row_before, row_after, row_update):
                assert b - a == pytest.approx(u, rel=1e-6, abs=1e-15)
    assert snapshot.m == tuple(tiny_trainer.adam.m) and snapshot.v == tuple(tiny_trainer.adam.v)
    assert any(g != 0 for g in snapshot.grads)
    assert all(p.grad == 0 for p in tiny_trainer.param_list)  # the snapshot kept a copy


def test_restoring_a_state_forgets_the_last_gradients(tiny_trainer):
    state = tiny_trainer.export_state()
    tiny_trainer.step()
    tiny_trainer.restore_state(state)
    assert tiny_trainer.optimizer_snapshot().grads is None


def test_a_gradient_too_large_to_square_fails_the_step_before_any_weight_moves():
    # Huge MLP outputs into a tiny lm_head: the logits stay small and the loss finite, but
    # lm_head's gradient (output times error) is past what Adam can square.
    trainer = Trainer(TINY, TINY_DOCS)
    for name, scale in (("layer0.mlp_fc2", 1e157), ("lm_head", 1e-162)):
        for row in trainer.params[name]:
            for p in row:
                p.data *= scale
    state = trainer.export_state()
    with pytest.raises(OverflowError, match="too large for Adam to square"):
        trainer.step()
    assert trainer.export_state() == state
    assert all(p.grad == 0.0 for p in trainer.param_list)
    assert trainer.last_grads is None


def test_a_nan_gradient_does_not_hide_one_too_large_to_square():
    trainer = Trainer(TINY, TINY_DOCS)
    state = trainer.export_state()
    staged = trainer.staged_step()
    while staged.advance().kind != BACKWARD:
        pass
    # lm_head's norm is nan now, which compares as neither large nor small.
    trainer.params["lm_head"][0][0].grad = math.nan
    trainer.params["lm_head"][1][0].grad = 1e200
    with pytest.raises(OverflowError, match="too large for Adam to square"):
        staged.advance()
    assert trainer.export_state() == state
    assert all(p.grad == 0.0 for p in trainer.param_list)
