import random
from dataclasses import replace

import pytest

from engine import Sampler, Trainer
from engine.branch import fork
from tests.engine.conftest import TINY, TINY_DOCS


def stepped(trainer, n):
    return [trainer.step().loss for _ in range(n)]


@pytest.fixture
def run():
    """The tiny run after 3 steps."""
    trainer = Trainer(TINY, TINY_DOCS)
    stepped(trainer, 3)
    return trainer


def test_a_fork_with_no_change_continues_bit_identically(run):
    branch = fork(run)
    assert stepped(branch, 12) == stepped(run, 12)
    assert branch.weights() == run.weights()
    assert branch.export_state() == run.export_state()
    # The random stream is the original's too: both sample the same names.
    samples = [Sampler(t.weights(), t.tokenizer, TINY, rng=t.rng).sample() for t in (run, branch)]
    assert samples[0] == samples[1]


def test_a_fork_shares_nothing_with_the_original(run):
    before = run.export_state()
    branch = fork(run, lr=0.05)
    stepped(branch, 5)
    assert run.export_state() == before
    assert branch.step_count == run.step_count + 5
    assert run.config.lr == TINY.lr


def test_a_fork_in_stages_steps_like_the_original(run):
    branch = fork(run)
    assert branch.staged_step().finish().loss == run.step().loss
    assert branch.weights() == run.weights()


def test_a_fork_is_refused_while_a_step_is_under_way_in_stages(run):
    run.staged_step().advance()
    with pytest.raises(ValueError, match="under way"):
        fork(run)


def test_another_lr_changes_the_loss_from_the_second_step_on(run):
    branch = fork(run, lr=2 * TINY.lr)
    assert branch.config.lr == 2 * TINY.lr
    # The first step's loss is taken before any update; the update it makes differs.
    first_branch, first_run = branch.step(), run.step()
    assert first_branch.loss == first_run.loss
    assert first_branch.lr == 2 * first_run.lr
    assert branch.weights() != run.weights()
    assert all(b != r for b, r in zip(stepped(branch, 4), stepped(run, 4)))


def test_a_fork_at_step_0_with_another_lr_is_a_run_started_with_it():
    """Checked against an independent run: a fresh Trainer configured with that lr."""
    original = Trainer(TINY, TINY_DOCS)
    branch = fork(original, lr=0.03)
    fresh = Trainer(replace(TINY, lr=0.03), TINY_DOCS)
    assert stepped(branch, 6) == stepped(fresh, 6)
    assert branch.weights() == fresh.weights()


def test_a_new_order_shuffles_only_the_documents_not_reached_yet(run):
    branch = fork(run, order_seed=7)
    done = run.step_count
    assert branch.docs[:done] == run.docs[:done]
    remaining = run.docs[done:]
    expected = list(remaining)
    random.Random(7).shuffle(expected)
    assert branch.docs[done:] == expected != remaining
    assert [branch.step().doc for _ in expected] == expected
    # The run's random stream is untouched: the fork and the original still share it.
    assert branch.rng.getstate() == run.rng.getstate()


def test_an_ablated_branch_from_step_0_never_moves_the_heads_query_key_and_value_rows(run):
    """The head's rows get no gradient; from step 0 Adam has no momentum to move them either
    (forked later, they drift on the momentum of the steps before)."""
    branch = fork(Trainer(TINY, TINY_DOCS), ablate={(0, 1)})
    lo, hi = TINY.head_dim, 2 * TINY.head_dim
    before = branch.weights()
    stepped(branch, 5)
    after = branch.weights()
    for name in ("attn_wq", "attn_wk", "attn_wv"):
        key = f"layer0.{name}"
        assert after[key][lo:hi] == before[key][lo:hi], name
        assert after[key][:lo] != before[key][:lo], name
    assert run.ablate == frozenset()


def test_a_head_the_model_does_not_have_is_refused(run):
    with pytest.raises(ValueError, match="cannot ablate"):
        fork(run, ablate={(0, 2)})
