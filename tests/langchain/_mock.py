"""A scripted ``httpx.MockTransport`` for ChatRunAPI unit tests: serves queued wire payloads
(JSON or SSE, mostly straight from tests/wire_samples) and keeps every request body."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import httpx

from langchain_runapi import ChatRunAPI
from tests.support.wire import wire_sample as sample

__all__ = ["ScriptedServer", "sample", "sse"]


def sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    events = [f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks]
    if done:
        events.append("data: [DONE]\n\n")
    return "".join(events).encode()


class ScriptedServer:
    """Answers requests in order from a queue of (status, body bytes, headers)."""

    def __init__(self) -> None:
        self.queue: deque[tuple[int, bytes, dict[str, str]]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.raw_bodies: list[bytes] = []

    def json(self, payload: bytes | dict[str, Any], status: int = 200, **headers: str) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.queue.append((status, body, {"content-type": "application/json", **headers}))

    def stream(self, payload: bytes, **headers: str) -> None:
        self.queue.append((200, payload, {"content-type": "text/event-stream", **headers}))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.raw_bodies.append(request.content)
        self.requests.append(json.loads(request.content))
        if not self.queue:
            return httpx.Response(500, json={"error": "nothing scripted for this request"})
        status, body, headers = self.queue.popleft()
        return httpx.Response(status, content=body, headers=headers)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.handle(request)

    def model(self, **kwargs: Any) -> ChatRunAPI:
        params: dict[str, Any] = {"model": "glm-4.6", "api_key": "test-key", "max_retries": 0}
        params.update(kwargs)
        return ChatRunAPI(
            http_client=httpx.Client(transport=httpx.MockTransport(self.handle)),
            http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle)),
            **params,
        )

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]
