"""`microgpt-tui`: parse the command line, load the data, run the app (or headless, or served)."""

import gc
import os
import shlex
import socket
import sys
from pathlib import Path

from engine import default_dataset_path
from engine.checkpoint import DEFAULT_CHECKPOINT, check_save_path
from engine.cli import LoadProgress, trainer_from_args, whole_number
from engine.cli import build_parser as build_engine_parser
from engine.cli import run_command as run_engine_command

from . import __version__

PROG = "microgpt-tui"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
# The training thread never waits on I/O, so it keeps the GIL until Python forces a switch;
# at the default 5 ms every redraw the UI thread does is stretched several times over, and
# keys waited 100+ ms. At 1 ms the UI answers keys in a few ms while training runs.
GIL_SWITCH_INTERVAL = 0.001
# Textual draws a changed screen on the next tick of a clock of TEXTUAL_FPS ticks a second
# (60 by default), and after a frame drawn late (as most are while training runs) the next
# tick is one to two periods away: a key pressed just after a report's frame waited 17-33 ms
# to be drawn. At 240 it waits 4-8 ms; the app draws only when something changed, so the
# UI thread's CPU while training stays the same (measured: 133-145 ms a second either way).
FRAME_RATE = 240


def build_parser():
    parser = build_engine_parser(PROG)
    parser.description = "Watch a tiny GPT learn, one step at a time."
    parser.add_argument("--headless", action="store_true",
                        help="train in the terminal without the app and print the reference "
                             "log (same as python -m engine)")
    parser.add_argument("--serve", action="store_true",
                        help="serve the app in a web browser (needs the [web] extra)")
    # --host and --port default to None so that --headless can tell that they were given.
    parser.add_argument("--host", help=f"address for --serve "
                        f"(default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=whole_number(1, 65535),
                        help=f"port for --serve (default {DEFAULT_PORT})")
    parser.add_argument("--export-dir", metavar="DIR",
                        help="where e writes its microgpt-export-* folders (default: the "
                             "working directory)")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def build_app(args, progress=None):
    """The app for parsed arguments; a ValueError says in one line what is wrong. A big
    dataset's setup is reported on `progress` (a LoadProgress)."""
    checkpoint_path = args.save or DEFAULT_CHECKPOINT
    check_save_path(checkpoint_path)
    progress = progress or LoadProgress(PROG, args.data)
    trainer, loss_history = trainer_from_args(args, progress.stage)
    progress.stage("starting the app")
    from .app import MicrogptApp  # Textual loads only once the arguments are good

    app = MicrogptApp(trainer, dataset_name=dataset_path(args).name,
                      temperature=args.temperature, top_k=args.top_k,
                      loss_history=loss_history,
                      checkpoint_path=checkpoint_path, export_dir=args.export_dir)
    progress.finish("ready")
    return app


def dataset_path(args):
    return Path(args.data) if args.data else default_dataset_path()


def serve(args, argv):
    """Serve the same command (minus the serve flags) to browsers through textual-serve."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise ValueError("--serve needs textual-serve: pip install 'microgpt-tui[web]'") from None
    host = args.host or DEFAULT_HOST
    port = args.port or DEFAULT_PORT
    with socket.socket() as probe:
        # As the server binds: a port held only by a closed connection's TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ValueError(f"cannot serve on {host}:{port}: "
                             f"{error.strerror or error}") from None
    app_argv = strip_serve_flags(argv)
    # textual-serve runs the command through /bin/sh, which stays as the app's parent unless
    # it is told to exec: a SIGTERM to what ps shows as the app would end only that shell.
    command = "exec " + shlex.join([sys.executable, "-m", "microgpt_tui", *app_argv])
    Server(command, host=host, port=port, title=PROG).serve()
    return 0


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


def app_only_flags(args):
    """The flags given that only the app (or --serve) uses: --headless would ignore them."""
    return [flag for flag, given in (("--serve", args.serve),
                                     ("--host", args.host is not None),
                                     ("--port", args.port is not None),
                                     ("--export-dir", args.export_dir is not None)) if given]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.headless:
        if ignored := app_only_flags(args):
            parser.error(f"{' and '.join(ignored)} {'has' if len(ignored) == 1 else 'have'} "
                         f"no effect with --headless")
        return run_engine_command(args, PROG)
    if args.serve:
        return run_engine_command(args, PROG, lambda args, progress: serve(args, argv))
    return run_engine_command(args, PROG, run_app)


def prepare_interpreter(app):
    """Set up the process that runs `app`, before `app.run()` (not done by the app: tests
    make many apps in one interpreter and must not have it changed under them)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    # What is alive once the app has drawn its first frame (the dataset, the parameters, the
    # widgets, Textual's stylesheets) lives as long as the app; freezing it spares every
    # later full collection from rescanning it mid-frame. Frozen before app.run() instead,
    # 11,000 of Textual's objects stayed in reach: a full collection took ~5 ms, not ~3.
    app.call_after_refresh(gc.freeze)


def run_app(args, progress):
    # Textual reads its frame rate when it is first imported: in build_app.
    os.environ.setdefault("TEXTUAL_FPS", str(FRAME_RATE))
    app = build_app(args, progress)
    from .served import ServedDriver, WebDriver
    from .signals import exit_on_signals

    if issubclass(app.driver_class, WebDriver):  # run by textual-serve for one browser
        app.driver_class = ServedDriver
    prepare_interpreter(app)
    with exit_on_signals(app):
        app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
