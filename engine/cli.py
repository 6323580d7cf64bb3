"""The headless command line: `python -m engine` trains and prints the reference log."""

import argparse
import sys

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
    parser.add_argument("--seed", type=whole_number(0), default=DEFAULTS.seed,
                        help=f"random seed (default {DEFAULTS.seed})")
    parser.add_argument("--steps", type=whole_number(1), default=DEFAULTS.num_steps,
                        help=f"training steps (default {DEFAULTS.num_steps})")
    parser.add_argument("--lr", type=positive_number, default=DEFAULTS.lr,
                        help=f"Adam learning rate at step 0 (default {DEFAULTS.lr})")
    for flag, field in (("--n-layer", "n_layer"), ("--n-embd", "n_embd"),
                        ("--n-head", "n_head"), ("--block-size", "block_size")):
        default = getattr(DEFAULTS, field)
        parser.add_argument(flag, type=whole_number(1), default=default,
                            help=f"model size (default {default})")


def config_from_args(args):
    return Config(
        n_layer=args.n_layer,
        n_embd=args.n_embd,
        n_head=args.n_head,
        block_size=args.block_size,
        lr=args.lr,
        num_steps=args.steps,
        seed=args.seed,
    )


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
    config = config_from_args(args)
    docs = load_docs(args.data)
    trainer = Trainer(config, docs)
    print(f"num docs: {len(docs)}", file=out)
    print(f"vocab size: {trainer.tokenizer.vocab_size}", file=out)
    print(f"num params: {trainer.num_params}", file=out)
    while not trainer.finished:
        result = trainer.step()
        print(f"step {result.step:4d} / {config.num_steps:4d} | loss {result.loss:.4f}",
              file=out, flush=True)
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
