"""`microgpt-tui`: parse the command line, load the data, run the app (or headless, or served)."""

import shlex
import socket
import sys
from pathlib import Path

from engine import default_dataset_path
from engine.checkpoint import DEFAULT_CHECKPOINT, check_save_path
from engine.cli import build_parser as build_engine_parser
from engine.cli import main as engine_main
from engine.cli import trainer_from_args, whole_number

from . import __version__

PROG = "microgpt-tui"
# Reading, tokenizing and shuffling take about a second per 5 MB before the app can draw
# anything (50 MB of names: ~10 s), so above this size the terminal says what is going on.
ANNOUNCE_LOAD_BYTES = 5_000_000


def build_parser():
    parser = build_engine_parser(PROG)
    parser.description = "Watch a tiny GPT learn, one step at a time."
    parser.add_argument("--headless", action="store_true",
                        help="train in the terminal without the app and print the reference "
                             "log (same as python -m engine)")
    parser.add_argument("--serve", action="store_true",
                        help="serve the app in a web browser (needs the [web] extra)")
    parser.add_argument("--host", default="127.0.0.1", help="address for --serve "
                        "(default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=whole_number(1), default=8000,
                        help="port for --serve (default 8000)")
    parser.add_argument("--export-dir", metavar="DIR",
                        help="where e writes its microgpt-export-* folders (default: the "
                             "working directory)")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def build_app(args):
    """The app for parsed arguments; a ValueError says in one line what is wrong."""
    checkpoint_path = args.save or DEFAULT_CHECKPOINT
    check_save_path(checkpoint_path)
    path = Path(args.data) if args.data else default_dataset_path()
    size = path.stat().st_size if path.is_file() else 0
    if size > ANNOUNCE_LOAD_BYTES:
        print(f"{PROG}: loading {path.name} ({size / 1e6:.0f} MB)...", file=sys.stderr,
              flush=True)
    trainer, loss_history = trainer_from_args(args)
    from .app import MicrogptApp  # Textual loads only once the arguments are good

    return MicrogptApp(trainer, dataset_name=path.name, temperature=args.temperature,
                       loss_history=loss_history, checkpoint_path=checkpoint_path,
                       export_dir=args.export_dir)


def serve(args, argv):
    """Serve the same command (minus the serve flags) to browsers through textual-serve."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise ValueError("--serve needs textual-serve: pip install 'microgpt-tui[web]'") from None
    if args.port > 65535:
        raise ValueError(f"--port must be at most 65535, got {args.port}")
    with socket.socket() as probe:
        try:
            probe.bind((args.host, args.port))
        except OSError as error:
            raise ValueError(f"cannot serve on {args.host}:{args.port}: "
                             f"{error.strerror or error}") from None
    app_argv = strip_serve_flags(argv)
    command = shlex.join([sys.executable, "-m", "microgpt_tui", *app_argv])
    Server(command, host=args.host, port=args.port, title=PROG).serve()


def strip_serve_flags(argv):
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--serve":
            continue
        elif arg in ("--host", "--port"):
            skip = True
        elif not arg.startswith(("--host=", "--port=")):
            kept.append(arg)
    return kept


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.headless:
        return engine_main([arg for arg in argv if arg != "--headless"], prog=PROG)
    try:
        if args.serve:
            serve(args, argv)
            return 0
        app = build_app(args)
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
