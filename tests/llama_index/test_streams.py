"""Streams end to end: usage on the last response only, a stream cut short, the connection
released when the caller stops early, and the async pool across event loops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler

from llama_index_runapi import IncompleteStreamError, RunAPILLM
from tests.llama_index.helpers import chunk, make_llm, sse_of, sse_response
from tests.llama_index.test_tools import ADD

USER = [ChatMessage(role="user", content="Hi")]
USAGE = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
COST = (100 * 0.30 + 20 * 1.10) / 1e6  # glm-4.6


async def collect(gen: Any) -> list[ChatResponse]:
    return [r async for r in await gen]


def both_modes(llm: RunAPILLM, **kwargs: Any) -> list[list[ChatResponse]]:
    return [list(llm.stream_chat(USER, **kwargs)), asyncio.run(collect(llm.astream_chat(USER)))]


# ------------------------------------------------------------------------ usage and cost


def test_usage_repeated_by_a_gateway_is_on_the_last_response_only() -> None:
    # Usage on the finish chunk and again in a choices: [] chunk: one cost, on the last.
    body = sse_of(
        chunk({"content": "Hi"}),
        chunk({"content": "!"}, "stop", usage=USAGE),
        {"id": "t1", "model": "glm-4.6", "choices": [], "usage": USAGE},
    )
    llm, _ = make_llm(sse_response(body))
    for responses in both_modes(llm):
        assert [r.delta for r in responses] == ["Hi", "!", ""]
        assert [("cost" in r.additional_kwargs) for r in responses] == [False, False, True]
        last = responses[-1]
        assert last.additional_kwargs["cost"] == pytest.approx(COST)
        assert last.additional_kwargs["finish_reason"] == "stop"
        assert last.message.content == "Hi!"


def test_a_chunk_after_the_usage_still_gets_the_usage() -> None:
    # Usage on the finish chunk, then a stray empty chunk: the last response carries the usage,
    # in additional_kwargs and in raw (where TokenCountingHandler reads it).
    body = sse_of(
        chunk({"reasoning_content": "Think."}),
        chunk(
            {"content": "Hi"},
            "stop",
            usage={**USAGE, "completion_tokens_details": {"reasoning_tokens": 5}},
        ),
        chunk({}),
    )
    counter = TokenCountingHandler()
    llm, _ = make_llm(sse_response(body), callback_manager=CallbackManager([counter]))
    responses = list(llm.stream_chat(USER))
    assert len(responses) == 3
    last = responses[-1]
    assert last.additional_kwargs["cost"] == pytest.approx(COST)
    assert last.raw["usage"]["prompt_tokens"] == 100
    assert last.message.blocks[0].num_tokens == 5  # the ThinkingBlock's, once known
    assert counter.prompt_llm_token_count == 100
    assert counter.completion_llm_token_count == 20


def test_a_stream_cut_after_its_usage_yields_everything_then_raises() -> None:
    body = sse_of(
        chunk({"content": "Hi"}),
        {"id": "t1", "model": "glm-4.6", "choices": [], "usage": USAGE},
        done=False,  # neither a finish reason nor [DONE]
    )
    llm, _ = make_llm(sse_response(body))
    seen: list[ChatResponse] = []
    with pytest.raises(IncompleteStreamError) as caught:
        for response in llm.stream_chat(USER):
            seen.append(response)
    assert [r.message.content for r in seen] == ["Hi", "Hi"]
    assert seen[-1].additional_kwargs["cost"] == pytest.approx(COST)  # it was billed
    assert caught.value.partial is not None

    async def run() -> list[ChatResponse]:
        got: list[ChatResponse] = []
        with pytest.raises(IncompleteStreamError):
            async for response in await llm.astream_chat(USER):
                got.append(response)
        return got

    assert len(asyncio.run(run())) == 2


# ------------------------------------------------------------------ releasing the connection


class TrackedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An SSE body served one event at a time, which records whether it was closed; the async
    side stalls after ``stall_after`` events, like a model thinking."""

    def __init__(self, data: bytes, stall_after: int | None = None) -> None:
        self.events = [part + b"\n\n" for part in data.split(b"\n\n") if part]
        self.stall_after = stall_after
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, event in enumerate(self.events):
            if i == self.stall_after:
                await asyncio.sleep(30)
            yield event

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


LONG = sse_of(*(chunk({"content": f"w{i} "}) for i in range(50)), chunk({}, "stop", usage=USAGE))


def tracked_llm(stall_after: int | None = None) -> tuple[RunAPILLM, list[TrackedBody]]:
    bodies: list[TrackedBody] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(TrackedBody(LONG, stall_after))
        return httpx.Response(200, stream=bodies[-1], headers={"content-type": "text/event-stream"})

    return RunAPILLM(
        api_key="k",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    ), bodies


@pytest.mark.parametrize("method", ["stream_chat", "stream_complete", "stream_chat_with_tools"])
def test_breaking_out_of_a_sync_stream_closes_the_response(method: str) -> None:
    llm, bodies = tracked_llm()
    if method == "stream_chat":
        stream: Any = llm.stream_chat(USER)
    elif method == "stream_complete":
        stream = llm.stream_complete("Hi")
    else:
        stream = llm.stream_chat_with_tools([ADD], user_msg="Hi")
    for i, _ in enumerate(stream):
        if i == 2:
            break
    del stream  # what leaving the caller's scope does
    assert bodies[0].closed


@pytest.mark.parametrize("where", ["waiting for the server", "between chunks"])
async def test_cancelling_an_async_stream_closes_the_response(where: str) -> None:
    llm, bodies = tracked_llm(stall_after=3 if where == "waiting for the server" else None)
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in await llm.astream_chat(USER):
            started.set()
            if where == "between chunks":
                await asyncio.sleep(30)

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if where == "between chunks":
        # The generators were suspended at a yield, outside the cancelled await: Python closes
        # them when they are dropped, through the event loop's async-generator finalizer, one
        # per turn of the loop (LlamaIndex's callback wrapper, ours, the core's).
        for _ in range(3):
            await asyncio.sleep(0)
    assert bodies[0].closed


# ------------------------------------------------------------------------------ event loops


def test_asyncio_run_twice_with_the_same_llm() -> None:
    # The shared async pool is per event loop: a second asyncio.run() must not reuse sockets
    # bound to the first, closed loop. Served by the GLM emulator on 127.0.0.1 (no network).
    from tests.support.fake_runapi import FakeRunAPI

    with FakeRunAPI() as server:
        llm = RunAPILLM(api_key="k", base_url=server.base_url)

        async def ask() -> tuple[str, float]:
            reply = await llm.achat(USER)
            streamed = [r async for r in await llm.astream_chat(USER)]
            return reply.message.content or "", streamed[-1].additional_kwargs["cost"]

        first, second = asyncio.run(ask()), asyncio.run(ask())
        assert first == second and "Hi" in first[0]
