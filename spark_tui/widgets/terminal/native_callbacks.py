"""What libghostty-vt calls back during a feed: replies, bell, title, notifications, clipboard.

A mixin of :class:`~.native.NativeTerminal`. Nothing from the stream is passed on as is: replies
go through an allow-list and the Python core's rate limit, titles and notifications are
sanitised as the Python core does, clipboard writes (OSC 52) are refused and counted, and
hyperlinks keep only web and mail addresses.
"""

from __future__ import annotations

import re
from typing import Any

from .escapes import LINK_LIMIT, NOTIFY_LIMIT, sanitize_title
from .modes import XTVERSION
from .native_lib import ffi, lib

_LINK = re.compile(r"(?:https?://|mailto:)[!-~]+")

_SAFE_REPLY = re.compile(
    rb"\x1b\[(?:\??[0-9]{1,5};[0-9]{1,5}R|0n|\?[0-9;]{1,40}c|>[0-9;]{1,40}c|\??[0-9]{1,5};[0-4]\$y)"
    rb"|\x1bP>\|spark-tui\([0-9a-z.+]+\)\x1b\\"
)
"""Replies the library may send the remote: cursor position, status, device attributes, mode
reports and XTVERSION. Nothing that could carry text the remote chose (no DECRQSS, no title)."""

XTVERSION_NAME = XTVERSION[len("\x1bP>|") : -len("\x1b\\")].encode()


class NativeCallbacks:
    """The library's callbacks for :class:`~.native.NativeTerminal` (state lives there)."""

    def _callbacks_for_library(self) -> list[tuple[int, Any]]:
        """(option, cffi callback) pairs to set on the terminal; keep them alive with it."""
        return [
            (lib.GHOSTTY_TERMINAL_OPT_WRITE_PTY, ffi.callback("GhosttyTerminalWritePtyFn", self._on_pty)),
            (lib.GHOSTTY_TERMINAL_OPT_BELL, ffi.callback("GhosttyTerminalBellFn", self._on_bell)),
            (lib.GHOSTTY_TERMINAL_OPT_TITLE_CHANGED, ffi.callback("GhosttyTerminalTitleChangedFn", self._on_title)),
            (lib.GHOSTTY_TERMINAL_OPT_RENDER_HOLD, ffi.callback("GhosttyTerminalRenderHoldFn", self._on_hold)),
            (
                lib.GHOSTTY_TERMINAL_OPT_DESKTOP_NOTIFICATION,
                ffi.callback("GhosttyTerminalDesktopNotificationFn", self._on_notification),
            ),
            (lib.GHOSTTY_TERMINAL_OPT_CLIPBOARD_WRITE, ffi.callback("GhosttyTerminalClipboardWriteFn", self._on_clipboard)),
            (lib.GHOSTTY_TERMINAL_OPT_XTVERSION, ffi.callback("GhosttyTerminalXtversionFn", self._on_xtversion)),
            (
                lib.GHOSTTY_TERMINAL_OPT_DEVICE_ATTRIBUTES,
                ffi.callback("GhosttyTerminalDeviceAttributesFn", self._on_device_attributes),
            ),
        ]

    def _on_pty(self, _term: Any, _user: Any, data: Any, length: int) -> None:
        if self._captured is not None:  # our own question (see _margins), never the remote's
            self._captured.append(ffi.buffer(data, length)[:])
            return
        if self.on_reply is None:
            return
        reply = ffi.buffer(data, length)[:]
        if not _SAFE_REPLY.fullmatch(reply):
            self.dropped_replies += 1  # a report we do not give (it could echo remote text)
            return
        if not self._reply_budget.take():
            self.dropped_replies += 1
            return
        self.on_reply(reply)

    def _on_bell(self, _term: Any, _user: Any) -> None:
        self.bells += 1
        if self.on_bell is not None:
            self.on_bell()

    def _on_title(self, _term: Any, _user: Any) -> None:
        if lib.ghostty_terminal_get(self._term, lib.GHOSTTY_TERMINAL_DATA_TITLE, self._string) != 0:
            return
        raw = ffi.buffer(self._string.ptr, min(self._string.len, 4096))[:] if self._string.len else b""
        self.title = sanitize_title(raw.decode("utf-8", "replace"))
        if self.on_title is not None:
            self.on_title(self.title)

    def _on_hold(self, _term: Any, _user: Any, held: bool) -> None:
        self.synchronized = bool(held)
        if self.on_sync is not None:
            self.on_sync(self.synchronized)

    def _on_notification(self, _term: Any, _user: Any, note: Any) -> None:
        if self.on_notify is None:
            return

        def text(string: Any) -> str:
            raw = ffi.buffer(string.ptr, min(string.len, NOTIFY_LIMIT * 16))[:] if string.len else b""
            return raw.decode("utf-8", "replace")

        # As the Python core: a plain, single-line, bounded title and body (the app escapes them).
        body = " ".join(text(note.body)[: NOTIFY_LIMIT * 4].split())[:NOTIFY_LIMIT]
        self.on_notify(sanitize_title(text(note.title)), body)

    def _on_clipboard(self, _term: Any, _user: Any, _write: Any) -> None:
        self.refused_clipboard_writes += 1  # never to the local clipboard, and no reply

    def _on_xtversion(self, _term: Any, _user: Any) -> Any:
        result = ffi.new("GhosttyString*")
        result.ptr = ffi.cast("uint8_t*", self._xtversion)
        result.len = len(XTVERSION_NAME)
        return result[0]

    def _on_device_attributes(self, _term: Any, _user: Any, out: Any) -> bool:
        # The same answers as the Python core: a VT220 with ANSI colour (DA1 ?62;22), and
        # xterm-style DA2 >1;10;0 - so programs see one terminal whichever core runs.
        out.primary.conformance_level = 62
        out.primary.features[0] = 22
        out.primary.num_features = 1
        out.secondary.device_type = 1
        out.secondary.firmware_version = 10
        out.secondary.rom_cartridge = 0
        return True

    def _link_id(self, uri: str) -> int:
        """The id our attributes carry for a link's address (0: not one we would ever open)."""
        if len(uri) > LINK_LIMIT or not _LINK.fullmatch(uri):
            return 0
        link = self._link_ids.get(uri)
        if link is None:
            if len(self._link_ids) >= 4000:
                self._link_ids.clear()
                self.links.clear()
            link = self._link_ids[uri] = len(self._link_ids) + 1
            self.links[link] = uri
        return link

