"""What ChatRunAPI's streams deliver, in both of GLM's wire shapes: text and reasoning
deltas, metadata, usage and cost on one chunk only, tool calls whole in one delta or split
across deltas (non-ASCII arguments included, malformed ones invalid), ``stream_usage=False``,
the async twins, and ``streaming=True`` making ``invoke`` stream. Over the scripted
``httpx.MockTransport`` in ``_mock``; closing and cutting streams is test_stream_lifecycle.py."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage

from ._mock import ScriptedServer, sample, sse

M = 1_000_000
# glm-4.6 / glm-4.7: $0.30 in, $1.10 out, $0.06 cache read per 1M tokens.
IN, OUT, CACHE = 0.30, 1.10, 0.06


def collect(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


def _only_one(chunks: list[AIMessageChunk], key: str) -> None:
    carriers = [c for c in chunks if key in c.response_metadata]
    assert len(carriers) == 1, f"{key} on {len(carriers)} chunks"


def test_stream_native_shape(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-native.sse"), **{"x-request-id": "req-2"})
    chunks = list(server.model().stream("Hi"))

    assert [c.content for c in chunks] == [" today", "?", ""]
    for key in ("finish_reason", "model_name", "id", "cost", "cost_details", "request_id"):
        _only_one(chunks, key)
    # model_provider rides on every chunk (equal values merge to one; LangChain needs it per
    # chunk to pick the content-block translator)
    assert {c.response_metadata["model_provider"] for c in chunks} == {"runapi"}
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    full = collect(chunks)
    assert full.content == " today?"
    assert full.chunk_position == "last"
    assert full.response_metadata["finish_reason"] == "stop"  # not "stopstop"
    assert full.usage_metadata == {
        "input_tokens": 6074,
        "output_tokens": 15,
        "total_tokens": 6089,
        "input_token_details": {"cache_read": 43},
    }
    assert full.response_metadata["cost"] == pytest.approx(
        ((6074 - 43) * IN + 15 * OUT + 43 * CACHE) / M
    )
    assert server.last["stream"] is True
    assert server.last["stream_options"] == {"include_usage": True}


def test_stream_normalised_shape_with_reasoning(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-normalised.sse"))
    chunks = list(server.model().stream("Hi"))
    full = collect(chunks)

    assert full.content == "模型"
    assert full.additional_kwargs["reasoning_content"] == "\n1"
    assert full.content_blocks[0] == {"type": "reasoning", "reasoning": "\n1"}
    assert full.content_blocks[1]["type"] == "text"
    _only_one(chunks, "finish_reason")
    _only_one(chunks, "cost")
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == 9
    assert full.usage_metadata["output_tokens"] == 1024
    assert full.response_metadata["cost"] == pytest.approx(
        ((9 - 7) * IN + 1024 * OUT + 7 * CACHE) / M
    )


def test_stream_split_tool_call_with_non_ascii_arguments(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-tool-deltas.sse"))
    llm = server.model()
    chunks = list(llm.stream("北京天气?"))

    assert [c.tool_call_chunks[0]["args"] for c in chunks if c.tool_call_chunks] == [
        '{"city"',
        ':"北京"}',
    ]
    full = collect(chunks)
    assert full.tool_calls == [
        {"name": "get_weather", "args": {"city": "北京"}, "id": "call_1", "type": "tool_call"}
    ]
    assert full.response_metadata["finish_reason"] == "tool_calls"

    # Round trip: the call goes back on the next turn with its arguments unescaped.
    server.json(sample("glm-4.6.nonstream.json"))
    llm.invoke(
        [
            HumanMessage("北京天气?"),
            AIMessage(content="", tool_calls=full.tool_calls),
            ToolMessage("晴, 25°C", tool_call_id="call_1"),
        ]
    )
    assistant = server.last["messages"][1]
    assert assistant["content"] is None
    assert assistant["tool_calls"][0]["function"]["arguments"] == '{"city": "北京"}'
    assert "北京".encode() in server.raw_bodies[-1]
    assert server.last["messages"][2] == {
        "role": "tool",
        "content": "晴, 25°C",
        "tool_call_id": "call_1",
    }


def _chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "x1", "model": "glm-4.6", "choices": [{"index": 0, "delta": delta, **extra}]}


def test_stream_whole_tool_call_in_one_delta(server: ScriptedServer) -> None:
    call = {
        "index": 0,
        "id": "call_-42",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Zürich"}'},
    }
    server.stream(
        sse(
            _chunk({"role": "assistant", "tool_calls": [call]}),
            _chunk({"role": "assistant", "content": ""}, finish_reason="tool_calls"),
        )
    )
    full = collect(list(server.model().stream("weather")))
    assert full.tool_calls[0]["args"] == {"city": "Zürich"}
    assert full.tool_calls[0]["id"] == "call_-42"


def test_stream_malformed_tool_arguments_become_invalid(server: ScriptedServer) -> None:
    # (LangChain parses streamed arguments as partial JSON, so only text that is not even a
    # JSON prefix is invalid there, as with ChatOpenAI; invoke parses strictly.)
    call = {"index": 0, "id": "c", "function": {"name": "f", "arguments": "city=Paris"}}
    server.stream(sse(_chunk({"tool_calls": [call]}), _chunk({}, finish_reason="tool_calls")))
    full = collect(list(server.model().stream("x")))
    assert full.tool_calls == []
    assert full.invalid_tool_calls[0]["args"] == "city=Paris"
    assert full.invalid_tool_calls[0]["name"] == "f"


def test_stream_usage_false_omits_usage_metadata(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-native.sse"))
    full = collect(list(server.model(stream_usage=False).stream("Hi")))
    assert full.usage_metadata is None
    assert "cost" in full.response_metadata  # the cost is still known (and tracked)


async def test_ainvoke_and_astream(server: ScriptedServer) -> None:
    llm = server.model()
    server.json(sample("glm-4.6.nonstream.json"))
    msg = await llm.ainvoke("Hello")
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["total_tokens"] == 267

    server.stream(sample("glm-4.6.stream-normalised.sse"))
    chunks = [c async for c in llm.astream("Hi")]
    full = collect(chunks)
    assert full.content == "模型"
    _only_one(chunks, "cost")


def test_streaming_true_invoke_uses_the_stream(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-native.sse"))
    msg = server.model(streaming=True).invoke("Hi")
    assert msg.content == " today?"
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.usage_metadata is not None
    assert server.last["stream"] is True
