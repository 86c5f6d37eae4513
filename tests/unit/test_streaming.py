from __future__ import annotations

import json
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from runapi_client import ChatCompletionChunk, SSEDecoder, StreamAccumulator
from tests.support.wire import WIRE_SAMPLES

SAMPLES = WIRE_SAMPLES


def accumulate(data: bytes, chunk_size: int | None = None) -> StreamAccumulator:
    acc = StreamAccumulator()
    decoder = SSEDecoder()
    pieces = (
        [data]
        if not chunk_size
        else [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    )
    events = [e for piece in pieces for e in decoder.feed(piece)] + decoder.close()
    for event in events:
        if event.data == "[DONE]":
            acc.saw_done = True
            continue
        acc.add(json.loads(event.data))
    return acc


def test_native_stream_usage_on_finish_chunk() -> None:
    acc = accumulate((SAMPLES / "glm-4.6.stream-native.sse").read_bytes())
    completion = acc.completion()
    assert completion["choices"][0]["message"]["content"] == " today?"
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"] == {
        "prompt_tokens": 6074,
        "completion_tokens": 15,
        "total_tokens": 6089,
        "prompt_tokens_details": {"cached_tokens": 43},
    }
    assert completion["id"] == "202510011555579dfc7aaf218c4cad"
    assert completion["model"] == "glm-4.6"
    assert acc.complete


def test_normalised_stream_separate_usage_chunk_and_reasoning() -> None:
    acc = accumulate((SAMPLES / "glm-4.6.stream-normalised.sse").read_bytes())
    message = acc.completion()["choices"][0]["message"]
    assert message["reasoning_content"] == "\n1"
    assert message["content"] == "模型"
    assert acc.usage is not None and acc.usage["completion_tokens"] == 1024
    assert acc.usage["prompt_tokens_details"] == {"cached_tokens": 7}


def test_split_tool_call_deltas_non_ascii() -> None:
    acc = accumulate((SAMPLES / "glm-4.6.stream-tool-deltas.sse").read_bytes())
    [call] = acc.tool_calls()
    assert call["id"] == "call_1"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "北京"}
    assert acc.finish_reason == "tool_calls"


def test_whole_tool_call_in_one_delta_and_parallel_calls() -> None:
    acc = StreamAccumulator()
    acc.add(
        {
            "id": "x",
            "model": "glm-4.6",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_-1",
                                "type": "function",
                                "function": {"name": "a", "arguments": '{"x":1}'},
                            },
                            {
                                "index": 1,
                                "id": "call_-2",
                                "type": "function",
                                "function": {"name": "b", "arguments": "{}"},
                            },
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
        }
    )
    calls = acc.tool_calls()
    assert [c["id"] for c in calls] == ["call_-1", "call_-2"]
    assert [c["function"]["name"] for c in calls] == ["a", "b"]


def test_repeated_id_and_name_are_not_concatenated() -> None:
    acc = StreamAccumulator()
    for args in ('{"q":', '"x"}'):
        acc.add(
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_9",
                                    "type": "function",
                                    "function": {"name": "search", "arguments": args},
                                }
                            ]
                        },
                    }
                ]
            }
        )
    [call] = acc.tool_calls()
    assert call["id"] == "call_9" and call["function"]["name"] == "search"
    assert call["function"]["arguments"] == '{"q":"x"}'


def test_incomplete_without_finish_or_done() -> None:
    acc = StreamAccumulator()
    acc.add({"choices": [{"index": 0, "delta": {"content": "partial"}}]})
    assert not acc.complete
    assert acc.completion()["choices"][0]["message"]["content"] == "partial"


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=64))
def test_same_result_for_any_chunking(size: int) -> None:
    for path in SAMPLES.glob("*.sse"):
        data = path.read_bytes()
        assert accumulate(data, size).completion() == accumulate(data).completion()


def _tool_delta(*calls: dict[str, object]) -> ChatCompletionChunk:
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": list(calls)}}]}
    return cast(ChatCompletionChunk, chunk)


def test_tool_calls_without_index_in_later_deltas() -> None:
    # Whole calls in separate deltas, no index: each is its own call, not call 0's arguments.
    acc = StreamAccumulator()
    acc.add(_tool_delta({"id": "a", "function": {"name": "f", "arguments": '{"x":1}'}}))
    acc.add(_tool_delta({"id": "b", "function": {"name": "g", "arguments": '{"y":2}'}}))
    calls = acc.tool_calls()
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("a", "f", '{"x":1}'),
        ("b", "g", '{"y":2}'),
    ]
    # A continuation without index (nor id) belongs to the call being streamed, here the second.
    acc = StreamAccumulator()
    acc.add(_tool_delta({"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}))
    acc.add(_tool_delta({"index": 1, "id": "b", "function": {"name": "g", "arguments": '{"q":'}}))
    acc.add(_tool_delta({"function": {"arguments": '"x"}'}}))
    acc.add(_tool_delta({"id": "b", "function": {"arguments": ""}}))  # id repeated, no index
    calls = acc.tool_calls()
    assert [c["function"]["arguments"] for c in calls] == ["{}", '{"q":"x"}']
    # Several whole calls in one delta without index or id still get one slot each.
    acc = StreamAccumulator()
    acc.add(
        _tool_delta({"function": {"name": "f", "arguments": "{}"}}, {"function": {"name": "g"}})
    )
    assert [c["function"]["name"] for c in acc.tool_calls()] == ["f", "g"]
