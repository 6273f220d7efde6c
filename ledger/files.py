"""Files that appear whole or not at all: written beside their target, synced, then moved in.

A reader never sees a half-written keystore or a partly decrypted dataset under its final name:
the bytes go to a temporary file in the target's directory (same file system, so the final
``link``/``rename`` is atomic), which is fsynced before it is published and whose directory is
fsynced after, so a file reported written survives a crash. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["fsync_directory", "publish_atomically", "write_atomically"]


def write_atomically(path: Path, data: bytes, *, replace: bool) -> None:
    """Write *path* atomically with mode 0o600; unless *replace*, raise FileExistsError if it
    exists.

    A new file is published with ``os.link`` rather than ``os.replace`` because linking fails if
    the target exists, while replacing would silently clobber a file created concurrently (a
    key, say); *replace* says that clobbering is the point.
    """
    with publish_atomically(path, replace=replace) as stream:
        stream.write(data)


@contextlib.contextmanager
def publish_atomically(path: Path, *, replace: bool = True) -> Iterator[BinaryIO]:
    """Yield a temporary file (mode 0o600) beside *path*; publish it as *path* when the block
    ends normally, delete it when the block raises.

    Unless *replace*, publishing raises FileExistsError if *path* exists.
    """
    # mkstemp creates the file with mode 0o600, before any byte is written.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a new directory entry durable: a file reported written must survive a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
