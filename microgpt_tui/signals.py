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
from contextlib import contextmanager
from functools import partial

from engine.files import TERMINATING_SIGNALS, Terminated, signal_handler


@contextmanager
def exit_on_signals(app):
    """Inside: SIGTERM and SIGHUP exit `app` as q does, if it is running; before it runs (or
    once it has ended) they raise Terminated, as in a headless run.

    A plain signal handler, not the loop's add_signal_handler: it runs even while the main
    thread is held up (writing to a closed terminal, say), and before Python runs the
    handler of the SIGCONT that comes with a hangup (pending signals go in number order)."""

    def handler(signum, frame):
        try:
            loop = asyncio.get_running_loop()  # the app's: it runs in this (the main) thread
        except RuntimeError:
            raise Terminated(signum) from None
        if terminal_hung_up():
            let_go_of_terminal()
        loop.call_soon_threadsafe(partial(app.exit, return_code=128 + signum))

    with signal_handler(TERMINATING_SIGNALS, handler):
        yield


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
