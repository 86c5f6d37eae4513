"""The core clients over httpx.MockTransport, fed the real wire samples."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from runapi_client import (
    APIConnectionError,
    AsyncRunAPIClient,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    IncompleteStreamError,
    RateLimitError,
    RunAPIClient,
    ServerError,
    _pool,
    token_counts,
    track_usage,
)
from tests.support.wire import snapshot
from tests.support.wire import wire_sample as sample

BODY = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}

Handler = Callable[[httpx.Request], httpx.Response]


# Every test here: waits between attempts recorded, not slept (conftest.py).
pytestmark = pytest.mark.usefixtures("no_sleep")


def sse(data: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-type": "text/event-stream", **(headers or {})}, content=data
    )


def sync_client(handler: Handler, **kw: Any) -> RunAPIClient:
    return RunAPIClient(api_key="test-key", transport=httpx.MockTransport(handler), **kw)


def async_client(handler: Handler, **kw: Any) -> AsyncRunAPIClient:
    return AsyncRunAPIClient(api_key="test-key", transport=httpx.MockTransport(handler), **kw)


def sequence(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue: Iterator[httpx.Response | Exception] = iter(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(snapshot(request))
        item = next(queue)
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


def test_non_stream_request_and_result() -> None:
    handler, seen = sequence(
        httpx.Response(
            200, content=sample("glm-4.6.nonstream.json"), headers={"x-request-id": "r-1"}
        )
    )
    result = sync_client(handler).chat_completion(BODY)
    request = seen[0]
    assert request.url == "https://runapi.ai/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert json.loads(request.content) == BODY
    content = result.completion["choices"][0]["message"]["content"]
    assert content is not None and content.startswith("\nHello!")
    assert (
        result.completion["request_id"] == "20251103162614ab25f9b375f8437a"
    )  # unknown fields kept
    assert result.request_id == "r-1"
    assert result.usage is not None and result.tokens == token_counts(result.usage)
    # 81 prompt (6 cached) + 186 completion on glm-4.6: $0.30 / $0.06 / $1.10 per 1M
    assert result.cost is not None
    assert result.cost.input == pytest.approx(75 * 0.30 / 1e6)
    assert result.cost.cache_read == pytest.approx(6 * 0.06 / 1e6)
    assert result.cost.output == pytest.approx(186 * 1.10 / 1e6)
    assert result.cost.total == pytest.approx((75 * 0.30 + 6 * 0.06 + 186 * 1.10) / 1e6)


def test_non_ascii_is_sent_as_utf8() -> None:
    handler, seen = sequence(httpx.Response(200, content=sample("glm-4.6.nonstream.json")))
    sync_client(handler).chat_completion(
        {**BODY, "messages": [{"role": "user", "content": "北京"}]}
    )
    assert "北京".encode() in seen[0].content


def test_stream_native_shape() -> None:
    handler, seen = sequence(sse(sample("glm-4.6.stream-native.sse")))
    stream = sync_client(handler).stream_chat_completion(BODY)
    chunks = list(stream)
    body = json.loads(seen[0].content)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert seen[0].headers["accept"] == "text/event-stream"
    assert len(chunks) == 3
    assert stream.result is not None
    assert stream.result.completion["choices"][0]["message"]["content"] == " today?"
    assert stream.result.cost is not None
    assert stream.result.cost.total == pytest.approx(
        ((6074 - 43) * 0.30 + 43 * 0.06 + 15 * 1.10) / 1e6
    )


def test_stream_options_left_to_caller() -> None:
    handler, seen = sequence(sse(sample("glm-4.6.stream-native.sse")))
    list(
        sync_client(handler).stream_chat_completion(
            {**BODY, "stream_options": {"include_usage": False}}
        )
    )
    assert json.loads(seen[0].content)["stream_options"] == {"include_usage": False}


async def test_async_stream_normalised_shape() -> None:
    handler, _ = sequence(sse(sample("glm-4.6.stream-normalised.sse")))
    stream = async_client(handler).stream_chat_completion(BODY)
    chunks = [c async for c in stream]
    assert chunks[-1]["choices"] == []
    assert stream.result is not None
    message = stream.result.completion["choices"][0]["message"]
    assert message["reasoning_content"] == "\n1" and message["content"] == "模型"


async def test_async_non_stream_tools_reasoning() -> None:
    handler, _ = sequence(httpx.Response(200, content=sample("glm-4.7.tools-reasoning.json")))
    result = await async_client(handler).chat_completion({**BODY, "model": "glm-4.7"})
    message = result.completion["choices"][0]["message"]
    assert message["tool_calls"][0]["id"] == "call_-7682507267639338722"
    assert result.cost is not None
    assert result.cost.total == pytest.approx((160 * 0.30 + 78 * 1.10) / 1e6)


def test_incomplete_stream_delivers_every_delta_then_raises() -> None:
    cut = (
        b'data: {"id":"1","model":"glm-4.6","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"id":"1","model":"glm-4.6","choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n'
    )
    handler, _ = sequence(sse(cut))
    received: list[str | None] = []
    with pytest.raises(IncompleteStreamError) as info:
        for chunk in sync_client(handler).stream_chat_completion(BODY):
            received.append(chunk["choices"][0]["delta"]["content"])
    assert received == ["Hel", "lo"]
    assert info.value.partial is not None
    assert info.value.partial["choices"][0]["message"]["content"] == "Hello"


def test_error_event_inside_stream() -> None:
    data = (
        b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
        b'data: {"error": {"code": "1305", "message": "The service may be temporarily overloaded"}}\n\n'  # noqa: E501
    )
    handler, _ = sequence(sse(data))
    got = []
    with pytest.raises(ServerError, match="overloaded"):
        for chunk in sync_client(handler).stream_chat_completion(BODY):
            got.append(chunk)
    assert len(got) == 1


def test_malformed_event_raises_library_error() -> None:
    handler, _ = sequence(sse(b"data: {not json\n\n"))
    with pytest.raises(IncompleteStreamError, match="not JSON"):
        list(sync_client(handler).stream_chat_completion(BODY))


def test_retries_then_succeeds_honouring_retry_after(no_sleep: list[float]) -> None:
    handler, seen = sequence(
        httpx.Response(429, headers={"retry-after": "2"}, json={"error": "Too many requests"}),
        httpx.Response(503, json={"error": "No active channel available"}),
        httpx.Response(200, content=sample("glm-4.6.nonstream.json")),
    )
    result = sync_client(handler).chat_completion(BODY)
    assert len(seen) == 3 and result.completion["model"] == "glm-4.6"
    assert no_sleep[0] == 2.0
    assert 0 < no_sleep[1] <= 1.0


def test_retries_exhausted_raise_last_typed_error() -> None:
    handler, seen = sequence(
        *[httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>")] * 3
    )
    with pytest.raises(ServerError, match="502 Bad Gateway"):
        sync_client(handler, max_retries=2).chat_completion(BODY)
    assert len(seen) == 3


def test_retry_after_too_long_is_raised_at_once() -> None:
    handler, seen = sequence(
        httpx.Response(429, headers={"retry-after": "3600"}, json={"error": "later"})
    )
    with pytest.raises(RateLimitError) as info:
        sync_client(handler).chat_completion(BODY)
    assert info.value.retry_after == 3600 and len(seen) == 1


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
def test_client_errors_never_retried(status: int) -> None:
    handler, seen = sequence(httpx.Response(status, json={"error": "nope"}))
    with pytest.raises(Exception) as info:
        sync_client(handler).chat_completion(BODY)
    assert len(seen) == 1
    assert getattr(info.value, "status_code", None) == status


def test_connection_errors_retried() -> None:
    handler, seen = sequence(
        httpx.ConnectError("refused"),
        httpx.ReadError("reset"),
        httpx.Response(200, content=sample("glm-4.6.nonstream.json")),
    )
    sync_client(handler).chat_completion(BODY)
    assert len(seen) == 3


def test_connection_error_after_retries_is_typed() -> None:
    handler, _ = sequence(*[httpx.ConnectError("refused")] * 2)
    with pytest.raises(APIConnectionError, match="could not reach RunAPI"):
        sync_client(handler, max_retries=1).chat_completion(BODY)


def test_stream_status_error_retried_before_first_event() -> None:
    handler, seen = sequence(
        httpx.Response(500, json={"error": "boom"}), sse(sample("glm-4.6.stream-native.sse"))
    )
    assert len(list(sync_client(handler).stream_chat_completion(BODY))) == 3
    assert len(seen) == 2


def test_auth_error_message_names_env_var() -> None:
    handler, _ = sequence(httpx.Response(401, json={"error": {"message": "Invalid API key"}}))
    with pytest.raises(AuthenticationError, match="RUNAPI_API_KEY"):
        sync_client(handler).chat_completion(BODY)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"model": "glm-4.6", "messages": []}, "non-empty list"),
        ({"model": "glm-4.6", "messages": [{"role": "robot", "content": "x"}]}, "role 'robot'"),
        ({"model": "", "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({**BODY, "max_tokens": 0}, "max_tokens"),
        ({**BODY, "max_tokens": "10"}, "max_tokens"),
        (
            {
                **BODY,
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {1, 2}}}],
            },
            "serialised",
        ),
        ({"model": "glm-4.6", "messages": [{"role": "tool", "content": "x"}]}, "tool_call_id"),
    ],
)
def test_bad_input_refused_before_any_request(body: dict[str, Any], match: str) -> None:
    handler, seen = sequence()
    with pytest.raises(ConfigurationError, match=match):
        sync_client(handler).chat_completion(body)
    assert seen == []


def test_usage_tracked_across_sync_and_async_calls() -> None:
    native = sample("glm-4.6.stream-native.sse")
    nonstream = sample("glm-4.6.nonstream.json")

    def handler(request: httpx.Request) -> httpx.Response:
        return (
            sse(native)
            if json.loads(request.content).get("stream")
            else httpx.Response(200, content=nonstream)
        )

    with track_usage() as tracker:
        sync_client(handler).chat_completion(BODY)
        list(sync_client(handler).stream_chat_completion(BODY))

        async def both() -> None:
            client = async_client(handler)
            await asyncio.gather(client.chat_completion(BODY), client.chat_completion(BODY))

        asyncio.run(both())
    assert tracker.requests == 4
    assert tracker.prompt_tokens == 81 * 3 + 6074
    assert tracker.cached_tokens == 6 * 3 + 43
    assert tracker.by_model["glm-4.6"].requests == 4
    assert tracker.total_cost == pytest.approx(
        3 * (75 * 0.30 + 6 * 0.06 + 186 * 1.10) / 1e6
        + ((6074 - 43) * 0.30 + 43 * 0.06 + 15 * 1.10) / 1e6
    )


def test_budget_stops_further_calls() -> None:
    from runapi_client import BudgetExceededError

    handler, seen = sequence(httpx.Response(200, content=sample("glm-4.6.nonstream.json")))
    with track_usage(max_cost=1e-9), pytest.raises(BudgetExceededError, match="max_cost"):
        client = sync_client(handler)
        client.chat_completion(BODY)
        client.chat_completion(BODY)
    assert len(seen) == 1


def test_async_pool_is_per_event_loop() -> None:
    key = ("http://127.0.0.1:1/v1", 60.0)

    async def get() -> Any:
        return _pool.async_http_client(key)

    first = asyncio.run(get())
    second = asyncio.run(get())
    assert first is not second  # asyncio.run twice must not reuse a dead loop's sockets

    async def same() -> bool:
        return _pool.async_http_client(key) is _pool.async_http_client(key)

    assert asyncio.run(same())


def test_list_models() -> None:
    handler, seen = sequence(
        httpx.Response(200, json={"object": "list", "data": [{"id": "glm-4.6", "object": "model"}]})
    )
    assert sync_client(handler).list_models() == [{"id": "glm-4.6", "object": "model"}]
    assert seen[0].url.path == "/v1/models"


def test_not_json_success_body_is_typed_error() -> None:
    handler, seen = sequence(*[httpx.Response(200, text="<html>oops</html>")] * 3)
    with pytest.raises(ServerError, match="HTML page"):
        sync_client(handler).chat_completion(BODY)
    assert len(seen) == 3


def test_bad_request_body_included() -> None:
    handler, _ = sequence(
        httpx.Response(
            400,
            json={
                "error": {
                    "code": "unsupported_model_capability",
                    "message": "json_schema not supported",
                }
            },
        )
    )
    with pytest.raises(BadRequestError) as info:
        sync_client(handler).chat_completion(BODY)
    assert info.value.code == "unsupported_model_capability"


def test_key_echoed_by_the_server_is_blanked() -> None:
    key = "sk-echoed-secret-123456789"
    handler, _ = sequence(
        httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {key}"}})
    )
    with pytest.raises(AuthenticationError) as info:
        RunAPIClient(api_key=key, transport=httpx.MockTransport(handler)).chat_completion(BODY)
    assert key not in str(info.value)
    assert key not in repr(info.value.body)
    assert "Incorrect API key provided: **********" in str(info.value)


class _BreaksAfter(httpx.SyncByteStream):
    def __init__(self, parts: list[bytes], exc: Exception) -> None:
        self.parts, self.exc = parts, exc

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ReadError("connection reset"), "StreamInterruptedError"),
        (httpx.ReadTimeout("stalled"), "StreamTimeoutError"),
    ],
)
def test_connection_lost_mid_stream_is_both_incomplete_and_connection_error(
    exc: Exception, cls: str
) -> None:
    import runapi_client

    part = (
        b'data: {"id":"1","model":"glm-4.6","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    )
    handler, seen = sequence(
        httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=_BreaksAfter([part], exc)
        )
    )
    got = []
    with pytest.raises(getattr(runapi_client, cls)) as info:
        for chunk in sync_client(handler).stream_chat_completion(BODY):
            got.append(chunk)
    assert len(got) == 1 and len(seen) == 1  # delivered, then never retried
    assert isinstance(info.value, IncompleteStreamError)
    assert isinstance(info.value, APIConnectionError)
    assert info.value.partial is not None
    assert info.value.partial["choices"][0]["message"]["content"] == "Hi"


def test_track_usage_all_threads_counts_plain_threads() -> None:
    import threading

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sample("glm-4.6.nonstream.json"))

    def call() -> None:
        sync_client(handler).chat_completion(BODY)

    with track_usage() as scoped, track_usage(all_threads=True) as everywhere:
        thread = threading.Thread(target=call)  # a plain thread: no copied context
        thread.start()
        thread.join()
        call()
    assert scoped.requests == 1  # only the call made in this context
    assert everywhere.requests == 2
    call()  # after the block: counted by neither
    assert everywhere.requests == 2


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"temperature": 3}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 2}, "one answer per call"),
    ],
)
def test_parameters_out_of_range_refused_before_sending(extra: dict[str, Any], match: str) -> None:
    handler, seen = sequence()
    with pytest.raises(ConfigurationError, match=match):
        sync_client(handler).chat_completion({**BODY, **extra})
    assert seen == []


def test_usage_trackers_are_told_apart_by_identity_not_equal_totals() -> None:
    # Two fresh trackers hold equal totals; compared by value, a process-wide one was taken for
    # a thread's own scoped tracker (and skipped), and leaving a block removed the wrong one.
    import threading

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sample("glm-4.6.nonstream.json"))

    def call() -> None:
        sync_client(handler).chat_completion(BODY)

    def in_own_block() -> None:
        with track_usage():
            call()

    with track_usage(all_threads=True) as everywhere:
        with track_usage(all_threads=True):
            pass
        for target in (call, in_own_block):
            thread = threading.Thread(target=target)  # plain threads: no copied context
            thread.start()
            thread.join()
    assert everywhere.requests == 2


def test_not_json_success_body_is_typed_error_for_every_endpoint() -> None:
    # embeddings and list_models let json.JSONDecodeError out: not a RunAPIError, never retried.
    def html() -> httpx.Response:
        return httpx.Response(200, text="<html><title>Captive portal</title></html>")

    embed = {"model": "text-embedding-3-small", "input": ["a"]}
    handler, seen = sequence(*[html() for _ in range(3)])
    with pytest.raises(ServerError, match="HTML page"):
        sync_client(handler).embeddings(embed)
    assert len(seen) == 3
    handler, seen = sequence(*[html() for _ in range(3)])
    with pytest.raises(ServerError, match="HTML page"):
        sync_client(handler).list_models()
    assert len(seen) == 3

    async def run() -> None:
        handler, seen = sequence(*[html() for _ in range(3)])
        with pytest.raises(ServerError, match="HTML page"):
            await async_client(handler).embeddings(embed)
        handler, seen = sequence(html(), httpx.Response(200, json={"data": [{"id": "glm-4.6"}]}))
        assert await async_client(handler).list_models() == [{"id": "glm-4.6"}]
        assert len(seen) == 2

    asyncio.run(run())


def test_stream_that_ends_before_any_event_is_retried() -> None:
    handler, seen = sequence(sse(b": keep-alive\n\n"), sse(sample("glm-4.6.stream-native.sse")))
    chunks = list(sync_client(handler).stream_chat_completion(BODY))
    assert len(seen) == 2 and len(chunks) == 3


async def test_async_stream_that_ends_before_any_event_is_retried() -> None:
    handler, seen = sequence(sse(b""), sse(sample("glm-4.6.stream-normalised.sse")))
    chunks = [c async for c in async_client(handler).stream_chat_completion(BODY)]
    assert len(seen) == 2 and chunks[-1]["choices"] == []


def test_empty_stream_without_retries_left_is_incomplete() -> None:
    handler, seen = sequence(sse(b""))
    with pytest.raises(IncompleteStreamError, match="after 0 chunks"):
        list(sync_client(handler, max_retries=0).stream_chat_completion(BODY))
    assert len(seen) == 1
