"""Reading and writing files: a one-line error for a file that cannot be read, and never a
half-written file."""

import os
import secrets
from contextlib import suppress


def read_file(path, what):
    """The bytes of the file at `path`; a ValueError says in one line, naming `what` the file
    was meant to be, why it cannot be read."""
    if not path.exists():
        raise ValueError(f"{what} not found: {path}")
    if path.is_dir():
        raise ValueError(f"{what} is a directory, not a file: {path}")
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {what} {path}: {error.strerror or error}") from None


def write_atomically(path, data):
    """Write the bytes `data` to `path` through a synced temp file beside it, then rename it:
    whatever stops the write (a full disk, a refused rename, Ctrl+C), `path` holds either the
    old file or the new one, and no temp file is left. Raises OSError on failure."""
    # Beside the target, so os.replace is a rename within one file system.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # Created like any new file (0o666 minus the umask; mkstemp would make it 0o600), and
    # never over an existing one.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
