"""One device's live telemetry: CPU, memory, each GPU, home disk, each with recent history.

The view keeps a bounded history per metric and draws every row as one line: a dim label, the
current value (``–`` when unknown) and a fixed-scale sparkline. It has no I/O; the app hands it
``TelemetrySample`` values with :meth:`TelemetryView.update_sample`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from spark_tui.core.models import GpuSample, TelemetrySample
from spark_tui.core.untrusted import display_safe
from spark_tui.widgets.sparkline_history import DEFAULT_HISTORY, History, sparkline

UNKNOWN = "–"
"""Shown for a value the device did not report."""

MIB = 1024**2
GIB = 1024**3
TIB = 1024**4

# (warning, critical) thresholds; colour is spent only where a value needs attention.
MEMORY_LEVELS = (90.0, 97.0)  # percent used
DISK_LEVELS = (90.0, 97.0)  # percent used
GPU_TEMPERATURE_LEVELS = (80.0, 90.0)  # Celsius

COLUMNS = {False: (16, 19), True: (8, 13)}
"""(label, value) column widths, full and compact; the sparkline takes the rest of the row."""


@dataclass(frozen=True)
class MetricRow:
    """One drawn line of the view.

    Attributes:
        key: Stable name of the metric (``cpu``, ``memory``, ``gpu0``, ``disk``).
        label: Text in the label column.
        value: Current value as text, ``–`` when unknown.
        spark: The sparkline, already sized.
        level: ``""``, ``"warning"`` or ``"critical"``.
    """

    key: str
    label: str
    value: str
    spark: str
    level: str = ""


class TelemetryView(Widget):
    """Live telemetry of one device, in a bordered card titled with the device name.

    Rows, top to bottom: CPU, memory (labelled "Unified memory" on a GB10, whose GPU shares it),
    one row per GPU (utilisation, temperature, power; none when the device reports no GPU; a
    discrete GPU that reports its own memory gets a second row for it) and the disk holding the
    home folder. Unknown values show as ``–``.

    | Class | Description |
    | :- | :- |
    | `telemetry--label` | The metric names. |
    | `telemetry--value` | The current values. |
    | `telemetry--unknown` | A value the device did not report. |
    | `telemetry--spark` | The sparklines. |
    | `telemetry--warning` | A value that needs a look (memory or disk nearly full, GPU hot). |
    | `telemetry--critical` | A value that needs action now. |

    Args:
        device: Name of the device whose samples this view accepts.
        compact: Narrow columns and short labels, for cards in the fleet grid.
        history: Samples kept per metric.
        name: Widget name.
        id: Widget id.
        classes: Extra CSS classes.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "telemetry--label",
        "telemetry--value",
        "telemetry--unknown",
        "telemetry--spark",
        "telemetry--warning",
        "telemetry--critical",
    }

    def __init__(
        self,
        device: str,
        *,
        compact: bool = False,
        history: int = DEFAULT_HISTORY,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.device = device
        self.compact = compact
        self.set_class(compact, "-compact")
        self.border_title = Text(display_safe(device, 60))  # a name from a hand-edited file: no markup
        self._limit = history
        self._histories: dict[str, History] = {}
        self._latest: TelemetrySample | None = None
        self._shape: tuple[tuple[int, bool], ...] = ()

    @property
    def latest(self) -> TelemetrySample | None:
        """The newest sample shown, or ``None`` before the first."""
        return self._latest

    def history(self, metric: str) -> tuple[float | None, ...]:
        """Recorded readings of one metric, oldest first.

        Args:
            metric: ``cpu``, ``memory`` (percent used), ``disk`` (percent used), or for GPU ``n``:
                ``gpu{n}.utilization``, ``gpu{n}.temperature``, ``gpu{n}.power``, ``gpu{n}.memory``
                (percent used; discrete GPUs only).

        Returns:
            The readings (``None`` = unknown); empty for a metric never recorded.
        """
        found = self._histories.get(metric)
        return tuple(found) if found is not None else ()

    def update_sample(self, sample: TelemetrySample) -> None:
        """Show a new reading and add it to the history.

        A GPU that stops being reported loses its row and its history.

        Args:
            sample: The reading; its ``device`` must be this view's device.

        Raises:
            ValueError: The sample belongs to another device.
        """
        if sample.device != self.device:
            raise ValueError(f"sample for {sample.device!r} given to the view of {self.device!r}")
        self._latest = sample
        self._record("cpu", sample.cpu)
        self._record("memory", _percent(_memory_used(sample), sample.mem_total))
        self._record("disk", _percent(sample.disk_used, sample.disk_total))
        present = set()
        for gpu in sample.gpus:
            prefix = f"gpu{gpu.index}"
            present.add(prefix)
            self._record(f"{prefix}.utilization", gpu.utilization)
            self._record(f"{prefix}.temperature", gpu.temperature)
            self._record(f"{prefix}.power", gpu.power)
            if gpu.memory_total:
                self._record(f"{prefix}.memory", _percent(gpu.memory_used, gpu.memory_total))
        for key in [k for k in self._histories if k.startswith("gpu") and k.split(".")[0] not in present]:
            del self._histories[key]
        shape = tuple((gpu.index, bool(gpu.memory_total)) for gpu in sample.gpus)
        self.refresh(layout=shape != self._shape)  # height changes only when the rows do
        self._shape = shape

    def rows(self, width: int | None = None) -> list[MetricRow]:
        """The lines the view draws, for the given content width.

        Args:
            width: Columns available; the widget's own width when ``None``.

        Returns:
            One row per metric, in display order.
        """
        columns = self.size.width if width is None else width
        label_width, value_width = COLUMNS[self.compact]
        spark_width = max(columns - label_width - value_width - 1, 0)
        sample = self._latest
        gpus: tuple[GpuSample, ...] = sample.gpus if sample else ()
        unified = any("GB10" in gpu.name.upper() for gpu in gpus)
        mem_used = _memory_used(sample) if sample else None
        mem_total = sample.mem_total if sample else None
        disk_used = sample.disk_used if sample else None
        disk_total = sample.disk_total if sample else None

        def spark(key: str) -> str:
            return sparkline(self._histories.get(key, ()), spark_width, maximum=100.0)

        rows = [
            MetricRow("cpu", "CPU", _percent_text(sample.cpu if sample else None, self.compact), spark("cpu")),
            MetricRow(
                "memory",
                ("Unified" if self.compact else "Unified memory") if unified else "Memory",
                _bytes_pair(mem_used, mem_total, self.compact),
                spark("memory"),
                _level(_percent(mem_used, mem_total), MEMORY_LEVELS),
            ),
        ]
        for gpu in gpus:
            prefix = f"gpu{gpu.index}"
            rows.append(
                MetricRow(
                    prefix,
                    _gpu_label(gpu, self.compact, label_width - 1),
                    _gpu_text(gpu, self.compact),
                    spark(f"{prefix}.utilization"),
                    _level(gpu.temperature, GPU_TEMPERATURE_LEVELS),
                )
            )
            if gpu.memory_total:  # a discrete GPU's own memory; GB10 reports none (unified)
                used = None if gpu.memory_used is None else gpu.memory_used * MIB
                rows.append(
                    MetricRow(
                        f"{prefix}.memory",
                        " └ mem" if self.compact else f" └ GPU {gpu.index} memory",
                        _bytes_pair(used, gpu.memory_total * MIB, self.compact),
                        spark(f"{prefix}.memory"),
                        _level(_percent(gpu.memory_used, gpu.memory_total), MEMORY_LEVELS),
                    )
                )
        rows.append(
            MetricRow(
                "disk",
                "Disk ~" if self.compact else "Home disk",
                _bytes_pair(disk_used, disk_total, self.compact),
                spark("disk"),
                _level(_percent(disk_used, disk_total), DISK_LEVELS),
            )
        )
        return rows

    def render(self) -> RenderResult:
        """Draw one line per metric row."""
        label_width, value_width = COLUMNS[self.compact]
        label_style = self.get_component_rich_style("telemetry--label")
        value_style = self.get_component_rich_style("telemetry--value")
        unknown_style = self.get_component_rich_style("telemetry--unknown")
        spark_style = self.get_component_rich_style("telemetry--spark")
        level_styles = {
            "": Style(),
            "warning": self.get_component_rich_style("telemetry--warning"),
            "critical": self.get_component_rich_style("telemetry--critical"),
        }
        text = Text(no_wrap=True, overflow="crop", end="")
        for number, row in enumerate(self.rows()):
            if number:
                text.append("\n")
            text.append(row.label[: label_width - 1].ljust(label_width), label_style)
            style = unknown_style if row.value == UNKNOWN else value_style + level_styles[row.level]
            text.append(row.value[:value_width].ljust(value_width), style)
            if row.spark:
                text.append(" ")
                text.append(row.spark, spark_style)
        return text

    def _record(self, key: str, value: float | None) -> None:
        history = self._histories.get(key)
        if history is None:
            history = self._histories[key] = History(self._limit)
        history.append(value)


def _memory_used(sample: TelemetrySample | None) -> int | None:
    if sample is None or sample.mem_total is None or sample.mem_available is None:
        return None
    return max(sample.mem_total - sample.mem_available, 0)


def _percent(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return 100.0 * part / whole


def _level(value: float | None, thresholds: tuple[float, float]) -> str:
    if value is None:
        return ""
    warning, critical = thresholds
    return "critical" if value >= critical else "warning" if value >= warning else ""


def _number(value: float | None, unit: str, compact: bool) -> str:
    if value is None:
        return UNKNOWN
    return f"{value:.0f}{unit}" if compact else f"{value:.0f} {unit}"


def _percent_text(value: float | None, compact: bool) -> str:
    return _number(value, "%", compact)


def _amount(value: float, compact: bool) -> str:
    if compact:
        return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    return f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def _bytes_pair(used: float | None, total: float | None, compact: bool) -> str:
    if total is None:
        return UNKNOWN
    divisor, unit = (TIB, "TiB") if total >= TIB else (GIB, "GiB")
    if compact:
        unit = unit[0]
    used_text = UNKNOWN if used is None else _amount(used / divisor, compact)
    separator = "/" if compact else " / "
    return f"{used_text}{separator}{_amount(total / divisor, compact)} {unit}"


def _gpu_label(gpu: GpuSample, compact: bool, room: int) -> str:
    label = f"GPU {gpu.index}"
    model = display_safe(gpu.name.removeprefix("NVIDIA").strip(), 40)  # nvidia-smi's words, from the device
    if not compact and model and len(label) + 1 + len(model) <= room:
        label = f"{label} {model}"
    return label


def _gpu_text(gpu: GpuSample, compact: bool) -> str:
    if gpu.utilization is None and gpu.temperature is None and gpu.power is None:
        return UNKNOWN
    parts: Iterable[str] = (
        _number(gpu.utilization, "%", compact),
        _number(gpu.temperature, "°" if compact else "°C", compact),
        _number(gpu.power, "W", compact),
    )
    return (" " if compact else "  ").join(parts)
