"""Sequences that outlive a chunk, and the replies a terminal owes: both bounded against a hostile remote.

A mixin of :class:`emulator.Terminal`. An unfinished sequence at the end of a chunk used to be
held and scanned again with the next chunk; fed a byte at a time, a long string (OSC, DCS) or
a CSI with a huge parameter list then cost quadratic time. Here a sequence that is still open
at the end of a chunk becomes *state*: the next chunk is searched only for how it ends, so the
cost is linear however the bytes are split, and what is kept of it is capped.

Replies (cursor position, device attributes, mode reports) are rate-limited with a token
bucket: a program that asks a million times gets a few hundred answers, not a million
messages to send back over the network.
"""

from __future__ import annotations

import re
import time

HOLD_LIMIT = 128
"""Characters of an unfinished short sequence held for the next chunk (longer ones become state)."""

OSC_LIMIT = 4096
"""Characters of an OSC body kept; a longer OSC is dropped (its code is still looked at)."""

CSI_LIMIT = 4096
"""Characters of a CSI's parameters kept across chunks; a longer CSI is dropped."""

REPLY_BURST = 256
"""Replies that may go out at once."""

REPLY_RATE = 200.0
"""Replies per second allowed after the burst."""

# Where a string (OSC, DCS, APC, PM, SOS) ends: BEL, ST (ESC \), or any other ESC (which then
# starts the next sequence), as xterm and tmux treat them. CAN and SUB cancel it.
_STRING_END = re.compile(r"[\x07\x18\x1a\x1b]")
# What may continue a CSI: parameters, intermediates and C0 controls (executed as they come).
_CSI_BODY = re.compile(r"[0-?\x00-\x17\x19\x1c-\x1f]*(?:[ -/][ -/\x00-\x17\x19\x1c-\x1f]*)?")


class ReplyBudget:
    """The rate limit on replies to the remote's queries, shared by both terminal cores:
    REPLY_BURST at once, then REPLY_RATE a second (a flood of queries gets few answers)."""

    def __init__(self) -> None:
        self._tokens = float(REPLY_BURST)
        self._clock = time.monotonic()

    def take(self) -> bool:
        """True when one more reply may go now (and counts it)."""
        now = time.monotonic()
        self._tokens = min(REPLY_BURST, self._tokens + (now - self._clock) * REPLY_RATE)
        self._clock = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class SequenceMixin:
    """Long-sequence state and reply limiting for :class:`Terminal`."""

    _long: str | None  # None, "osc", "string" (dropped) or "csi"
    _long_parts: list[str]
    _long_size: int

    def _init_sequences(self) -> None:
        self._long = None
        self._long_parts = []
        self._long_size = 0
        self._reply_budget = ReplyBudget()
        self.dropped_replies = 0

    def _start_long(self, partial: str) -> None:
        """``partial`` is a sequence still open at the end of a chunk: hold it or make it state."""
        if len(partial) <= HOLD_LIMIT and not partial.startswith(("\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX")):
            self._hold = partial
            return
        kind = partial[1:2]
        if kind == "[":
            self._long, body = "csi", partial[2:]
        elif kind == "]":
            self._long, body = "osc", partial[2:]
        elif kind in "P_^X":
            self._long, body = "string", ""
        else:  # ESC with a long run of intermediates: no terminal does anything with it
            return
        if body.endswith("\x1b"):  # maybe the first half of ST
            body = body[:-1]
            self._hold = "\x1b"
        self._long_parts = [body[:OSC_LIMIT + 16]]
        self._long_size = len(body)

    def _continue_long(self, text: str) -> str:
        """Feed ``text`` to the open sequence; return what follows it ('' if it is still open)."""
        if self._long == "csi":
            return self._continue_csi(text)
        match = _STRING_END.search(text)
        if match is None:
            if text.endswith("\x1b"):
                text = text[:-1]
                self._hold = "\x1b"
            self._keep(text)
            return ""
        at = match.start()
        self._keep(text[:at])
        end = text[at : at + 1]
        if end == "\x1b":
            if at + 1 == len(text):  # ESC at the very end: ST or a new sequence, next chunk tells
                self._hold = "\x1b"
                return ""
            rest = text[at + 2 :] if text[at + 1] == "\\" else text[at:]
        elif end == "\x07":
            rest = text[at + 1 :]
        else:  # CAN / SUB: cancelled, nothing happens
            self._long = None
            self._long_parts = []
            return text[at + 1 :]
        self._finish_string()
        return rest

    def _keep(self, piece: str) -> None:
        if self._long == "osc" and self._long_size <= OSC_LIMIT and piece:
            self._long_parts.append(piece[: OSC_LIMIT + 1 - self._long_size])
        self._long_size += len(piece)

    def _finish_string(self) -> None:
        kind, parts, size = self._long, self._long_parts, self._long_size
        self._long = None
        self._long_parts = []
        if kind != "osc":
            return
        body = "".join(parts)
        if size <= OSC_LIMIT:
            self._osc(body)
        elif body.partition(";")[0] == "52":
            self._osc("52;")  # still a refused clipboard write, whatever its size

    def _continue_csi(self, text: str) -> str:
        match = _CSI_BODY.match(text)
        end = match.end()
        if self._long_size <= CSI_LIMIT:
            self._long_parts.append(text[:end])
        self._long_size += end
        if end == len(text):
            return ""
        body = "".join(self._long_parts)
        too_long = self._long_size > CSI_LIMIT
        self._long = None
        self._long_parts = []
        final = text[end]
        if "@" <= final <= "~":
            # Complete: hand the whole sequence back to the parser, unless it is absurdly long.
            return text[end + 1 :] if too_long else "\x1b[" + body + text[end:]
        if final in "\x18\x1a":
            return text[end + 1 :]
        return text[end:]  # ESC or a C1/DEL: the CSI is abandoned

    # -- replies -------------------------------------------------------------------------------

    def reply(self, text: str) -> None:
        """Send ``text`` to the remote through ``on_reply``, within the reply rate limit."""
        if self.on_reply is None:
            return
        if not self._reply_budget.take():
            self.dropped_replies += 1
            return
        self.on_reply(text.encode())
