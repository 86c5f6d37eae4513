"""Parsers under fuzzing: arbitrary bytes in, a result or the library's own error out.

The SSE decoder, the error-body parser and the error mapper, and the whole stream path (bytes
on the wire -> chunks or a typed error) through ``httpx.MockTransport``; then answers and
streams with any JSON value under the response schema's keys, through every call of the core
and both adapters (the last section).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runapi_client import (
    IncompleteStreamError,
    RunAPIClient,
    RunAPIError,
    ServerSentEvent,
    SSEDecoder,
    error_from_response,
    parse_error_body,
)
from tests.support.surfaces import STREAMED, WHOLE, Got

EXAMPLES = 400
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that look like SSE more often than pure noise does.
sse_alphabet = st.sampled_from(
    [
        b"data:",
        b"data: ",
        b"event:",
        b"id:",
        b"retry:",
        b":",
        b"\n",
        b"\r",
        b"\r\n",
        b" ",
        b"[DONE]",
        b"{",
        b"}",
        b"\x00",
        b"\xff",
        "é".encode(),
        b"9" * 5,
        b'"error"',
    ]
)
sse_like = st.lists(st.one_of(sse_alphabet, st.binary(max_size=20)), max_size=40).map(b"".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
error_shaped = st.fixed_dictionaries(
    {},
    optional={
        "error": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "message": json_values,
                "code": json_values,
                "type": json_values,
                "status": json_values,
            },
        ),
        "errors": json_values,
        "message": json_values,
        "request_id": json_values,
        "code": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    error_shaped.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=60).map(lambda t: f"<!doctype html><title>{t}</title>".encode()),
)
header_values = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    st.sampled_from(
        [
            "1",
            "-5",
            "nan",
            "inf",
            "1e400",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Mon, 01 Jan 99999 00:00:00 GMT",
            "Sun, 06 Nov 1994 08:49:37 +9999",
        ]
    ),
)


@FUZZ
@given(parts=st.lists(sse_like, max_size=8))
@example(parts=[b"retry: " + b"9" * 5000 + b"\ndata: x\n\n"])
def test_sse_decoder_never_fails(parts: list[bytes]) -> None:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for part in parts:
        events += decoder.feed(part)
    events += decoder.close()
    for event in events:
        assert isinstance(event.data, str) and isinstance(event.event, str)


@FUZZ
@given(data=sse_like, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_sse_decoder_split_anywhere_same_events(data: bytes, cuts: list[int]) -> None:
    whole = SSEDecoder()
    expected = whole.feed(data) + whole.close()
    pieces, last = [], 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        pieces.append(data[last:cut])
        last = cut
    pieces.append(data[last:])
    split = SSEDecoder()
    got = [event for piece in pieces for event in split.feed(piece)] + split.close()
    assert got == expected


@FUZZ
@given(body=st.one_of(bodies, json_values, st.text(max_size=200)))
@example(body=b"[" * 100_000)
@example(body=b'{"error": ' * 50_000)
def test_parse_error_body_never_raises(body: Any) -> None:
    message, code, _parsed = parse_error_body(body)
    assert message is None or isinstance(message, str)
    assert code is None or isinstance(code, str)


@FUZZ
@given(
    status=st.integers(min_value=100, max_value=999),
    headers=st.dictionaries(
        st.sampled_from(["retry-after", "retry-after-ms", "x-request-id", "content-type"]),
        header_values,
    ),
    body=bodies,
)
@example(status=429, headers={"retry-after": "Mon, 01 Jan 99999 00:00:00 GMT"}, body=b"")
@example(status=503, headers={}, body=b"[" * 100_000)
def test_error_from_response_always_returns_a_typed_error(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    error = error_from_response(status, httpx.Headers(headers), body)
    assert isinstance(error, RunAPIError)
    assert isinstance(str(error), str) and error.status_code == status


# Chunks with the wire's structure and arbitrary leaf values a real server could send.
texts = st.none() | st.text(max_size=12)
delta_shaped = st.fixed_dictionaries(
    {},
    optional={
        "content": texts,
        "reasoning_content": texts,
        "role": texts,
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "index": st.none() | st.integers(0, 3),
                    "id": texts,
                    "type": texts,
                    "function": st.fixed_dictionaries(
                        {}, optional={"name": texts, "arguments": texts}
                    ),
                },
            ),
            max_size=3,
        ),
    },
)
usage_shaped = st.dictionaries(
    st.sampled_from(["prompt_tokens", "completion_tokens", "total_tokens"]),
    st.integers(0, 10**6),
) | st.fixed_dictionaries(
    {"prompt_tokens": st.integers(0, 999)},
    optional={"prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(0, 9)})},
)
chunk_shaped = st.fixed_dictionaries(
    {},
    optional={
        "id": texts,
        "model": st.sampled_from(["glm-4.6", "glm-4.7", "some-unknown-model"]),
        "usage": st.none() | usage_shaped,
        "choices": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "index": st.integers(0, 2),
                    "finish_reason": texts,
                    "delta": delta_shaped,
                },
            ),
            max_size=2,
        ),
    },
)
wild_chunks = st.fixed_dictionaries(
    {},
    optional={
        "choices": json_values | st.lists(json_values),
        "usage": json_values,
        "model": json_values,
        "id": json_values,
    },
)
stream_events = st.one_of(
    sse_like,
    wild_chunks.map(lambda v: b"data: " + json.dumps(v).encode() + b"\n\n"),
    chunk_shaped.map(lambda v: b"data: " + json.dumps(v).encode() + b"\n\n"),
    chunk_shaped.map(lambda v: b"data: " + json.dumps(v).encode() + b"\n\n"),
    json_values.map(lambda v: b"data: " + json.dumps(v).encode() + b"\n\n"),
    error_shaped.map(lambda v: b"data: " + json.dumps(v).encode() + b"\n\n"),
    st.sampled_from(
        [
            b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n',
            b'data: {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {}}]}}]}\n\n',
            b'data: {"choices": [{"finish_reason": "stop", "delta": {}}]}\n\n',
            b'data: {"choices": [], "usage": {"prompt_tokens": 1}}\n\n',
            b'event: error\ndata: {"error": {"code": "1305"}}\n\n',
            b"data: [DONE]\n\n",
            b"data: " + b"[" * 50_000 + b"\n\n",
        ]
    ),
)


@pytest.mark.filterwarnings("ignore:No price known")
@FUZZ
@given(events=st.lists(stream_events, max_size=10))
def test_stream_path_yields_chunks_or_a_typed_error(events: list[bytes]) -> None:
    payload = b"".join(events)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=payload, headers={"content-type": "text/event-stream"})

    client = RunAPIClient(
        api_key="k", transport=httpx.MockTransport(handler), max_retries=0, pacing=False
    )  # parsers, not the pace: every example on one key would slow the next
    request = {"model": "glm-4.6", "messages": [{"role": "user", "content": "x"}]}
    try:
        with client.stream_chat_completion(request) as chat_stream:
            for chunk in chat_stream:
                assert isinstance(chunk, dict)
    except RunAPIError:
        pass


@FUZZ
@given(body=bodies, status=st.sampled_from([200, 200, 400, 429, 500, 503]))
def test_plain_call_returns_or_raises_a_typed_error(body: bytes, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    client = RunAPIClient(
        api_key="k", transport=httpx.MockTransport(handler), max_retries=0, pacing=False
    )  # parsers, not the pace: every example on one key would slow the next
    with contextlib.suppress(RunAPIError):
        client.chat_completion({"model": "glm-4.6", "messages": [{"role": "user", "content": "x"}]})


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (b'data: {"choices": "0"}\n\n', True),
        (b'data: {"choices": [{"delta": true}]}\n\n', True),
        (b'data: {"usage": 1.0, "choices": [{"finish_reason": "stop", "delta": {}}]}\n\n', False),
        (b'data: {"choices": [{"delta": {"content": 5}, "finish_reason": "stop"}]}\n\n', False),
    ],
)
def test_wrong_shape_chunks_raise_a_typed_error(event: bytes, error: bool) -> None:
    """Found by the fuzzing above; fixed in the core (d2cf3cc). Since issue 12 a chunk whose
    choices cannot be read raises ``IncompleteStreamError``; a usage or a content of the wrong
    type is read as none (see tests/test_malformed_answers.py)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=event + b"data: [DONE]\n\n")

    client = RunAPIClient(
        api_key="k", transport=httpx.MockTransport(handler), max_retries=0, pacing=False
    )  # parsers, not the pace: every example on one key would slow the next
    request = {"model": "glm-4.6", "messages": [{"role": "user", "content": "x"}]}
    raised = None
    try:
        with client.stream_chat_completion(request) as chat_stream:
            for _chunk in chat_stream:
                pass
    except IncompleteStreamError as exc:
        raised = exc
    assert (raised is not None) is error
    if raised is not None:
        assert "choices" in str(raised)


# ------------------------------------------------ whole answers and streams, every surface
#
# The response schema's keys, each holding either a value of its type or any JSON value, at
# every level: the answer's id, object, created, model, choices and usage; a choice's index,
# message or delta, finish_reason and logprobs; a message's role, content, reasoning_content
# and tool calls (id, type, index, function name and arguments); usage counts and details.
# Served over httpx.MockTransport to every call of the core and both adapters (tests/support/
# surfaces.py), the outcome is an answer or a RunAPIError, never any other exception.

SURFACE_EXAMPLES = 200
SURFACE_FUZZ = settings(
    max_examples=SURFACE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def either(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value of the field's type, or any JSON value in its place."""
    return st.one_of(good, json_values)


def shaped(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {key: either(value) for key, value in required.items()},
        optional={key: either(value) for key, value in optional.items()},
    )


short_texts = st.none() | st.text(max_size=10)
counts = st.integers(0, 10**6) | st.sampled_from([10**400, 2**53, 2**53 - 1, -1, 1e300])
token_logprob = shaped(
    {"token": st.text(max_size=4), "logprob": st.floats(max_value=0, allow_nan=False)},
    {"bytes": st.lists(st.integers(0, 255), max_size=3), "top_logprobs": st.just([])},
)
logprobs_shaped = shaped({}, {"content": st.lists(either(token_logprob), max_size=2)})
tool_call_fuzz = shaped(
    {},
    {
        "id": st.text(max_size=8),
        "type": st.just("function"),
        "index": st.integers(0, 3),
        "function": shaped(
            {}, {"name": st.sampled_from(["get_weather", "x"]), "arguments": short_texts}
        ),
    },
)
message_fuzz = shaped(
    {},
    {
        "role": st.just("assistant"),
        "content": short_texts,
        "reasoning_content": short_texts,
        "tool_calls": st.lists(either(tool_call_fuzz), max_size=3),
    },
)
usage_fuzz = shaped(
    {},
    {
        "prompt_tokens": counts,
        "completion_tokens": counts,
        "total_tokens": counts,
        "prompt_tokens_details": shaped({}, {"cached_tokens": counts}),
        "completion_tokens_details": shaped({}, {"reasoning_tokens": counts}),
    },
)


def answer_fuzz(body: str) -> st.SearchStrategy[dict[str, Any]]:
    """A whole answer (``body="message"``) or a stream chunk (``"delta"``)."""
    choice = shaped(
        {body: message_fuzz},
        {
            "index": st.integers(0, 2),
            "finish_reason": st.sampled_from(["stop", "tool_calls", "length"]),
            "logprobs": logprobs_shaped,
        },
    )
    return shaped(
        {"choices": st.lists(either(choice), min_size=1, max_size=2)},
        {
            "id": st.text(max_size=8),
            "object": st.just("chat.completion" if body == "message" else "chat.completion.chunk"),
            "created": st.integers(0, 2**31),
            "model": st.sampled_from(["glm-4.6", "glm-4.7", "some-unknown-model"]),
            "usage": usage_fuzz,
            "system_fingerprint": st.text(max_size=8),
        },
    )


def _outcome(call: Any, handler: Any) -> None:
    try:
        got = call(handler)
    except RunAPIError:
        return
    assert isinstance(got, Got) and isinstance(got.text, str)
    assert got.input_tokens is None or 0 <= got.input_tokens < 2**53


def _json_handler(payload: bytes) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=payload, headers={"content-type": "application/json"})

    return handler


@pytest.mark.filterwarnings("ignore:No price known")
@SURFACE_FUZZ
@given(answer=answer_fuzz("message"), surface=st.sampled_from([*WHOLE, *STREAMED]))
@example(
    answer={"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 10**400}},
    surface="ChatRunAPI.invoke",
)
@example(answer={"choices": [None], "model": 5, "id": [1]}, surface="RunAPILLM.stream_chat")
def test_any_whole_answer_gives_a_result_or_a_typed_error(
    answer: dict[str, Any], surface: str
) -> None:
    """Every surface, a streamed one too (a server that ignores ``stream: true``)."""
    _outcome({**WHOLE, **STREAMED}[surface], _json_handler(json.dumps(answer).encode()))


@pytest.mark.filterwarnings("ignore:No price known")
@SURFACE_FUZZ
@given(
    chunks=st.lists(answer_fuzz("delta"), min_size=1, max_size=4),
    done=st.booleans(),
    surface=st.sampled_from(list(STREAMED)),
)
@example(
    chunks=[
        {"choices": [{"delta": {"content": "a"}, "logprobs": {"content": "x"}}]},
        {"choices": [{"delta": {}, "logprobs": {"content": [{"token": "a", "logprob": 0}]}}]},
    ],
    done=True,
    surface="ChatRunAPI.stream",
)
def test_any_stream_of_chunks_gives_a_result_or_a_typed_error(
    chunks: list[dict[str, Any]], done: bool, surface: str
) -> None:
    events = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks)
    payload = (events + ("data: [DONE]\n\n" if done else "")).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=payload, headers={"content-type": "text/event-stream"})

    _outcome(STREAMED[surface], handler)
