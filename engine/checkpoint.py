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
from .limits import (
    ANY_FINITE,
    FRACTION,
    SETTINGS,
    Limit,
    check_model_size,
    count_params,
    shown,
)
from .model import param_shapes
from .trainer import STATE_KEYS, Trainer

FORMAT_NAME = "microgpt-tui checkpoint"
FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = "microgpt-checkpoint.json"
REQUIRED_KEYS = ("config", "vocabulary", "trainer", "loss_history")
# Optional, so that checkpoints written before it existed still load (as 0: nothing held
# out). It is a training setting: which documents a run trains on depends on it.
VAL_FRACTION_KEY = "val_fraction"


@dataclass(frozen=True)
class Checkpoint:
    """A checked checkpoint file; `trainer_state` is Trainer.export_state() output."""

    path: Path
    config: Config
    chars: tuple
    trainer_state: dict
    loss_history: tuple
    val_fraction: float = 0.0  # the share of documents held out for the validation loss

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
    state = trainer.export_state()
    try:
        # What read_checkpoint would refuse is not written: weights that overflowed to inf or
        # nan could never be continued from.
        checked_state(state, trainer.config, trainer.tokenizer.vocab_size)
    except ValueError as error:
        raise ValueError(f"cannot save checkpoint to {path}: the run cannot be continued "
                         f"({error})") from None
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "config": trainer.config.to_dict(),
        "vocabulary": "".join(trainer.tokenizer.chars),
        "trainer": state,
        "loss_history": list(loss_history),
        VAL_FRACTION_KEY: trainer.val_fraction,
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
    """Read and check a checkpoint file; a ValueError says in one line what is wrong.

    Every field is checked, its type, range and shape, before anything is built from it, and
    the error names the field: `checkpoint trainer.adam_v[17] must be a finite number >= 0,
    got -1.0: PATH`."""
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
    except RecursionError:
        raise ValueError(f"checkpoint is not valid: its JSON is nested too deeply: "
                         f"{path}") from None
    except ValueError as error:  # an integer of more than 4,300 digits
        raise ValueError(f"checkpoint is not valid JSON ({error}): {path}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ValueError(f"not a microgpt-tui checkpoint: {path}")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"checkpoint has no valid format version ({shown(version)}): {path}")
    if version > FORMAT_VERSION:
        raise ValueError(f"checkpoint format {version} is newer than this microgpt-tui "
                         f"({FORMAT_VERSION}): {path}")
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise ValueError(f"checkpoint lacks {', '.join(missing)}: {path}")
    try:
        config = checked_config(document["config"])
        chars = checked_vocabulary(document["vocabulary"])
        try:
            check_model_size(config, len(chars) + 1)
        except ValueError as error:
            raise ValueError(f"config describes a model too big to build ({error})") from None
        state = checked_state(document["trainer"], config, len(chars) + 1)
        losses = checked_losses(document["loss_history"], state["step"])
        val_fraction = FRACTION.check(document.get(VAL_FRACTION_KEY, 0.0), VAL_FRACTION_KEY)
    except ValueError as error:
        raise ValueError(f"checkpoint {error}: {path}") from None
    return Checkpoint(path=path, config=config, chars=chars, trainer_state=state,
                      loss_history=losses, val_fraction=val_fraction)


def checked_table(value, field, keys):
    """`value` if it is a JSON object with exactly `keys`; else a ValueError naming `field`."""
    if not isinstance(value, dict):
        raise ValueError(f"{field} is not a table, got {shown(value)}")
    missing = [key for key in keys if key not in value]
    unknown = sorted(str(key) for key in value if key not in keys)
    if missing or unknown:
        what = "lacks " + ", ".join(missing) if missing else "has unknown " + ", ".join(unknown)
        raise ValueError(f"{field} {what}")
    return value


def checked_config(settings):
    settings = checked_table(settings, "config", tuple(SETTINGS))
    values = {name: limit.check(settings[name], f"config.{name}")
              for name, limit in SETTINGS.items()}
    try:
        return Config(**values)
    except ValueError as error:
        raise ValueError(f"config is invalid ({error})") from None


def checked_vocabulary(vocabulary):
    chars = tuple(vocabulary) if isinstance(vocabulary, str) else ()
    if not chars or list(chars) != sorted(set(chars)):
        raise ValueError("vocabulary is not a sorted string of distinct characters")
    return chars


# Random.getstate(): (version, 624 words of the Mersenne Twister and its position, the
# spare normal deviate or None).
RNG_VERSION, RNG_WORDS = 3, 624
RNG_WORD = Limit(0, 2**32 - 1, whole=True)
RNG_POSITION = Limit(0, RNG_WORDS, whole=True)
NON_NEGATIVE = Limit(0)
LOSS = Limit(finite=False)


def checked_state(state, config, vocab_size):
    """Trainer.export_state() output that fits the model of `config` over `vocab_size`
    tokens; a ValueError names the first field that does not."""
    state = checked_table(state, "trainer state", STATE_KEYS)
    Limit(0, config.num_steps, whole=True).check(state["step"], "trainer.step")
    shapes = param_shapes(config, vocab_size)
    params = checked_table(state["params"], "trainer.params", [name for name, _, _ in shapes])
    for name, rows, cols in shapes:
        matrix = params[name]
        if not (isinstance(matrix, list) and len(matrix) == rows and all(
                isinstance(row, list) and len(row) == cols for row in matrix)):
            raise ValueError(f"weight matrix {name} has a different shape than its config's "
                             f"model ({rows} rows of {cols} numbers)")
        for index, row in enumerate(matrix):
            ANY_FINITE.check_all(row, f"trainer.params.{name}[{index}]")
    count = count_params(config, vocab_size)
    for key, limit in (("adam_m", ANY_FINITE), ("adam_v", NON_NEGATIVE)):
        values = state[key]
        if not isinstance(values, list) or len(values) != count:
            got = f"{len(values):,}" if isinstance(values, list) else shown(values)
            raise ValueError(f"trainer.{key} must be a list of {count:,} numbers (one per "
                             f"weight), got {got}")
        limit.check_all(state[key], f"trainer.{key}")
    checked_rng_state(state["rng_state"])
    return state


def checked_rng_state(rng_state):
    field = "trainer.rng_state"
    if not (isinstance(rng_state, list) and len(rng_state) == 3):
        raise ValueError(f"{field} must be [version, words, spare], got {shown(rng_state)}")
    version, internal, spare = rng_state
    if version != RNG_VERSION or type(version) is not int:
        raise ValueError(f"{field}[0] must be {RNG_VERSION}, got {shown(version)}")
    if not (isinstance(internal, list) and len(internal) == RNG_WORDS + 1):
        raise ValueError(f"{field}[1] must be a list of {RNG_WORDS + 1} whole numbers, "
                         f"got {shown(internal)}")
    RNG_WORD.check_all(internal[:RNG_WORDS], f"{field}[1]")
    RNG_POSITION.check(internal[RNG_WORDS], f"{field}[1][{RNG_WORDS}]")
    if spare is not None:
        ANY_FINITE.check(spare, f"{field}[2]")


def checked_losses(losses, steps):
    # NaN and infinity are allowed: a diverged run's losses are part of its history.
    LOSS.check_all(losses, "loss_history")
    if len(losses) != steps:
        raise ValueError(f"has {len(losses)} losses for {steps} steps")
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
    trainer = Trainer(checkpoint.config, docs, on_stage=on_stage, tokenizer=tokenizer,
                      val_fraction=checkpoint.val_fraction)
    try:
        trainer.restore_state(checkpoint.trainer_state)
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint does not fit its own config ({error}): "
                         f"{checkpoint.path}") from None
    return trainer, list(checkpoint.loss_history)


def load_checkpoint(path, docs):
    """read_checkpoint + resume: (trainer, loss history) continuing the saved run."""
    return resume(read_checkpoint(path), docs)
