"""Files that appear whole or not at all: written beside their target, synced, then moved in.

A reader never sees a half-written keystore or a partly decrypted dataset under its final name:
the bytes go to a temporary file in the target's directory (same file system, so the final
``link``/``rename`` is atomic), which is fsynced before it is published and whose directory is
fsynced after, so a file reported written survives a crash. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "fsync_directory",
    "link_numbered",
    "numbered_files",
    "publish_atomically",
    "write_atomically",
]


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


def numbered_files(directory: Path, pattern: re.Pattern[str]) -> list[Path]:
    """The entries of *directory* whose names *pattern* matches in full, in the order of the
    number its first group captures ([] if there is no such directory): an archive's files."""
    if not directory.is_dir():
        return []
    numbered = {}
    for entry in directory.iterdir():
        if (match := pattern.fullmatch(entry.name)) is not None:
            numbered[int(match[1])] = entry
    return [numbered[n] for n in sorted(numbered)]


def link_numbered(source: Path, name: Callable[[int], Path], first: int) -> Path:
    """Hard-link *source* as ``name(n)``, *n* the first number from *first* whose name is free;
    make the link durable and return it.

    A link shares the file, mode included, and fails if the name is taken, so two archivers
    never overwrite each other's copy. Raises FileNotFoundError if *source* does not exist.
    """
    number = first
    while True:
        target = name(number)
        try:
            os.link(source, target)
        except FileExistsError:
            number += 1
            continue
        fsync_directory(target.parent)
        return target
