"""SIGTERM and SIGHUP end the app as q does: the terminal is given back (main screen, cursor
shown, no mouse reporting), a checkpoint asked for is saved whole, and the exit code is the
shell's 128 + the signal's number. Left to their default, they ended the process at once,
leaving the terminal in the app's modes and perhaps a temp file beside the checkpoint."""

import asyncio
import errno
import os
import signal
import sys
import termios
from contextlib import suppress
from functools import partial

from engine.files import TERMINATING_SIGNALS


def exit_on_signals(app):
    """Call from the running app once its driver has started: the web driver (--serve) sets
    a SIGTERM handler of its own, which would exit with code 0. A test's headless app leaves
    the test runner's signals alone."""
    if app.is_headless:
        return
    loop = asyncio.get_running_loop()

    # A plain signal handler, not loop.add_signal_handler: it runs before Python runs the
    # handler of the SIGCONT that comes with a hangup (signals are handled in number order),
    # and it runs even while the loop's thread is held up writing to a closed terminal.
    def handler(signum, frame):
        if terminal_hung_up():
            let_go_of_terminal()
        with suppress(RuntimeError):  # the loop has closed: the app has already ended
            loop.call_soon_threadsafe(partial(app.exit, return_code=128 + signum))

    for signum in TERMINATING_SIGNALS:
        signal.signal(signum, handler)


def terminal_hung_up():
    """Whether the app's terminal has closed (its window, or the ssh session that held it)."""
    try:
        termios.tcgetattr(sys.__stdin__.fileno())
    except termios.error as error:  # not a terminal at all (--serve) is not a hangup
        return error.args[0] == errno.EIO
    return False


def let_go_of_terminal():
    """There is nothing left to give back, and writing to a closed terminal could block the
    app's exit: Textual's output thread dies on the first write that fails, and the writes
    after it wait on its full queue for ever. The hangup also brings a SIGCONT, on which
    Textual would take the app back into the terminal (as after ctrl+z): it is not acted on.
    From now on the output goes to /dev/null."""
    signal.signal(signal.SIGCONT, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.__stdout__, sys.__stderr__):
        os.dup2(devnull, stream.fileno())
    os.close(devnull)
