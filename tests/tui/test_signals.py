"""SIGTERM and SIGHUP end the app in a real terminal as q does: the terminal is handed back and
a checkpoint being saved is finished, with no temp file left."""

import os
import pty
import select
import signal
import sys
import time

import pytest

from engine.checkpoint import read_checkpoint
from tests.tui.conftest import TINY_DOCS

TINY_FLAGS = ["--n-layer", "1", "--n-embd", "8", "--n-head", "2", "--block-size", "8",
              "--steps", "100000"]
LEAVE_ALTERNATE_SCREEN, SHOW_CURSOR = b"\x1b[?1049l", b"\x1b[?25h"


class AppInPty:
    """`microgpt-tui` in a terminal of its own (a pty), and what it has written to it."""

    def __init__(self, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.environ["TERM"] = "xterm-256color"
            os.execv(sys.executable, [sys.executable, "-m", "microgpt_tui", *args])
        self.screen = bytearray()
        self.status = None

    def read_until(self, condition, timeout):
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.05)[0]:
                try:
                    self.screen.extend(os.read(self.fd, 65536))
                except OSError:  # the app has gone and closed its terminal
                    return

    def wait_for_exit(self, timeout):
        """The exit code, or None if the app is still running after `timeout` seconds."""
        exit_waiter = os.pidfd_open(self.pid)  # readable once the process has ended
        try:
            deadline = time.monotonic() + timeout
            if self.fd is not None:
                self.read_until(lambda: select.select([exit_waiter], [], [], 0)[0], timeout)
            if select.select([exit_waiter], [], [], max(0, deadline - time.monotonic()))[0]:
                self.status = os.waitpid(self.pid, 0)[1]
                return os.waitstatus_to_exitcode(self.status)
            return None
        finally:
            os.close(exit_waiter)

    def hang_up(self):
        """Close the terminal, as closing its window does: the kernel sends the app SIGHUP
        (and SIGCONT), and the terminal can no longer be written to."""
        os.close(self.fd)
        self.fd = None

    def close(self):
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self.fd is not None:
            os.close(self.fd)


@pytest.fixture
def app_in_pty(tmp_path):
    (tmp_path / "words.txt").write_text("\n".join(TINY_DOCS))
    apps = []

    def start(*args):
        apps.append(AppInPty("--data", str(tmp_path / "words.txt"), *TINY_FLAGS, *args))
        app = apps[-1]
        app.read_until(lambda: b"step 0/100000" in app.screen, 30)
        assert b"step 0/100000" in app.screen, "the app never drew"
        return app

    yield start
    for app in apps:
        app.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminating_signal_hands_the_terminal_back(app_in_pty, signum):
    app = app_in_pty()
    os.write(app.fd, b" ")  # training: the worker thread is busy when the signal comes
    app.read_until(lambda: b"step 0/100000" not in app.screen[-20000:], 5)
    os.kill(app.pid, signum)
    assert app.wait_for_exit(10) == 128 + signum
    assert b"Traceback" not in app.screen
    # The last thing written gives the terminal back: the main screen, and the cursor.
    ending = app.screen[app.screen.rindex(LEAVE_ALTERNATE_SCREEN):]
    assert SHOW_CURSOR in ending
    assert b"\x1b[?1000h" not in ending  # mouse reporting is not turned back on


def test_closing_the_terminal_ends_the_app(app_in_pty):
    app = app_in_pty()
    os.write(app.fd, b" ")  # frames are being written when the terminal goes
    app.read_until(lambda: b"step 0/100000" not in app.screen[-20000:], 5)
    app.hang_up()
    assert app.wait_for_exit(10) == 129


def test_sigterm_while_checkpoints_are_being_saved_leaves_no_temp_file(app_in_pty, tmp_path):
    app = app_in_pty("--save", str(tmp_path / "run.json"))
    os.write(app.fd, b"sssw")
    saved = b"aved step 3"  # "Saved step 3 to ...": the toast styles its first letter apart
    app.read_until(lambda: saved in app.screen, 10)
    assert saved in app.screen
    # More saves asked for; the signal comes while the worker writes them (or before it has
    # read them: a save asked for before the app stops is still made).
    os.write(app.fd, b"wwww")
    os.kill(app.pid, signal.SIGTERM)
    assert app.wait_for_exit(10) == 143
    assert len(read_checkpoint(tmp_path / "run.json").loss_history) == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run.json", "words.txt"]
