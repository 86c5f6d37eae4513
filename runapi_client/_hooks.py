"""What runs at the start and at the end of each chat or embeddings call, in both shells.

A shell wraps a call in ``with client._around(call) as hooks:`` (``async with`` in the async
one) and hands its result to ``hooks.done(result)``; a stream's hooks read its outcome off the
call when the stream ends, however it ends (the exit runs when its generator returns, raises,
is closed, or is collected). At the start, the first call of a model with ``prices="live"``
waits (briefly, and without blocking an event loop) for the model's price from RunAPI's list;
with OpenTelemetry set up, the call's span starts; at the end the span ends and the metrics are
recorded (``_telemetry``). Most calls need none of this: they get :data:`NO_HOOKS`, which does
nothing, at the cost of a method call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._telemetry import Observation, Telemetry, telemetry

if TYPE_CHECKING:
    from ._client import _Base
    from ._live_prices import LivePrices
    from ._machine import Call

logger = logging.getLogger("runapi_client")

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


class _Hooks(CallHooks):
    """The hooks of a call with live prices or telemetry (or both)."""

    __slots__ = ("body", "call", "client", "live", "observation", "result", "telemetry")

    def __init__(
        self,
        client: _Base,
        call: Call,
        body: Mapping[str, Any],
        live: LivePrices | None,
        telemetry: Telemetry | None,
    ) -> None:
        self.client = client
        self.call = call
        self.body = body
        self.live = live
        self.telemetry = telemetry
        self.observation: Observation | None = None
        self.result: Any = None

    def _model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) and model else None

    def __enter__(self) -> CallHooks:
        model = self._model()
        if self.live is not None and model is not None:
            self.live.wait(model, self.client.config.price_list_ttl)
        self._start()
        return self

    async def __aenter__(self) -> CallHooks:
        model = self._model()
        if self.live is not None and model is not None:
            await self.live.wait_async(model, self.client.config.price_list_ttl)
        self._start()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._end(exc)

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._end(exc)

    def done(self, result: _R) -> _R:
        self.result = result
        return result

    # Telemetry never fails a call: a bug or a broken exporter is logged, not raised.

    def _start(self) -> None:
        if self.telemetry is None:
            return
        try:
            self.observation = self.telemetry.start(self.client, self.call, self.body)
        except Exception as exc:
            logger.debug("RunAPI telemetry could not start a span", exc_info=exc)

    def _end(self, exc: BaseException | None) -> None:
        observation, self.observation = self.observation, None
        if observation is None:
            return
        try:
            observation.end(self.result, exc)
        except Exception as error:
            logger.debug("RunAPI telemetry could not end a span", exc_info=error)


def call_hooks(client: _Base, call: Call, body: Mapping[str, Any] | None = None) -> CallHooks:
    """The hooks of ``call`` (``body``: the request body, when the call has no prepared
    request: embeddings)."""
    live = client._live
    observer = telemetry()
    if live is None and observer is None:
        return NO_HOOKS
    if body is None:
        body = call.prepared.body if call.prepared is not None else {}
    return _Hooks(client, call, body, live, observer)
