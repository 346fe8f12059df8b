"""Pure parsers for what a device says about itself: nvidia-smi CSV, /proc files and df.

Nothing here does I/O and nothing here raises on bad input: text from a remote device is not
trusted, so a line that cannot be read is skipped and a value that cannot be read is ``None``
("unknown"), which is how GB10's ``[N/A]`` memory fields come out too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from spark_tui.core.models import GpuSample

#: The nvidia-smi query the telemetry sampler runs, in the column order ``parse_gpu_csv`` expects.
GPU_QUERY_FIELDS: tuple[str, ...] = (
    "index",
    "name",
    "utilization.gpu",
    "temperature.gpu",
    "power.draw",
    "memory.used",
    "memory.total",
)

# Units nvidia-smi appends without ``nounits``; stripped before reading a number.
_UNITS = ("MiB", "GiB", "MHz", "%", "W", "C")
_MAX_LINE = 4096
_MAX_NAME = 120


def _is_count(text: str, digits: int = 18) -> bool:
    """True for a plain ASCII non-negative integer of at most ``digits`` digits."""
    return 0 < len(text) <= digits and text.isascii() and text.isdigit()


def parse_number(text: str) -> float | None:
    """Read one nvidia-smi value as a float.

    ``[N/A]``, ``N/A``, ``Not Supported``, ``[Not Supported]``, ``[Unknown Error]``, ``ERR!``,
    empty text, NaN and infinities are all unknown. A trailing unit (``45 %``, ``41.2 W``) is
    ignored, so output made with or without ``nounits`` reads the same.

    Args:
        text: One CSV field.

    Returns:
        The number, or ``None`` when it is unknown. Never raises.
    """
    value = text.strip()
    for unit in _UNITS:
        if value.endswith(unit):
            value = value[: -len(unit)].strip()
            break
    if not value or len(value) > 32:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_gpu_line(line: str) -> GpuSample | None:
    """Read one line of ``nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,noheader,nounits``.

    Args:
        line: ``0, NVIDIA GB10, 37, 48, 12.34, [N/A], [N/A]``. The two memory columns may be
            missing (older queries); extra columns are ignored.

    Returns:
        The GPU's sample, or ``None`` for a header, an error message or any other garbage.
        Never raises.
    """
    if len(line) > _MAX_LINE:
        return None
    fields = [f.strip() for f in line.split(",")]
    if len(fields) < 5:
        return None
    index_text = fields[0]
    if not _is_count(index_text, 4):
        return None
    name = "".join(ch for ch in fields[1] if ch.isprintable())[:_MAX_NAME]
    memory = [parse_number(f) for f in fields[5:7]] + [None, None]
    return GpuSample(
        index=int(index_text),
        name=name,
        utilization=parse_number(fields[2]),
        temperature=parse_number(fields[3]),
        power=parse_number(fields[4]),
        memory_used=memory[0],
        memory_total=memory[1],
    )


def parse_gpu_csv(text: str | Iterable[str]) -> tuple[GpuSample, ...]:
    """Read every GPU line of an nvidia-smi CSV answer (see :func:`parse_gpu_line`).

    Args:
        text: The whole output, or its lines. A header line and garbage lines are skipped.

    Returns:
        One sample per GPU line, in the order given; when an index repeats (``-l`` loop output),
        the later line wins but keeps the first one's place. Never raises.
    """
    lines = text.splitlines() if isinstance(text, str) else text
    by_index: dict[int, GpuSample] = {}
    for line in lines:
        sample = parse_gpu_line(line)
        if sample is not None:
            by_index[sample.index] = sample
    return tuple(by_index.values())


def parse_meminfo(text: str | Iterable[str]) -> tuple[int | None, int | None]:
    """Read ``MemTotal`` and ``MemAvailable`` from ``/proc/meminfo``.

    Args:
        text: The file's content (or its lines); values are in kB as the kernel writes them.

    Returns:
        ``(total_bytes, available_bytes)``; either is ``None`` when missing or unreadable.
        Never raises.
    """
    lines = text.splitlines() if isinstance(text, str) else text
    found: dict[str, int] = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("MemTotal:", "MemAvailable:") and _is_count(parts[1]):
            found[parts[0]] = int(parts[1]) * 1024
    return found.get("MemTotal:"), found.get("MemAvailable:")


@dataclass(frozen=True)
class CpuTimes:
    """The aggregate ``cpu`` line of ``/proc/stat``, reduced to what a busy percent needs.

    Attributes:
        busy: Jiffies spent doing work (user, nice, system, irq, softirq, steal).
        total: busy plus idle plus iowait.
    """

    busy: int
    total: int


def parse_cpu_line(line: str) -> CpuTimes | None:
    """Read the aggregate ``cpu  user nice system idle iowait irq softirq steal ...`` line.

    Args:
        line: The first line of ``/proc/stat``.

    Returns:
        The counters, or ``None`` for anything else (a ``cpu0`` line, garbage). Never raises.
    """
    parts = line.split()
    if len(parts) < 5 or parts[0] != "cpu":
        return None
    numbers = []
    for part in parts[1:9]:
        if not _is_count(part, 20):
            return None
        numbers.append(int(part))
    numbers += [0] * (8 - len(numbers))
    user, nice, system, idle, iowait, irq, softirq, steal = numbers
    busy = user + nice + system + irq + softirq + steal
    return CpuTimes(busy=busy, total=busy + idle + iowait)


def cpu_busy_percent(before: CpuTimes | str | None, after: CpuTimes | str | None) -> float | None:
    """CPU busy percent between two readings of ``/proc/stat``'s ``cpu`` line.

    Args:
        before: The earlier reading (a line or parsed counters).
        after: The later reading.

    Returns:
        0-100, or ``None`` when either reading is missing or unreadable, or when no time passed
        or the counters went backwards (a reboot between readings). Never raises.
    """
    first = parse_cpu_line(before) if isinstance(before, str) else before
    second = parse_cpu_line(after) if isinstance(after, str) else after
    if first is None or second is None:
        return None
    total = second.total - first.total
    busy = second.busy - first.busy
    if total <= 0 or busy < 0:
        return None
    return max(0.0, min(100.0, 100.0 * busy / total))


def parse_df(text: str | Iterable[str]) -> tuple[int | None, int | None]:
    """Read ``df -kP PATH`` output: the file system's size and how much of it is used.

    Args:
        text: The output (header line plus one line per file system; the last one counts).

    Returns:
        ``(total_bytes, used_bytes)``, or ``(None, None)`` when no line can be read.
        Never raises.
    """
    lines = text.splitlines() if isinstance(text, str) else text
    result: tuple[int | None, int | None] = (None, None)
    for line in lines:
        parts = line.split()
        # Filesystem 1024-blocks Used Available Capacity Mounted-on. The file system name and
        # the mount point may hold spaces, so anchor on the first "NN%" preceded by 3 numbers.
        for i in range(3, len(parts)):
            capacity = parts[i]
            numbers = parts[i - 3 : i]
            if (
                capacity.endswith("%")
                and _is_count(capacity[:-1], 4)
                and all(_is_count(n) for n in numbers)
            ):
                result = (int(numbers[0]) * 1024, int(numbers[1]) * 1024)
                break
    return result
