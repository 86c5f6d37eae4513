"""A scripted ``httpx.MockTransport`` for ChatRunAPI unit tests: serves queued wire payloads
(JSON or SSE, mostly straight from tests/wire_samples) and keeps every request body. And the
suite's small helpers: a ChatRunAPI on the emulator, a stream added up, a whole answer."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

import httpx
from langchain_core.messages import AIMessageChunk, BaseMessage

from langchain_runapi import ChatRunAPI
from tests.support.fake_runapi import FakeRunAPI
from tests.support.wire import wire_sample as sample

__all__ = ["ScriptedServer", "collect", "completion", "llm_on", "sample", "sse"]


def llm_on(fake: FakeRunAPI, **kwargs: Any) -> ChatRunAPI:
    """A ChatRunAPI on the emulator ``fake``."""
    return ChatRunAPI(**{"model": "glm-4.6", "api_key": "k", "base_url": fake.base_url, **kwargs})


def collect(chunks: Iterator[BaseMessage]) -> AIMessageChunk:
    """The chunks of a stream added up, as LangChain does."""
    full: AIMessageChunk | None = None
    for chunk in chunks:
        assert isinstance(chunk, AIMessageChunk)
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


def completion(message: dict[str, Any], **choice: Any) -> dict[str, Any]:
    """A whole answer carrying ``message`` (and ``choice`` fields beside it)."""
    return {
        "id": "c1",
        "object": "chat.completion",
        "model": "glm-4.6",
        "created": 1,
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", **message},
                **choice,
            }
        ],
    }


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
