"""tmux as the reference terminal: replay bytes in a detached tmux pane and read back its screen.

Also an independent reader for ``capture-pane -e`` output (text plus SGR only), so the
comparison does not use the emulator's own SGR code to interpret tmux's answer.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wcwidth import wcwidth

from spark_tui.widgets.terminal.cells import (
    BLINK,
    BOLD,
    DIM,
    HIDDEN,
    ITALIC,
    REVERSE,
    STRIKE,
    UNDERLINE,
    bg_of,
    describe_color,
    fg_of,
)

TMUX = shutil.which("tmux")
_ids = itertools.count()

# (char, fg, bg, flags) where colours are None, a palette index or "#rrggbb" and flags is a
# sorted tuple of SGR numbers (1 bold, 2 dim, 3 italic, 4 underline, 5 blink, 7 reverse, 8 hidden, 9 strike).
Cell = tuple
_FLAG_BITS = {1: BOLD, 2: DIM, 3: ITALIC, 4: UNDERLINE, 5: BLINK, 7: REVERSE, 8: HIDDEN, 9: STRIKE}
_MODES = "alternate_on cursor_flag keypad_cursor_flag mouse_standard_flag mouse_button_flag mouse_any_flag mouse_sgr_flag origin_flag insert_flag wrap_flag"


@dataclass
class Snapshot:
    """A visible screen: rows of cells (no cells for the right halves of wide characters)."""

    rows: list[list[Cell]]
    cursor: tuple[int, int]
    modes: dict[str, int]


def _trim(row: list[Cell]) -> list[Cell]:
    while row and row[-1] == (" ", None, None, ()):
        row.pop()
    return row


def parse_capture(text: str) -> list[list[Cell]]:
    """Read ``capture-pane -p -e`` output into cells.

    tmux writes only attribute *changes*, carried over from one line to the next.
    """
    rows = []
    fg = bg = None
    flags: set[int] = set()
    for line in text.split("\n"):
        cells: list[list] = []
        i = 0
        while i < len(line):
            char = line[i]
            if char == "\x1b" and line[i + 1 : i + 2] == "[":
                end = i + 2
                while line[end] not in "mABCDEFGHJKfhlr":
                    end += 1
                params = [p for p in line[i + 2 : end].split(";")]
                fg, bg, flags = _apply(params, fg, bg, flags)
                i = end + 1
                continue
            if wcwidth(char) == 0 and cells:
                cells[-1][0] += char
            else:
                cells.append([char, fg, bg, tuple(sorted(flags))])
            i += 1
        rows.append(_trim([tuple(cell) for cell in cells]))
    return rows


def _apply(params: list[str], fg, bg, flags: set[int]):
    flags = set(flags)
    i = 0
    while i < len(params):
        code = int(params[i] or 0)
        i += 1
        if code == 0:
            fg = bg = None
            flags = set()
        elif code in _FLAG_BITS:
            flags.add(code)
        elif code == 22:
            flags -= {1, 2}
        elif 23 <= code <= 29:
            flags.discard({23: 3, 24: 4, 25: 5, 27: 7, 28: 8, 29: 9}.get(code))
        elif 30 <= code <= 37:
            fg = code - 30
        elif 90 <= code <= 97:
            fg = code - 90 + 8
        elif 40 <= code <= 47:
            bg = code - 40
        elif 100 <= code <= 107:
            bg = code - 100 + 8
        elif code == 39:
            fg = None
        elif code == 49:
            bg = None
        elif code in (38, 48):
            if params[i] == "5":
                color = int(params[i + 1])
                i += 2
            else:
                color = "#%02x%02x%02x" % tuple(int(v) for v in params[i + 1 : i + 4])
                i += 4
            if code == 38:
                fg = color
            else:
                bg = color
    return fg, bg, flags


def tmux_snapshot(data: bytes, cols: int, rows: int) -> Snapshot:
    """Replay ``data`` into a fresh tmux pane of ``cols`` x ``rows`` and capture it."""
    socket = f"spark-tui-test-{os.getpid()}-{next(_ids)}"
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm-256color"}
    env.pop("TMUX", None)
    with tempfile.TemporaryDirectory() as tmp:
        stream = Path(tmp) / "stream.bin"
        stream.write_bytes(data)
        conf = Path(tmp) / "tmux.conf"
        conf.write_text("set -g status off\nset -g history-limit 100\n")
        tmux = [TMUX, "-u", "-L", socket, "-f", str(conf)]
        command = f"stty raw -echo; cat {stream}; {TMUX} -L {socket} wait-for -S replayed; sleep 60"
        subprocess.run([*tmux, "new-session", "-d", "-x", str(cols), "-y", str(rows), "-s", "t", command], check=True, env=env)
        try:
            subprocess.run([*tmux, "wait-for", "replayed"], check=True, timeout=30, env=env)
            captured = subprocess.run(
                [*tmux, "capture-pane", "-p", "-e", "-N", "-t", "t"], check=True, capture_output=True, env=env
            ).stdout.decode("utf-8", "replace")
            fmt = " ".join(f"#{{{name}}}" for name in ["cursor_x", "cursor_y", *_MODES.split()])
            values = subprocess.run(
                [*tmux, "display-message", "-p", "-t", "t", fmt], check=True, capture_output=True, text=True, env=env
            ).stdout.split()
        finally:
            subprocess.run([*tmux, "kill-server"], capture_output=True, env=env)
    numbers = [int(v) for v in values]
    screen = parse_capture(captured.rstrip("\n"))[:rows]
    screen += [[] for _ in range(rows - len(screen))]
    return Snapshot(screen, (numbers[0], numbers[1]), dict(zip(_MODES.split(), numbers[2:])))


def emulator_snapshot(term) -> Snapshot:
    """The same view of our emulator."""
    rows = []
    for line in term.lines:
        cells = []
        for char, attr in zip(line.chars, line.attrs):
            if char == "":
                continue
            flags = tuple(code for code, bit in sorted(_FLAG_BITS.items()) if attr & bit)
            cells.append((char, describe_color(fg_of(attr)), describe_color(bg_of(attr)), flags))
        rows.append(_trim(cells))
    mouse = term.mouse_tracking
    modes = {
        "alternate_on": int(term.alternate),
        "cursor_flag": int(term.cursor_visible),
        "keypad_cursor_flag": int(term.app_cursor),
        "mouse_standard_flag": int(mouse == 1000),
        "mouse_button_flag": int(mouse == 1002),
        "mouse_any_flag": int(mouse != 0),
        "mouse_sgr_flag": int(term.mouse_sgr),
        "origin_flag": int(term.origin),
        "insert_flag": int(term.insert_mode),
        "wrap_flag": int(term.autowrap),
    }
    # tmux keeps a pending wrap as a cursor one past the last column.
    x = term.cols if term.wrap_pending else term.x
    return Snapshot(rows, (x, term.y), modes)


def render_cells(row: list[Cell]) -> str:
    """A row's text, for readable assertion messages."""
    return "".join(cell[0] for cell in row)
