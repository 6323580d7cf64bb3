"""`microgpt-tui`: parse the command line, load the data, run the app."""

import sys
from pathlib import Path

from engine import Trainer, default_dataset_path, load_docs
from engine.cli import OneLineParser, add_config_arguments, config_from_args

from . import __version__

PROG = "microgpt-tui"


def build_parser():
    parser = OneLineParser(prog=PROG, description="Watch a tiny GPT learn, one step at a time.")
    add_config_arguments(parser)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def build_app(argv=None):
    """The app for these arguments; a ValueError says in one line what is wrong."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    docs = load_docs(args.data)
    from .app import MicrogptApp  # Textual loads only once the arguments are good

    name = Path(args.data).name if args.data else default_dataset_path().name
    return MicrogptApp(Trainer(config, docs), dataset_name=name)


def main(argv=None):
    try:
        app = build_app(argv)
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
