"""Bounded metric history and the one-line sparkline drawn from it.

Textual's ``Sparkline`` stretches its data between the data's own minimum and maximum, so a CPU
wobbling between 50.1 % and 50.3 % would fill the whole height, and it cannot show a gap for an
unknown reading. Telemetry wants the opposite: a fixed scale (0-100 % for percentages), the newest
sample at the right edge, one column per sample, and a visible hole where a value was unknown.
That is all this module does; it has no I/O and no Textual import.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence

DEFAULT_HISTORY = 120
"""Samples kept per metric: two minutes at the default one-second interval."""

BARS = "▁▂▃▄▅▆▇█"
GAP = " "
"""Drawn where a sample was unknown."""


class History:
    """The last ``limit`` readings of one metric; ``None`` readings are kept as gaps.

    Args:
        limit: How many readings to keep; older ones fall off.

    Raises:
        ValueError: ``limit`` is smaller than 1.
    """

    __slots__ = ("_values",)

    def __init__(self, limit: int = DEFAULT_HISTORY) -> None:
        if limit < 1:
            raise ValueError(f"history limit must be at least 1, not {limit}")
        self._values: deque[float | None] = deque(maxlen=limit)

    @property
    def limit(self) -> int:
        """The most readings kept."""
        return self._values.maxlen or 0

    def append(self, value: float | None) -> None:
        """Record the newest reading (``None`` = unknown)."""
        self._values.append(value)

    @property
    def latest(self) -> float | None:
        """The newest reading, or ``None`` when empty or unknown."""
        return self._values[-1] if self._values else None

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[float | None]:
        return iter(self._values)


def sparkline(
    values: Iterable[float | None],
    width: int,
    *,
    maximum: float | None = None,
    minimum: float = 0.0,
) -> str:
    """Draw the newest ``width`` readings as bars, one column each, right-aligned.

    Args:
        values: Readings, oldest first; ``None`` draws a gap.
        width: Columns available; fewer readings leave blank columns on the left.
        maximum: Top of the scale (100 for percentages); ``None`` scales to the largest
            known reading shown.
        minimum: Bottom of the scale.

    Returns:
        A string of exactly ``max(width, 0)`` characters.
    """
    if width <= 0:
        return ""
    shown: Sequence[float | None] = list(values)[-width:]
    top = maximum
    if top is None:
        known = [v for v in shown if v is not None]
        top = max(known) if known else minimum
    span = top - minimum
    last = len(BARS) - 1
    if span <= 0:
        cells = [GAP if v is None else BARS[0 if v <= minimum else last] for v in shown]
    else:
        scale = last / span
        cells = [
            GAP if v is None else BARS[min(max(round((v - minimum) * scale), 0), last)] for v in shown
        ]
    return GAP * (width - len(shown)) + "".join(cells)
