"""Shared connection pools: one ``httpx.Client`` per configuration, one ``httpx.AsyncClient``
per configuration and event loop.

An ``AsyncClient`` holds sockets bound to the loop that opened them; reusing it from another
loop fails ("Event loop is closed"), which is what breaks a script that calls ``asyncio.run``
twice or a notebook cell re-run. So async pools are keyed by loop, held weakly: when a loop is
collected its pool goes with it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Hashable

import httpx

__all__ = [
    "async_http_client",
    "close_async_http_client",
    "close_sync_http_client",
    "sync_http_client",
]

# Like the OpenAI SDK: many agents run 100+ calls at once; httpx's default of 100 would queue.
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=30.0)

_lock = threading.Lock()
_sync: dict[Hashable, httpx.Client] = {}
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def _timeout(seconds: float | None) -> httpx.Timeout:
    return httpx.Timeout(seconds)


def sync_http_client(key: tuple[str, float | None]) -> httpx.Client:
    client = _sync.get(key)
    if client is None or client.is_closed:
        with _lock:
            client = _sync.get(key)
            if client is None or client.is_closed:
                client = _sync[key] = httpx.Client(timeout=_timeout(key[1]), limits=LIMITS)
    return client


def close_sync_http_client(key: tuple[str, float | None]) -> None:
    with _lock:
        client = _sync.pop(key, None)
    if client is not None:
        client.close()


def async_http_client(key: tuple[str, float | None]) -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    per_loop = _async.get(loop)
    if per_loop is None:
        with _lock:
            per_loop = _async.setdefault(loop, {})
    client = per_loop.get(key)
    if client is None or client.is_closed:
        client = per_loop[key] = httpx.AsyncClient(timeout=_timeout(key[1]), limits=LIMITS)
    return client


async def close_async_http_client(key: tuple[str, float | None]) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # pragma: no cover - called outside a loop
        return
    per_loop = _async.get(loop)
    client = per_loop.pop(key, None) if per_loop else None
    if client is not None:
        await client.aclose()
