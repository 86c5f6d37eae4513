"""The shared pools' fast paths: sharded async transport and the direct send (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest

from runapi_client import AsyncRunAPIClient, RunAPIClient, _pool
from runapi_client._machine import Call, StreamCall
from runapi_client.policy import prepare_request


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


class _Body(httpx.AsyncByteStream):
    """A body that stays open until read or closed, like one from the network."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"data"


def _sharded(shards: int = 4) -> tuple[_pool._ShardedAsyncTransport, list[list[str]]]:
    """A sharded transport whose shards are mock transports recording what they were sent."""
    transport = _pool._ShardedAsyncTransport(httpx.Limits(max_connections=40), shards=shards)
    seen: list[list[str]] = [[] for _ in range(shards)]

    def recorder(n: int) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            seen[n].append(str(request.url))
            return httpx.Response(200, stream=_Body())

        return httpx.MockTransport(handler)

    shards_of_mocks = [recorder(n) for n in range(shards)]
    transport._shards = cast("list[httpx.AsyncHTTPTransport]", shards_of_mocks)
    return transport, seen


async def test_one_call_at_a_time_stays_on_the_first_shard() -> None:
    transport, seen = _sharded()
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(5):
            (await client.get("http://x/a")).raise_for_status()
    assert [len(s) for s in seen] == [5, 0, 0, 0]
    assert transport._busy == [0, 0, 0, 0]


async def test_a_response_read_in_full_already_is_not_counted_busy() -> None:
    transport, _ = _sharded(2)
    transport._shards = cast("list[httpx.AsyncHTTPTransport]", [httpx.MockTransport(_ok)] * 2)
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("http://x/")).json() == {"ok": True}
    assert transport._busy == [0, 0]


async def test_open_responses_spread_over_shards_and_release_on_close() -> None:
    transport, seen = _sharded()
    async with httpx.AsyncClient(transport=transport) as client:
        requests = [client.build_request("GET", "http://x/s") for _ in range(8)]
        responses = [await client.send(r, stream=True) for r in requests]
        assert [len(s) for s in seen] == [2, 2, 2, 2]
        assert transport._busy == [2, 2, 2, 2]
        for response in responses:
            await response.aread()
            await response.aclose()
        assert transport._busy == [0, 0, 0, 0]


async def test_a_failed_send_does_not_leave_its_shard_busy() -> None:
    transport, _ = _sharded(2)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport._shards = cast("list[httpx.AsyncHTTPTransport]", [httpx.MockTransport(refuse)] * 2)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://x/")
    assert transport._busy == [0, 0]


def test_direct_request_is_what_build_request_would_send() -> None:
    key = ("http://127.0.0.1:9/v1", 12.0)
    client = RunAPIClient(api_key="k", base_url=key[0], timeout=key[1])
    http = client.http
    try:
        assert _pool.direct_transport(http) is not None
        for stream in (False, True):
            call = (
                StreamCall(client, b"{}", prepare_request({"model": "glm-4.6"}))
                if stream
                else Call(client, "POST", "/chat/completions", b"{}")
            )
            direct = client._request(http, call, True)
            headers = {
                **(client._stream_headers if stream else client._headers),
                "Authorization": "Bearer k",
            }
            built = http.build_request(
                "POST", f"{key[0]}/chat/completions", content=b"{}", headers=headers
            )
            assert direct.method == built.method
            assert direct.url == built.url
            assert sorted(direct.headers.multi_items()) == sorted(built.headers.multi_items())
            assert direct.extensions["timeout"] == built.extensions["timeout"]
            assert direct.content == built.content
    finally:
        client.close()


def test_no_direct_path_for_a_callers_client() -> None:
    own = httpx.Client(transport=httpx.MockTransport(_ok))
    assert _pool.direct_transport(own) is None


_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.mark.parametrize(
    ("env", "base_url", "expected"),
    [
        ({}, "https://runapi.ai/v1", None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://runapi.ai/v1", "http://proxy:3128"),
        ({"HTTPS_PROXY": "proxy:3128"}, "https://runapi.ai/v1", "http://proxy:3128"),
        ({"HTTP_PROXY": "http://proxy:3128"}, "https://runapi.ai/v1", None),
        ({"ALL_PROXY": "socks5://proxy:1080"}, "https://runapi.ai/v1", "socks5://proxy:1080"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "runapi.ai"}, "https://runapi.ai/v1", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".runapi.ai"}, "https://eu.runapi.ai", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://runapi.ai/v1", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.ai"}, "https://runapi.ai", "http://p:1"),
        # NO_PROXY alone is not a proxy: the fast path and direct connection stay.
        ({"NO_PROXY": "127.0.0.1,localhost"}, "http://127.0.0.1:9/v1", None),
    ],
)
def test_env_proxy_follows_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], base_url: str, expected: str | None
) -> None:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _pool.env_proxy(base_url) == expected


def test_a_pool_behind_a_proxy_keeps_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The transport itself routes through the proxy, so sending to it directly is still right.
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    key = ("http://127.0.0.1:9/proxied", 7.0)
    try:
        direct = _pool.direct_transport(_pool.sync_http_client(key))
        assert isinstance(direct, httpx.HTTPTransport)
        assert type(direct._pool).__name__ == "HTTPProxy"
    finally:
        _pool.close_sync_http_client(key)


def test_async_pool_has_a_direct_sharded_transport() -> None:
    async def check() -> None:
        client = AsyncRunAPIClient(api_key="k", base_url="http://127.0.0.1:9/v1")
        direct = _pool.direct_transport(client.http)
        assert isinstance(direct, _pool._ShardedAsyncTransport)
        await client.aclose()

    asyncio.run(check())


def test_a_closed_loops_pool_is_closed_and_the_loop_freed() -> None:
    # A pool's open connections hold their loop (socket transports keep a reference to it), so
    # the weak key alone never let go: each asyncio.run() kept its loop and pool alive.
    import gc
    import weakref

    key = ("http://127.0.0.1:9/v1", 60.0)
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    clients: list[httpx.AsyncClient] = []

    async def use_pool() -> None:
        loop = asyncio.get_running_loop()
        loops.append(weakref.ref(loop))
        client = _pool.async_http_client(key)
        vars(client)["_held_loop"] = loop  # as a kept-alive socket does
        clients.append(client)

    for _ in range(3):
        asyncio.run(use_pool())  # shuts down its loop's async generators: the pool closes
    assert all(client.is_closed for client in clients)
    clients.clear()
    gc.collect()
    assert [ref() is None for ref in loops] == [True, True, True]

    # A loop closed without that shutdown: its pool is dropped when a new loop asks for one.
    bare = asyncio.new_event_loop()
    bare.run_until_complete(use_pool())
    bare.close()
    del bare
    asyncio.run(use_pool())
    clients.clear()
    gc.collect()
    assert loops[3]() is None and loops[4]() is None
