"""A stream request answered with a whole completion (a server that ignores ``stream: true``)
still gives the caller the answer, its usage and cost, through every stream API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from runapi_client import AsyncRunAPIClient, RunAPIClient
from runapi_client._streaming import completion_as_chunk
from tests.support.wire import wire_sample

PLAIN = json.loads(wire_sample("glm-4.6.nonstream.json"))
TOOLS = json.loads(wire_sample("glm-4.7.tools-reasoning.json"))
BODY: dict[str, Any] = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}


def _answering(completion: dict[str, Any]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True
        return httpx.Response(200, json=completion)

    return httpx.MockTransport(handler)


def test_the_whole_answer_comes_as_one_chunk_and_a_complete_result() -> None:
    client = RunAPIClient(api_key="k", transport=_answering(PLAIN))
    with client.stream_chat_completion(BODY) as stream:
        chunks = list(stream)
    assert len(chunks) == 1
    assert stream.result is not None
    message = stream.result.completion["choices"][0]["message"]
    assert message["content"] == PLAIN["choices"][0]["message"]["content"]
    assert stream.result.completion["usage"] == PLAIN["usage"]
    assert stream.result.cost is not None and stream.result.cost.total > 0


def test_tool_calls_and_reasoning_survive_async() -> None:
    async def run() -> dict[str, Any]:
        client = AsyncRunAPIClient(api_key="k", transport=_answering(TOOLS))
        async with client.stream_chat_completion({**BODY, "model": "glm-4.7"}) as stream:
            async for _ in stream:
                pass
        assert stream.result is not None
        return dict(stream.result.completion["choices"][0]["message"])

    message = asyncio.run(run())
    expected = TOOLS["choices"][0]["message"]
    assert message["reasoning_content"] == expected["reasoning_content"]
    assert [c["function"]["name"] for c in message["tool_calls"]] == [
        c["function"]["name"] for c in expected["tool_calls"]
    ]
    assert [c["function"]["arguments"] for c in message["tool_calls"]] == [
        c["function"]["arguments"] for c in expected["tool_calls"]
    ]


def test_the_adapters_stream_it() -> None:
    from llama_index.core.llms import ChatMessage

    from langchain_runapi import ChatRunAPI
    from llama_index_runapi import RunAPILLM

    llm = ChatRunAPI(
        model="glm-4.6", api_key="k", http_client=httpx.Client(transport=_answering(PLAIN))
    )
    merged = None
    for chunk in llm.stream("hi"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None and merged.content == PLAIN["choices"][0]["message"]["content"]
    assert merged.usage_metadata is not None

    li = RunAPILLM(
        model="glm-4.6", api_key="k", http_client=httpx.Client(transport=_answering(PLAIN))
    )
    responses = list(li.stream_chat([ChatMessage(role="user", content="hi")]))
    last = responses[-1]
    assert last.message.content == PLAIN["choices"][0]["message"]["content"]


def test_completion_as_chunk_gives_tool_calls_an_index() -> None:
    chunk = completion_as_chunk(
        {
            "id": "x",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "tool_calls": [{"id": "a"}, {"id": "b"}]},
                    "finish_reason": "tool_calls",
                }
            ],
        }
    )
    assert [c["index"] for c in chunk["choices"][0]["delta"]["tool_calls"]] == [0, 1]
    assert chunk["object"] == "chat.completion.chunk" and "usage" not in chunk
