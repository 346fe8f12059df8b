"""Telemetry of one device from ONE long-running remote shell script over its shared connection.

Rather than a new command each second, :class:`TelemetrySampler` starts a small POSIX ``sh``
script once. The script starts ``nvidia-smi --query-gpu=... -l N`` once in the background (when
the device has it), then every interval prints a framed record built with shell builtins only:
the ``cpu`` line of ``/proc/stat`` and ``MemTotal``/``MemAvailable`` read with ``read``, plus
``df -kP ~`` every few records (the one fork it makes; disk use changes slowly). Under bash the
wait between records is ``read -t`` on the channel's stdin, so it forks nothing at all; closing
stdin ends the script at once. Without bash it falls back to ``sleep``.

The stream (one record per interval, nvidia-smi's CSV lines arriving whenever it prints)::

    @P 4242                       script pid (first line)
    @N 1                          1 when nvidia-smi runs, 0 when the device has none
    @C cpu 1 2 3 4 5 6 7 8 0 0    /proc/stat's cpu line
    @M MemTotal: 131072000        /proc/meminfo, kB
    @M MemAvailable: 120000000
    @D                            df -kP output follows ...
    Filesystem 1024-blocks ...
    @d                            ... until here
    0, NVIDIA GB10, 37, 48, 12.3, [N/A], [N/A]     (any time: nvidia-smi's own lines)
    @E                            end of record: a TelemetrySample is published

:class:`TelemetryDecoder` turns those lines into :class:`~spark_tui.core.models.TelemetrySample`
values and is pure, so it is tested without a device.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import shlex
import time
from collections.abc import Callable

import asyncssh

from spark_tui.core.errors import ConnectError, SparkError
from spark_tui.core.models import GpuSample, TelemetrySample
from spark_tui.core.telemetry import (
    GPU_QUERY_FIELDS,
    CpuTimes,
    cpu_busy_percent,
    parse_cpu_line,
    parse_df,
    parse_gpu_line,
    parse_meminfo,
)

log = logging.getLogger(__name__)

# Run by sh (or bash) with $1 = interval seconds, $2 = nvidia-smi loop option, $3 = df every N.
# Kept free of single quotes and double backslashes so any login shell passes it through whole.
SCRIPT = r"""
iv=$1; gl=$2; de=$3; n=0; gp=
printf "@P %s\n" "$$"
if [ -n "$BASH_VERSION" ]; then
  pause() { read -r -t "$iv" _line; [ "$?" -ne 1 ]; }
else
  pause() { sleep "$iv"; }
fi
finish() { if [ -n "$gp" ]; then kill "$gp" 2>/dev/null; fi; }
trap finish EXIT
trap "exit 0" HUP TERM
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits $gl 2>/dev/null &
  gp=$!
  printf "@N 1\n"
else
  printf "@N 0\n"
fi
hs=; hm=
[ -r /proc/stat ] && hs=1
[ -r /proc/meminfo ] && hm=1
while :; do
  if [ -n "$hs" ]; then
    read -r c rest < /proc/stat && printf "@C %s %s\n" "$c" "$rest"
  fi
  if [ -n "$hm" ]; then
    while read -r k v u; do
      case $k in
        MemTotal:) printf "@M %s %s\n" "$k" "$v" ;;
        MemAvailable:) printf "@M %s %s\n" "$k" "$v"; break ;;
      esac
    done < /proc/meminfo
  fi
  if [ $((n % de)) -eq 0 ]; then
    printf "@D\n"; df -kP "${HOME:-/}" 2>/dev/null; printf "@d\n"
  fi
  n=$((n + 1))
  printf "@E\n"
  pause || break
done
""".replace("QUERY", ",".join(GPU_QUERY_FIELDS))

# Picks bash when present (read -t: no fork per record), else plain sh. $0 is the script.
_LAUNCH = (
    'if command -v bash >/dev/null 2>&1; then exec bash -c "$0" spark-tui-telemetry "$@"; fi; '
    'exec sh -c "$0" spark-tui-telemetry "$@"'
)
_MAX_LINE = 8192
_MAX_DF_LINES = 16
_MAX_GPUS = 64  # more distinct indices than any machine has: the rest is noise, not kept
_STOP_GRACE = 1.0  # seconds the script gets to leave after stdin closes


def telemetry_command(interval: float, disk_every: int) -> str:
    """The remote command line that runs :data:`SCRIPT`.

    Args:
        interval: Seconds between records.
        disk_every: Run ``df`` on every N-th record.

    Returns:
        A command for ``SSHClientConnection.create_process``.
    """
    if interval >= 1 and float(interval).is_integer():
        gpu_loop = f"-l {int(interval)}"
    else:
        gpu_loop = f"-lms {max(50, round(interval * 1000))}"
    args = [_LAUNCH, SCRIPT, f"{interval:g}", gpu_loop, str(disk_every)]
    return "sh -c " + " ".join(shlex.quote(a) for a in args)


class TelemetryDecoder:
    """Turns the script's lines into samples. Pure: no I/O, never raises on bad input.

    Args:
        device: Device name put into every sample.
        gpu_stale_after: Seconds after which a GPU nvidia-smi stopped reporting is dropped.

    Attributes:
        remote_pid: The script's process id on the device (from ``@P``), or ``None``.
        has_nvidia_smi: ``True``/``False`` once the script said so (``@N``), else ``None``.
    """

    def __init__(self, device: str, gpu_stale_after: float = 5.0) -> None:
        self.device = device
        self.gpu_stale_after = gpu_stale_after
        self.remote_pid: int | None = None
        self.has_nvidia_smi: bool | None = None
        self._previous_cpu: CpuTimes | None = None
        self._cpu: float | None = None
        self._mem: list[str] = []
        self._disk: tuple[int | None, int | None] = (None, None)
        self._df: list[str] | None = None
        self._gpus: dict[int, tuple[GpuSample, float]] = {}

    def feed(self, line: str, now: float) -> TelemetrySample | None:
        """Take one line (without its newline) that arrived at monotonic time ``now``.

        Returns:
            The finished sample when ``line`` ends a record, else ``None``.
        """
        if line.startswith("@"):
            tag, _, rest = line.partition(" ")
            return self._tagged(tag, rest, now)
        gpu = parse_gpu_line(line)
        if gpu is not None:
            if gpu.index in self._gpus or len(self._gpus) < _MAX_GPUS:
                self._gpus[gpu.index] = (gpu, now)
        elif self._df is not None and len(self._df) < _MAX_DF_LINES:
            self._df.append(line)
        return None

    def _tagged(self, tag: str, rest: str, now: float) -> TelemetrySample | None:
        if tag == "@C":
            times = parse_cpu_line(rest)
            self._cpu = cpu_busy_percent(self._previous_cpu, times)
            self._previous_cpu = times or self._previous_cpu
        elif tag == "@M" and len(self._mem) < 4:
            self._mem.append(rest)
        elif tag == "@D":
            self._df = []
        elif tag == "@d" and self._df is not None:
            disk = parse_df(self._df)
            self._disk = disk if disk[0] is not None else self._disk
            self._df = None
        elif tag == "@E":
            return self._finish(now)
        elif tag == "@P" and rest.strip().isascii() and rest.strip().isdigit():
            self.remote_pid = int(rest.strip()[:10])
        elif tag == "@N":
            self.has_nvidia_smi = rest.strip() == "1"
        return None

    def _finish(self, now: float) -> TelemetrySample:
        mem_total, mem_available = parse_meminfo(self._mem)
        self._gpus = {i: (g, t) for i, (g, t) in self._gpus.items() if now - t <= self.gpu_stale_after}
        sample = TelemetrySample(
            device=self.device,
            time=now,
            cpu=self._cpu,
            mem_total=mem_total,
            mem_available=mem_available,
            disk_total=self._disk[0],
            disk_used=self._disk[1],
            gpus=tuple(g for _, (g, _) in sorted(self._gpus.items())),
        )
        self._cpu = None
        self._mem = []
        return sample


class TelemetrySampler:
    """Samples one device's CPU, memory, disk and GPUs over its existing SSH connection.

    Args:
        conn: The device's shared connection (a session channel is opened on it).
        device: Device name put into every sample.
        interval: Seconds between samples (at least 0.1).
        on_sample: Called on the event loop with each :class:`TelemetrySample`.
        on_error: Called once with a :class:`~spark_tui.core.errors.SparkError` when sampling
            ends without :meth:`stop` (the connection dropped, the script died).
        disk_every: Read disk use every N-th sample; default: about every 5 seconds.

    Raises:
        ValueError: ``interval`` is below 0.1 s or not a number.
    """

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        device: str,
        interval: float,
        on_sample: Callable[[TelemetrySample], None],
        on_error: Callable[[SparkError], None] | None = None,
        *,
        disk_every: int | None = None,
    ) -> None:
        if not isinstance(interval, (int, float)) or not math.isfinite(interval) or interval < 0.1:
            raise ValueError(f"telemetry interval must be at least 0.1 s, got {interval!r}")
        self.conn = conn
        self.device = device
        self.interval = float(interval)
        self.on_sample = on_sample
        self.on_error = on_error
        self.disk_every = disk_every or max(1, math.ceil(5.0 / self.interval))
        self.decoder = TelemetryDecoder(device, gpu_stale_after=max(5.0, 3 * self.interval))
        self.samples = 0
        self._process: asyncssh.SSHClientProcess | None = None
        self._tasks: list[asyncio.Task] = []
        self._stderr: collections.deque[str] = collections.deque(maxlen=5)
        self._stopping = False

    @property
    def remote_pid(self) -> int | None:
        """The sampling script's process id on the device, once it said so."""
        return self.decoder.remote_pid

    @property
    def running(self) -> bool:
        """True from :meth:`start` until the script ends or :meth:`stop`."""
        return bool(self._tasks) and not self._tasks[0].done()

    async def start(self) -> None:
        """Start the remote script and the reader.

        Raises:
            ConnectError: ``kind="lost"`` when no channel can be opened on the connection.
        """
        if self._process is not None:
            return
        try:
            self._process = await self.conn.create_process(
                telemetry_command(self.interval, self.disk_every), encoding=None
            )
        except (asyncssh.Error, OSError) as error:
            raise ConnectError(
                "lost",
                f"cannot start telemetry on {self.device}: {error}",
                "reconnect the device and try again",
            ) from error
        self._stopping = False
        self._tasks = [
            asyncio.ensure_future(self._read_records(self._process)),
            asyncio.ensure_future(self._read_errors(self._process)),
        ]

    async def stop(self) -> None:
        """End the remote script (closing its stdin ends it; the channel is closed after a short
        grace) and the reader. No callback is called after this returns."""
        self._stopping = True
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(Exception):
                process.stdin.write_eof()
            try:
                await asyncio.wait_for(process.wait_closed(), _STOP_GRACE)
            except (asyncio.TimeoutError, Exception):
                process.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _read_records(self, process: asyncssh.SSHClientProcess) -> None:
        pending = b""
        failure: BaseException | None = None
        try:
            while True:
                chunk = await process.stdout.read(65536)
                if not chunk:
                    break
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                if len(pending) > _MAX_LINE:
                    pending = b""  # a runaway line is dropped, never buffered without bound
                for raw in lines:
                    self._take(raw.decode("utf-8", "replace").rstrip("\r"))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # asyncssh.ConnectionLost, DisconnectError, BrokenPipe...
            failure = error
        if not self._stopping and failure is None:
            # The exit status may follow the end of output: give it a moment to arrive.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait_closed(), 2.0)
        if not self._stopping:
            self._report(process, failure)

    def _take(self, line: str) -> None:
        sample = self.decoder.feed(line, time.monotonic())
        if sample is None or self._stopping:
            return
        self.samples += 1
        try:
            self.on_sample(sample)
        except Exception:
            log.exception("telemetry callback failed for %s", self.device)

    async def _read_errors(self, process: asyncssh.SSHClientProcess) -> None:
        with contextlib.suppress(Exception):
            while True:
                line = await process.stderr.readline()
                if not line:
                    return
                self._stderr.append(line[:300].decode("utf-8", "replace").strip())

    def _report(self, process: asyncssh.SSHClientProcess, failure: BaseException | None) -> None:
        self._stopping = True
        status = process.exit_status
        if failure is not None or (status is None and process.exit_signal is None):
            error: SparkError = ConnectError(
                "lost",
                f"telemetry from {self.device} stopped: the connection was lost",
                "it restarts when the device reconnects",
            )
        else:
            detail = "; ".join(self._stderr) or f"exit status {status}"
            error = SparkError(f"telemetry script on {self.device} ended: {detail}", "reconnect to restart it")
        log.info("%s", error)
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                log.exception("telemetry error callback failed for %s", self.device)
