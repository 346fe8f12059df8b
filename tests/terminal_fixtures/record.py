"""Record what real programs write to a 120x40 xterm-256color PTY, for the differential tests.

Run ``.venv/bin/python -m tests.terminal_fixtures.record`` to (re)create the ``*.bin`` files
next to this script. Each recording stops once the program has been quiet for a moment; the
program is then killed, so a full-screen program's stream ends with its screen drawn. Needs
``vim``, ``less``, ``top`` and ``htop`` (``apt-get install -y vim less procps htop``).

The same helper records the benchmark's larger streams into a temporary folder.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLS, ROWS = 120, 40


def record(
    argv: list[str],
    *,
    cols: int = COLS,
    rows: int = ROWS,
    cwd: str | None = None,
    keys: list[tuple[float, bytes]] = (),
    quiet: float = 1.0,
    limit: float = 20.0,
    max_bytes: int | None = None,
) -> bytes:
    """Run ``argv`` in a fresh PTY and return every byte it wrote.

    Args:
        argv: Program and arguments.
        cols: PTY width. rows: PTY height.
        cwd: Working folder.
        keys: (seconds after start, bytes) typed into the program.
        quiet: Stop after this long without output (once all keys were typed).
        limit: Stop after this long in any case.
        max_bytes: Stop once this much was read.

    Returns:
        The recorded bytes.
    """
    pid, fd = pty.fork()
    if pid == 0:  # child
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": os.environ.get("HOME", "/root"),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "COLUMNS": str(cols),
            "LINES": str(rows),
        }
        if cwd:
            os.chdir(cwd)
        os.execvpe(argv[0], argv, env)
    out = bytearray()
    start = last = time.monotonic()
    pending = sorted(keys)
    try:
        while True:
            now = time.monotonic()
            if pending and now - start >= pending[0][0]:
                os.write(fd, pending.pop(0)[1])
                last = now
            if now - start > limit or (not pending and now - last > quiet):
                break
            if max_bytes is not None and len(out) >= max_bytes:
                break
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the program exited and the PTY closed
                    break
                if not chunk:
                    break
                out += chunk
                last = time.monotonic()
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return bytes(out)


def _listing_folder(root: Path) -> Path:
    folder = root / "listing"
    folder.mkdir()
    (folder / "docs").mkdir()
    (folder / "src").mkdir()
    for name in ("README.md", "notes.txt", "archive.tar.gz", "photo.png", "song.mp3", "data.json"):
        (folder / name).write_text("x\n")
    for name in ("run.sh", "build"):
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    (folder / "link-to-docs").symlink_to("docs")
    (folder / "dangling").symlink_to("nowhere")
    os.mkfifo(folder / "pipe")
    for stamp, name in enumerate(sorted(p.name for p in folder.iterdir())):
        os.utime(folder / name, (1_700_000_000 + stamp, 1_700_000_000 + stamp), follow_symlinks=False)
    return folder


PROGRESS = r"""
import sys, time
for i in range(101):
    bar = "#" * (i // 2)
    sys.stdout.write(f"\r\x1b[36mdownloading\x1b[0m [\x1b[32m{bar:<50}\x1b[0m] {i:3d}%")
    sys.stdout.flush()
sys.stdout.write("\r\n\x1b[1;32mdone\x1b[0m\r\n")
for step in range(3):
    for i in range(0, 101, 25):
        sys.stdout.write(f"\rstep {step}: {i}%\x1b[K")
    sys.stdout.write("\n")
sys.stdout.flush()
"""

WIDE = (
    "printf '%s\\n' 'ASCII then 中文字符 and 日本語のテキスト, 한국어 too'; "
    "printf '%s\\n' 'emoji: 😀 🎉 👍 ✅ ❌ 🚀 done'; "
    "printf '%s\\n' 'combining: e\xcc\x81 a\xcc\x88 n\xcc\x83 (precomposed: é ä ñ)'; "
    "printf '%s\\n' '┌──────┬──────┐'; printf '%s\\n' '│ box  │ 表格 │'; printf '%s\\n' '└──────┴──────┘'; "
    "printf '%s' 'x'; for i in $(seq 1 70); do printf '宽'; done; printf '\\n'; "
    "printf '\\033[1;33m彩色\\033[0m \\033[44m背景\\033[0m end\\n'"
)


def fixtures(root: Path) -> dict[str, bytes]:
    """Every committed fixture: name -> recorded bytes."""
    listing = _listing_folder(root)
    sample = Path(__file__).resolve().parents[2] / "spark_tui" / "widgets" / "terminal" / "keys.py"
    text = root / "pager.txt"
    text.write_text("".join(f"line {n:03d}: the quick brown fox jumps over the lazy dog {n * 7}\n" for n in range(300)))
    return {
        "ls_color": record(
            ["sh", "-c", "ls --color=auto -l --time-style=+%Y-%m; ls --color=auto -C -F; ls --color=auto -la /"],
            cwd=str(listing),
        ),
        "vim_file": record(["vim", "-N", "-u", "DEFAULTS", "-i", "NONE", "+syntax on", str(sample)], quiet=1.5),
        "top": record(["top", "-d", "60"], quiet=1.5),
        "htop": record(["htop", "-d", "600"], quiet=1.5),
        "less_search": record(["less", str(text)], keys=[(0.5, b"/fox 1\r")], quiet=1.0),
        "progress": record([sys.executable, "-c", PROGRESS]),
        "utf8_wide": record(["sh", "-c", WIDE]),
    }


# vttest screens: (menu choice, screens to step through). vttest asks for the primary device
# attributes first; the recorder answers as a VT220 would so the menu takes the choice.
VTTEST_SCREENS = {"cursor": ("1", 6), "screen": ("2", 14), "insert_delete": ("8", 3)}


def vttest_fixtures() -> dict[str, bytes]:
    """vttest (80x24) stopped on each screen of a few menus: name -> bytes up to that screen."""
    found = {}
    for name, (choice, screens) in VTTEST_SCREENS.items():
        for screen in range(1, screens + 1):
            keys = [(0.4, b"\x1b[?62;22c"), (1.0, choice.encode() + b"\r")]
            keys += [(1.0 + 0.5 * step, b"\r") for step in range(1, screen)]
            found[f"{name}_{screen:02d}"] = record(["vttest"], cols=80, rows=24, keys=keys, quiet=1.0, limit=15)
    return found


def main() -> None:
    """Record the fixtures into this folder (vttest screens into ``vttest/``)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in fixtures(Path(tmp)).items():
            (HERE / f"{name}.bin").write_bytes(data)
            print(f"{name}: {len(data)} bytes")
    (HERE / "vttest").mkdir(exist_ok=True)
    for name, data in vttest_fixtures().items():
        (HERE / "vttest" / f"{name}.bin").write_bytes(data)
        print(f"vttest/{name}: {len(data)} bytes")


def main_vttest() -> None:
    """Record only the vttest screens."""
    (HERE / "vttest").mkdir(exist_ok=True)
    for name, data in vttest_fixtures().items():
        (HERE / "vttest" / f"{name}.bin").write_bytes(data)
        print(f"vttest/{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
