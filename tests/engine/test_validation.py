"""--val-fraction: the held-out split, the validation loss, and what they leave unchanged."""

import io
import math
from collections import Counter

import pytest

from engine import GRAPH_OPS, Config, Trainer, forward_document, load_docs
from engine.checkpoint import read_checkpoint, resume, save_checkpoint
from engine.cli import build_parser, run, trainer_from_args
from engine.probe import VALIDATION_SIZE, mean_loss, validation_documents
from engine.trainer import held_out_count
from tests.engine.conftest import TINY, TINY_DOCS
from tests.engine.test_cli import REFERENCE_LOG

DOCS = [f"{a}{b}{c}" for a in "abcd" for b in "efgh" for c in "ij"]  # 32 distinct names


def test_split_is_disjoint_covers_every_document_and_is_fixed_by_the_seed():
    trainer = Trainer(TINY, DOCS, val_fraction=0.25)
    assert len(trainer.validation_docs) == 8 and len(trainer.docs) == 24
    assert not set(trainer.docs) & set(trainer.validation_docs)
    assert Counter(trainer.docs) + Counter(trainer.validation_docs) == Counter(DOCS)
    again = Trainer(TINY, DOCS, val_fraction=0.25)
    assert (again.docs, again.validation_docs) == (trainer.docs, trainer.validation_docs)
    other_seed = Trainer(Config(**{**TINY.to_dict(), "seed": 4}), DOCS, val_fraction=0.25)
    assert other_seed.validation_docs != trainer.validation_docs


def test_holding_out_leaves_the_random_stream_weights_and_training_order_alone():
    plain = Trainer(TINY, DOCS)
    split = Trainer(TINY, DOCS, val_fraction=0.25)
    assert split.weights() == plain.weights()
    assert split.rng.getstate() == plain.rng.getstate()
    # The training documents are the shuffled list's first part, in the same order...
    assert split.docs == plain.docs[:24]
    assert split.validation_docs == tuple(plain.docs[24:])
    assert split.n_shuffled == plain.n_shuffled == len(DOCS)
    # ...so until training wraps round the kept docs, every step is the same.
    for _ in range(24):
        assert split.step().loss == plain.step().loss


def test_the_first_ten_steps_with_names_held_out_are_the_reference_runs():
    expected = REFERENCE_LOG.read_text().splitlines()[3:13]
    trainer = Trainer(Config(), load_docs(), val_fraction=0.1)
    lines = [f"step {r.step:4d} / {r.num_steps:4d} | loss {r.loss:.4f}"
             for r in (trainer.step() for _ in range(10))]
    assert lines == expected


@pytest.mark.parametrize("fraction, n_docs, held_out", [
    (0.0, 10, 0), (0.1, 10, 1), (0.25, 8, 2), (0.5, 3, 2), (0.9, 10, 9)])
def test_held_out_count_rounds(fraction, n_docs, held_out):
    assert held_out_count(n_docs, fraction) == held_out


@pytest.mark.parametrize("fraction, n_docs, side", [(0.1, 3, "none"), (0.9, 2, "all")])
def test_a_fraction_that_leaves_a_side_empty_is_refused(fraction, n_docs, side):
    with pytest.raises(ValueError, match=f"holds out {side} of them"):
        Trainer(TINY, DOCS[:n_docs], val_fraction=fraction)


def graph_loss(trainer, doc):
    """A document's loss on the autograd graph (not the float forward the Trainer-free
    validation uses): an independent computation of the same number."""
    tokens = trainer.tokenizer.document(doc)
    return forward_document(tokens, trainer.params, trainer.config, GRAPH_OPS).loss.data


def test_validation_loss_is_the_mean_of_the_held_out_documents_graph_losses():
    trainer = Trainer(TINY, DOCS, val_fraction=0.25)
    for _ in range(5):
        trainer.step()
    held_out = validation_documents(trainer.validation_docs)
    assert held_out == trainer.validation_docs  # fewer than VALIDATION_SIZE: all of them
    expected = sum(graph_loss(trainer, doc) for doc in held_out) / len(held_out)
    measured = mean_loss(held_out, trainer.weights(), trainer.tokenizer, TINY)
    assert measured == pytest.approx(expected, rel=1e-12)


def test_validation_measures_at_most_its_size_of_the_held_out_documents():
    held_out = tuple(f"n{i}" for i in range(VALIDATION_SIZE + 50))
    assert validation_documents(held_out) == held_out[:VALIDATION_SIZE]


def headless(args):
    out = io.StringIO()
    assert run(build_parser().parse_args(args), out=out) == 0
    return out.getvalue().splitlines()


def test_headless_prints_the_validation_loss_every_interval(tmp_path):
    data = tmp_path / "names.txt"
    data.write_text("\n".join(DOCS) + "\n")
    args = ["--data", str(data), "--steps", "40", "--samples", "0", "--n-embd", "8",
            "--n-head", "2", "--block-size", "8", "--seed", "3"]
    plain = headless(args)
    lines = headless([*args, "--val-fraction", "0.25"])
    assert lines[:3] == plain[:3] == ["num docs: 32", "vocab size: 11", "num params: 1008"]
    assert lines[3] == "validation: 8 docs held out; val = mean loss on 8 of them every 2 steps"
    steps = lines[4:44]
    # The independent check: replay the run and measure on the autograd graph.
    trainer = Trainer(Config(n_embd=8, n_head=2, block_size=8, num_steps=40, seed=3), DOCS,
                      val_fraction=0.25)
    for number, line in enumerate(steps, 1):
        result = trainer.step()
        step_line = f"step {number:4d} /   40 | loss {result.loss:.4f}"
        if number % 2:
            assert line == step_line
            continue
        expected = sum(graph_loss(trainer, doc) for doc in trainer.validation_docs) / 8
        assert line == f"{step_line} | val {expected:.4f}"
    # The first 24 steps train on the same names as the run without a validation set.
    assert [line.split(" | val")[0] for line in steps[:24]] == plain[3:27]


def test_the_novelty_summary_goes_to_stderr(tmp_path, capsys):
    data = tmp_path / "names.txt"
    data.write_text("\n".join(DOCS) + "\n")
    lines = headless(["--data", str(data), "--steps", "2", "--samples", "3", "--n-embd", "8",
                      "--n-head", "2"])
    samples = [line.split(": ", 1)[1] for line in lines if line.startswith("sample")]
    new = sum(sample not in DOCS for sample in samples)
    assert capsys.readouterr().err == (
        f"{new} of 3 samples are new names (not in the training data)\n")


def test_a_checkpoint_keeps_the_split(tmp_path):
    data = tmp_path / "names.txt"
    data.write_text("\n".join(DOCS) + "\n")
    trainer = Trainer(TINY, DOCS, val_fraction=0.25)
    losses = [trainer.step().loss for _ in range(3)]
    path = tmp_path / "run.json"
    save_checkpoint(path, trainer, losses)
    checkpoint = read_checkpoint(path)
    assert checkpoint.val_fraction == 0.25
    loaded, _ = resume(checkpoint, DOCS)
    assert loaded.validation_docs == trainer.validation_docs and loaded.docs == trainer.docs
    assert loaded.step().loss == trainer.step().loss
    # Loading with the same fraction is fine; another one is a one-line refusal.
    load = ["--data", str(data), "--load", str(path), "--val-fraction"]
    args = build_parser().parse_args([*load, "0.25"])
    assert trainer_from_args(args)[0].validation_docs == trainer.validation_docs
    with pytest.raises(ValueError, match=r"--val-fraction 0.1 \(checkpoint: 0.25\)"):
        trainer_from_args(build_parser().parse_args([*load, "0.1"]))


def test_a_checkpoint_without_the_key_holds_nothing_out(tmp_path):
    data = tmp_path / "names.txt"
    data.write_text("\n".join(TINY_DOCS) + "\n")
    trainer = Trainer(TINY, TINY_DOCS)
    path = tmp_path / "run.json"
    save_checkpoint(path, trainer, [])
    text = path.read_text().replace(',"val_fraction":0.0', "")
    assert "val_fraction" not in text
    path.write_text(text)
    assert read_checkpoint(path).val_fraction == 0.0
    with pytest.raises(ValueError, match=r"--val-fraction 0.5 \(checkpoint: 0.0\)"):
        trainer_from_args(build_parser().parse_args(["--data", str(data), "--load", str(path),
                                                     "--val-fraction", "0.5"]))


@pytest.mark.parametrize("value", ["1", "-0.1", "nan", "x"])
def test_bad_fractions_are_refused_by_the_parser(value, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--val-fraction", value])
    assert "--val-fraction" in capsys.readouterr().err


def test_a_checkpoint_with_a_bad_fraction_names_the_field(tmp_path):
    trainer = Trainer(TINY, TINY_DOCS)
    path = tmp_path / "run.json"
    save_checkpoint(path, trainer, [])
    path.write_text(path.read_text().replace('"val_fraction":0.0', '"val_fraction":2'))
    with pytest.raises(ValueError, match="checkpoint val_fraction must be"):
        read_checkpoint(path)


def test_math_stays_finite_on_a_real_split(names):
    trainer = Trainer(Config(num_steps=3), names, val_fraction=0.1)
    assert len(trainer.validation_docs) == 3203
    loss = mean_loss(validation_documents(trainer.validation_docs), trainer.weights(),
                     trainer.tokenizer, trainer.config)
    assert math.isclose(loss, math.log(27), rel_tol=0.05)
