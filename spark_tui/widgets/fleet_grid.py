"""Every connected device's telemetry side by side, one compact card each.

Cards appear with a device's first sample and go when the app says the device is gone; columns
follow the terminal width. No I/O: the app forwards samples and disconnections.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import ItemGrid, VerticalScroll
from textual.widgets import Static

from spark_tui.core.models import TelemetrySample
from spark_tui.widgets.sparkline_history import DEFAULT_HISTORY
from spark_tui.widgets.telemetry_view import TelemetryView

CARD_MIN_WIDTH = 38
"""Narrowest card: room for label, value and a short sparkline."""


class FleetGrid(VerticalScroll):
    """A scrollable grid of :class:`TelemetryView` cards, ordered by device name.

    Args:
        history: Samples each card keeps per metric.
        name: Widget name.
        id: Widget id.
        classes: Extra CSS classes.
    """

    def __init__(
        self,
        *,
        history: int = DEFAULT_HISTORY,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._history = history
        self._cards: dict[str, TelemetryView] = {}

    def compose(self) -> ComposeResult:
        """An empty-state line and the grid the cards go in."""
        yield Static("No connected devices yet: connect one to see its telemetry here.", id="fleet-empty")
        yield ItemGrid(*self._ordered_cards(), min_column_width=CARD_MIN_WIDTH, id="fleet-cards")

    @property
    def devices(self) -> tuple[str, ...]:
        """Names of the devices with a card, in display order."""
        return tuple(sorted(self._cards))

    def card(self, device: str) -> TelemetryView | None:
        """The card of ``device``, or ``None``."""
        return self._cards.get(device)

    def update_sample(self, sample: TelemetrySample) -> None:
        """Show a sample on its device's card, adding the card on the device's first sample.

        Args:
            sample: The reading.
        """
        card = self._cards.get(sample.device)
        if card is None:
            card = TelemetryView(sample.device, compact=True, history=self._history, classes="fleet-card")
            self._cards[sample.device] = card
            card.update_sample(sample)
            if not self.is_mounted:
                return  # compose() or on_mount() places the card
            grid = self.query_one("#fleet-cards", ItemGrid)
            following = [name for name in sorted(self._cards) if name > sample.device]
            if following:
                grid.mount(card, before=self._cards[following[0]])
            else:
                grid.mount(card)
            self._show_empty_state()
            return
        card.update_sample(sample)

    def remove_device(self, name: str) -> bool:
        """Take a device's card away (it disconnected or was deleted).

        Args:
            name: Device name.

        Returns:
            True when a card was removed, False when the device had none.
        """
        card = self._cards.pop(name, None)
        if card is None:
            return False
        if card.parent is not None:
            card.remove()
        if self.is_mounted:
            self._show_empty_state()
        return True

    def on_mount(self) -> None:
        """Place cards that arrived while composing; show the empty-state line if none."""
        grid = self.query_one("#fleet-cards", ItemGrid)
        for card in self._ordered_cards():
            if card.parent is None:
                following = [c for c in grid.children if isinstance(c, TelemetryView) and c.device > card.device]
                grid.mount(card, before=following[0] if following else None)
        self._show_empty_state()

    def _ordered_cards(self) -> list[TelemetryView]:
        return [self._cards[name] for name in sorted(self._cards)]

    def _show_empty_state(self) -> None:
        self.query_one("#fleet-empty", Static).display = not self._cards
