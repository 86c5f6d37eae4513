"""Shared connection pools: one ``httpx.Client`` per configuration, one ``httpx.AsyncClient``
per configuration and event loop.

An ``AsyncClient`` holds sockets bound to the loop that opened them; reusing it from another
loop fails ("Event loop is closed"), which is what breaks a script that calls ``asyncio.run``
twice or a notebook cell re-run. So async pools are keyed by loop and closed on their loop when
the loop closes: by ``asyncio.run()`` as it shuts the loop down, or by ``loop.close()`` on a
loop made by hand. The pools of a loop whose close could not be hooked are dropped when a new
loop asks for one (the weak key alone never frees them: their connections reference the loop).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Hashable
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import httpx

from .errors import ConfigurationError

__all__ = [
    "async_http_client",
    "close_async_http_client",
    "close_sync_http_client",
    "direct_transport",
    "join",
    "sync_http_client",
]

PoolKey = tuple[str, Any]
"""(base URL, timeout): what a pool is shared by (``ClientConfig.pool_key``)."""

# Like the OpenAI SDK: many agents run 100+ calls at once; httpx's default of 100 would queue.
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=30.0)

_lock = threading.Lock()
_sync: dict[Hashable, httpx.Client] = {}
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
_direct: weakref.WeakKeyDictionary[
    httpx.Client | httpx.AsyncClient, httpx.BaseTransport | httpx.AsyncBaseTransport
] = weakref.WeakKeyDictionary()
_users: weakref.WeakKeyDictionary[httpx.Client | httpx.AsyncClient, weakref.WeakSet[object]] = (
    weakref.WeakKeyDictionary()
)
"""Per shared pool, the clients that sent through it and are not closed (nor collected)."""


def join(pool: httpx.Client | httpx.AsyncClient, user: object) -> None:
    """``user`` (a core client) sends through the shared ``pool``: closing another client
    must not close the pool under it (see ``close_sync_http_client``)."""
    with _lock:
        users = _users.get(pool)
        if users is None:
            users = _users[pool] = weakref.WeakSet()
        users.add(user)


def _leave(pool: httpx.Client | httpx.AsyncClient, user: object | None) -> bool:
    """``user`` is done with ``pool``; True if nobody else still uses it (it may be closed)."""
    users = _users.get(pool)
    if user is None or users is None:
        return True
    users.discard(user)
    return not users


def direct_transport(
    client: httpx.Client | httpx.AsyncClient,
) -> httpx.BaseTransport | httpx.AsyncBaseTransport | None:
    """A pooled client's own transport, to send through directly: ``Client.send``'s auth and
    redirect flows, cookie jar and hooks are work on every call, and a pool uses none of them
    (docs/performance.md has the figures). None for a client the caller gave us.
    """
    return _direct.get(client)


def env_proxy(base_url: str) -> str | None:
    """The proxy the environment sets for ``base_url``, or None.

    httpx reads ``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY`` only for a client it builds its own
    transport for; ours get a transport passed in, so without this they would ignore a proxy the
    user set and fail to connect (the OpenAI SDK, on a default ``httpx.Client``, honours it).
    Read with the standard library's rules (also the system settings on macOS and Windows),
    once, when a pool is created, as an ``httpx.Client`` reads them once when it is built.
    """
    proxies = getproxies()
    url = httpx.URL(base_url)
    scheme = url.scheme if proxies.get(url.scheme) else "all"
    proxy = proxies.get(scheme)
    # With its port, so a NO_PROXY entry written host:port matches as in httpx and requests
    # (urllib compares an entry to the host with and without the port; given the host alone,
    # a host:port entry never matches). An explicit port only: a default port is not in the
    # URL, and httpx does not match "host:443" against https://host either.
    host = f"{url.host}:{url.port}" if url.port is not None else url.host
    if not proxy or proxy_bypass(host):
        return None
    proxy = proxy if "://" in proxy else f"http://{proxy}"
    try:  # as the transport will parse it, so a bad variable is named now, not found later
        httpx.Proxy(proxy)
    except (httpx.InvalidURL, ValueError) as exc:  # a bad port or host; an unknown scheme
        raise ConfigurationError(
            f"The {_proxy_variable(scheme)} environment variable is not a usable proxy URL "
            f"({_without_password(str(exc), proxy)}). Set it to a URL such as "
            "http://proxy.example.com:3128, or unset it."
        ) from None
    return proxy


def _proxy_variable(scheme: str) -> str:
    """The name the proxy was read from, as set (urllib prefers the lowercase one)."""
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY"):
        if os.environ.get(name):
            return name
    return f"system proxy setting for {scheme}"  # macOS and Windows settings


def _without_password(text: str, proxy: str) -> str:
    try:
        password = urlsplit(proxy).password
    except ValueError:
        password = None
    return text.replace(password, "****") if password else text


def _timeout(seconds: Any) -> httpx.Timeout:
    return httpx.Timeout(seconds)


ASYNC_SHARDS = 8
"""httpcore's pool rescans every connection (and, per idle one, all of them again) on each
request and each release: O(n^2) in open connections, which dominated a call at 64 in flight
(docs/performance.md). Eight smaller pools, each request sent to the least busy, keep n per
pool small."""


class _ReleaseOnClose(httpx.AsyncByteStream):
    """A response body that marks its shard one request less busy when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, busy: list[int], shard: int) -> None:
        self._stream = stream
        self._busy = busy
        self._shard = shard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if self._shard >= 0:
            self._busy[self._shard] -= 1
            self._shard = -1
        await self._stream.aclose()


class _ShardedAsyncTransport(httpx.AsyncBaseTransport):
    """Several ``AsyncHTTPTransport`` pools behind one transport; one call uses shard 0 only."""

    def __init__(
        self, limits: httpx.Limits, shards: int = ASYNC_SHARDS, proxy: str | None = None
    ) -> None:
        def share(n: int | None) -> int | None:
            return None if n is None else max(1, -(-n // shards))

        per_shard = httpx.Limits(
            max_connections=share(limits.max_connections),
            max_keepalive_connections=share(limits.max_keepalive_connections),
            keepalive_expiry=limits.keepalive_expiry,
        )
        ssl_context = httpx.create_ssl_context()  # load the CA bundle once, not once per shard
        self._shards = [
            httpx.AsyncHTTPTransport(verify=ssl_context, limits=per_shard, proxy=proxy)
            for _ in range(shards)
        ]
        self._busy = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        busy = self._busy
        shard = busy.index(min(busy))
        busy[shard] += 1
        try:
            response = await self._shards[shard].handle_async_request(request)
        except BaseException:
            busy[shard] -= 1
            raise
        if response.is_closed:  # read in full already (a mock transport does that)
            busy[shard] -= 1
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleaseOnClose(response.stream, busy, shard)
        return response

    async def aclose(self) -> None:
        for transport in self._shards:
            await transport.aclose()


def sync_http_client(key: PoolKey) -> httpx.Client:
    client = _sync.get(key)
    if client is None or client.is_closed:
        with _lock:
            client = _sync.get(key)
            if client is None or client.is_closed:
                transport = httpx.HTTPTransport(limits=LIMITS, proxy=env_proxy(key[0]))
                client = _sync[key] = httpx.Client(timeout=_timeout(key[1]), transport=transport)
                _direct[client] = transport
    return client


@atexit.register
def _close_sync_pools() -> None:
    # Kept-alive sockets would otherwise be dropped unclosed at exit (a ResourceWarning each).
    with _lock:
        clients = list(_sync.values())
        _sync.clear()
    for client in clients:
        client.close()


_inherited: list[object] = []
"""Pools a forked child got from its parent, kept referenced and never used or closed."""


def _forget_pools_after_fork() -> None:
    """In a forked child (gunicorn --preload, Celery prefork, multiprocessing's fork): start
    with no pools.

    A child shares its parent's kept-alive sockets; both writing requests on one connection
    and reading each other's answers gave workers the wrong replies and embedding vectors.
    The inherited pools are set aside, not closed: closing would shut the parent's TLS
    sessions down too (a close_notify on the shared socket), and collecting them could do the
    same. The lock is new, as the parent's may have been held by another thread at the fork.
    """
    global _lock
    _lock = threading.Lock()
    _inherited.append((dict(_sync), dict(_async), dict(_watchers)))
    _sync.clear()
    _async.clear()
    _watchers.clear()
    _direct.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_forget_pools_after_fork)


def close_sync_http_client(key: PoolKey, user: object | None = None) -> None:
    """Close the shared pool for ``key``, unless clients other than ``user`` still use it
    (their calls in flight, streams open, would be cut): it is then theirs to close, or the
    process's at exit. ``user`` None: close it whoever uses it."""
    with _lock:
        client = _sync.get(key)
        if client is None or not _leave(client, user):
            return
        del _sync[key]
    client.close()


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = (
    weakref.WeakKeyDictionary()
)


def _close_with_the_loop(pools: dict[Hashable, httpx.AsyncClient]) -> AsyncGenerator[None, None]:
    """An async generator parked at its ``yield`` for the loop's life. ``asyncio.run()`` (and
    ``asyncio.Runner``, notebooks' kernels) close a loop's async generators before closing the
    loop, so its ``finally`` closes that loop's pools on the loop, sockets and all."""

    async def watch() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            # Forget the loop first: this generator holds the loop's finalizer hook, so an entry
            # left behind would keep the loop alive.
            loop = asyncio.get_running_loop()
            with _lock:
                _async.pop(loop, None)
                _watchers.pop(loop, None)
            clients = list(pools.values())
            pools.clear()
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.aclose()

    watcher = watch()
    # asend() registers it with the running loop's async generator hooks; stepping the
    # returned awaitable once runs it to its yield without awaiting anything.
    with contextlib.suppress(StopIteration):
        watcher.asend(None).send(None)
    return watcher


def _close_pools_with(loop: asyncio.AbstractEventLoop) -> None:
    """Have ``loop.close()`` close the loop's pools first, on the loop, as ``asyncio.run()``
    does through the watcher.

    A loop made by hand (``new_event_loop()``, ``run_until_complete``, ``close()``) never runs
    ``shutdown_asyncgens``, so the watcher's ``finally`` never ran: the sockets stayed open
    until collected, a ``ResourceWarning`` each. Wrapping ``close`` on the loop instance is
    the one way to act while the loop can still run the pools' ``aclose()``: a weak finalizer
    on the loop fires only once it is collected (never, while the pools' connections reference
    it) and the async generator hooks only when a generator is, both too late to close a
    socket but by reaching into the transports' internals; patching ``BaseEventLoop.close``
    would change every loop in the process, and miss uvloop's. The wrapper holds the loop
    weakly (no cycle keeps it alive) and removes itself when it runs.
    """
    attributes = getattr(loop, "__dict__", None)
    if attributes is None or "close" in attributes:  # no room, or wrapped already: leave it
        return
    loop_ref = weakref.ref(loop)

    def close() -> None:
        loop = loop_ref()
        if loop is None:  # pragma: no cover - a collected loop has no attribute to call
            return
        if loop.is_running() or loop.is_closed():
            type(loop).close(loop)  # raises for a running loop, as ever; keeps the wrapper
            return
        vars(loop).pop("close", None)
        watcher = _watchers.get(loop)
        if watcher is not None and _nothing_of_the_callers_pending(loop):
            with contextlib.suppress(Exception):  # the loop closes whatever happens here
                _run_to_end(loop, watcher.aclose())
        loop.close()

    loop.close = close  # type: ignore[method-assign]


def _nothing_of_the_callers_pending(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether running ``loop`` once more runs none of the caller's code. Closing the pools runs
    the loop, and with it every task ready on it: a task of the caller's left pending would
    run from ``close()``, so its pools are then left to be dropped as before. The tasks the
    loop made itself to finalize an async generator left mid-way (an ``async for`` ended
    early, as a stream's read loop is at ``[DONE]``) are clean-up that ``asyncio.run`` runs
    too."""
    return all(
        type(task.get_coro()).__name__ == "async_generator_athrow"
        for task in asyncio.all_tasks(loop)
    )


def _run_to_end(loop: asyncio.AbstractEventLoop, step: Awaitable[None]) -> None:
    """Run ``step`` on ``loop``, which is not running. From a thread where another loop runs
    (a loop run in a worker thread, closed from a notebook cell) ``run_until_complete`` is
    refused, so the loop runs it in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop.run_until_complete(step)
        return
    runner = threading.Thread(target=loop.run_until_complete, args=(step,), daemon=True)
    runner.start()
    runner.join()


def async_http_client(key: PoolKey) -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    per_loop = _async.get(loop)
    if per_loop is None:
        with _lock:
            # A pool's kept-alive connections reference their loop, so the weak key alone never
            # frees a closed loop (one leaked loop and pool per asyncio.run()); a new loop is the
            # moment to drop them. Their sockets cannot be closed on a closed loop anyway.
            for old in [old for old in list(_async.keys()) if old.is_closed()]:
                _async.pop(old, None)
                _watchers.pop(old, None)
            per_loop = _async.get(loop)
            if per_loop is None:
                per_loop = _async[loop] = {}
                _watchers[loop] = _close_with_the_loop(per_loop)
                _close_pools_with(loop)
    client = per_loop.get(key)
    if client is None or client.is_closed:
        sharded = _ShardedAsyncTransport(LIMITS, proxy=env_proxy(key[0]))
        client = per_loop[key] = httpx.AsyncClient(timeout=_timeout(key[1]), transport=sharded)
        _direct[client] = sharded
    return client


async def close_async_http_client(key: PoolKey, user: object | None = None) -> None:
    """Close this loop's shared pool for ``key``, on the terms of ``close_sync_http_client``."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # pragma: no cover - called outside a loop
        return
    per_loop = _async.get(loop) or {}
    with _lock:
        client = per_loop.get(key)
        if client is None or not _leave(client, user):
            return
        del per_loop[key]
    await client.aclose()
