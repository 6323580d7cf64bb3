"""Trainer.staged_step(): one training step in stages, exactly as step() takes it."""

import math

import pytest

from engine import Config, StepStage, Trainer
from tests.engine.conftest import TINY, TINY_DOCS

TWO_LAYERS = Config(n_layer=2, n_embd=8, n_head=2, block_size=8, num_steps=50, seed=5)


def walk(staged):
    stages = []
    while staged.under_way:
        stages.append(staged.advance())
    return stages


def matrix_change_norms(before, after):
    return tuple(
        (name, math.hypot(*(b - a for row_a, row_b in zip(before[name], after[name])
                            for a, b in zip(row_a, row_b))))
        for name in before
    )


@pytest.mark.parametrize("config", [TINY, TWO_LAYERS])
def test_staged_steps_give_exactly_the_steps_of_step(config):
    plain, staged = Trainer(config, TINY_DOCS), Trainer(config, TINY_DOCS)
    for n in range(6):
        expected = plain.step()
        # Alternate: staged, plain, staged ... so later steps build on a staged one.
        result = walk(staged.staged_step())[-1].result if n % 2 == 0 else staged.step()
        assert result == expected
    assert staged.export_state() == plain.export_state()


def test_a_staged_first_step_with_the_defaults_is_the_reference_step(names):
    plain, staged = Trainer(Config(), names), Trainer(Config(), names)
    last = walk(staged.staged_step())[-1]
    assert last.result == plain.step()
    assert round(last.loss, 4) == 3.3660


def test_forward_stages_grow_the_cache_and_losses_one_position_at_a_time(tiny_trainer):
    staged = tiny_trainer.staged_step()
    stages = walk(staged)
    result = stages[-1].result
    n = result.n_positions
    assert [stage.kind for stage in stages] == ["forward"] * n + ["backward", "update"]
    assert [stage.number for stage in stages] == list(range(1, n + 3))
    assert all(isinstance(stage, StepStage) and stage.n_stages == n + 2 for stage in stages)
    for pos, stage in enumerate(stages[:n]):
        assert stage.position_losses == result.position_losses[: pos + 1]
        assert stage.probs == result.probs[: pos + 1]
        assert stage.kv_cache == tuple(layer[: pos + 1] for layer in result.kv_cache)
        # Each position's attention rows as it is computed: the finished step's first rows.
        assert stage.attention == tuple(tuple(head[: pos + 1] for head in layer)
                                        for layer in result.attention)
        assert stage.kv_grads is None and stage.grad_norms is None
        assert stage.loss == (result.loss if pos == n - 1 else None)


def test_backward_brings_the_gradients_and_update_the_weight_changes(tiny_trainer):
    staged = tiny_trainer.staged_step()
    state = tiny_trainer.export_state()
    before = tiny_trainer.weights()
    n_stages = staged.advance().n_stages
    for _ in range(n_stages - 2):
        backward = staged.advance()
    assert backward.kind == "backward"
    assert tiny_trainer.export_state() == state  # nothing applied yet
    assert backward.grad_norms == tuple(
        (name, math.hypot(*(p.grad for row in matrix for p in row)))
        for name, matrix in tiny_trainer.params.items())
    assert any(norm > 0 for _, norm in backward.grad_norms)
    update = staged.advance()
    assert update.kind == "update" and not staged.under_way
    assert update.kv_grads == update.result.kv_grads == backward.kv_grads
    assert update.grad_norms == update.result.grad_norms == backward.grad_norms
    assert update.lr == update.result.lr == TINY.lr
    assert update.update_norms == matrix_change_norms(before, tiny_trainer.weights())
    assert all(norm > 0 for _, norm in update.update_norms)
    assert tiny_trainer.step_count == 1


def test_step_finishes_a_staged_step_under_way(tiny_trainer):
    expected = Trainer(TINY, TINY_DOCS).step()
    staged = tiny_trainer.staged_step()
    staged.advance()
    staged.advance()
    assert tiny_trainer.step() == expected
    assert staged.stage.result == expected and not staged.under_way
    with pytest.raises(RuntimeError, match="over"):
        staged.advance()


def test_only_one_staged_step_at_a_time(tiny_trainer):
    tiny_trainer.staged_step().advance()
    with pytest.raises(RuntimeError, match="under way"):
        tiny_trainer.staged_step()


@pytest.mark.parametrize("stages_run", [0, 1, 5, 6])  # 6: after backward (5 positions)
def test_restoring_a_state_drops_a_staged_step_under_way(tiny_trainer, stages_run):
    plain = Trainer(TINY, TINY_DOCS)
    state = tiny_trainer.export_state()
    staged = tiny_trainer.staged_step()
    for _ in range(stages_run):
        staged.advance()
    tiny_trainer.restore_state(state)
    assert not staged.under_way and tiny_trainer.staged is None
    assert all(p.grad == 0.0 for p in tiny_trainer.param_list)
    assert [tiny_trainer.step() for _ in range(2)] == [plain.step() for _ in range(2)]


def test_a_failing_stage_leaves_the_model_as_it_was():
    # lr 1e6 sends step 2 to a probability of exactly 0, so log() fails in its forward.
    config = Config(n_layer=1, n_embd=8, n_head=2, block_size=8, lr=1e6, num_steps=500)
    trainer = Trainer(config, TINY_DOCS)
    trainer.step()
    state = trainer.export_state()
    with pytest.raises(ValueError):
        walk(trainer.staged_step())
    assert trainer.staged is None
    assert trainer.export_state() == state


def test_no_staged_step_after_the_last_step():
    trainer = Trainer(Config(n_embd=4, n_head=1, block_size=4, num_steps=1), TINY_DOCS)
    walk(trainer.staged_step())
    with pytest.raises(RuntimeError, match="finished"):
        trainer.staged_step()


def test_rewinding_many_steps_and_redoing_them_repeats_every_loss(tiny_trainer):
    states, losses = [], []
    for _ in range(12):
        states.append(tiny_trainer.export_state())
        losses.append(tiny_trainer.step().loss)
    tiny_trainer.restore_state(states[2])
    assert tiny_trainer.step_count == 2
    redone = [walk(tiny_trainer.staged_step())[-1].loss, *(tiny_trainer.step().loss
                                                           for _ in range(9))]
    assert redone == losses[2:]
