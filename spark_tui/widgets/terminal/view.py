"""``TerminalView``: draws a :class:`Terminal` and turns keys, mouse and pastes into bytes.

The widget does no I/O. The app feeds it the remote's output with :meth:`TerminalView.feed`
and forwards :class:`TerminalView.Input` messages to the shell session; replies the emulator
owes the remote (cursor position reports) arrive the same way. Drawing happens at Textual's
frame rate however often ``feed`` is called: ``feed`` only parses and asks for a refresh.

Keys (all configurable in the constructor):

| Key | Action |
| :- | :- |
| ctrl+] | Leave the terminal: posts ``LeaveRequested`` (the app moves focus). |
| shift+pageup / shift+pagedown | Scroll the scrollback by a page. |
| shift+up / shift+down | Scroll by a line (only while already scrolled back). |
| / (while scrolled back) | Search the scrollback; enter finds older matches, escape closes. |
| n / N (while scrolled back) | Next older / newer match. |
| escape (while scrolled back) | Back to the live screen. |
| ctrl+shift+space; v / V when scrolled back | Copy mode: keyboard selection, y copies (``copy_mode.py``). |

Every other key goes to the remote, exactly as xterm would send it. Dragging the mouse
selects text and copies it (with Textual's ``copy_to_clipboard``); when the remote asked
for mouse reports, hold shift to select instead.
"""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from .copy_keys import COPY_MODE_BINDINGS, CopyModeKeys
from .copy_mode import CopyMode
from .core import make_terminal
from .keys import encode_key, encode_paste
from .mouse import MouseMixin
from .render import HistoryStrips, highlight, line_strip
from .scrollback import Scrollback

_CURSOR = Style(reverse=True)
_CURSOR_UNFOCUSED = Style(underline=True)
_SELECTION = Style(reverse=True)
_MATCH = Style(bgcolor="yellow", color="black")

SYNC_TIMEOUT = 1.0
"""Seconds a synchronized update (mode 2026) may hold the previous frame on screen."""

FLOOD_FRAME = 1 / 30
"""Seconds between frames while output streams in: a frame of the whole dashboard costs more
than parsing what arrives meanwhile, so a flood is drawn at 30 frames a second, not Textual's
60 (the first output after a pause is drawn at once: typing stays immediate)."""

NOTIFY_INTERVAL = 2.0
"""Seconds between two bells, or two notifications (OSC 9/777), from one terminal: a flood is one
toast. Bells and notifications are counted apart, so a bell never hides the "job done" after it;
notifications held back come out as one when the interval ends: the last, with how many more."""


class TerminalView(CopyModeKeys, MouseMixin, Widget, can_focus=True):
    """A terminal screen with scrollback, search, selection and xterm key encoding.

    Args:
        scrollback: Lines of history to keep.
        escape_key: Textual key name that leaves the terminal (default ctrl+]).
        scroll_keys: (page up, page down, line up, line down) key names.
        name: Widget name. id: Widget id. classes: CSS classes.

    Attributes:
        terminal: The emulator (read its ``title``, ``alternate``, ``refused_clipboard_writes``).
    """

    BINDINGS = COPY_MODE_BINDINGS

    DEFAULT_CSS = """
    TerminalView {
        width: 1fr;
        height: 1fr;
        background: $surface;
        color: $foreground;
    }
    TerminalView:focus {
        background-tint: $foreground 0%;
    }
    """

    class _ViewMessage(Message):
        """A message that names the view it came from as ``control``."""

        view: TerminalView | None = None

        @property
        def control(self) -> TerminalView | None:
            """The TerminalView that posted the message."""
            return self.view

    class Input(_ViewMessage):
        """Bytes for the remote: typed keys, mouse reports, pastes, replies to queries."""

        def __init__(self, data: bytes) -> None:
            super().__init__()
            self.data = data

    class Resized(_ViewMessage):
        """The view's size in cells changed; tell the remote (``ShellSession.resize``)."""

        def __init__(self, cols: int, rows: int) -> None:
            super().__init__()
            self.cols = cols
            self.rows = rows

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TerminalView.Resized) and message.view is self.view

    class TitleChanged(_ViewMessage):
        """The remote set a title (already sanitised)."""

        def __init__(self, title: str) -> None:
            super().__init__()
            self.title = title

    class LeaveRequested(_ViewMessage):
        """The user pressed the escape key: move focus out of the terminal."""

    class LinkClicked(_ViewMessage):
        """The user clicked a hyperlink (OSC 8) the remote printed: ``url`` is a web or mail
        address chosen by the device. Ask before opening it."""

        def __init__(self, url: str) -> None:
            super().__init__()
            self.url = url

    class Notified(_ViewMessage):
        """The remote rang the bell (``bell``) or sent a desktop notification (OSC 9 / 777).

        ``title`` and ``body`` are plain single-line text from the device: show them with
        ``display_safe`` and ``markup=False``.
        """

        def __init__(self, title: str, body: str, bell: bool = False) -> None:
            super().__init__()
            self.title = title
            self.body = body
            self.bell = bell

    def __init__(
        self,
        *,
        scrollback: int = 10_000,
        escape_key: str = "ctrl+right_square_bracket",
        scroll_keys: tuple[str, str, str, str] = ("shift+pageup", "shift+pagedown", "shift+up", "shift+down"),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.terminal = make_terminal(
            80, 24, scrollback=scrollback, on_reply=self._send, on_title=self._title_changed,
            on_bell=self._bell, on_notify=self._notified, on_sync=self._sync,
        )
        self._frozen: tuple[list[Strip], int, int, bool] | None = None
        self._frozen_at = 0.0
        self._last_notice = {True: -NOTIFY_INTERVAL, False: -NOTIFY_INTERVAL}  # bell? -> when
        self._held_notice: tuple[str, str, int] | None = None  # the last notification held back, how many
        self.escape_key = escape_key
        self.scroll_keys = scroll_keys
        self.scrollback = Scrollback(self.terminal)
        self._history_strips = HistoryStrips()
        self._selecting = False
        self._painted = 0.0  # when output last asked for a frame
        self._base_style: Style | None = None  # rich_style, during a frame
        self._rows_drawn: dict[int, tuple[Strip, int, Style, Strip]] = {}  # y -> (row strip, width, base, drawn)
        self._paint_timer = None
        self.copy_mode = CopyMode(self.scrollback, on_change=self.refresh_bindings)

    # -- the app's side --------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Give the view output from the remote; it is drawn at the next frame.

        Call on the app's thread (from another thread use ``app.call_from_thread``).
        """
        self.terminal.feed(data)
        self.scrollback.follow()
        now = time.monotonic()
        if now - self._painted >= FLOOD_FRAME:
            self._painted = now
            self.refresh()
        elif self._paint_timer is None:  # output in a stream: one frame per FLOOD_FRAME at most
            self._paint_timer = self.set_timer(FLOOD_FRAME - (now - self._painted), self._paint_later)

    def _paint_later(self) -> None:
        self._paint_timer = None
        self._painted = time.monotonic()
        self.refresh()

    def _post(self, message: _ViewMessage) -> None:
        message.view = self
        self.post_message(message)

    def _send(self, data: bytes) -> None:
        self._post(self.Input(data))

    def _title_changed(self, title: str) -> None:
        self._post(self.TitleChanged(title))

    def _notice_allowed(self, bell: bool) -> bool:
        now = time.monotonic()
        if now - self._last_notice[bell] < NOTIFY_INTERVAL:
            return False
        self._last_notice[bell] = now
        return True

    def _bell(self) -> None:
        if self._notice_allowed(bell=True):
            self._post(self.Notified("", "", bell=True))

    def _notified(self, title: str, body: str) -> None:
        if self._notice_allowed(bell=False):
            self._post(self.Notified(title, body))
            return
        if self._held_notice is None:
            self.set_timer(self._last_notice[False] + NOTIFY_INTERVAL - time.monotonic(), self._release_notice)
        self._held_notice = (title, body, self._held_notice[2] + 1 if self._held_notice else 1)

    def _release_notice(self) -> None:
        if self._held_notice is not None:
            title, body, count = self._held_notice
            self._held_notice = None
            self._last_notice[False] = time.monotonic()
            self._post(self.Notified(title, f"{body} (+{count - 1} more)" if count > 1 else body))

    def _sync(self, on: bool) -> None:
        """Synchronized output: keep showing the last complete frame until the remote is done."""
        if on:
            term = self.terminal
            self._frozen = ([line_strip(line) for line in term.lines], term.x, term.y, term.cursor_visible)
            self._frozen_at = time.monotonic()
        else:
            self._frozen = None
            self.refresh()

    @property
    def frozen(self) -> bool:
        """True while a synchronized update holds the previous frame (at most SYNC_TIMEOUT)."""
        if self._frozen is not None and time.monotonic() - self._frozen_at > SYNC_TIMEOUT:
            self._frozen = None
        return self._frozen is not None

    # -- size ------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        cols, rows = max(1, event.size.width), max(1, event.size.height)
        if (cols, rows) != (self.terminal.cols, self.terminal.rows):
            self.terminal.resize(cols, rows)
            self._post(self.Resized(cols, rows))
        self.refresh()

    # -- keys --------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        key = event.key
        back = self.scrollback
        if self.copy_mode_key(event):
            return
        if key == self.escape_key:
            self._post(self.LeaveRequested())
            return
        if back.searching:
            back.search_key(key, event.character)
            self.refresh()
            return
        page_up, page_down, line_up, line_down = self.scroll_keys
        if key in (page_up, page_down) or (back.offset and key in (line_up, line_down)):
            step = self.terminal.rows - 1 if key in (page_up, page_down) else 1
            back.scroll(step if key in (page_up, line_up) else -step)
            self.refresh()
            return
        if back.offset:
            if key == "escape":
                back.to_bottom()
                self.refresh()
                return
            if event.character == "/":
                back.open_search()
                self.refresh()
                return
            if event.character in ("n", "N"):
                back.find(older=event.character == "n")
                self.refresh()
                return
            back.to_bottom()
            self.refresh()
        data = encode_key(key, event.character, app_cursor=self.terminal.app_cursor)
        if data:
            self._send(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.scrollback.to_bottom()
        self._send(encode_paste(event.text, bracketed=self.terminal.bracketed_paste))

    # -- drawing -----------------------------------------------------------------------------

    def render_lines(self, crop):  # noqa: ANN001, ANN201 - Textual's signature
        # The widget's own style, worked out once a frame rather than once a row.
        self._base_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._base_style = None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        term = self.terminal
        back = self.scrollback
        base = self._base_style or self.rich_style
        if back.searching and y == self.size.height - 1:
            prompt = f"search: {back.query}█  (enter: older match, escape: close)"
            return Strip([Segment(prompt[:width], base + Style(reverse=True))]).extend_cell_length(width, base)
        if self.frozen and back.offset == 0 and not back.searching and not self.copy_mode.active:
            strips, x, cursor_y, visible = self._frozen
            if y < len(strips):
                strip = strips[y]
                if y == cursor_y and visible:
                    strip = highlight(strip, x, x + 1, _CURSOR if self.has_focus else _CURSOR_UNFOCUSED)
                return strip.crop_extend(0, width, base).apply_style(base)
        row = back.row_at(y)
        if row is None:
            return Strip.blank(width, base)
        stored, line = row
        strip = line_strip(line) if line is not None else self._history_strips.strip(stored, term.cols)
        if line is not None and back.offset == 0 and y == term.y and term.cursor_visible and not self.copy_mode.active:
            x = min(term.x, term.cols - 1)
            wide = x + 1 < term.cols and line.chars[x + 1] == ""
            # DECSCUSR 3/4 ask for an underline cursor; a cell cannot show a bar, so 5/6 and the
            # block shapes are drawn as a block. Unfocused: an underline, whatever the shape.
            shape = _CURSOR_UNFOCUSED if not self.has_focus or term.cursor_shape in (3, 4) else _CURSOR
            strip = highlight(strip, x, x + 1 + wide, shape)
        for start, end in back.search_spans(y):
            strip = highlight(strip, start, end, _MATCH)
        span = back.selection_span(y)
        if span is not None:
            strip = highlight(strip, span[0], span[1], _SELECTION)
        strip = self.copy_mode.decorate(y, strip)
        kept = self._rows_drawn.get(y)
        if kept is not None and kept[0] is strip and kept[1] == width and kept[2] == base:
            return kept[3]  # the row did not change since the last frame (its Strip is cached on it)
        drawn = strip.crop_extend(0, width, base).apply_style(base)
        if len(self._rows_drawn) > 512:
            self._rows_drawn.clear()
        self._rows_drawn[y] = (strip, width, base, drawn)
        return drawn

    def on_focus(self) -> None:
        if self.terminal.focus_events:
            self._send(b"\x1b[I")
        self.refresh()

    def on_blur(self) -> None:
        if self.terminal.focus_events:
            self._send(b"\x1b[O")
        self.refresh()
