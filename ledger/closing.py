"""A context manager for objects that hold something until their ``close()``."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class ClosesOnExit:
    """``with thing as t`` gives the thing itself and closes it on leaving, error or not.

    For the chains, node launchers and clients that own connections, files or processes, so
    that each says only how it closes.
    """

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
