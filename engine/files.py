"""Reading and writing files: a one-line error for a file that cannot be read, and never a
half-written file."""

import errno
import os
import secrets
import signal
import stat
import threading
from contextlib import contextmanager, suppress

# What a path that is not a regular file is, for the error that refuses it.
FILE_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_file(path, what):
    """The bytes of the file at `path`; a ValueError says in one line, naming `what` the file
    was meant to be, why it cannot be read.

    Only a regular file is read: a FIFO would block until something writes to it and a
    device such as /dev/zero never ends, so both are refused before a byte is read."""
    try:
        # O_NONBLOCK: opening a FIFO that no one writes to returns at once instead of waiting.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise ValueError(unreadable(error, path, what)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ValueError(f"{what} is a directory, not a file: {path}")
        if not stat.S_ISREG(mode):
            kind = next((kind for is_kind, kind in FILE_KINDS if is_kind(mode)), "special")
            raise ValueError(f"{what} is {kind}, not a regular file: {path}")
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read()
    except OSError as error:
        raise ValueError(unreadable(error, path, what)) from None
    finally:
        os.close(fd)


def unreadable(error, path, what):
    """The one line for an OSError met reading `what` at `path`."""
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"{what} not found: {path}"
    if error.errno == errno.ELOOP:
        return f"{what} is a symbolic link loop (it leads back to itself): {path}"
    return f"cannot read {what} {path}: {error.strerror or error}"


def write_target(path):
    """The file that writing to `path` replaces: `path`, or the end of its chain of symbolic
    links (so a link stays a link). An OSError names `path` if the chain is a loop."""
    target = os.path.realpath(path)
    if os.path.islink(target):  # realpath stops where it meets a loop
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fspath(path))
    return target


def named(error, path):
    """`error` (an OSError) naming `path`, not a temp file: callers show `error.filename`."""
    if error.errno is not None:
        error.filename, error.filename2 = os.fspath(path), None
    return error


def write_atomically(path, data):
    """Write the bytes `data` to `path` through a synced temp file beside it, then rename it:
    whatever stops the write (a full disk, a refused rename, Ctrl+C, a SIGTERM turned into an
    exception by `signals_raise`), `path` holds either the old file or the new one, and no
    temp file is left. A symbolic link at `path` is kept: the file it leads to is replaced.
    Raises OSError, with `path` as its filename, on failure."""
    try:
        target = write_target(path)
        # Beside the target, so os.replace is a rename within one file system.
        temp = os.path.join(os.path.dirname(target),
                            f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp")
        # Created like any new file (0o666 minus the umask; mkstemp would make it 0o600), and
        # never over an existing one.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise named(error, path) from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException as error:
        with suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            named(error, path)
        raise


class Terminated(BaseException):
    """A SIGTERM or SIGHUP, raised by `signals_raise` where the main thread was, so that
    `finally` and `except BaseException` blocks (write_atomically's cleanup) still run."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self):
        return signal.Signals(self.signum).name

    @property
    def exit_code(self):
        """128 + the signal's number, as a shell reports a process the signal ended."""
        return 128 + self.signum


TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def signals_raise(signals=TERMINATING_SIGNALS):
    """Inside: SIGTERM and SIGHUP raise Terminated instead of ending the process at once.

    After the first, further ones are ignored until the block ends, so that the cleanup they
    started is not cut short (SIGKILL still ends the process). Only the main thread can set
    signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for number in signals:
            signal.signal(number, signal.SIG_IGN)
        raise Terminated(signum)

    with signal_handler(signals, handler):
        yield


@contextmanager
def signal_handler(signals, handler):
    """`handler` for each of `signals` inside the block; their previous handlers after it."""
    previous = {number: signal.signal(number, handler) for number in signals}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
