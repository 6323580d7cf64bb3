"""`python -m microgpt_tui.bench_terminal`: key to screen, as a user sees it.

`python -m microgpt_tui.bench` times a key from the test driver to its action handler; a user
waits longer: for the key to reach the app through a terminal, for the app's event loop to
take it (between the frames it draws while training runs), and for the changed frame to be
written back. This script measures all of that. It starts `microgpt-tui` (the default model)
in a pseudo-terminal of 120x34 that it reads itself, keeping a screen of the text written to
it, presses `]` (the attention pane's title goes from "head 1/4" to "head 2/4") and times
until the new title is on that screen: while idle, then while training runs (space), when it
also reads the step counter off the screen for the steps per second in the same run.

Reading the pseudo-terminal directly leaves out a terminal emulator's own delay (tmux,
measured with `tmux capture-pane` polling, adds a few ms and polling granularity), so these
are the app's share of what a user waits for. The screen keeps text only: the app positions
every run of text with a cursor move, which is all that is needed to know what is where.

On a machine busy with other work the app's threads also wait for a CPU. Where Linux tells
(/proc/PID/schedstat), each latency is also given less the time the app's UI thread spent
runnable but not running meanwhile, with the load average: what the app itself costs.
"""

import argparse
import codecs
import contextlib
import os
import random
import re
import select
import signal
import statistics
import struct
import sys
import time
import unicodedata

try:
    import fcntl
    import pty
    import termios
except ImportError:  # Windows: no pseudo-terminals of this kind
    pty = None

WIDTH, HEIGHT = 120, 34
PRESSES = 40
# A user's keys fall at any moment of the app's frame and report rhythm; a random gap of
# this many seconds between presses keeps the presses from locking onto that rhythm.
GAP = (0.1, 0.25)
TIMEOUT = 10.0  # seconds for anything to appear before the measurement gives up

# Escape sequences: CSI (cursor moves, colours, modes), OSC and DCS strings, and the
# two-byte ones. Everything but a cursor position or an erase leaves the text as it is.
ESCAPE = re.compile(r"\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)"
                    r"|P[^\x1b]*\x1b\\|[^\[\]P])")
LONGEST_ESCAPE = 4096  # an unfinished sequence longer than this is garbage, not a pending one
HEAD_TITLE = re.compile(r"Attention · .* · head (\d+)/(\d+)")
STEP = re.compile(r"step (\d+)/(\d+)")


class Screen:
    """The text a terminal of `width` x `height` would show after everything fed to it."""

    def __init__(self, width=WIDTH, height=HEIGHT):
        self.width, self.height = width, height
        self.cells = [[" "] * width for _ in range(height)]
        self.row = self.col = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # the start of an escape sequence cut off by the end of a read

    def feed(self, data: bytes):
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        position = 0
        while (escape := text.find("\x1b", position)) >= 0:
            self._write(text[position:escape])
            match = ESCAPE.match(text, escape)
            if match is None:
                tail = text[escape:]
                self._pending = tail if len(tail) < LONGEST_ESCAPE else ""
                return
            if match.group(2):
                self._control(match.group(1), match.group(2))
            position = match.end()
        self._write(text[position:])

    def lines(self):
        return ["".join(row).rstrip() for row in self.cells]

    def _write(self, text):
        for char in text:
            if char == "\r":
                self.col = 0
            elif char == "\n":
                self.row = min(self.row + 1, self.height - 1)
            elif char == "\b":
                self.col = max(self.col - 1, 0)
            elif char >= " ":
                wide = unicodedata.east_asian_width(char) in "WF"
                row = self.cells[self.row]
                if self.col < self.width:
                    row[self.col] = char
                if wide and self.col + 1 < self.width:
                    row[self.col + 1] = ""  # the second half of the character's two cells
                self.col += 2 if wide else 1

    def _control(self, params, final):
        numbers = [int(part) if part.isdigit() else 0 for part in params.split(";")]
        if final in "Hf":  # cursor position, 1-based; missing or 0 means 1
            row, col = [*numbers, 0, 0][:2]
            self.row = min(max(row, 1), self.height) - 1
            self.col = min(max(col, 1), self.width) - 1
        elif final == "J" and numbers[0] == 2:
            for row in self.cells:
                row[:] = " " * self.width
        elif final == "K":  # erase to the end of the line (the only form Textual sends)
            self.cells[self.row][self.col:] = " " * (self.width - self.col)


def find(pattern, lines):
    """The first match of `pattern` on any line, or None."""
    for line in lines:
        if match := pattern.search(line):
            return match
    return None


def percentile(ordered, fraction):
    """The value `fraction` of the way through the sorted list (nearest rank below)."""
    return ordered[int(fraction * (len(ordered) - 1))]


def summary(name, latencies):
    ordered = sorted(latencies)
    return (f"| {name:<16} | {statistics.median(ordered):7.1f} | "
            f"{percentile(ordered, 0.95):7.1f} | {ordered[-1]:7.1f} |")


class Terminal:
    """`microgpt-tui` running in a pseudo-terminal that this process reads into a Screen."""

    def __init__(self, app_args):
        self.screen = Screen()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the app, in a terminal of the measured size
            os.environ["TERM"] = "xterm-256color"
            os.execv(sys.executable, [sys.executable, "-m", "microgpt_tui", *app_args])
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))

    def cpu_wait(self):
        """Seconds the app's UI (main) thread has been runnable but not running, or None
        where the system does not say."""
        try:
            with open(f"/proc/{self.pid}/schedstat") as stats:
                return int(stats.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def press(self, key: bytes):
        """Send a key; return when it was sent (perf_counter seconds)."""
        sent = time.perf_counter()
        os.write(self.fd, key)
        return sent

    def read_until(self, done, timeout=TIMEOUT):
        """Read the app's output until `done(lines)` is true (or None for never: just keep
        the output drained until the timeout). Return when the output that made it true was
        read, as perf_counter seconds; raise TimeoutError if it never did."""
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # the app has exited
                data = b""
            read_at = time.perf_counter()
            if not data:
                raise TimeoutError("the app exited:\n" + "\n".join(self.screen.lines()))
            self.screen.feed(data)
            if done is not None and done(self.screen.lines()):
                return read_at
        if done is None:
            return time.perf_counter()
        raise TimeoutError("the screen never showed what was waited for:\n"
                           + "\n".join(self.screen.lines()))

    def pause(self, seconds):
        """Wait while still reading: an app whose output nobody reads stops when the
        pseudo-terminal's buffer is full."""
        self.read_until(None, seconds)

    def close(self):
        os.write(self.fd, b"q")
        with contextlib.suppress(TimeoutError):  # raised when it has exited
            self.read_until(None, 3)
        if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def head_shown(lines):
    match = find(HEAD_TITLE, lines)
    return match and (int(match.group(1)), int(match.group(2)))


def step_shown(lines):
    match = find(STEP, lines)
    return match and int(match.group(1))


def key_to_screen(terminal, presses, rng):
    """ms from sending `]` to the next head's title on the screen, `presses` times; and each
    less the UI thread's wait for a CPU meanwhile (an empty list where that is not known)."""
    latencies, own = [], []
    for _ in range(presses):
        head, heads = head_shown(terminal.screen.lines())
        waited = terminal.cpu_wait()
        sent = terminal.press(b"]")
        seen = terminal.read_until(
            lambda lines, wanted=(head % heads + 1, heads): head_shown(lines) == wanted)
        latencies.append((seen - sent) * 1000)
        if waited is not None:
            own.append(latencies[-1] - (terminal.cpu_wait() - waited) * 1000)
        terminal.pause(rng.uniform(*GAP))
    return latencies, own


def measure(app_args, presses):
    """(idle latencies, own), (while training latencies, own), steps/s while training."""
    terminal = Terminal(app_args)
    rng = random.Random(0)
    try:
        terminal.read_until(head_shown, timeout=60)  # loading and the first frame
        terminal.pause(1.0)
        idle = key_to_screen(terminal, presses, rng)
        terminal.press(b" ")
        terminal.read_until(lambda lines: (step_shown(lines) or 0) >= 3)
        started, first_step = time.perf_counter(), step_shown(terminal.screen.lines())
        busy = key_to_screen(terminal, presses, rng)
        elapsed = time.perf_counter() - started
        steps = step_shown(terminal.screen.lines()) - first_step
        terminal.press(b" ")
    finally:
        terminal.close()
    return idle, busy, steps / elapsed


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m microgpt_tui.bench_terminal",
        description="Time a key to its effect on the screen of microgpt-tui in a 120x34 "
                    "pseudo-terminal, idle and while training runs.")
    parser.add_argument("--presses", type=int, default=PRESSES,
                        help=f"presses of ] in each state (default {PRESSES})")
    parser.add_argument("app_args", nargs="*", metavar="-- ARG",
                        help="arguments for microgpt-tui after --, e.g. -- --steps 5000")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if pty is None:
        sys.exit("bench_terminal needs a Unix pseudo-terminal (Linux, macOS, BSD)")
    load_before = os.getloadavg()[0]
    (idle, idle_own), (busy, busy_own), steps_per_s = measure(args.app_args, args.presses)
    print(f"key -> screen latency over {args.presses} presses each (ms), "
          f"microgpt-tui in a {WIDTH}x{HEIGHT} pseudo-terminal")
    print("| state            |  median |     p95 |     max |")
    print("| ---------------- | ------: | ------: | ------: |")
    print(summary("idle", idle))
    print(summary("while training", busy))
    if idle_own:
        print("less the UI thread's waits for a CPU:")
        print(summary("idle", idle_own))
        print(summary("while training", busy_own))
    print(f"training: {steps_per_s:.1f} steps/s (read off the screen); load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
