"""What runs at the start and at the end of each chat or embeddings call, in both shells.

A shell wraps a call in ``with client._around(call) as hooks:`` (``async with`` in the async
one) and hands its result to ``hooks.done(result)``; a stream's hooks read its outcome off the
call when the stream ends, however it ends. At the start, the first call of a model with
``prices="live"`` waits (briefly, and without blocking an event loop) for the model's price
from RunAPI's list. Most clients need none of this: they get :data:`NO_HOOKS`, which does
nothing, at the cost of a method call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ._client import _Base
    from ._live_prices import LivePrices
    from ._machine import Call

__all__ = ["NO_HOOKS", "CallHooks", "call_hooks"]

_R = TypeVar("_R")


class CallHooks:
    """The hooks of a call that needs none."""

    __slots__ = ()

    def __enter__(self) -> CallHooks:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        return None

    async def __aenter__(self) -> CallHooks:
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        return None

    def done(self, result: _R) -> _R:
        """The call's result, passed through (and noted, by hooks that need it)."""
        return result


NO_HOOKS = CallHooks()


class _LivePriceHooks(CallHooks):
    """The first call of a model waits for its live price."""

    __slots__ = ("live", "model", "ttl")

    def __init__(self, live: LivePrices, model: str, ttl: float) -> None:
        self.live = live
        self.model = model
        self.ttl = ttl

    def __enter__(self) -> CallHooks:
        self.live.wait(self.model, self.ttl)
        return self

    async def __aenter__(self) -> CallHooks:
        await self.live.wait_async(self.model, self.ttl)
        return self


def call_hooks(client: _Base, call: Call, body: Mapping[str, Any] | None = None) -> CallHooks:
    """The hooks of ``call`` (``body``: the request body, when the call has no prepared
    request: embeddings)."""
    live = client._live
    if live is None:
        return NO_HOOKS
    if body is None:
        body = call.prepared.body if call.prepared is not None else {}
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return NO_HOOKS
    return _LivePriceHooks(live, model, client.config.price_list_ttl)
