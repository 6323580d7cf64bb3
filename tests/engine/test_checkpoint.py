import json
import os
import subprocess
import sys

import pytest

from engine import Config, Sampler, Trainer, load_docs
from engine.checkpoint import (
    FORMAT_VERSION,
    load_checkpoint,
    read_checkpoint,
    resume,
    save_checkpoint,
)
from engine.data import Tokenizer
from tests.engine.conftest import TINY, TINY_DOCS


def trained(steps, config=TINY, docs=TINY_DOCS):
    trainer = Trainer(config, docs)
    losses = [trainer.step().loss for _ in range(steps)]
    return trainer, losses


@pytest.fixture
def saved(tmp_path):
    """A checkpoint after 3 steps of the tiny run."""
    path = tmp_path / "run.json"
    trainer, losses = trained(3)
    save_checkpoint(path, trainer, losses)
    return path


def test_resuming_builds_the_vocabulary_once(saved, monkeypatch):
    built = []
    from_docs = Tokenizer.from_docs.__func__
    monkeypatch.setattr(Tokenizer, "from_docs",
                        classmethod(lambda cls, docs: built.append(1) or from_docs(cls, docs)))
    stages = []
    trainer, _ = resume(read_checkpoint(saved), TINY_DOCS, on_stage=stages.append)
    assert len(built) == 1
    assert stages == ["building the vocabulary", f"shuffling {len(TINY_DOCS):,} documents"]
    assert trainer.tokenizer == Trainer(TINY, TINY_DOCS).tokenizer


def leftovers(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


def test_a_loaded_run_continues_exactly_like_the_uninterrupted_one(saved):
    uninterrupted, losses = trained(3)
    expected = [uninterrupted.step().loss for _ in range(4)]

    resumed, history = load_checkpoint(saved, TINY_DOCS)
    assert history == losses
    assert resumed.step_count == 3
    assert [resumed.step().loss for _ in range(4)] == expected
    assert resumed.export_state() == uninterrupted.export_state()
    # The random stream is restored too, so sampling afterwards matches as well.
    names = [Sampler(t.weights(), t.tokenizer, TINY, rng=t.rng).sample() for _ in range(3)
             for t in (resumed, uninterrupted)]
    assert names[0::2] == names[1::2]


def test_a_checkpoint_is_one_json_file_with_the_whole_run(saved):
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert document["version"] == FORMAT_VERSION
    assert document["config"] == TINY.to_dict()
    assert document["vocabulary"] == "".join(sorted(set("".join(TINY_DOCS))))
    assert set(document["trainer"]) == {"step", "params", "adam_m", "adam_v", "rng_state"}
    assert len(document["loss_history"]) == document["trainer"]["step"] == 3
    assert leftovers(saved.parent, saved.name) == []


def test_saving_again_replaces_the_checkpoint(saved):
    trainer, losses = trained(5)
    save_checkpoint(saved, trainer, losses)
    assert read_checkpoint(saved).step == 5
    assert leftovers(saved.parent, saved.name) == []


def rewrite(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def drop_a_row(document):
    document["trainer"]["params"]["wte"].pop()


def set_field(*where):
    """A spoiler that sets the field at keys `where[:-1]` of the document to `where[-1]`."""
    *keys, value = where

    def change(document):
        for key in keys[:-1]:
            document = document[key]
        document[keys[-1]] = value

    return lambda path: rewrite(path, change)


TOO_BIG_FOR_A_FLOAT = 10**400
# A model of 1.9e19 weights: building it hung before anything was checked.
HUGE_MODEL = {"n_layer": 100_000, "n_embd": 4_000_000, "n_head": 4}

BAD_CHECKPOINTS = {
    # case: (how to spoil the good checkpoint at `path`, what the one-line error says)
    "missing": (lambda path: path.unlink(), "checkpoint not found"),
    "directory": (lambda path: path.unlink() or path.mkdir(), "is a directory"),
    "truncated mid-file": (
        lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
        "checkpoint is truncated"),
    "damaged JSON": (lambda path: path.write_text('{"format": oops}'), "not valid JSON"),
    "not UTF-8": (lambda path: path.write_bytes(b"\xff\xfe\x00"), "not UTF-8"),
    "a dataset, not a checkpoint": (lambda path: path.write_text("anna\nbob\n"),
                                    "not valid JSON"),
    "other JSON": (lambda path: path.write_text('{"hello": 1}'),
                   "not a microgpt-tui checkpoint"),
    "future format": (lambda path: rewrite(path, lambda d: d.update(version=2)),
                      "checkpoint format 2 is newer than this microgpt-tui (1)"),
    "no version": (lambda path: rewrite(path, lambda d: d.pop("version")),
                   "no valid format version"),
    "no weights": (lambda path: rewrite(path, lambda d: d.pop("trainer")),
                   "checkpoint lacks trainer"),
    "config lacks a setting": (lambda path: rewrite(path, lambda d: d["config"].pop("n_head")),
                               "checkpoint config lacks n_head"),
    "impossible config": (lambda path: rewrite(path, lambda d: d["config"].update(n_head=3)),
                          "divisible by n_head"),
    "weights of another shape": (lambda path: rewrite(path, drop_a_row),
                                 "weight matrix wte has a different shape"),
    "unsorted vocabulary": (lambda path: rewrite(path, lambda d: d.update(vocabulary="ba")),
                            "vocabulary is not a sorted string"),
    "losses do not match the steps": (
        lambda path: rewrite(path, lambda d: d["loss_history"].pop()),
        "has 2 losses for 3 steps"),
    # Each of these used to give a traceback (OverflowError, RecursionError, a complex number
    # in the step), a hang, or a run that failed later with the learning rate blamed.
    "weight too large for a float": (
        set_field("trainer", "params", "wte", 2, 1, TOO_BIG_FOR_A_FLOAT),
        "checkpoint trainer.params.wte[2][1] must be a finite number, got 1000"),
    "loss too large for a float": (
        set_field("loss_history", 1, TOO_BIG_FOR_A_FLOAT),
        "checkpoint loss_history[1] must be a number, got 1000"),
    "config number too large for a float": (
        set_field("config", "lr", TOO_BIG_FOR_A_FLOAT),
        "checkpoint config.lr must be a finite number > 0, got 1000"),
    "config size of the wrong type": (
        set_field("config", "n_embd", 8.0),
        "checkpoint config.n_embd must be a whole number >= 1, got 8.0"),
    "random-state word out of range": (
        set_field("trainer", "rng_state", 1, 7, 2**32),
        "checkpoint trainer.rng_state[1][7] must be a whole number from 0 to 4,294,967,295"),
    "random-state word negative": (
        set_field("trainer", "rng_state", 1, 0, -1),
        "checkpoint trainer.rng_state[1][0] must be a whole number from 0 to 4,294,967,295"),
    "random-state position out of range": (
        set_field("trainer", "rng_state", 1, 624, 625),
        "checkpoint trainer.rng_state[1][624] must be a whole number from 0 to 624"),
    "random-state spare not a number": (
        set_field("trainer", "rng_state", 2, "x"),
        "checkpoint trainer.rng_state[2] must be a finite number, got 'x'"),
    "deeply nested JSON": (
        lambda path: path.write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        "checkpoint is not valid: its JSON is nested too deeply"),
    "an integer of 5,000 digits": (
        lambda path: path.write_text('{"format": ' + "9" * 5000 + "}"),
        "checkpoint is not valid JSON (Exceeds the limit (4300 digits)"),
    "negative Adam second moment": (
        set_field("trainer", "adam_v", 5, -1.0),
        "checkpoint trainer.adam_v[5] must be a finite number >= 0, got -1.0"),
    "Adam moments of another length": (
        lambda path: rewrite(path, lambda d: d["trainer"]["adam_m"].pop()),
        "checkpoint trainer.adam_m must be a list of 1,088 numbers (one per weight), got 1,087"),
    "boolean weight": (
        set_field("trainer", "params", "lm_head", 0, 0, True),
        "checkpoint trainer.params.lm_head[0][0] must be a finite number, got True"),
    "NaN weight": (
        set_field("trainer", "params", "wpe", 1, 3, float("nan")),
        "checkpoint trainer.params.wpe[1][3] must be a finite number, got nan"),
    "infinite Adam moment": (
        set_field("trainer", "adam_m", 0, float("-inf")),
        "checkpoint trainer.adam_m[0] must be a finite number, got -inf"),
    "huge model": (
        lambda path: rewrite(path, lambda d: d["config"].update(HUGE_MODEL)),
        "checkpoint config describes a model too big to build (a model of n_layer 100000, "
        "n_embd 4000000, block_size 8 and 16 tokens would have 19,200,000,000,160,000,000 "
        "parameters; microgpt-tui builds at most 5,000,000)"),
    "step beyond the run": (
        set_field("trainer", "step", 51),
        "checkpoint trainer.step must be a whole number from 0 to 50, got 51"),
    "weight matrix missing": (
        lambda path: rewrite(path, lambda d: d["trainer"]["params"].pop("wpe")),
        "checkpoint trainer.params lacks wpe"),
}


@pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
def test_a_bad_checkpoint_is_refused_in_one_line(saved, case):
    spoil, message = BAD_CHECKPOINTS[case]
    spoil(saved)
    with pytest.raises(ValueError) as caught:
        load_checkpoint(saved, TINY_DOCS)
    text = str(caught.value)
    assert message in text
    assert str(saved) in text
    assert "\n" not in text


def test_a_checkpoint_cut_off_anywhere_is_called_truncated(saved):
    whole = saved.read_bytes()
    for size in (1, 40, 100, 101, 102, len(whole) // 3, len(whole) // 2, len(whole) - 1):
        saved.write_bytes(whole[:size])
        with pytest.raises(ValueError, match="checkpoint is truncated"):
            read_checkpoint(saved)


def test_a_dataset_with_other_characters_is_named(saved):
    docs = [doc.replace("v", "") for doc in TINY_DOCS] + ["zoë"]
    with pytest.raises(ValueError) as caught:
        load_checkpoint(saved, docs)
    assert str(caught.value) == (
        f"the dataset's characters differ from checkpoint {saved}: the dataset lacks 'v'; "
        f"has 'z' 'ë' the checkpoint does not")


def test_a_dataset_with_the_same_characters_is_accepted(saved):
    trainer, _ = load_checkpoint(saved, list(reversed(TINY_DOCS)))
    assert trainer.step_count == 3


# Saving that fails ---------------------------------------------------------------------------


def refuse(error):
    def raiser(*args, **kwargs):
        raise error

    return raiser


SAVE_FAILURES = {
    # case: (what to break, the exception save_checkpoint raises, what it says)
    "read-only directory": ("open", PermissionError(13, "Permission denied"),
                            ValueError, "Permission denied"),
    "full disk while writing": ("fsync", OSError(28, "No space left on device"),
                                ValueError, "No space left on device"),
    "rename refused": ("replace", PermissionError(13, "Permission denied"),
                       ValueError, "Permission denied"),
    "crash between write and rename": ("replace", RuntimeError("crash"),
                                       RuntimeError, "crash"),
    "quit (ctrl+c) while the save is in progress": ("fsync", KeyboardInterrupt(),
                                                     KeyboardInterrupt, None),
}


@pytest.mark.parametrize("case", sorted(SAVE_FAILURES))
def test_a_failed_save_leaves_the_old_checkpoint_and_no_temp_file(saved, monkeypatch, case):
    function, error, raised, message = SAVE_FAILURES[case]
    before = saved.read_bytes()
    trainer, losses = trained(5)
    monkeypatch.setattr(os, function, refuse(error))
    with pytest.raises(raised, match=message):
        save_checkpoint(saved, trainer, losses)
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert read_checkpoint(saved).step == 3
    assert leftovers(saved.parent, saved.name) == []


@pytest.mark.parametrize("target, message", [
    ("a-file/run.json", "a-file is not a directory"),
    ("no/such/dir/run.json", "dir does not exist"),
    (".", "it is a directory"),
])
def test_saving_where_no_file_can_be_written_says_why(tmp_path, target, message):
    (tmp_path / "a-file").write_text("not a directory")
    trainer, losses = trained(1)
    with pytest.raises(ValueError, match=message):
        save_checkpoint(tmp_path / target, trainer, losses)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# The command line ----------------------------------------------------------------------------

CLI_MODEL = ["--n-layer", "1", "--n-embd", "8", "--n-head", "2", "--block-size", "8",
             "--seed", "3", "--steps", "6"]
CLI_CONFIG = Config(n_layer=1, n_embd=8, n_head=2, block_size=8, seed=3, num_steps=6)


def run_engine(*args):
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def words(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("\n".join(TINY_DOCS) + "\n")
    return path


def test_cli_load_continues_the_log_of_the_uninterrupted_run(tmp_path, words):
    full = run_engine("--data", str(words), "--samples", "3", *CLI_MODEL)
    assert full.returncode == 0, full.stderr
    half = tmp_path / "half.json"
    trainer, losses = trained(3, CLI_CONFIG, load_docs(words))
    save_checkpoint(half, trainer, losses)

    resumed = run_engine("--data", str(words), "--samples", "3", "--load", str(half))
    assert resumed.returncode == 0, resumed.stderr
    lines = resumed.stdout.splitlines()
    assert lines[3] == f"checkpoint: loaded step 3 from {half}"
    full_lines = full.stdout.splitlines()
    assert lines[:3] + lines[4:] == full_lines[:3] + full_lines[6:]


def test_cli_save_writes_a_checkpoint_that_samples_like_the_run(tmp_path, words):
    path = tmp_path / "done.json"
    saved_run = run_engine("--data", str(words), "--samples", "3", "--save", str(path),
                           *CLI_MODEL)
    assert saved_run.returncode == 0, saved_run.stderr
    assert f"checkpoint: saved step 6 to {path}" in saved_run.stdout
    samples = saved_run.stdout.splitlines()[-3:]
    loaded = run_engine("--data", str(words), "--samples", "3", "--load", str(path))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines()[-3:] == samples
    assert read_checkpoint(path).loss_history == tuple(trained(6, CLI_CONFIG, TINY_DOCS)[1])


@pytest.mark.parametrize("case", ["missing", "truncated mid-file", "future format",
                                  "deeply nested JSON", "weight too large for a float",
                                  "huge model", "random-state word negative"])
def test_cli_bad_checkpoint_gives_one_line_and_exit_code_2(saved, words, case):
    spoil, message = BAD_CHECKPOINTS[case]
    spoil(saved)
    proc = run_engine("--data", str(words), "--load", str(saved))
    assert_one_line_error(proc, message)


def test_cli_flags_that_contradict_the_checkpoint_are_refused(saved, words):
    proc = run_engine("--data", str(words), "--load", str(saved), "--n-embd", "16",
                      "--seed", str(TINY.seed))
    assert_one_line_error(proc, "--n-embd 16 (checkpoint: 8) contradicts checkpoint")


def test_cli_dataset_with_other_characters_is_refused(saved, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("\n".join(TINY_DOCS) + "\nzed\n")
    proc = run_engine("--data", str(other), "--load", str(saved))
    assert_one_line_error(proc, "has 'z' the checkpoint does not")


def test_cli_refuses_an_unwritable_save_path_before_training(tmp_path, words):
    proc = run_engine("--data", str(words), "--save", str(tmp_path / "no" / "run.json"),
                      *CLI_MODEL)
    assert_one_line_error(proc, "does not exist")
    assert proc.stdout == ""


def assert_one_line_error(proc, message):
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_a_run_whose_weights_overflowed_is_not_saved(saved):
    before = saved.read_bytes()
    trainer, losses = trained(3)
    trainer.params["wte"][0][1].data = float("inf")
    with pytest.raises(ValueError) as caught:
        save_checkpoint(saved, trainer, losses)
    assert str(caught.value) == (
        f"cannot save checkpoint to {saved}: the run cannot be continued "
        f"(trainer.params.wte[0][1] must be a finite number, got inf)")
    assert saved.read_bytes() == before


def test_saving_through_a_symbolic_link_keeps_the_link(saved, tmp_path):
    link = tmp_path / "latest.json"
    link.symlink_to(saved.name)
    trainer, losses = trained(5)
    save_checkpoint(link, trainer, losses)
    assert link.is_symlink()
    assert read_checkpoint(saved).step == 5
