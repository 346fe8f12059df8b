"""The event loop spark-tui runs on: uvloop where it is installed, asyncio's own otherwise.

Every forwarded byte and every SSH packet is handled on this loop, next to the dashboard's own
work, so its cost per wake-up counts: ``benchmarks/bench_tunnels.py`` measured a tunnel's
1-byte round trip about 20% shorter on uvloop than on asyncio's selector loop. Set
``SPARK_TUI_EVENT_LOOP=asyncio`` to use the standard loop (to rule the loop out when
something misbehaves).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "SPARK_TUI_EVENT_LOOP"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop: uvloop's unless it is missing or ``SPARK_TUI_EVENT_LOOP=asyncio``."""
    if os.environ.get(ENV, "").strip().lower() != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``"uvloop"`` or ``"asyncio"``: which implementation ``loop`` is."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def close(loop: asyncio.AbstractEventLoop) -> None:
    """Finish a loop made by :func:`new_event_loop` the way ``asyncio.run`` does, then close it."""
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop of :func:`new_event_loop`."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        close(loop)


async def cancel_and_wait(task: asyncio.Task | None) -> None:
    """Cancel ``task`` (if any) and wait until it has ended; its cancellation is not an error."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
