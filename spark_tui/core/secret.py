"""A password held in one mutable buffer that is overwritten when done.

Python strings cannot be wiped, so a password read from the user is turned into a
:class:`Secret` at once and only handed out as text for the single login that needs it
(asyncssh sends it as a string); :meth:`Secret.wipe` then zeroes the bytes we hold.
"""

from __future__ import annotations


class Secret:
    """A password in a ``bytearray``; ``repr`` and ``str`` never show it.

    Args:
        value: The password (its UTF-8 bytes are copied into the buffer).
    """

    __slots__ = ("_buffer",)

    def __init__(self, value: str | bytes | bytearray) -> None:
        self._buffer = bytearray(value.encode("utf-8") if isinstance(value, str) else value)

    def text(self) -> str:
        """The password as text, for the one call that needs it. Do not keep the result."""
        return self._buffer.decode("utf-8", errors="surrogateescape")

    def wipe(self) -> None:
        """Overwrite the buffer with zeros and empty it."""
        for index in range(len(self._buffer)):
            self._buffer[index] = 0
        self._buffer.clear()

    @property
    def wiped(self) -> bool:
        """True once :meth:`wipe` ran (nothing is held any more)."""
        return not self._buffer

    def __bool__(self) -> bool:
        return bool(self._buffer)

    def __len__(self) -> int:
        return len(self._buffer)

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __enter__(self) -> Secret:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()
