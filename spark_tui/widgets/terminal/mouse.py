"""The Shell pane's mouse: reports to the remote when it asked, else selection, links, the wheel.

A mixin of :class:`~.view.TerminalView` (it reads the view's ``terminal``, ``scrollback`` and
``copy_mode`` and posts the view's messages); no I/O of its own.
"""

from __future__ import annotations

from textual import events

from .cells import link_of, load_line
from .keys import encode_key, encode_mouse


class MouseMixin:
    """Mouse events of :class:`~.view.TerminalView`."""

    def _report_mouse(self, event: events.MouseEvent, button: int, press: bool, motion: bool = False) -> bool:
        """Send a mouse report if the remote wants one; True when it was sent."""
        term = self.terminal
        if not term.mouse_tracking or event.shift:
            return False
        if motion and term.mouse_tracking < 1002:
            return False
        if not press and term.mouse_tracking == 9:
            return True
        where = event.get_content_offset(self)
        if where is None:  # on a border or padding: not a cell
            return True
        col, row = min(where.x, term.cols - 1), min(where.y, term.rows - 1)
        data = encode_mouse(button, col, row, press=press, motion=motion, sgr=term.mouse_sgr, alt=event.meta, ctrl=event.ctrl)
        if data:
            self._send(data)
        return True

    def _link_at(self, x: int, y: int) -> str | None:
        """The hyperlink address under view cell (x, y), if the remote printed one there."""
        term = self.terminal
        row = self.scrollback.row_at(y) if 0 <= y < self.size.height else None
        if row is None or not 0 <= x < term.cols:
            return None
        stored, line = row
        if line is None:
            line = load_line(stored, term.cols)
        return term.links.get(link_of(line.attrs[x]))

    @staticmethod
    def _button(event: events.MouseEvent) -> int:
        return {1: 0, 2: 1, 3: 2}.get(event.button, 0)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self.copy_mode.active:
            self.copy_mode.leave()  # the mouse takes over: one selection at a time
        if self._report_mouse(event, self._button(event), press=True):
            return
        where = event.get_content_offset(self)
        if event.button == 1 and where is not None:
            self.scrollback.select_start(where.x, where.y)
            self._selecting = True
            self.capture_mouse()
            self.refresh()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._selecting:
            where = event.get_content_offset_capture(self)
            self.scrollback.select_extend(max(0, where.x), max(0, where.y))
            self.refresh()
            return
        if event.button:
            self._report_mouse(event, self._button(event), press=True, motion=True)
        elif self.terminal.mouse_tracking == 1003:
            self._report_mouse(event, 3, press=True, motion=True)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._selecting:
            self._selecting = False
            self.release_mouse()
            where = event.get_content_offset_capture(self)
            text = self.scrollback.select_end(max(0, where.x), max(0, where.y))
            if text:
                self.app.copy_to_clipboard(text)
            else:
                url = self._link_at(where.x, where.y)
                if url:
                    self._post(self.LinkClicked(url))
            self.refresh()
            return
        self._report_mouse(event, self._button(event), press=False)

    def _wheel(self, event: events.MouseEvent, up: bool) -> None:
        event.stop()
        if self._report_mouse(event, 64 if up else 65, press=True):
            return
        if self.terminal.alternate:  # xterm's alternateScroll: arrows for pagers and editors
            data = encode_key("up" if up else "down", app_cursor=self.terminal.app_cursor)
            self._send(data * 3)
            return
        self.scrollback.scroll(3 if up else -3)
        self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, up=True)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, up=False)

