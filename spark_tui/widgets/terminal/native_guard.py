"""What the native core's input goes through before libghostty-vt sees it.

Ghostty follows xterm; the project's judge is tmux, and some of xterm's behaviour lets a remote
do what we never allow (resize the terminal, make one sequence cost a screenful per parameter).
Every rewrite here is one of those, applied to the byte stream so the library stays unchanged:

- a sequence split across chunks is held (bounded) until it is whole, so the rewrites below see
  it whatever the chunking;
- DECCOLM (``CSI ? 3 h/l``) clears and homes as xterm does but never changes the size: the view
  decides the size, not the remote;
- a one-parameter sequence given several acts on the first (as xterm and tmux), and an SGR
  with more parameters than the library takes is passed on in parts;
- a flood of full resets costs one reset per chunk.

REP, EL and ED need the cursor, so ``NativeTerminal`` splits the stream at those (see
``SPLIT``) and asks the library between pieces.
"""

from __future__ import annotations

import re

HOLD_LIMIT = 1024
"""Bytes of an unfinished CSI kept for the next chunk; a longer one goes on as it is."""

SGR_PARAMS = 16
"""Parameters of one SGR passed to the library at once (it drops an SGR with too many)."""

RESETS_PER_CHUNK = 16
"""Full resets (RIS) fed from one chunk; a chunk with more starts at its last one."""

_UNFINISHED = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*)?\Z")
_MODES = re.compile(rb"\x1b\[\?([0-9;]*)([hl])")
_RESET_RUN = re.compile(rb"(\x1bc|\x1b\[2J|\x1b#8)\1+")
_LONG_SGR = re.compile(rb"\x1b\[((?:[0-9:]*;){%d,}[0-9:]*)m" % SGR_PARAMS)

SPLIT = re.compile(rb"\x1b\[\??[0-9]*[bDJKLMXhl]")
"""Sequences that need a look at the cursor: REP, CUB, EL / ED / ECH (a pending wrap), IL / DL
(tmux keeps the column, Ghostty goes to the first), and entering the alternate screen while on it
or leaving it while not (``CSI ? 1049 h/l``: tmux does nothing; Ghostty clears it again, or
restores a saved cursor).
(No groups: with them the scan is three times slower; the match is split by hand.)
(BS steps back from the last column as in xterm, which vttest's autowrap screen checks.)"""

SPLIT_BS = re.compile(rb"\x1b\[\??[0-9]*[bDJKLMXhl]|\x08")
"""``SPLIT`` and BS, once the remote has turned reverse-wraparound (mode 45) on."""

_EXTRA_PARAMS = re.compile(rb"\x1b\[([0-9]*);[0-9;]*([@A-GIL-MPSTXZ`abde])")
"""A one-parameter sequence given more: xterm and tmux read the first, Ghostty drops it all."""

_SPLIT_RUN = re.compile(rb"(\x1b\[([0-9]*)([bDJKLMX]))\1+")
MANY_SPLITS = 256
"""Split sequences in one chunk past which runs of the same one are collapsed first."""


def _collapse(match: re.Match[bytes]) -> bytes:
    sequence, count, final = match.groups()
    if final in b"DLM":  # moves and line inserts add up (the library clamps the total)
        times = len(match.group()) // len(sequence)
        return b"\x1b[%d%s" % (min(65535, (int(count[:5] or 1) or 1) * times), final)
    return sequence  # EL, ED, ECH: the same again changes nothing; REP after REP repeats nothing


def collapse_runs(data: bytes) -> bytes:
    """A flood of one split sequence as one: its cost is one look at the cursor, not thousands."""
    return _SPLIT_RUN.sub(_collapse, data)


# Text that ends a piece and leaves REP something to repeat: the piece's last byte printed.
_ENDS_IN_SEQUENCE = re.compile(rb"(?:\x1b\[[0-?]*[ -/]*[@-~]|\x1b[ -/]*[0-~]|[\x00-\x1f\x7f])\Z")


_SUSPECT = re.compile(rb"\x1b\[[0-9]*;(?:[0-9;]*[@A-GIL-MPSTXZ`abde]|(?:[0-9:]*;){%d})" % (SGR_PARAMS - 1))
"""Either of the two above, found in one pass (most chunks have neither)."""


def _split_sgr(match: re.Match[bytes]) -> bytes:
    """One SGR with many parameters as several, never cutting an extended colour apart."""
    params = match.group(1).split(b";")
    groups: list[list[bytes]] = [[]]
    index = 0
    while index < len(params):
        take = 1
        if params[index] in (b"38", b"48", b"58") and index + 1 < len(params):
            take = 5 if params[index + 1] == b"2" else 3 if params[index + 1] == b"5" else 1
        if len(groups[-1]) + take > SGR_PARAMS:
            groups.append([])
        groups[-1].extend(params[index : index + take])
        index += take
    return b"".join(b"\x1b[" + b";".join(group) + b"m" for group in groups if group)


def _modes(match: re.Match[bytes]) -> bytes:
    params, final = match.groups()
    numbers = params.split(b";")
    if b"3" not in numbers:
        return match.group()
    kept = b";".join(number for number in numbers if number != b"3")
    rest = b"\x1b[?" + kept + final if kept else b""
    # DECCOLM: clear the screen, home the cursor, reset the margins; the size stays.
    return rest + b"\x1b[r\x1b[H\x1b[2J"


class StreamGuard:
    """Rewrites one terminal's byte stream for the native core (keeps the split tail)."""

    def __init__(self) -> None:
        self._held = b""

    def take(self, data: bytes) -> bytes:
        """The bytes to feed now for ``data`` (an unfinished sequence at its end waits)."""
        if self._held:
            data = self._held + data
            self._held = b""
        tail = _UNFINISHED.search(data, max(0, len(data) - HOLD_LIMIT))
        if tail is not None:
            self._held = data[tail.start() :]
            data = data[: tail.start()]
        if b"\x1b" not in data:
            return data
        if b"\x1bc" in data or b"\x1b[2J\x1b[2J" in data or b"\x1b#8\x1b#8" in data:
            data = _RESET_RUN.sub(rb"\1", data)
            if data.count(b"\x1bc") > RESETS_PER_CHUNK:
                data = data[data.rfind(b"\x1bc") :]  # a flood of resets: what the last one leaves
        if b"\x1b[?" in data and (b"3h" in data or b"3l" in data or b"3;" in data):
            data = _MODES.sub(_modes, data)
        if _SUSPECT.search(data) is not None:  # one scan; the rewrites only when it finds one
            data = _EXTRA_PARAMS.sub(b"\x1b[\\1\\2", data)
            data = _LONG_SGR.sub(_split_sgr, data)
        return data


def prints_last(piece: bytes) -> bool:
    """True when ``piece`` ends with a printed character (so a REP right after repeats it)."""
    return bool(piece) and _ENDS_IN_SEQUENCE.search(piece, max(0, len(piece) - HOLD_LIMIT)) is None
