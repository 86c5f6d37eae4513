"""The core client applying the policy to what GLM and RunAPI really send: provider codes over
HTTP status, errors as the first stream event, redirects, mislabelled bodies, model names in
responses, a cost in usage, answers read by the request's rules (one tool call, a forced tool
given as text), usage counted on arrival. Over httpx.MockTransport, sync and async."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import httpx
import pytest

from runapi_client import (
    ContextOverflowError,
    InsufficientCreditsError,
    NotFoundError,
    RedirectError,
    RunAPIClient,
    RunAPIError,
    ServerError,
    UsageLimitError,
    track_usage,
)
from tests.unit.test_client import BODY, async_client, sequence, sse, sync_client

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


# Every test here: waits between attempts recorded, not slept (conftest.py).
pytestmark = pytest.mark.usefixtures("no_sleep")


def glm_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message}}, headers=headers
    )


def completion(message: dict[str, Any], *, model: str = "glm-4.6", **extra: Any) -> dict[str, Any]:
    return {
        "id": "20251103162614ab25f9b375f8437a",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        **extra,
    }


OK = httpx.Response(200, json=completion({"role": "assistant", "content": "hi"}))


def frames(*chunks: dict[str, Any] | str) -> bytes:
    out = b""
    for chunk in chunks:
        data = chunk if isinstance(chunk, str) else json.dumps(chunk)
        out += f"data: {data}\n\n".encode()
    return out


def delta(**fields: Any) -> dict[str, Any]:
    return {"id": "1", "model": "glm-4.6", "choices": [{"index": 0, "delta": fields}]}


FINISH = {
    "id": "1",
    "model": "glm-4.6",
    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
}


# ------------------------------------------------------------------ codes over HTTP status


@pytest.mark.parametrize(
    ("response", "cls", "requests"),
    [
        (glm_error(429, "1113", "Insufficient balance"), InsufficientCreditsError, 1),
        (glm_error(400, "1211", "模型不存在，请检查模型代码。"), NotFoundError, 1),
        (glm_error(400, "1261", "Prompt exceeds max length"), ContextOverflowError, 1),
        (
            glm_error(
                429, "1308", "Usage limit reached. Your limit will reset at 2026-03-15 18:30:00"
            ),
            UsageLimitError,
            1,
        ),
        (glm_error(429, "1305", "The service may be temporarily overloaded"), ServerError, 3),
    ],
    ids=["1113", "1211", "1261", "1308", "1305"],
)
def test_a_provider_code_decides_the_class_and_the_retries(
    response: httpx.Response, cls: type[RunAPIError], requests: int
) -> None:
    handler, seen = sequence(*[response] * 3)
    with pytest.raises(cls) as info:
        sync_client(handler).chat_completion(BODY)
    assert len(seen) == requests
    assert info.value.status_code == response.status_code
    if cls is InsufficientCreditsError:
        assert "Slow down" not in str(info.value) and "Top up" in str(info.value)
    if cls is UsageLimitError:
        assert isinstance(info.value, UsageLimitError) and info.value.resets_at is not None
        assert info.value.resets_at.isoformat() == "2026-03-15T18:30:00+08:00"


# -------------------------------------------------------------- an error as the first event


@pytest.mark.parametrize(
    "first",
    [
        b'event: error\ndata: {"error": {"code": "1305", "message": "overloaded"}}\n\n',
        b'data: {"error": {"code": "1305", "message": "overloaded"}}\n\n',
    ],
    ids=["event-error", "data-frame"],
)
def test_an_error_as_the_first_stream_event_is_retried_like_one_before_it(first: bytes) -> None:
    handler, seen = sequence(sse(first), sse(frames(delta(content="hi"), FINISH, "[DONE]")))
    with sync_client(handler).stream_chat_completion(BODY) as stream:
        chunks = list(stream)
    assert len(seen) == 2
    assert stream.accumulator.content == "hi" and stream.result is not None
    assert len(chunks) == 2


def test_an_error_after_a_delivered_chunk_ends_the_stream_with_its_partial() -> None:
    body = frames(delta(content="half"), '{"error": {"code": "1305", "message": "overloaded"}}')
    handler, seen = sequence(sse(body))
    got: list[Any] = []
    with pytest.raises(ServerError) as info:
        for chunk in sync_client(handler).stream_chat_completion(BODY):
            got.append(chunk)
    assert len(seen) == 1 and len(got) == 1
    assert info.value.partial is not None
    assert info.value.partial["choices"][0]["message"]["content"] == "half"


def test_a_non_retryable_first_event_error_is_raised_at_once() -> None:
    body = b'data: {"error": {"code": "1113", "message": "Insufficient balance"}}\n\n'
    handler, seen = sequence(sse(body), sse(body))
    with pytest.raises(InsufficientCreditsError):
        list(sync_client(handler).stream_chat_completion(BODY))
    assert len(seen) == 1


# -------------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_its_own_error_never_followed_nor_retried(status: int) -> None:
    target = "https://runapi.ai/v1/chat/completions"
    handler, seen = sequence(httpx.Response(status, headers={"location": target}))
    with pytest.raises(RedirectError) as info:
        sync_client(handler).chat_completion(BODY)
    assert len(seen) == 1  # the key went nowhere else
    assert info.value.location == target
    assert target in str(info.value) and "base_url" in str(info.value)
    assert not info.value.retryable


# ------------------------------------------------------------------ bodies and their labels


def test_sse_frames_under_a_json_content_type_are_read_as_a_stream() -> None:
    body = frames(delta(content="hi"), FINISH, "[DONE]")
    handler, seen = sequence(
        httpx.Response(200, headers={"content-type": "application/json"}, content=body)
    )
    with sync_client(handler).stream_chat_completion(BODY) as stream:
        list(stream)
    assert len(seen) == 1 and stream.accumulator.content == "hi"
    assert stream.result is not None and stream.result.cost is not None


def test_a_json_answer_under_an_sse_content_type_is_one_chunk() -> None:
    answer = json.dumps(completion({"role": "assistant", "content": "whole"})).encode()
    handler, _ = sequence(sse(b"\n\n" + answer))  # leading blank lines, as some gateways send
    with sync_client(handler).stream_chat_completion(BODY) as stream:
        chunks = list(stream)
    assert len(chunks) == 1 and stream.accumulator.content == "whole"


# ------------------------------------------------------------------------ names and prices


def test_a_prefixed_dated_snapshot_is_priced_as_its_base_model() -> None:
    response = completion({"role": "assistant", "content": "x"}, model="z-ai/glm-5-turbo-20260315")
    handler, _ = sequence(httpx.Response(200, json=response))
    result = sync_client(handler).chat_completion({**BODY, "model": "glm-5-turbo"})
    assert result.cost is not None and result.cost.source == "built-in"
    assert result.cost.total == pytest.approx((100 * 0.60 + 50 * 2.00) / 1e6)


def test_an_unpriced_response_model_is_priced_as_the_requested_one() -> None:
    response = completion({"role": "assistant", "content": "x"}, model="glm-4.6-experimental")
    handler, _ = sequence(httpx.Response(200, json=response))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "No price known" warning
        result = sync_client(handler).chat_completion(BODY)
    assert result.cost is not None
    assert result.cost.total == pytest.approx((100 * 0.30 + 50 * 1.10) / 1e6)


def test_a_cost_the_server_reports_in_usage_wins() -> None:
    response = completion({"role": "assistant", "content": "x"})
    response["usage"]["cost"] = 0.0123
    handler, _ = sequence(httpx.Response(200, json=response))
    result = sync_client(handler).chat_completion(BODY)
    assert result.cost is not None
    assert (result.cost.total, result.cost.source) == (0.0123, "server")
    assert result.cost.as_dict()["source"] == "server"


# ------------------------------------------------------------ answers read by the request


def two_calls() -> dict[str, Any]:
    calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        for i in (1, 2)
    ]
    return completion({"role": "assistant", "content": None, "tool_calls": calls})


def test_one_tool_call_is_kept_when_parallel_calls_were_refused() -> None:
    request = {**BODY, "tools": [WEATHER], "parallel_tool_calls": False}
    handler, seen = sequence(httpx.Response(200, json=two_calls()))
    result = sync_client(handler).chat_completion(request)
    assert "parallel_tool_calls" not in json.loads(seen[0].content)
    assert [c["id"] for c in result.completion["choices"][0]["message"]["tool_calls"]] == ["c1"]

    stream_body = frames(
        {
            "id": "1",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "function": {"name": "get_weather", "arguments": "{}"},
                            }
                        ]
                    },
                }
            ],
        },
        {
            "id": "1",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 1,
                                "id": "c2",
                                "function": {"name": "get_weather", "arguments": "{}"},
                            }
                        ]
                    },
                }
            ],
        },
        FINISH,
        "[DONE]",
    )
    handler, _ = sequence(sse(stream_body))
    with sync_client(handler).stream_chat_completion(request) as stream:
        deltas = [c["choices"][0]["delta"].get("tool_calls") for c in stream if c["choices"]]
    assert [call["id"] for call in stream.accumulator.tool_calls()] == ["c1"]
    assert deltas[1] == []  # the second call's delta is dropped from what the caller sees


def forced_request() -> dict[str, Any]:
    return {**BODY, "tools": [WEATHER], "tool_choice": "get_weather"}


def test_a_forced_tools_arguments_given_as_text_are_read_as_its_call() -> None:
    text = completion({"role": "assistant", "content": '```json\n{"city": "Oslo"}\n```'})
    handler, seen = sequence(httpx.Response(200, json=text))
    with pytest.warns(UserWarning, match="sent as 'auto'"):
        result = sync_client(handler).chat_completion(forced_request())
    sent = json.loads(seen[0].content)
    assert sent["tool_choice"] == "auto" and sent["messages"][0]["role"] == "system"
    choice = result.completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {
        "city": "Oslo"
    }

    handler, _ = sequence(sse(frames(delta(content='{"city": '), delta(content='"Oslo"}'), FINISH)))
    with (
        pytest.warns(UserWarning),
        sync_client(handler).stream_chat_completion(forced_request()) as stream,
    ):
        chunks = list(stream)
    tool_calls = chunks[-1]["choices"][0]["delta"]["tool_calls"]
    assert tool_calls is not None
    assert tool_calls[0]["function"]["name"] == "get_weather"
    assert stream.result is not None
    assert stream.result.completion["choices"][0]["finish_reason"] == "tool_calls"


def test_a_gateways_reasoning_field_and_a_negative_tool_index_are_normalised() -> None:
    call = {
        "index": -1,
        "id": "c1",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    body = frames(delta(reasoning="think"), delta(tool_calls=[call]), FINISH, "[DONE]")
    handler, _ = sequence(sse(body))
    with sync_client(handler).stream_chat_completion(BODY) as stream:
        chunks = list(stream)
    assert chunks[0]["choices"][0]["delta"] == {"reasoning_content": "think"}
    tool_calls = chunks[1]["choices"][0]["delta"]["tool_calls"]
    assert tool_calls is not None
    assert tool_calls[0]["index"] == 0
    assert stream.accumulator.reasoning_content == "think"

    response = completion({"role": "assistant", "content": "x", "reasoning": "why"})
    handler, _ = sequence(httpx.Response(200, json=response))
    message = sync_client(handler).chat_completion(BODY).completion["choices"][0]["message"]
    assert message["reasoning_content"] == "why" and "reasoning" not in message


# -------------------------------------------------------------------------------- usage


def test_usage_counts_the_moment_it_arrives_even_if_the_caller_stops_reading() -> None:
    body = frames(delta(content="a"), FINISH, delta(content="late"), "[DONE]")
    handler, _ = sequence(sse(body))
    with track_usage() as usage, sync_client(handler).stream_chat_completion(BODY) as stream:
        for chunk in stream:
            if chunk.get("usage"):
                break
    assert usage.requests == 1 and usage.total_tokens == 12
    assert stream.cost is not None and stream.cost.total > 0


async def test_the_async_client_follows_the_same_rules() -> None:
    handler, seen = sequence(glm_error(429, "1113", "Insufficient balance"))
    with pytest.raises(InsufficientCreditsError):
        await async_client(handler).chat_completion(BODY)
    assert len(seen) == 1

    first = b'event: error\ndata: {"error": {"code": "1305", "message": "busy"}}\n\n'
    handler, seen = sequence(sse(first), sse(frames(delta(content="hi"), FINISH, "[DONE]")))
    async with async_client(handler).stream_chat_completion(BODY) as stream:
        chunks = [chunk async for chunk in stream]
    assert len(seen) == 2 and len(chunks) == 2

    handler, seen = sequence(httpx.Response(302, headers={"location": "https://x/v1"}))
    with pytest.raises(RedirectError):
        await async_client(handler).chat_completion(BODY)
    assert len(seen) == 1
    await asyncio.sleep(0)


def test_a_plain_body_given_to_the_client_is_prepared_on_the_way() -> None:
    handler, seen = sequence(OK)
    with pytest.warns(UserWarning, match="sent as 'auto'"):
        RunAPIClient(api_key="k", transport=httpx.MockTransport(handler)).chat_completion(
            {**BODY, "tools": [WEATHER], "tool_choice": "required"}
        )
    assert json.loads(seen[0].content)["tool_choice"] == "auto"
