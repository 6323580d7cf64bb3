"""The headless command line: `python -m engine` trains and prints the reference log."""

import argparse
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

from .checkpoint import (
    DEFAULT_CHECKPOINT,
    check_save_path,
    read_checkpoint,
    resume,
    save_checkpoint,
)
from .config import Config
from .data import Tokenizer, default_dataset_path, load_docs
from .files import Terminated, signals_raise
from .limits import (
    FRACTION,
    MAX_PARAMS,
    MAX_STEPS,
    SETTINGS,
    TEMPERATURE,
    Limit,
    check_model_size,
)
from .novelty import NameIndex
from .probe import (
    FRAMES_PER_RUN,
    VALIDATION_SIZE,
    mean_loss,
    probe_interval,
    validation_documents,
)
from .sampler import Sampler
from .trainer import Trainer

DEFAULTS = Config()
# Reading, splitting and shuffling take about a second per 5 MB before the first step (50 MB
# of names: ~10 s on the 2-core dev box), so above this size stderr says what is going on.
ANNOUNCE_LOAD_BYTES = 5_000_000


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments give one line on stderr and exit code 2, not a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def number(limit):
    """An argparse type: the flag's text as a number within `limit` (engine.limits), or the
    one-line error `argument --lr: must be a finite number > 0, got 'nan'`."""

    def parse(text):
        try:
            return limit.parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def whole_number(minimum, maximum=None):
    return number(Limit(minimum, maximum, whole=True))


def add_config_arguments(parser):
    """The flags both command lines share: dataset, seed, run length and model sizes."""
    parser.add_argument("--data", metavar="PATH", help="dataset, one document per line "
                        "(default: the bundled names.txt)")
    # Settings default to None so that, with --load, a flag that was given can be told apart
    # from one that was not; config_from_args fills in the defaults.
    parser.add_argument("--seed", type=number(SETTINGS["seed"]),
                        help=f"random seed (default {DEFAULTS.seed})")
    parser.add_argument("--steps", type=number(SETTINGS["num_steps"]),
                        help=f"training steps (default {DEFAULTS.num_steps}, at most "
                             f"{MAX_STEPS:,})")
    parser.add_argument("--lr", type=number(SETTINGS["lr"]),
                        help=f"Adam learning rate at step 0 (default {DEFAULTS.lr})")
    for flag, field in (("--n-layer", "n_layer"), ("--n-embd", "n_embd"),
                        ("--n-head", "n_head"), ("--block-size", "block_size")):
        parser.add_argument(flag, type=number(SETTINGS[field]),
                            help=f"model size (default {getattr(DEFAULTS, field)}; at most "
                                 f"{MAX_PARAMS:,} parameters in all)")
    parser.add_argument("--val-fraction", type=number(FRACTION), metavar="F",
                        help="hold out this share of the documents (the last F after the "
                             "shuffle) and measure the loss on up to "
                             f"{VALIDATION_SIZE} of them every 1/{FRAMES_PER_RUN} of the run "
                             "(default 0: none held out, the reference run)")
    parser.add_argument("--load", metavar="PATH",
                        help="continue from this checkpoint (its settings and vocabulary; "
                             "--data must have the same characters)")
    parser.add_argument("--save", metavar="PATH",
                        help="write a checkpoint here after training; in microgpt-tui, "
                             f"where w saves (default there: {DEFAULT_CHECKPOINT})")


# Every Config field that has a flag, with the args attribute argparse stores it under.
CONFIG_FLAGS = (
    ("n_layer", "--n-layer", "n_layer"),
    ("n_embd", "--n-embd", "n_embd"),
    ("n_head", "--n-head", "n_head"),
    ("block_size", "--block-size", "block_size"),
    ("lr", "--lr", "lr"),
    ("num_steps", "--steps", "steps"),
    ("seed", "--seed", "seed"),
)


def config_from_args(args):
    given = {field: getattr(args, dest) for field, _, dest in CONFIG_FLAGS
             if getattr(args, dest) is not None}
    return replace(DEFAULTS, **given)


class LoadProgress:
    """For a dataset big enough to take seconds: one stderr line that names each stage of
    the setup as it starts, so the wait is visible (and ctrl+c plainly ends it)."""

    def __init__(self, prog, data=None):
        path = Path(data) if data else default_dataset_path()
        size = path.stat().st_size if path.is_file() else 0
        self.announce = size > ANNOUNCE_LOAD_BYTES
        self.start = f"{prog}: loading {path.name} ({size / 1e6:.0f} MB, ctrl+c cancels):"
        self.line_open = False

    def stage(self, what):
        if self.announce:
            sys.stderr.write(f" {what}…" if self.line_open else f"{self.start} {what}…")
            sys.stderr.flush()
            self.line_open = True

    def finish(self, last_word):
        """End the line with `last_word`; False if there was no line to end."""
        if not self.line_open:
            return False
        print(f" {last_word}", file=sys.stderr, flush=True)
        self.line_open = False
        return True


def trainer_from_args(args, on_stage=None):
    """The run to train and its losses so far: a new one, or with --load the checkpoint's.
    `on_stage(what)`, if given, hears each slow part of the setup as it starts."""
    on_stage = on_stage or (lambda what: None)
    if args.load is None:
        on_stage("reading")
        docs = load_docs(args.data)
        config = config_from_args(args)
        on_stage("building the vocabulary")
        tokenizer = Tokenizer.from_docs(docs)
        try:
            check_model_size(config, tokenizer.vocab_size)
        except ValueError as error:
            raise ValueError(f"{error} (give a smaller --n-layer, --n-embd or "
                             f"--block-size)") from None
        return Trainer(config, docs, on_stage=on_stage, tokenizer=tokenizer,
                       val_fraction=args.val_fraction or 0.0), []
    checkpoint = read_checkpoint(args.load)
    conflicts = [
        f"{flag} {getattr(args, dest)} (checkpoint: {getattr(checkpoint.config, field)})"
        for field, flag, dest in CONFIG_FLAGS
        if getattr(args, dest) is not None
        and getattr(args, dest) != getattr(checkpoint.config, field)
    ]
    # Holding out other documents than the saved run did would train on names it measured.
    if args.val_fraction is not None and args.val_fraction != checkpoint.val_fraction:
        conflicts.append(f"--val-fraction {args.val_fraction} (checkpoint: "
                         f"{checkpoint.val_fraction})")
    if conflicts:
        raise ValueError(f"{', '.join(conflicts)} contradicts checkpoint {args.load}: --load "
                         f"takes the model and training settings from the checkpoint")
    on_stage("reading")
    return resume(checkpoint, load_docs(args.data), on_stage=on_stage)


def build_parser(prog="python -m engine"):
    parser = OneLineParser(prog=prog, description="Train microgpt and print the reference log.")
    add_config_arguments(parser)
    parser.add_argument("--samples", type=whole_number(0), default=20,
                        help="names to sample after training (default 20)")
    parser.add_argument("--temperature", type=number(TEMPERATURE), default=0.5,
                        help=f"sampling temperature, {TEMPERATURE.describe()} (default 0.5)")
    parser.add_argument("--top-k", type=whole_number(1), metavar="K",
                        help="sample only from the K most likely tokens (default: all)")
    return parser


def check_writable(path):
    """A headless run trains for a while before it saves, so a directory that refuses new
    files is said at once. (The app checks at `w`: it may run without ever saving.)"""
    folder = Path(path).parent
    if not os.access(folder, os.W_OK):
        raise ValueError(f"cannot save checkpoint to {path}: {folder} is not writable")


def checked_step(trainer):
    """`trainer.step()`; a ValueError if the loss overflows or becomes NaN, as it does when
    the learning rate is far too high, instead of the bare "math domain error"."""
    step = trainer.step_count + 1
    try:
        result = trainer.step()
    except (ArithmeticError, ValueError) as error:
        problem = f"step {step} failed ({error})"
    else:
        if math.isfinite(result.loss):
            return result
        problem = f"loss became {result.loss} at step {step}"
    raise ValueError(f"{problem}: training stopped (the learning rate, "
                     f"{trainer.config.lr}, is probably too high)")


def run(args, out=sys.stdout, progress=None):
    """Train and sample as the reference does, printing its log; return the exit code.

    A SIGTERM or SIGHUP raises Terminated (run_command reports it), so a checkpoint being
    written when it comes leaves no temp file behind."""
    with signals_raise():
        return train_and_sample(args, out, progress)


def train_and_sample(args, out, progress):
    if args.save is not None:
        check_save_path(args.save)  # before training, not after it
        check_writable(args.save)
    progress = progress or LoadProgress("python -m engine", args.data)
    trainer, losses = trainer_from_args(args, progress.stage)
    progress.finish("done")
    config = trainer.config
    print(f"num docs: {trainer.n_shuffled}", file=out)
    print(f"vocab size: {trainer.tokenizer.vocab_size}", file=out)
    print(f"num params: {trainer.num_params}", file=out)
    validation = validation_documents(trainer.validation_docs)
    every = probe_interval(config.num_steps)
    if validation:
        print(f"validation: {len(trainer.validation_docs)} docs held out; val = mean loss "
              f"on {len(validation)} of them every {every} steps", file=out)
    if args.load is not None:
        print(f"checkpoint: loaded step {trainer.step_count} from {args.load}", file=out)
    while not trainer.finished:
        result = checked_step(trainer)
        losses.append(result.loss)
        line = f"step {result.step:4d} / {config.num_steps:4d} | loss {result.loss:.4f}"
        if validation and result.step % every == 0:
            # Float forward passes on a snapshot: training's random stream is not touched.
            val = mean_loss(validation, trainer.weights(), trainer.tokenizer, config)
            line += f" | val {val:.4f}"
        print(line, file=out, flush=True)
    if args.save is not None:
        # Saved before sampling, so a run loaded from it samples the same names as this one.
        save_checkpoint(args.save, trainer, losses)
        print(f"checkpoint: saved step {trainer.step_count} to {args.save}", file=out)
    print("--- inference (new, hallucinated names) ---", file=out)
    # The reference samples from the same stream that shuffled the data and drew the weights.
    sampler = Sampler(trainer.weights(), trainer.tokenizer, config,
                      temperature=args.temperature, top_k=args.top_k, rng=trainer.rng)
    samples = []
    for index in range(args.samples):
        samples.append(sampler.sample())
        print(f"sample {index + 1:2d}: {samples[-1]}", file=out, flush=True)
    if samples:
        # On stderr: stdout stays the reference's log, byte for byte.
        new = NameIndex(trainer.docs).count_new(samples)
        print(f"{new} of {len(samples)} samples are new names (not in the training data)",
              file=sys.stderr, flush=True)
    return 0


def main(argv=None, prog="python -m engine"):
    return run_command(build_parser(prog).parse_args(argv), prog)


def run_command(args, prog, runner=run):
    """`runner(args, progress=...)` (its exit code), with every expected failure as one line
    on stderr and an exit code of its own."""
    progress = LoadProgress(prog, args.data)
    try:
        return runner(args, progress=progress)
    except ValueError as error:
        progress.finish("failed")
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if not progress.finish("interrupted"):
            print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Terminated as signal:
        if not progress.finish(f"terminated ({signal.name})"):
            print(f"{prog}: terminated ({signal.name})", file=sys.stderr)
        return signal.exit_code
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, like other Unix tools.
        sys.stderr.close()
        return 0
