"""The headless command line: `python -m engine` trains and prints the reference log."""

import argparse
import sys
from dataclasses import replace

from .checkpoint import (
    DEFAULT_CHECKPOINT,
    check_save_path,
    read_checkpoint,
    resume,
    save_checkpoint,
)
from .config import Config
from .data import load_docs
from .sampler import Sampler
from .trainer import Trainer

DEFAULTS = Config()


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments give one line on stderr and exit code 2, not a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def whole_number(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    return parse


def positive_number(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive finite number")
    return value


def add_config_arguments(parser):
    """The flags both command lines share: dataset, seed, run length and model sizes."""
    parser.add_argument("--data", metavar="PATH", help="dataset, one document per line "
                        "(default: the bundled names.txt)")
    # Settings default to None so that, with --load, a flag that was given can be told apart
    # from one that was not; config_from_args fills in the defaults.
    parser.add_argument("--seed", type=whole_number(0),
                        help=f"random seed (default {DEFAULTS.seed})")
    parser.add_argument("--steps", type=whole_number(1),
                        help=f"training steps (default {DEFAULTS.num_steps})")
    parser.add_argument("--lr", type=positive_number,
                        help=f"Adam learning rate at step 0 (default {DEFAULTS.lr})")
    for flag, field in (("--n-layer", "n_layer"), ("--n-embd", "n_embd"),
                        ("--n-head", "n_head"), ("--block-size", "block_size")):
        parser.add_argument(flag, type=whole_number(1),
                            help=f"model size (default {getattr(DEFAULTS, field)})")
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


def trainer_from_args(args):
    """The run to train and its losses so far: a new one, or with --load the checkpoint's."""
    if args.load is None:
        return Trainer(config_from_args(args), load_docs(args.data)), []
    checkpoint = read_checkpoint(args.load)
    conflicts = [
        f"{flag} {getattr(args, dest)} (checkpoint: {getattr(checkpoint.config, field)})"
        for field, flag, dest in CONFIG_FLAGS
        if getattr(args, dest) is not None
        and getattr(args, dest) != getattr(checkpoint.config, field)
    ]
    if conflicts:
        raise ValueError(f"{', '.join(conflicts)} contradicts checkpoint {args.load}: --load "
                         f"takes the model and training settings from the checkpoint")
    return resume(checkpoint, load_docs(args.data))


def build_parser(prog="python -m engine"):
    parser = OneLineParser(prog=prog, description="Train microgpt and print the reference log.")
    add_config_arguments(parser)
    parser.add_argument("--samples", type=whole_number(0), default=20,
                        help="names to sample after training (default 20)")
    parser.add_argument("--temperature", type=positive_number, default=0.5,
                        help="sampling temperature (default 0.5)")
    return parser


def run(args, out=sys.stdout):
    """Train and sample as the reference does, printing its log; return the exit code."""
    if args.save is not None:
        check_save_path(args.save)  # before training, not after it
    trainer, losses = trainer_from_args(args)
    config = trainer.config
    print(f"num docs: {len(trainer.docs)}", file=out)
    print(f"vocab size: {trainer.tokenizer.vocab_size}", file=out)
    print(f"num params: {trainer.num_params}", file=out)
    if args.load is not None:
        print(f"checkpoint: loaded step {trainer.step_count} from {args.load}", file=out)
    while not trainer.finished:
        result = trainer.step()
        losses.append(result.loss)
        print(f"step {result.step:4d} / {config.num_steps:4d} | loss {result.loss:.4f}",
              file=out, flush=True)
    if args.save is not None:
        # Saved before sampling, so a run loaded from it samples the same names as this one.
        save_checkpoint(args.save, trainer, losses)
        print(f"checkpoint: saved step {trainer.step_count} to {args.save}", file=out)
    print("--- inference (new, hallucinated names) ---", file=out)
    # The reference samples from the same stream that shuffled the data and drew the weights.
    sampler = Sampler(trainer.weights(), trainer.tokenizer, config,
                      temperature=args.temperature, rng=trainer.rng)
    for index in range(args.samples):
        print(f"sample {index + 1:2d}: {sampler.sample()}", file=out, flush=True)
    return 0


def main(argv=None, prog="python -m engine"):
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, like other Unix tools.
        sys.stderr.close()
        return 0
