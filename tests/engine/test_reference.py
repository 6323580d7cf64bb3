from engine import Config, Trainer
from engine.reference import REFERENCE_LOSSES, ParityCheck, is_reference_run
from tests.engine.conftest import TINY, TINY_DOCS


def run(check, trainer, steps):
    for _ in range(steps):
        result = trainer.step()
        check.observe(result.step, result.loss)


def test_the_default_run_is_reference_exact(names):
    check = ParityCheck()
    assert check.badge == ""
    trainer = Trainer(Config(), names)
    assert is_reference_run(trainer.config, trainer.docs)
    run(check, trainer, 1)
    assert check.badge == "reference-exact"
    run(check, trainer, 9)
    assert check.matched == set(REFERENCE_LOSSES) == {1, 10}
    assert check.badge == "reference-exact"
    assert check.diverged_at is None


def test_a_run_that_differs_is_diverged_at_the_first_differing_step(tiny_trainer):
    losses = [tiny_trainer.step().loss for _ in range(4)]
    check = ParityCheck({1: losses[0], 2: losses[1] + 1e-12, 4: losses[3] * 2})
    for step, loss in enumerate(losses, 1):
        check.observe(step, loss)
        assert check.badge == ("reference-exact" if step == 1 else "diverged at step 2")
    assert check.diverged_at == 2
    assert check.mismatched == {2, 4}


def test_only_the_default_config_on_names_txt_is_the_reference_run(names):
    default = Trainer(Config(), names)
    assert not is_reference_run(TINY, Trainer(TINY, TINY_DOCS).docs)
    assert not is_reference_run(Config(seed=1), Trainer(Config(seed=1), names).docs)
    assert not is_reference_run(Config(num_steps=500), default.docs)
    assert not is_reference_run(Config(), default.docs[:-1])
    assert not is_reference_run(Config(), list(reversed(default.docs)))
