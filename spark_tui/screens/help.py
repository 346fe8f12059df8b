"""The keys screen: every binding as it stands now, with the id to rebind it by.

It reads the bindings of the screen underneath, after the profile's ``[settings.keys]`` keymap
was applied, so a rebound key shows its new key. First the keys that work right now (from the
focused widget out to the app), then the keys of the other panes on that screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static


@dataclass(frozen=True)
class BindingEntry:
    """One action and the keys bound to it.

    Attributes:
        keys: Keys as displayed (``^p``, ``?``), in binding order.
        description: What the action does, or the action's name when undescribed.
        binding_id: The id to use in ``[settings.keys]``; ``""`` when it cannot be rebound.
        where: ``everywhere``, ``this screen`` or the widget it belongs to.
        active: True when it works with the current focus.
        enabled: False when the action is currently unavailable (shown dim).
    """

    keys: tuple[str, ...]
    description: str
    binding_id: str
    where: str
    active: bool = True
    enabled: bool = True


class HelpScreen(ModalScreen[None]):
    """A scrollable table of every key binding, closed with escape, q or ?.

    | Key(s) | Description |
    | :- | :- |
    | escape, q, ? | Close the keys screen. |

    Args:
        entries: What to list; by default the bindings of the screen underneath, collected
            when this screen mounts.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close", tooltip="Close the keys screen"),
    ]

    def __init__(self, entries: Sequence[BindingEntry] | None = None) -> None:
        super().__init__()
        self._entries: list[BindingEntry] | None = list(entries) if entries is not None else None

    @property
    def entries(self) -> tuple[BindingEntry, ...]:
        """What the table lists."""
        return tuple(self._entries or ())

    def compose(self) -> ComposeResult:
        """A titled dialog with a one-line hint and the table."""
        with Vertical(id="help-dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "escape · q · ? to close"
            yield Static(
                "Rebind any key in your profile:  [settings.keys]  <binding id> = \"ctrl+o\"",
                id="help-intro",
                markup=False,
            )
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        """Collect the bindings (unless given) and fill the table."""
        if self._entries is None:
            below = self._screen_below()
            self._entries = collect_bindings(below) if below is not None else []
        table = self.query_one("#help-table", DataTable)
        table.add_columns("Key", "Action", "Binding id", "Where")
        for entry in self._entries:
            style = "" if entry.enabled else "dim"
            table.add_row(
                Text(", ".join(entry.keys), style=f"bold {style}".strip()),
                Text(entry.description, style=style),
                Text(entry.binding_id or "–", style="dim" if not entry.binding_id else style),
                Text(entry.where, style="dim"),
            )
        table.focus()

    def action_close(self) -> None:
        """Close the screen."""
        self.dismiss(None)

    def _screen_below(self) -> Screen | None:
        stack = self.app.screen_stack
        if self in stack:
            index = stack.index(self)
            return stack[index - 1] if index > 0 else None
        return stack[-1] if stack else None


def collect_bindings(screen: Screen) -> list[BindingEntry]:
    """Every binding of ``screen`` with the app's keymap applied, grouped per action.

    Active bindings (focused widget, its parents, the screen, the app) come first; bindings of
    other widgets on the screen that carry an id follow, marked inactive.

    Args:
        screen: The screen whose bindings to list (not the help screen itself).

    Returns:
        One entry per (place, action), keys joined, in chain order.
    """
    app = screen.app
    grouped: dict[tuple[int, str], tuple[DOMNode, Binding, bool, list[str]]] = {}
    chain_nodes: set[int] = set()

    for key, active in screen.active_bindings.items():
        chain_nodes.add(id(active.node))
        _add(grouped, active.node, active.binding, active.enabled, app.get_key_display(active.binding))
    for node, _bindings in screen._binding_chain:  # noqa: SLF001 - no public view of the chain
        chain_nodes.add(id(node))

    entries = [_entry(node, binding, enabled, keys, screen, True) for node, binding, enabled, keys in grouped.values()]

    keymap = getattr(app, "_keymap", {})  # the keymap set_keymap stored; no public getter
    others: dict[tuple[int, str], tuple[DOMNode, Binding, bool, list[str]]] = {}
    for widget in screen.walk_children(Widget):
        if id(widget) in chain_nodes:
            continue
        bindings = BindingsMap(_own_bindings(widget))
        if keymap:
            bindings.apply_keymap(keymap)
        for key, binding in bindings:
            if binding.id:
                _add(others, widget, binding, True, app.get_key_display(binding))
    entries.extend(_entry(node, b, enabled, keys, screen, False) for node, b, enabled, keys in others.values())
    return entries


def _own_bindings(widget: Widget) -> Iterable[Binding]:
    return (binding for _key, binding in widget._bindings)  # noqa: SLF001 - merged class bindings


def _add(
    grouped: dict[tuple[int, str], tuple[DOMNode, Binding, bool, list[str]]],
    node: DOMNode,
    binding: Binding,
    enabled: bool,
    key: str,
) -> None:
    if not binding.description and not binding.id:
        return  # an internal key with nothing to tell the user
    group_key = (id(node), binding.id or binding.action)
    found = grouped.get(group_key)
    if found is None:
        grouped[group_key] = (node, binding, enabled, [key])
    elif key not in found[3]:
        found[3].append(key)


def _entry(
    node: DOMNode, binding: Binding, enabled: bool, keys: list[str], screen: Screen, active: bool
) -> BindingEntry:
    return BindingEntry(
        keys=tuple(keys),
        description=binding.description or binding.action,
        binding_id=binding.id or "",
        where=_where(node, screen),
        active=active,
        enabled=enabled,
    )


def _where(node: DOMNode, screen: Screen) -> str:
    if node is screen.app:
        return "everywhere"
    if node is screen:
        return "this screen"
    title = getattr(node, "border_title", None) or getattr(node, "HELP_PLACE", None)  # a widget without a border
    return str(title) if title else type(node).__name__


def toggle_keys(app: App) -> None:
    """Open the keys screen, or close it when it is already on top.

    Use it as the app's ``?`` action, so a priority binding for ``?`` never stacks a second
    keys screen on the first.

    Args:
        app: The running app.
    """
    if isinstance(app.screen, HelpScreen):
        app.screen.dismiss(None)
    else:
        app.push_screen(HelpScreen())
