"""Control characters, ESC sequences and OSC strings.

A mixin of :class:`emulator.Terminal`. Nothing from an OSC is passed on as is: titles are
sanitised, clipboard writes (OSC 52) refused and counted, desktop notifications (OSC 9, OSC 777)
handed to ``on_notify`` as plain text for the app to show (it sanitises them once more).
"""

from __future__ import annotations

import re

from .cells import LINK_IDS, LINK_MASK, LINK_SHIFT, Line

TITLE_LIMIT = 120
LINK_LIMIT = 2048
_LINK = re.compile(r"(?:https?://|mailto:)[!-~]+")
"""Addresses a click may offer to open: web and mail only, printable ASCII, no spaces."""
NOTIFY_LIMIT = 200


def sanitize_title(raw: str) -> str:
    """Make a remote-supplied window title safe to show: printable characters only, bounded.

    Control characters (C0, C1, ESC), format characters such as bidi overrides, and line or
    paragraph separators are removed; runs of blanks collapse to one space.
    """
    kept = "".join(ch if ch.isprintable() else " " for ch in raw[: TITLE_LIMIT * 4])
    return " ".join(kept.split())[:TITLE_LIMIT]


class EscapeMixin:
    """C0 controls, ESC and OSC handling for :class:`Terminal`."""

    def _control(self, char: str) -> None:
        if char == "\b":
            if self.x > 0:
                self.x -= 1
            elif self.reverse_wrap and self.autowrap and self.y > (self.top if self.y >= self.top else 0):
                # Reverse-wraparound (mode 45): back over the left edge to the previous row's end.
                self.y -= 1
                self.x = self.cols - 1
            self.wrap_pending = False
        elif char == "\t":
            self.wrap_pending = False
            stop = self.tabs.find(1, self.x + 1)
            self.x = stop if stop >= 0 else self.cols - 1
        elif char == "\x07":
            self.bells += 1
            if self.on_bell is not None:
                self.on_bell()
        elif char == "\x0e":
            self.shift_out = 1
        elif char == "\x0f":
            self.shift_out = 0
        # everything else (NUL, ENQ, C1 controls, stray ESC ...) is ignored

    def _esc(self, inter: str, final: str) -> None:
        if inter:
            if inter in ("(", ")") :
                self.charsets[0 if inter == "(" else 1] = "0" if final == "0" else "B"
            elif inter == "#" and final == "8":
                # DECALN: the screen full of E, margins reset, cursor home (as xterm and tmux).
                for row in range(self.rows):
                    self.screen.lines[row] = Line(["E"] * self.cols, [0] * self.cols)
                self.top, self.bottom = 0, self.rows - 1
                self.x = self.y = 0
                self.wrap_pending = False
            return
        if final == "7":
            self.save_cursor()
        elif final == "8":
            self.restore_cursor()
        elif final == "D":
            self.wrap_pending = False
            self._index()
        elif final == "E":
            self.wrap_pending = False
            self.x = 0
            self._index()
        elif final == "M":
            self._reverse_index()
        elif final == "H":
            self.tabs[self.x] = 1
        elif final == "c":
            self.reset()
        elif final == "=":
            self.app_keypad = True
        elif final == ">":
            self.app_keypad = False
        elif final == "Z":
            self.reply("\x1b[?62;22c")

    def _osc(self, body: str) -> None:
        code, _, value = body.partition(";")
        if code in ("0", "2"):
            title = sanitize_title(value)
            if title != self.title:
                self.title = title
                if self.on_title is not None:
                    self.on_title(title)
        elif code == "52":
            self.refused_clipboard_writes += 1
        elif code == "8":
            self._hyperlink(value.partition(";")[2])
        elif code == "9" and not value.startswith(("4;", "1;")):  # 9;4 is ConEmu progress, not a message
            self._notify("", value)
        elif code == "777":
            kind, _, rest = value.partition(";")
            if kind == "notify":
                title, _, body = rest.partition(";")
                self._notify(title, body)
        # OSC 8 (hyperlinks) and everything else: dropped; the link text is ordinary output.

    def _notify(self, title: str, body: str) -> None:
        if self.on_notify is not None:
            self.on_notify(sanitize_title(title), " ".join(body[: NOTIFY_LIMIT * 4].split())[:NOTIFY_LIMIT])

    def _hyperlink(self, uri: str) -> None:
        """OSC 8: text printed from here until the closing OSC 8 links to ``uri``.

        Only web and mail addresses are kept (a device must not point a click at a local file);
        the cells remember an id, ``links`` the address. Ids are reused after LINK_IDS links.
        """
        self.attr &= ~LINK_MASK
        if not uri or len(uri) > LINK_LIMIT or not _LINK.fullmatch(uri):
            return
        links = self.links
        if links.get(self._link_id) != uri:
            self._link_id = self._link_id % LINK_IDS + 1
            links[self._link_id] = uri
        self.attr |= self._link_id << LINK_SHIFT
