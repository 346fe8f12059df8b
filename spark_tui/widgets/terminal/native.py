"""The native core: Ghostty's terminal (libghostty-vt, through pyghostty) behind our interface.

``NativeTerminal`` answers to everything the view, the scrollback and the tests read from the
Python :class:`~.emulator.Terminal` (``lines``, ``screen.history``, the cursor, the modes, the
callbacks), so either core drops in. The library parses and keeps the grid; this class adds
what we promise on top of any core:

- nothing from the stream is passed on as is: titles and notifications are sanitised, clipboard
  writes (OSC 52) refused and counted, hyperlinks reduced to web and mail addresses;
- query replies are rate-limited (the same budget as the Python core);
- work is bounded by the screen, not by the stream: a repeat count (REP) is cut to the end of
  the line, as tmux does, and a flood of full resets costs one reset per chunk.

Rows are read back lazily (see ``native_rows``): feeding only parses; the first read after a
feed updates the render state and rebuilds just the rows it marks dirty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .cells import Line, StoredLine, store_line
from .escapes import LINK_LIMIT
from .native_callbacks import XTVERSION_NAME, NativeCallbacks
from .native_feed import NativeFeed
from .native_guard import StreamGuard
from .native_lib import LOAD_ERROR, ffi, lib
from .native_rows import RowReader, check_cell_layout
from .sequences import ReplyBudget

def available() -> str | None:
    """None when the native core can run here, else why not (for the error and the docs)."""
    if lib is None:
        return LOAD_ERROR
    try:
        probe = NativeTerminal(8, 2)
        probe.feed("a\x1b[1;31mb\x1b[44m\x1b[K中e\u0301".encode())
        cells = probe.raw_row(0)
        probe.close()
    except Exception as error:  # a broken library build: say so, fall back
        return f"libghostty-vt does not work here: {error!r}"
    if not check_cell_layout(ffi, lib, cells):
        return "libghostty-vt's cell layout is not the one this version of spark-tui reads"
    return None


class _Screen:
    """One of the two screens, as the scrollback sees it: ``lines``, ``history``, ``pushed``."""

    def __init__(self, owner: NativeTerminal, main: bool) -> None:
        self._owner = owner
        self._main = main

    @property
    def lines(self) -> list[Line]:
        return self._owner.lines

    @property
    def history(self) -> Sequence[StoredLine] | None:
        return self._owner._history if self._main else None

    @property
    def pushed(self) -> int:
        return self._owner._history.pushed if self._main else 0


class _History(Sequence):
    """The main screen's scrollback, read from the library row by row when asked (cached)."""

    def __init__(self, owner: NativeTerminal) -> None:
        self._owner = owner
        self.pushed = 0  # lines that ever scrolled off (see NativeTerminal._count_pushed)
        self._cache: dict[int, StoredLine] = {}

    def __len__(self) -> int:
        # The library keeps whole pages, so sometimes more than asked: the oldest extra are hidden.
        return min(self._owner._scrollback_rows(), self._owner._scrollback)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        kept = self._owner._scrollback_rows()
        length = min(kept, self._owner._scrollback)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(index)
        key = self.pushed - length + index  # absolute: stays put while more lines scroll off
        stored = self._cache.get(key)
        if stored is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            stored = self._cache[key] = store_line(self._owner._history_line(kept - length + index))
        return stored

    def forget(self) -> None:
        self._cache.clear()


class NativeTerminal(NativeCallbacks, NativeFeed):
    """An xterm-compatible screen on libghostty-vt, with the Python core's interface.

    Same arguments and attributes as :class:`~.emulator.Terminal`.
    """

    core = "native"

    def __init__(
        self,
        cols: int = 80,
        rows: int = 24,
        *,
        scrollback: int = 10_000,
        on_reply: Callable[[bytes], None] | None = None,
        on_title: Callable[[str], None] | None = None,
        on_bell: Callable[[], None] | None = None,
        on_notify: Callable[[str, str], None] | None = None,
        on_sync: Callable[[bool], None] | None = None,
    ) -> None:
        if lib is None:
            raise RuntimeError("the native terminal core needs pyghostty (libghostty-vt)")
        self.cols, self.rows = max(1, cols), max(1, rows)
        self.on_reply, self.on_title, self.on_bell = on_reply, on_title, on_bell
        self.on_notify, self.on_sync = on_notify, on_sync
        self.title = ""
        self.refused_clipboard_writes = 0
        self.bells = 0
        self.bytes_fed = 0
        self.dropped_replies = 0
        self.synchronized = False
        self.links: dict[int, str] = {}
        self._link_ids: dict[str, int] = {}
        self._reply_budget = ReplyBudget()
        self._fed = True  # rows must be read again
        self._guard = StreamGuard()
        self._last_piece = b""  # the end of what was fed last: did it print (REP repeats that)?
        self._captured: list[bytes] | None = None  # replies to our own queries, while asking
        self._reverse_wrap_asked = False  # mode 45 was ever set: BS needs a look at the cursor
        self._lines = [Line.blank(self.cols) for _ in range(self.rows)]
        self._history = _History(self)
        self.main = _Screen(self, True)
        self.alt = _Screen(self, False)
        self._seen_rows = 0
        self._t = ffi.new("GhosttyTerminal*")
        if lib.ghostty_terminal_new(ffi.NULL, self._t, self.cols, self.rows) != 0:
            raise MemoryError("libghostty-vt: terminal")
        self._term = self._t[0]
        self._scrollback = max(0, scrollback)
        self._bound_history()
        # Images (kitty graphics) are never shown here: none kept, none read from this computer's
        # files or shared memory by name (what a remote could otherwise ask for).
        self._set(lib.GHOSTTY_TERMINAL_OPT_KITTY_IMAGE_STORAGE_LIMIT, ffi.new("uint64_t*", 0))
        self._set(lib.GHOSTTY_TERMINAL_OPT_KITTY_IMAGE_MEDIUM_FILE, ffi.new("bool*", False))
        self._set(lib.GHOSTTY_TERMINAL_OPT_KITTY_IMAGE_MEDIUM_SHARED_MEM, ffi.new("bool*", False))
        self._set(lib.GHOSTTY_TERMINAL_OPT_APC_MAX_BYTES, ffi.new("size_t*", 4096))
        self._state = ffi.new("GhosttyRenderState*")
        self._rows_it = ffi.new("GhosttyRenderStateRowIterator*")
        if lib.ghostty_render_state_new(ffi.NULL, self._state) or lib.ghostty_render_state_row_iterator_new(
            ffi.NULL, self._rows_it
        ):
            raise MemoryError("libghostty-vt: render state")
        self._reader = RowReader(ffi, lib, self._link_id)
        self._u16 = ffi.new("uint16_t*")
        self._bool = ffi.new("bool*")
        self._size = ffi.new("size_t*")
        self._string = ffi.new("GhosttyString*")
        self._xtversion = ffi.new("char[]", XTVERSION_NAME)
        self._callbacks = self._callbacks_for_library()
        for option, callback in self._callbacks:
            self._set(option, callback)

    def _bound_history(self) -> None:
        """Bound the history to about ``scrollback`` lines, by bytes at the current width.

        The library drops whole pages when over its byte budget (cheap) but trims row by row
        when over its line budget (a coloured listing parsed 2.5x slower): so the byte budget,
        sized for a little more than ``scrollback`` rows of this width, is the one that acts
        (``_History`` shows the newest ``scrollback``); the line budget is a backstop at twice.
        """
        lines = self._scrollback
        self._set(lib.GHOSTTY_TERMINAL_OPT_SCROLLBACK_MAX_LINES, ffi.new("size_t*", 2 * lines + self.rows if lines else 0))
        self._set(lib.GHOSTTY_TERMINAL_OPT_SCROLLBACK_MAX_BYTES, ffi.new("size_t*", lines * (self.cols * 8 + 400)))

    def _set(self, option: int, value: Any) -> None:
        if lib.ghostty_terminal_set(self._term, option, value) != 0:
            raise RuntimeError(f"libghostty-vt: terminal option {option}")

    def close(self) -> None:
        """Free the native objects now (garbage collection does it otherwise)."""
        if self._term is not None:
            self._reader.close()
            lib.ghostty_render_state_row_iterator_free(self._rows_it[0])
            lib.ghostty_render_state_free(self._state[0])
            lib.ghostty_terminal_free(self._term)
            self._term = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    # -- reading the state -----------------------------------------------------------------------

    def _get16(self, key: int) -> int:
        lib.ghostty_terminal_get(self._term, key, self._u16)
        return self._u16[0]

    def _get_bool(self, key: int) -> bool:
        lib.ghostty_terminal_get(self._term, key, self._bool)
        return bool(self._bool[0])

    def _scrollback_rows(self) -> int:
        if self.alternate:
            return self._seen_rows
        lib.ghostty_terminal_get(self._term, lib.GHOSTTY_TERMINAL_DATA_SCROLLBACK_ROWS, self._size)
        return self._size[0]

    def mode(self, number: int, ansi: bool = False) -> bool:
        """Whether DEC private mode ``number`` (or ANSI mode with ``ansi``) is set."""
        config = ffi.new("GhosttyTerminalModeConfig*")
        config.mode = (number & 0x7FFF) | (int(ansi) << 15)
        lib.ghostty_terminal_get(self._term, lib.GHOSTTY_TERMINAL_DATA_MODE, config)
        return bool(config.value)

    @property
    def x(self) -> int:
        return self._get16(lib.GHOSTTY_TERMINAL_DATA_CURSOR_X)

    @property
    def y(self) -> int:
        return self._get16(lib.GHOSTTY_TERMINAL_DATA_CURSOR_Y)

    @property
    def wrap_pending(self) -> bool:
        return self._get_bool(lib.GHOSTTY_TERMINAL_DATA_CURSOR_PENDING_WRAP)

    @property
    def cursor_visible(self) -> bool:
        return self._get_bool(lib.GHOSTTY_TERMINAL_DATA_CURSOR_VISIBLE)

    @property
    def alternate(self) -> bool:
        """True while a full-screen program has the alternate screen."""
        lib.ghostty_terminal_get(self._term, lib.GHOSTTY_TERMINAL_DATA_ACTIVE_SCREEN, self._size)
        return bool(self._size[0] & 0xFFFFFFFF)

    app_cursor = property(lambda self: self.mode(1), doc="DECCKM: arrows send ESC O x.")
    app_keypad = property(lambda self: self.mode(66), doc="DECNKM / DECKPAM.")
    origin = property(lambda self: self.mode(6), doc="DECOM.")
    autowrap = property(lambda self: self.mode(7), doc="DECAWM.")
    reverse_wrap = property(lambda self: self.mode(45), doc="Reverse-wraparound.")
    insert_mode = property(lambda self: self.mode(4, ansi=True), doc="IRM.")
    newline_mode = property(lambda self: self.mode(20, ansi=True), doc="LNM.")
    bracketed_paste = property(lambda self: self.mode(2004), doc="Mode 2004.")
    focus_events = property(lambda self: self.mode(1004), doc="Mode 1004.")
    mouse_sgr = property(lambda self: self.mode(1006), doc="Mode 1006 (SGR mouse encoding).")
    reverse_video = property(lambda self: self.mode(5), doc="DECSCNM.")

    @property
    def mouse_tracking(self) -> int:
        """0 (off), 9, 1000 (clicks), 1002 (drag) or 1003 (any motion)."""
        for number in (1003, 1002, 1000, 9):
            if self.mode(number):
                return number
        return 0

    @property
    def cursor_shape(self) -> int:
        """DECSCUSR-style value: 2 block, 4 underline, 6 bar (one less when blinking)."""
        self.lines  # brings the render state up to date
        state = self._state[0]
        lib.ghostty_render_state_get(state, lib.GHOSTTY_RENDER_STATE_DATA_CURSOR_VISUAL_STYLE, self._size)
        shape = {
            lib.GHOSTTY_RENDER_STATE_CURSOR_VISUAL_STYLE_BAR: 6,
            lib.GHOSTTY_RENDER_STATE_CURSOR_VISUAL_STYLE_UNDERLINE: 4,
        }.get(self._size[0] & 0xFFFFFFFF, 2)
        lib.ghostty_render_state_get(state, lib.GHOSTTY_RENDER_STATE_DATA_CURSOR_BLINKING, self._bool)
        return shape - 1 if self._bool[0] else shape

    @property
    def screen(self) -> _Screen:
        """The active screen (``lines``, ``history``, ``pushed``) for the scrollback."""
        return self.alt if self.alternate else self.main

    @property
    def history(self) -> _History:
        """The main screen's scrollback (oldest first; stored lines, see ``cells.load_line``)."""
        return self._history

    @property
    def lines(self) -> list[Line]:
        """The visible rows, rebuilt from the library where they changed since the last read."""
        if self._fed:
            self._fed = False
            self._read_dirty_rows()
        return self._lines

    @property
    def display(self) -> list[str]:
        """The visible text, one string per row (wide characters once, trailing spaces kept)."""
        return ["".join(line.chars) for line in self.lines]

    def _read_dirty_rows(self) -> None:
        state, it = self._state[0], self._rows_it
        lib.ghostty_render_state_update(state, self._term)
        lib.ghostty_render_state_get(state, lib.GHOSTTY_RENDER_STATE_DATA_DIRTY, self._size)
        full = (self._size[0] & 0xFFFFFFFF) == lib.GHOSTTY_RENDER_STATE_DIRTY_FULL
        lib.ghostty_render_state_get(state, lib.GHOSTTY_RENDER_STATE_DATA_ROW_ITERATOR, it)
        lines = self._lines
        if len(lines) != self.rows:
            lines[:] = [Line.blank(self.cols) for _ in range(self.rows)]
            full = True
        false = self._bool
        y = 0
        while lib.ghostty_render_state_row_iterator_next(it[0]) and y < self.rows:
            lib.ghostty_render_state_row_get(it[0], lib.GHOSTTY_RENDER_STATE_ROW_DATA_DIRTY, false)
            if full or false[0]:
                lines[y] = self._reader.line(it[0], lambda x, row=y: self._uri_at(x, row))
                false[0] = False
                lib.ghostty_render_state_row_set(it[0], lib.GHOSTTY_RENDER_STATE_ROW_OPTION_DIRTY, false)
            y += 1
        self._size[0] = lib.GHOSTTY_RENDER_STATE_DIRTY_FALSE
        lib.ghostty_render_state_set(state, lib.GHOSTTY_RENDER_STATE_OPTION_DIRTY, ffi.cast("int*", self._size))

    def raw_row(self, y: int) -> list[int]:
        """Row ``y``'s raw cells (for the start-up layout check)."""
        state, it = self._state[0], self._rows_it
        lib.ghostty_render_state_update(state, self._term)
        lib.ghostty_render_state_get(state, lib.GHOSTTY_RENDER_STATE_DATA_ROW_ITERATOR, it)
        for _ in range(y + 1):
            lib.ghostty_render_state_row_iterator_next(it[0])
        self._fed = True
        return self._reader.raw(it[0])

    def _ref(self, x: int, y: int, tag: int) -> Any:
        from pyghostty.core import init_sized  # the library's own helper for sized structs
        from pyghostty._ffi import union_fn

        grid_ref = union_fn("ghostty_terminal_grid_ref", "GhosttyResult(*)(GhosttyTerminal, GhosttyPointS, GhosttyGridRef*)")
        point = ffi.new("GhosttyPointS*")
        point.tag = tag
        point.value.x, point.value.y = x, y
        ref = init_sized("GhosttyGridRef")
        if grid_ref(self._term, point[0], ref) != 0:
            return None
        return ref

    def _uri_at(self, x: int, y: int) -> str:
        ref = self._ref(x, y, lib.GHOSTTY_POINT_TAG_ACTIVE)
        return "" if ref is None else _read_uri(ref)

    def _history_line(self, index: int) -> Line:
        """Scrollback row ``index`` (0 = oldest kept) as a Line, cell by cell."""
        from .native_history import history_line

        return history_line(self, index)

    # -- whole-terminal operations -----------------------------------------------------------------

    def reset(self) -> None:
        """RIS: clear both screens and every mode; the scrollback survives."""
        self.feed(b"\x1bc")

    def resize(self, cols: int, rows: int) -> None:
        """Change the size (the library reflows the main screen)."""
        cols, rows = max(1, cols), max(1, rows)
        if (cols, rows) == (self.cols, self.rows):
            return
        lib.ghostty_terminal_resize(self._term, cols, rows, 8, 16)
        self.cols, self.rows = cols, rows
        self._bound_history()
        self._lines = [Line.blank(cols) for _ in range(rows)]
        self._history.forget()
        self._seen_rows = self._scrollback_rows()
        self._fed = True


def _read_uri(ref: Any) -> str:
    """The hyperlink address of the cell ``ref`` points at ("" for none)."""
    length = ffi.new("size_t*")
    lib.ghostty_grid_ref_hyperlink_uri(ref, ffi.NULL, 0, length)
    if not length[0] or length[0] > LINK_LIMIT:
        return ""
    buffer = ffi.new("uint8_t[]", length[0])
    if lib.ghostty_grid_ref_hyperlink_uri(ref, buffer, length[0], length) != 0:
        return ""
    return ffi.buffer(buffer, length[0])[:].decode("utf-8", "replace")
