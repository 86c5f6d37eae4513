"""Drive the core clients, sync or async, the same way from a plain test function; and count
open file descriptors."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from runapi_client import AsyncRunAPIClient, ChatResult, RunAPIClient, RunAPIError
from tests.support.fake_runapi import FakeRunAPI

T = TypeVar("T")
KEY = "sk-reliability-secret-0123456789abcdef"
MODES = ("sync", "async")
HANG_GUARD = 60.0  # seconds; only ever reached if something hangs


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def body(text: str = "hello there", /, **extra: Any) -> dict[str, Any]:
    return {"model": "glm-4.6", "messages": [{"role": "user", "content": text}], **extra}


def echo(text: str) -> str:
    return f"\nHello! You said: {text}"


def client_kwargs(server: FakeRunAPI, **kwargs: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "api_key": KEY, **kwargs}


def complete(mode: str, server: FakeRunAPI, request: dict[str, Any], **kwargs: Any) -> ChatResult:
    """One non-streamed call in ``mode``; raises what the client raises."""
    if mode == "sync":
        with RunAPIClient(**client_kwargs(server, **kwargs)) as client:
            return client.chat_completion(request)

    async def run() -> ChatResult:
        async with AsyncRunAPIClient(**client_kwargs(server, **kwargs)) as client:
            return await client.chat_completion(request)

    return asyncio.run(asyncio.wait_for(run(), HANG_GUARD))


@dataclass
class StreamOutcome:
    chunks: list[dict[str, Any]] = field(default_factory=list)
    error: RunAPIError | None = None
    result: ChatResult | None = None

    @property
    def content(self) -> str:
        return "".join(
            c["choices"][0]["delta"].get("content") or "" for c in self.chunks if c.get("choices")
        )


def stream(mode: str, server: FakeRunAPI, request: dict[str, Any], **kwargs: Any) -> StreamOutcome:
    """Consume one stream in ``mode``, keeping every chunk and the error it ends with."""
    outcome = StreamOutcome()
    if mode == "sync":
        with RunAPIClient(**client_kwargs(server, **kwargs)) as client:
            chat_stream = client.stream_chat_completion(request)
            try:
                with chat_stream:
                    for chunk in chat_stream:
                        outcome.chunks.append(dict(chunk))
            except RunAPIError as exc:
                outcome.error = exc
            outcome.result = chat_stream.result
        return outcome

    async def run() -> None:
        async with AsyncRunAPIClient(**client_kwargs(server, **kwargs)) as client:
            chat_stream = client.stream_chat_completion(request)
            try:
                async with chat_stream:
                    async for chunk in chat_stream:
                        outcome.chunks.append(dict(chunk))
            except RunAPIError as exc:
                outcome.error = exc
            outcome.result = chat_stream.result

    asyncio.run(asyncio.wait_for(run(), HANG_GUARD))
    return outcome


def guarded(function: Callable[[], T], seconds: float = HANG_GUARD) -> T:
    """Run a blocking call in a thread and fail (instead of hanging the suite) if it never ends."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(function)
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise AssertionError(f"call still running after {seconds} s: it hangs") from None
    finally:
        pool.shutdown(wait=False)
