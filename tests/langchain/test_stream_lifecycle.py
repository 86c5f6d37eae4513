"""Streams as LangChain users hold them: merged chunks equal invoke, metadata on one chunk in
both wire shapes, a connection closed on break and on cancel, a cut-short stream surfacing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk

import langchain_runapi
from langchain_runapi import ChatRunAPI, IncompleteStreamError

from ._mock import ScriptedServer, sample, sse

ANSWER = json.loads(sample("glm-4.7.tools-reasoning.json"))


def _stream_of(answer: dict[str, Any], shape: str) -> bytes:
    """``answer`` (a non-streamed completion) as the SSE stream of the given wire shape."""
    head = {"id": answer["id"], "model": answer["model"]}
    message = answer["choices"][0]["message"]
    deltas = [
        {"reasoning_content": message["reasoning_content"]},
        {"content": message["content"]},
        *({"tool_calls": [call]} for call in message["tool_calls"]),
    ]
    chunks = [{**head, "choices": [{"index": 0, "delta": d}]} for d in deltas]
    finish = {"index": 0, "delta": {}, "finish_reason": answer["choices"][0]["finish_reason"]}
    if shape == "native":  # usage rides on the finish chunk
        chunks.append({**head, "choices": [finish], "usage": answer["usage"]})
    else:  # normalised: a separate usage chunk with no choices
        chunks.append({**head, "object": "chat.completion.chunk", "choices": [finish]})
        chunks.append({**head, "choices": [], "usage": answer["usage"]})
    return sse(*chunks)


def _merge(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


@pytest.mark.parametrize("shape", ["native", "normalised"])
@pytest.mark.parametrize("stream_usage", [True, False])
def test_merged_stream_equals_invoke(shape: str, stream_usage: bool) -> None:
    server = ScriptedServer()
    server.json(ANSWER)
    server.stream(_stream_of(ANSWER, shape))
    llm = server.model(model="glm-4.7", stream_usage=stream_usage)
    invoked = llm.invoke("Weather in Paris?")
    chunks = list(llm.stream("Weather in Paris?"))

    for key in ("finish_reason", "model_name", "id", "cost", "cost_details"):
        assert sum(key in c.response_metadata for c in chunks) == 1, key
    assert sum(c.usage_metadata is not None for c in chunks) == int(stream_usage)
    streamed = _merge(chunks)
    assert streamed.content == invoked.content
    assert streamed.additional_kwargs == invoked.additional_kwargs  # the reasoning
    assert streamed.tool_calls == invoked.tool_calls
    assert streamed.usage_metadata == (invoked.usage_metadata if stream_usage else None)
    for key in ("cost", "cost_details", "finish_reason", "model_name", "id"):
        assert streamed.response_metadata[key] == invoked.response_metadata[key]
    assert [b["type"] for b in streamed.content_blocks] == [
        b["type"] for b in invoked.content_blocks
    ]


class _Endless:
    """A response body that would stream forever; records when httpx closes it."""

    def __init__(self) -> None:
        self.closed = False

    def _event(self, i: int) -> bytes:
        delta = {"content": f"{i} "}
        chunk = {"id": "e", "model": "glm-4.6", "choices": [{"index": 0, "delta": delta}]}
        return f"data: {json.dumps(chunk)}\n\n".encode()


class _SyncEndless(_Endless, httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        i = 0
        while True:
            i += 1
            yield self._event(i)

    def close(self) -> None:
        self.closed = True


class _AsyncEndless(_Endless, httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        i = 0
        while True:
            i += 1
            await asyncio.sleep(0)
            yield self._event(i)

    async def aclose(self) -> None:
        self.closed = True


def _endless_model(body: _Endless) -> ChatRunAPI:
    assert isinstance(body, (httpx.SyncByteStream, httpx.AsyncByteStream))  # one of the two
    stream = body

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=stream, headers={"content-type": "text/event-stream"})

    async def arespond(request: httpx.Request) -> httpx.Response:
        return respond(request)

    return ChatRunAPI(
        api_key="k",
        http_client=httpx.Client(transport=httpx.MockTransport(respond)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(arespond)),
    )


def test_breaking_out_of_stream_closes_the_response() -> None:
    body = _SyncEndless()
    for i, _ in enumerate(_endless_model(body).stream("count")):
        if i == 3:
            break
    assert body.closed


async def test_cancelling_astream_closes_the_response() -> None:
    body = _AsyncEndless()
    received = asyncio.Event()

    async def consume() -> None:
        async for _ in _endless_model(body).astream("count"):
            received.set()

    task = asyncio.create_task(consume())
    await received.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert body.closed


async def test_astream_cut_short_raises_after_every_delta() -> None:
    server = ScriptedServer()
    head = {"id": "a", "model": "glm-4.6"}
    server.stream(
        sse(
            {**head, "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
            {**head, "choices": [{"index": 0, "delta": {"content": "lo"}}]},
            done=False,
        )
    )
    received: list[str] = []
    with pytest.raises(IncompleteStreamError) as info:
        async for chunk in server.model().astream("x"):
            received.append(chunk.text)
    assert received == ["Hel", "lo"]
    assert info.value.partial is not None
    assert info.value.partial["choices"][0]["message"]["content"] == "Hello"


# ----------------------------------------------------------------------------- a stream cut short


def _chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "x1", "model": "glm-4.6", "choices": [{"index": 0, "delta": delta, **extra}]}


def test_stream_cut_short_raises_after_delivering_chunks(server: ScriptedServer) -> None:
    server.stream(sse(_chunk({"content": "Hello"}), done=False))
    received: list[AIMessageChunk] = []
    with pytest.raises(langchain_runapi.IncompleteStreamError) as info:
        for chunk in server.model().stream("x"):
            received.append(chunk)
    assert received[0].content == "Hello"
    assert info.value.partial is not None
