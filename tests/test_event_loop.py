"""The loop the product runs on: uvloop by default, asyncio's on request, closed like asyncio.run."""

from __future__ import annotations

import asyncio

from spark_tui.services import event_loop


def test_the_product_runs_on_uvloop_unless_asked_for_asyncio(monkeypatch):
    monkeypatch.delenv(event_loop.ENV, raising=False)
    loop = event_loop.new_event_loop()
    try:
        assert event_loop.loop_name(loop) == "uvloop"
    finally:
        loop.close()
    monkeypatch.setenv(event_loop.ENV, "asyncio")
    loop = event_loop.new_event_loop()
    try:
        assert event_loop.loop_name(loop) == "asyncio"
        assert isinstance(loop, asyncio.SelectorEventLoop)
    finally:
        loop.close()


def test_run_returns_the_result_and_finishes_tasks_threads_and_generators_like_asyncio_run():
    seen: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            seen.append("task cancelled")

    async def gen():
        try:
            yield 1
            yield 2
        finally:
            seen.append("generator closed")

    async def main() -> int:
        asyncio.get_running_loop().create_task(forever())
        agen = gen()
        await agen.__anext__()
        await asyncio.to_thread(seen.append, "thread ran")
        await asyncio.sleep(0)
        return 42

    assert event_loop.run(main()) == 42
    assert sorted(seen) == ["generator closed", "task cancelled", "thread ran"]

