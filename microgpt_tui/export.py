"""`e`: write what the app shows into a fresh folder, atomically: the folder appears, under
its name, only with every file complete.

The folder `microgpt-export-YYYYmmdd-HHMMSS/` holds:

- `loss.csv`: `step,loss,mean_last_50`, one row per training step so far (header only before
  the first step). Floats are written in full (`repr`), so they read back exactly.
- `trace.json`: the newest training step (absent before the first step). Schema, format 1:
  `format` (1), `config` (every hyperparameter), `vocab` (the label of each token id, as
  the app shows it: BOS is "·", a control character its control picture such as "␇", and
  an invisible or look-alike character its escape such as "\\xb7" for a literal ·),
  `step`, `num_steps`, `doc`, `tokens` (labels of [BOS] + doc + [BOS]), `token_ids`, `loss`,
  `position_losses` [pos] (one per trained position: a document longer than block_size has
  more tokens than positions), `lr`, `attention` [layer][head][query][key] (query q sees
  keys 0..q), `kv_cache` and `kv_grads` [layer][pos] -> {"key": [...], "value": [...]}
  (n_embd numbers each, all heads side by side), `probs` [pos][token id].
  A non-finite number (a diverged step) is written as null, so the file stays strict JSON.
- `screen.svg`: the screen as it looked when `e` was pressed.

Everything is taken from the app's immutable snapshots (a StepResult and a tuple of losses),
never from the Trainer, which belongs to the training thread.
"""

import csv
import errno
import io
import itertools
import json
import math
import os
import secrets
import shutil
from pathlib import Path

from engine.files import named, write_atomically

from .widgets.loss import MEAN_WINDOW, running_means

TRACE_FORMAT = 1


def loss_csv(losses):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "loss", f"mean_last_{MEAN_WINDOW}"])
    for step, (loss, mean) in enumerate(zip(losses, running_means(losses)), start=1):
        writer.writerow([step, repr(loss), repr(mean)])
    return out.getvalue()


def finite_or_none(value):
    """Nested tuples of floats as lists, with NaN and infinities as None (strict JSON)."""
    if isinstance(value, tuple):
        return [finite_or_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def vectors(per_layer):
    """[layer][pos] -> (key, value) pairs as {"key": [...], "value": [...]} objects."""
    return [[{"key": finite_or_none(key), "value": finite_or_none(value)}
             for key, value in layer] for layer in per_layer]


def trace(result, tokenizer, config):
    return {
        "format": TRACE_FORMAT,
        "config": config.to_dict(),
        "vocab": [tokenizer.label(i) for i in range(tokenizer.vocab_size)],
        "step": result.step,
        "num_steps": result.num_steps,
        "doc": result.doc,
        "tokens": [tokenizer.label(t) for t in result.tokens],
        "token_ids": list(result.tokens),
        "loss": finite_or_none(result.loss),
        "position_losses": finite_or_none(result.position_losses),
        "lr": result.lr,
        "attention": finite_or_none(result.attention),
        "kv_cache": vectors(result.kv_cache),
        "kv_grads": vectors(result.kv_grads),
        "probs": finite_or_none(result.probs),
    }


def check_parent(parent):
    """Make the folder exports go into, or raise an OSError naming why it cannot be one."""
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
    parent.mkdir(parents=True, exist_ok=True)


def export_names(parent, now):
    """The folder names an export made at `now` may take: -2, -3... within one second."""
    name = f"microgpt-export-{now:%Y%m%d-%H%M%S}"
    yield parent / name
    for attempt in range(2, 100):
        yield parent / f"{name}-{attempt}"


def free_name(parent, now):
    for folder in export_names(parent, now):
        if not os.path.lexists(folder):
            return folder
    raise all_taken(parent, now)


def all_taken(parent, now):
    return FileExistsError(errno.EEXIST, f"too many exports named "
                           f"microgpt-export-{now:%Y%m%d-%H%M%S}", str(parent))


def export_run(parent, now, losses, result, tokenizer, config, screen_svg):
    """Write loss.csv, trace.json (if a step was taken) and screen.svg; return the folder.

    They are written into a hidden temp folder beside it, which gets the export's name only
    once every file is complete: whatever stops the export (a full disk), there is no
    half-written export folder and no temp folder. Raises OSError if anything cannot be
    written, with the file (or folder) that failed as its `filename`.
    """
    parent = Path(parent)
    files = {"loss.csv": loss_csv(losses)}
    if result is not None:
        files["trace.json"] = json.dumps(trace(result, tokenizer, config), indent=1,
                                         allow_nan=False) + "\n"
    files["screen.svg"] = screen_svg
    check_parent(parent)
    folder = free_name(parent, now)
    temp = parent / f".{folder.name}.{secrets.token_hex(4)}.tmp"
    try:
        os.mkdir(temp)  # 0o777 minus the umask, like the folder mkdir would have made
    except OSError as error:
        raise named(error, folder) from None
    try:
        for name, text in files.items():
            try:
                write_atomically(temp / name, text.encode("utf-8"))
            except OSError as error:
                raise named(error, folder / name) from None
        return rename_to_free_name(temp, folder, now)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def rename_to_free_name(temp, folder, now):
    """Rename `temp` to `folder`, or to the next free name if another export took it."""
    names = export_names(folder.parent, now)
    for candidate in itertools.dropwhile(lambda name: name != folder, names):
        if os.path.lexists(candidate):
            continue
        try:
            os.rename(temp, candidate)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                continue  # taken between the look and the rename
            raise named(error, candidate) from None
        return candidate
    raise all_taken(folder.parent, now)


def export_notice(parent, now, losses, result, tokenizer, config, screen_svg):
    """Export as export_run does; return what to tell the learner, as (text, severity,
    timeout): where it went, or which file could not be written."""
    try:
        folder = export_run(parent, now, losses, result, tokenizer, config, screen_svg)
    except OSError as error:
        where = error.filename or parent
        return f"Export failed: cannot write {where}: {error.strerror or error}", "error", 10
    if result is None:
        return (f"Exported to {folder}/: no step yet, so loss.csv has only its header and "
                "there is no trace.json.", "information", 8)
    return f"Exported step {result.step} to {folder}/", "information", 8
