"""Event loops made and closed by hand close their pooled sockets as they close.

``asyncio.run()`` closes a loop's async generators before the loop (which closes its pools);
``loop = asyncio.new_event_loop(); loop.run_until_complete(...); loop.close()`` does not, and
each such loop left its sockets to the garbage collector, a ``ResourceWarning`` each.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
import weakref
from collections.abc import Iterator

import pytest

from runapi_client import AsyncRunAPIClient
from tests.reliability.helpers import KEY, body, echo, open_fds
from tests.support.fake_runapi import FakeRunAPI

LOOPS = 40


@pytest.fixture
def resource_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """The ResourceWarnings raised while the test runs, garbage collection at its end included
    (garbage left by earlier tests is collected before it starts)."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield caught
        gc.collect()
    caught[:] = [w for w in caught if issubclass(w.category, ResourceWarning)]


async def one_stream_and_one_call(client: AsyncRunAPIClient, n: int) -> str:
    # The call last: the fake server closes a stream's connection at its end, a call's is kept.
    async for _chunk in client.stream_chat_completion(body(f"s{n}")):
        pass
    answer = await client.chat_completion(body(f"c{n}"))
    return str(answer.completion["choices"][0]["message"]["content"])


def test_loops_closed_by_hand_close_their_pools(
    server: FakeRunAPI, resource_warnings: list[warnings.WarningMessage]
) -> None:
    baseline = open_fds()
    client = AsyncRunAPIClient(base_url=server.base_url, api_key=KEY)
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    for n in range(LOOPS):
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(one_stream_and_one_call(client, n)) == echo(f"c{n}")
        assert server.open_connections == 1
        loop.close()
        assert "close" not in vars(loop)  # the loop is left as it was made
        assert server.wait_idle(10)  # closed by close(), not by the collector
        loops.append(weakref.ref(loop))
        del loop
    gc.collect()
    assert [ref for ref in loops if ref() is not None] == []  # no loop kept alive
    assert open_fds() == baseline
    assert resource_warnings == []


async def test_a_loop_run_in_a_thread_closed_where_another_loop_runs(
    server: FakeRunAPI, resource_warnings: list[warnings.WarningMessage]
) -> None:
    # A loop run in a worker thread and closed from a coroutine (a notebook cell, an async
    # test): run_until_complete is refused in this thread, so the pools are closed on a
    # thread of their own.
    client = AsyncRunAPIClient(base_url=server.base_url, api_key=KEY)
    loop = asyncio.new_event_loop()
    worker = threading.Thread(
        target=lambda: loop.run_until_complete(one_stream_and_one_call(client, 0))
    )
    worker.start()
    await asyncio.to_thread(worker.join)
    assert server.open_connections == 1
    loop.close()
    assert await asyncio.to_thread(server.wait_idle, 10)


def test_close_keeps_its_meaning(server: FakeRunAPI) -> None:
    client = AsyncRunAPIClient(base_url=server.base_url, api_key=KEY)
    loop = asyncio.new_event_loop()

    async def close_while_running() -> None:
        await client.chat_completion(body())
        with pytest.raises(RuntimeError, match="running"):
            loop.close()

    loop.run_until_complete(close_while_running())
    assert server.open_connections == 1  # refused: nothing was closed
    loop.close()
    assert loop.is_closed() and server.wait_idle(10)
    loop.close()  # twice is fine, as ever


def test_a_pending_task_is_not_run_by_close(server: FakeRunAPI) -> None:
    # Closing the pools runs the loop; with a task of the caller's pending, that would run
    # their code from close(), so the pools are left (to be dropped as before).
    client = AsyncRunAPIClient(base_url=server.base_url, api_key=KEY)
    loop = asyncio.new_event_loop()
    ran: list[bool] = []

    async def later() -> None:
        ran.append(True)

    loop.run_until_complete(client.chat_completion(body()))
    task = loop.create_task(later())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Task was destroyed but it is pending", the sockets
        loop.close()
        del task, loop
        gc.collect()
    assert ran == []


async def test_asyncio_run_still_closes_its_pools(server: FakeRunAPI) -> None:
    client = AsyncRunAPIClient(base_url=server.base_url, api_key=KEY)

    async def call() -> None:
        await client.chat_completion(body())

    await asyncio.to_thread(asyncio.run, call())
    assert await asyncio.to_thread(server.wait_idle, 10)
