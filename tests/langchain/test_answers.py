"""What ChatRunAPI makes of a non-streamed answer: the text, reasoning kept apart from it,
tool calls (arguments as a JSON string or as an object, and malformed ones as invalid tool
calls), usage with cache-read and reasoning tokens, the cost, and the response metadata,
logprobs included (streamed too). Over the scripted ``httpx.MockTransport`` in ``_mock``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from ._mock import ScriptedServer, collect, completion, sample, sse

M = 1_000_000
# glm-4.6 / glm-4.7: $0.30 in, $1.10 out, $0.06 cache read per 1M tokens.
IN, OUT, CACHE = 0.30, 1.10, 0.06


def test_invoke_plain_answer_usage_and_cost(server: ScriptedServer) -> None:
    server.json(sample("glm-4.6.nonstream.json"), 200, **{"x-request-id": "req-1"})
    msg = server.model().invoke("Hello")

    assert isinstance(msg, AIMessage)
    assert isinstance(msg.content, str)
    assert msg.content.startswith("\nHello! I'm here")  # GLM's leading newline is kept
    assert msg.usage_metadata == {
        "input_tokens": 81,
        "output_tokens": 186,
        "total_tokens": 267,
        "input_token_details": {"cache_read": 6},
    }
    meta = msg.response_metadata
    assert meta["model_name"] == "glm-4.6"
    assert meta["finish_reason"] == "stop"
    assert meta["id"] == "20251103162614ab25f9b375f8437a"
    assert meta["model_provider"] == "runapi"
    assert meta["request_id"] == "req-1"
    # prompt_tokens (81) includes the 6 cached ones, billed at the cache-read rate.
    expected = (75 * IN + 186 * OUT + 6 * CACHE) / M
    assert meta["cost"] == pytest.approx(expected)
    assert meta["cost"] == pytest.approx(0.00022746)
    assert meta["cost_details"]["cache_read"] == pytest.approx(6 * CACHE / M)
    assert meta["cost_details"]["input"] == pytest.approx(75 * IN / M)
    assert server.last["model"] == "glm-4.6"
    assert server.last["messages"] == [{"role": "user", "content": "Hello"}]


def test_invoke_reasoning_and_tool_call(server: ScriptedServer) -> None:
    server.json(sample("glm-4.7.tools-reasoning.json"))
    msg = server.model(model="glm-4.7").invoke("Weather in Paris?")

    assert msg.additional_kwargs["reasoning_content"] == "User wants weather."
    assert msg.content == "I'll check the weather."  # the reasoning never leaks into the text
    assert msg.text == "I'll check the weather."
    blocks = msg.content_blocks
    assert blocks[0] == {"type": "reasoning", "reasoning": "User wants weather."}
    assert [b["type"] for b in blocks] == ["reasoning", "text", "tool_call"]
    assert msg.tool_calls == [
        {
            "name": "get_weather",
            "args": {"city": "Paris"},
            "id": "call_-7682507267639338722",
            "type": "tool_call",
        }
    ]
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    # reasoning tokens are inside completion_tokens: 56 of the 78
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["output_tokens"] == 78
    assert msg.usage_metadata["output_token_details"] == {"reasoning": 56}
    assert msg.usage_metadata["input_token_details"] == {"cache_read": 0}
    assert msg.response_metadata["cost"] == pytest.approx((160 * IN + 78 * OUT) / M)


def test_malformed_tool_arguments_become_invalid_tool_calls(server: ScriptedServer) -> None:
    payload = json.loads(sample("glm-4.7.tools-reasoning.json"))
    payload["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"city": "Par'
    server.json(payload)
    msg = server.model(model="glm-4.7").invoke("Weather?")
    assert msg.tool_calls == []
    assert len(msg.invalid_tool_calls) == 1
    bad = msg.invalid_tool_calls[0]
    assert bad["name"] == "get_weather"
    assert bad["args"] == '{"city": "Par'
    assert bad["id"] == "call_-7682507267639338722"


def test_invoke_accepts_tool_arguments_sent_as_an_object(server: ScriptedServer) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
    }
    server.json(completion({"content": "", "tool_calls": [call]}, finish_reason="tool_calls"))
    msg = server.model().invoke("weather in Paris?")
    assert msg.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
    ]
    assert msg.invalid_tool_calls == []


# --------------------------------------------------------------------------------------- logprobs


LOGPROBS = {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}]}


def test_logprobs_in_response_metadata_on_invoke(server: ScriptedServer) -> None:
    server.json(completion({"content": "Hi"}, logprobs=LOGPROBS))
    msg = server.model(model="gpt-4o-mini").invoke("hi", logprobs=True)
    assert server.last["logprobs"] is True
    assert msg.response_metadata["logprobs"] == LOGPROBS


@pytest.mark.filterwarnings("ignore:No price known for model 'gpt-4o-mini'")  # none published
def test_logprobs_in_response_metadata_on_stream(server: ScriptedServer) -> None:
    def token(text: str, logprob: float) -> dict[str, Any]:
        entry = {
            "token": text,
            "logprob": logprob,
            "bytes": list(text.encode()),
            "top_logprobs": [],
        }
        return {
            "id": "c1",
            "model": "gpt-4o-mini",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": text}, "logprobs": {"content": [entry]}}],
        }

    end = {
        "id": "c1",
        "model": "gpt-4o-mini",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    server.stream(sse(token("Hi", -0.1), token("!", -0.5), end))
    full = collect(server.model(model="gpt-4o-mini").stream("hi", logprobs=True))
    assert full.text == "Hi!"
    assert [t["token"] for t in full.response_metadata["logprobs"]["content"]] == ["Hi", "!"]


def test_no_logprobs_key_without_logprobs(server: ScriptedServer) -> None:
    server.json(completion({"content": "Hi"}))
    assert "logprobs" not in server.model().invoke("hi").response_metadata
