"""Checkpoints: a run's whole state in one JSON file, written atomically and read with checks.

A checkpoint holds the config, the vocabulary, the weights, Adam's moments, the step, the
random stream and the loss history, so a loaded run continues exactly where it stopped: its
next step's loss equals the uninterrupted run's, bit for bit.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .data import Tokenizer
from .files import read_file, write_atomically
from .trainer import Trainer

FORMAT_NAME = "microgpt-tui checkpoint"
FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = "microgpt-checkpoint.json"
REQUIRED_KEYS = ("config", "vocabulary", "trainer", "loss_history")


@dataclass(frozen=True)
class Checkpoint:
    """A checked checkpoint file; `trainer_state` is Trainer.export_state() output."""

    path: Path
    config: Config
    chars: tuple
    trainer_state: dict
    loss_history: tuple

    @property
    def step(self):
        return self.trainer_state["step"]


def save_checkpoint(path, trainer, loss_history):
    """Write `trainer`'s state atomically: the file at `path` is either the old or the new one.

    Call it only between steps, from the thread that steps the trainer.
    A ValueError says in one line why the file could not be written.
    """
    path = Path(path)
    check_save_path(path)
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "config": trainer.config.to_dict(),
        "vocabulary": "".join(trainer.tokenizer.chars),
        "trainer": trainer.export_state(),
        "loss_history": list(loss_history),
    }
    text = json.dumps(document, separators=(",", ":"))
    try:
        write_atomically(path, text.encode("utf-8"))
    except OSError as error:
        raise ValueError(f"cannot save checkpoint to {path}: {error.strerror or error}") from None


def check_save_path(path):
    """Refuse, before any training, a save path that can never be written."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"cannot save checkpoint to {path}: it is a directory")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise ValueError(f"cannot save checkpoint to {path}: {parent} {what}")


def read_checkpoint(path):
    """Read and check a checkpoint file; a ValueError says in one line what is wrong."""
    path = Path(path)
    raw = read_file(path, "checkpoint")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"not a microgpt-tui checkpoint (not UTF-8 text): {path}") from None
    except json.JSONDecodeError as error:
        # A cut-off file fails at its very end, or inside a string that never closes.
        if error.pos >= len(error.doc.rstrip()) or error.msg.startswith("Unterminated"):
            raise ValueError(f"checkpoint is truncated (it ends after {len(raw):,} bytes, "
                             f"mid-JSON): {path}") from None
        raise ValueError(f"checkpoint is not valid JSON ({error.msg}, line {error.lineno} "
                         f"column {error.colno}): {path}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ValueError(f"not a microgpt-tui checkpoint: {path}")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"checkpoint has no valid format version ({version!r}): {path}")
    if version > FORMAT_VERSION:
        raise ValueError(f"checkpoint format {version} is newer than this microgpt-tui "
                         f"({FORMAT_VERSION}): {path}")
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise ValueError(f"checkpoint lacks {', '.join(missing)}: {path}")
    return Checkpoint(
        path=path,
        config=checked_config(document["config"], path),
        chars=checked_vocabulary(document["vocabulary"], path),
        trainer_state=checked_state(document["trainer"], path),
        loss_history=checked_losses(document["loss_history"], path),
    )


def checked_config(settings, path):
    fields = set(Config.__dataclass_fields__)
    if not isinstance(settings, dict):
        raise ValueError(f"checkpoint config is not a table of settings: {path}")
    missing, unknown = sorted(fields - set(settings)), sorted(set(settings) - fields)
    if missing or unknown:
        what = "lacks " + ", ".join(missing) if missing else "has unknown " + ", ".join(unknown)
        raise ValueError(f"checkpoint config {what}: {path}")
    try:
        return Config(**settings)
    except ValueError as error:
        raise ValueError(f"checkpoint config is invalid ({error}): {path}") from None


def checked_vocabulary(vocabulary, path):
    chars = tuple(vocabulary) if isinstance(vocabulary, str) else ()
    if not chars or list(chars) != sorted(set(chars)):
        raise ValueError(f"checkpoint vocabulary is not a sorted string of distinct "
                         f"characters: {path}")
    return chars


def checked_state(state, path):
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint trainer state is not a table: {path}")
    step = state.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"checkpoint step must be a whole number >= 0, got {step!r}: {path}")
    return state


def checked_losses(losses, path):
    # NaN and infinity are allowed: a diverged run's losses are part of its history.
    if not isinstance(losses, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in losses):
        raise ValueError(f"checkpoint loss history is not a list of numbers: {path}")
    return tuple(float(x) for x in losses)


def vocabulary_difference(expected, actual):
    """How the dataset's characters differ from the checkpoint's, for one error line."""
    lacks = sorted(set(expected) - set(actual))
    adds = sorted(set(actual) - set(expected))
    parts = []
    if lacks:
        parts.append("lacks " + " ".join(repr(ch) for ch in lacks))
    if adds:
        parts.append("has " + " ".join(repr(ch) for ch in adds) + " the checkpoint does not")
    return "; ".join(parts)


def resume(checkpoint, docs, on_stage=None):
    """A Trainer over `docs` in the checkpoint's exact state, and the loss history so far
    (`on_stage` as for Trainer).

    The dataset must have the checkpoint's characters: token ids are positions in the
    vocabulary, so another set of characters would scramble what every weight means.
    """
    if on_stage is not None:
        on_stage("building the vocabulary")
    tokenizer = Tokenizer.from_docs(docs)
    chars = tokenizer.chars
    if chars != checkpoint.chars:
        difference = vocabulary_difference(checkpoint.chars, chars)
        raise ValueError(f"the dataset's characters differ from checkpoint "
                         f"{checkpoint.path}: the dataset {difference}")
    if len(checkpoint.loss_history) != checkpoint.step:
        raise ValueError(f"checkpoint has {len(checkpoint.loss_history)} losses for "
                         f"{checkpoint.step} steps: {checkpoint.path}")
    trainer = Trainer(checkpoint.config, docs, on_stage=on_stage, tokenizer=tokenizer)
    try:
        trainer.restore_state(checkpoint.trainer_state)
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint does not fit its own config ({error}): "
                         f"{checkpoint.path}") from None
    return trainer, list(checkpoint.loss_history)


def load_checkpoint(path, docs):
    """read_checkpoint + resume: (trainer, loss history) continuing the saved run."""
    return resume(read_checkpoint(path), docs)
