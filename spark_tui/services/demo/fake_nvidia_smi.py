"""A stand-in for ``nvidia-smi`` on the demo device: answers like a GB10, numbers that move.

This file is also the script itself: :func:`install` copies it, with a ``#!`` line naming this
Python, into a folder the demo shell puts first on ``PATH``. So it imports only the standard
library and never ``spark_tui``.

What it answers (enough for spark-tui and for a person poking around the demo shell):

* ``nvidia-smi`` prints a short status table; ``-l SEC`` / ``-lms MS`` repeat it.
* ``--query-gpu=FIELDS --format=csv[,noheader][,nounits]`` prints CSV like the real tool,
  memory fields ``[N/A]`` as on GB10's unified memory; ``-l`` / ``-lms`` loop it.
* ``-L`` lists the GPU.

Utilisation follows two slow sine waves of wall-clock time, temperature and power follow
utilisation, so every run and every process sees the same smooth, plausible curve.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

GPU_NAME = "NVIDIA GB10"
GPU_UUID = "GPU-5a1f0c2e-demo-4b1d-9e77-000000000000"
DRIVER = "580.95.05"
CUDA = "13.0"
BUS_ID = "0000000F:01:00.0"
NOT_AVAILABLE = "[N/A]"

# field -> (header unit, how to read it from a reading dict)
_FIELDS: dict[str, str] = {
    "index": "",
    "name": "",
    "uuid": "",
    "driver_version": "",
    "pci.bus_id": "",
    "pstate": "",
    "utilization.gpu": "%",
    "utilization.memory": "%",
    "temperature.gpu": "",
    "power.draw": "W",
    "power.limit": "W",
    "memory.used": "MiB",
    "memory.total": "MiB",
    "memory.free": "MiB",
    "fan.speed": "%",
    "clocks.sm": "MHz",
    "clocks.current.sm": "MHz",
}


def reading(now: float) -> dict[str, float]:
    """The simulated GPU at wall-clock time ``now``.

    Args:
        now: Seconds since the epoch.

    Returns:
        ``utilization`` (0-100 %), ``temperature`` (C), ``power`` (W) and ``clock`` (MHz).
    """
    slow = math.sin(2 * math.pi * now / 47.0)
    fast = math.sin(2 * math.pi * now / 6.3)
    utilization = max(0.0, min(100.0, 52 + 33 * slow + 12 * fast))
    # Temperature lags a little behind load: use the slow wave a few seconds earlier.
    lagged = 52 + 33 * math.sin(2 * math.pi * (now - 6.0) / 47.0)
    temperature = 41 + 0.3 * max(0.0, min(100.0, lagged))
    power = 6.5 + 0.9 * utilization + 1.5 * math.sin(2 * math.pi * now / 2.9)
    clock = 1100 + 14 * utilization
    return {"utilization": utilization, "temperature": temperature, "power": power, "clock": clock}


def _value(field: str, now: float, units: bool) -> str:
    r = reading(now)
    unit = f" {_FIELDS[field]}" if units and _FIELDS[field] else ""
    simple = {
        "index": "0",
        "name": GPU_NAME,
        "uuid": GPU_UUID,
        "driver_version": DRIVER,
        "pci.bus_id": BUS_ID,
        "pstate": "P0" if r["utilization"] > 5 else "P8",
        "fan.speed": NOT_AVAILABLE,
        "power.limit": NOT_AVAILABLE,
    }
    if field in simple:
        return simple[field]
    if field.startswith("memory.") or field == "utilization.memory":
        return NOT_AVAILABLE  # unified memory: GB10 reports no separate GPU memory
    numbers = {
        "utilization.gpu": f"{round(r['utilization'])}",
        "temperature.gpu": f"{round(r['temperature'])}",
        "power.draw": f"{r['power']:.2f}",
        "clocks.sm": f"{round(r['clock'])}",
        "clocks.current.sm": f"{round(r['clock'])}",
    }
    return numbers[field] + unit


def csv_lines(fields: list[str], header: bool, units: bool, now: float) -> list[str]:
    """The CSV answer to ``--query-gpu=FIELDS`` at time ``now``.

    Args:
        fields: Valid field names, in the order asked.
        header: Print the header line (``--format=csv`` without ``noheader``).
        units: Append units (``--format=csv`` without ``nounits``).
        now: Wall-clock time to simulate.

    Returns:
        The lines, without newlines.
    """
    lines = []
    if header:
        lines.append(", ".join(f"{f} [{_FIELDS[f]}]" if units and _FIELDS[f] else f for f in fields))
    lines.append(", ".join(_value(f, now, units) for f in fields))
    return lines


def table(now: float) -> str:
    """The plain ``nvidia-smi`` status table at time ``now``."""
    r = reading(now)

    def row(a: str, b: str, c: str) -> str:
        return f"|{a:<41}|{b:<24}|{c:<22}|"

    bar = "+" + "-" * 41 + "+" + "-" * 24 + "+" + "-" * 22 + "+"
    head = f" NVIDIA-SMI {DRIVER} (spark-tui demo)   Driver Version: {DRIVER}   CUDA Version: {CUDA}"
    rows = [
        time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now)),
        "+" + "-" * 89 + "+",
        f"|{head:<89}|",
        bar,
        row(" GPU  Name                 Persistence-M", " Bus-Id          Disp.A", " Volatile Uncorr. ECC"),
        row(" Fan  Temp   Perf          Pwr:Usage/Cap", "           Memory-Usage", " GPU-Util  Compute M."),
        "|" + "=" * 41 + "+" + "=" * 24 + "+" + "=" * 22 + "|",
        row(f"   0  {GPU_NAME:<29}  On  ", f" {BUS_ID:>18} Off", f" {'N/A':>20}"),
        row(
            f" N/A   {round(r['temperature']):>2}C    P0  {round(r['power']):>14}W /  N/A",
            " Not Supported",
            f" {round(r['utilization']):>6}%      Default",
        ),
        bar,
    ]
    return "\n".join(rows)


def _loop_seconds(args: list[str]) -> float | None:
    for i, arg in enumerate(args):
        value = None
        if arg in ("-l", "--loop", "-lms", "--loop-ms") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(("--loop=", "--loop-ms=")):
            value = arg.split("=", 1)[1]
        if value is not None:
            number = float(value)
            ms = arg.startswith(("-lms", "--loop-ms"))
            return max(0.05, number / 1000 if ms else number)
    return None


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str]) -> int:
    """Run as ``nvidia-smi`` with ``argv`` (without the program name); returns the exit code."""
    if any(a in ("-h", "--help") for a in argv):
        print("NVIDIA System Management Interface (spark-tui demo stand-in)\n"
              "  --query-gpu=FIELDS --format=csv[,noheader][,nounits]  [-l SEC | -lms MS]  [-L]")
        return 0
    if any(a in ("-L", "--list-gpus") for a in argv):
        print(f"GPU 0: {GPU_NAME} (UUID: {GPU_UUID})")
        return 0
    try:
        loop = _loop_seconds(argv)
    except ValueError:
        print("Invalid loop interval.")
        return 2
    query = _option(argv, "--query-gpu")
    fmt = (_option(argv, "--format") or "").split(",")
    if query is not None:
        fields = [f.strip() for f in query.split(",") if f.strip()]
        for field in fields:
            if field not in _FIELDS:
                print(f'Field "{field}" is not a valid field to query.')
                return 2
        if "csv" not in fmt:
            print('"--format" must be given with "--query-gpu" (use --format=csv).')
            return 2

        def render(now: float) -> str:
            return "\n".join(csv_lines(fields, "noheader" not in fmt, "nounits" not in fmt, now))

    else:
        render = table
    while True:
        sys.stdout.write(render(time.time()) + "\n")
        sys.stdout.flush()
        if loop is None:
            return 0
        time.sleep(loop)


def install(bin_dir: Path) -> Path:
    """Write an executable ``nvidia-smi`` into ``bin_dir`` that runs this file.

    Args:
        bin_dir: A folder that will be put first on the demo shell's ``PATH``.

    Returns:
        The script's path.

    Raises:
        OSError: The folder cannot be written.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    # -I -S: isolated and without site-packages, so one run costs one small process.
    if sys.executable and " " not in sys.executable:
        shebang = f"#!{sys.executable} -IS\n"
    else:
        shebang = "#!/usr/bin/env python3\n"
    target = bin_dir / "nvidia-smi"
    target.write_text(shebang + Path(__file__).read_text())
    os.chmod(target, 0o755)
    return target


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (BrokenPipeError, KeyboardInterrupt):
        # The reader went away (the telemetry sampler stopped): leave quietly.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        sys.exit(0)
