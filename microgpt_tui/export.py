"""`e`: write what the app shows into a fresh folder, every file atomically.

The folder `microgpt-export-YYYYmmdd-HHMMSS/` holds:

- `loss.csv`: `step,loss,mean_last_50`, one row per training step so far (header only before
  the first step). Floats are written in full (`repr`), so they read back exactly.
- `trace.json`: the newest training step (absent before the first step). Schema, format 1:
  `format` (1), `config` (every hyperparameter), `vocab` (the label of each token id; BOS is
  "·"), `step`, `num_steps`, `doc`, `tokens` (labels of [BOS] + doc + [BOS]), `token_ids`,
  `loss`, `position_losses` [pos] (one per trained position: a document longer than
  block_size has more tokens than positions), `lr`, `attention` [layer][head][query][key]
  (query q sees keys 0..q), `kv_cache` and `kv_grads` [layer][pos] -> {"key": [...],
  "value": [...]} (n_embd numbers each, all heads side by side), `probs` [pos][token id].
  A non-finite number (a diverged step) is written as null, so the file stays strict JSON.
- `screen.svg`: the screen as it looked when `e` was pressed.

Everything is taken from the app's immutable snapshots (a StepResult and a tuple of losses),
never from the Trainer, which belongs to the training thread.
"""

import csv
import errno
import io
import json
import math
import os
from pathlib import Path

from engine.files import write_atomically

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


def new_export_folder(parent, now):
    """A folder named after `now` that did not exist before (-2, -3... within one second)."""
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
    parent.mkdir(parents=True, exist_ok=True)
    name = f"microgpt-export-{now:%Y%m%d-%H%M%S}"
    for attempt in range(1, 100):
        folder = parent / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"too many exports named {name} in {parent}")


def export_run(parent, now, losses, result, tokenizer, config, screen_svg):
    """Write loss.csv, trace.json (if a step was taken) and screen.svg; return the folder.

    Raises OSError (with the path in it) if anything cannot be written.
    """
    folder = new_export_folder(Path(parent), now)
    write_atomically(folder / "loss.csv", loss_csv(losses).encode("utf-8"))
    if result is not None:
        text = json.dumps(trace(result, tokenizer, config), indent=1, allow_nan=False)
        write_atomically(folder / "trace.json", (text + "\n").encode("utf-8"))
    write_atomically(folder / "screen.svg", screen_svg.encode("utf-8"))
    return folder


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
