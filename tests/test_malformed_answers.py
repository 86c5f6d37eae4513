"""Malformed 200 answers, through the core and both adapters, sync and async, whole and
streamed (issue 12, item 4).

Each case is a real answer (or stream) with one field made wrong: a JSON value of the wrong
type, or a number no count can be. Whatever the surface, the caller gets either the answer,
with what could not be read left out (as the OpenAI SDK reads: a content that is no string is
no text, a usage that is no object is no usage, an id that is no string is no id), or a
``RunAPIError`` whose message names the field: a whole answer with no readable choice is a
``ServerError`` (502, as a 200 whose body is not JSON), a stream chunk with no readable choice
an ``IncompleteStreamError``. Never another exception.

A whole answer is also served to the streamed calls (a server that ignores ``stream: true``),
and must give the same outcome there.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from runapi_client import IncompleteStreamError, RunAPIError, ServerError
from tests.support.surfaces import STREAMED, WHOLE, Got

pytestmark = pytest.mark.filterwarnings("ignore:No price known")

USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
BIG = 10**400  # an int, but one that overflows float math (cost)
ARGS = '{"city": "Paris"}'

TEXT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "glm-4.6",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}
    ],
    "usage": USAGE,
}
TOOL_ANSWER: dict[str, Any] = {
    **TEXT_ANSWER,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ARGS},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
}
_HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "glm-4.6"}
TEXT_STREAM: list[dict[str, Any]] = [
    {**_HEAD, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
    {**_HEAD, "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
    {**_HEAD, "choices": [], "usage": USAGE},
]
TOOL_STREAM: list[dict[str, Any]] = [
    {
        **_HEAD,
        "choices": [
            {
                "index": 0,
                "delta": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ],
                },
            }
        ],
    },
    {
        **_HEAD,
        "choices": [
            {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ARGS}}]}}
        ],
    },
    {**_HEAD, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    {**_HEAD, "choices": [], "usage": USAGE},
]

HELLO = Got("Hello", [], 5)
NO_USAGE = Got("Hello", [], None)
CALLED = Got("", [("call_1", "get_weather")], 5)

_DELETE = object()


def changed(base: Any, path: str, value: Any) -> Any:
    """A deep copy of ``base`` with the value at ``path`` (keys and list positions, dotted)
    replaced by ``value`` (``_DELETE``: removed)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value is _DELETE:
        del target[key]
    else:
        target[key] = value
    return data


@dataclass(frozen=True)
class Case:
    name: str
    served: dict[str, Any] | list[dict[str, Any]]
    """A whole answer (a dict) or the chunks of a stream (a list)."""
    expected: Got | tuple[type[RunAPIError], str]
    """The answer the caller gets, or the error class and the field its message names."""

    def __str__(self) -> str:
        return self.name


def whole(name: str, path: str, value: Any, expected: Any, base: Any = TEXT_ANSWER) -> Case:
    return Case(name, changed(base, path, value), expected)


def chunks(name: str, path: str, value: Any, expected: Any, base: Any = TEXT_STREAM) -> Case:
    return Case(name, changed(base, path, value), expected)


def in_every_chunk(name: str, key: str, value: Any, expected: Any) -> Case:
    return Case(name, [{**c, key: value} for c in TEXT_STREAM], expected)


NO_CHOICE = "no usable choice"

WHOLE_CASES = [
    # usage: not an object is no usage; a count that is not a whole number a float can hold
    # (or is negative) is unreadable, and counted as 0
    whole("usage is a string", "usage", "lots", NO_USAGE),
    whole("usage is a list", "usage", [5, 2, 7], NO_USAGE),
    whole("usage is a number", "usage", 7, NO_USAGE),
    whole("prompt_tokens is 10**400", "usage.prompt_tokens", BIG, Got("Hello", [], 0)),
    whole("completion_tokens is 10**400", "usage.completion_tokens", BIG, HELLO),
    whole("total_tokens is 10**400", "usage.total_tokens", BIG, HELLO),
    whole("total_tokens is negative", "usage.total_tokens", -7, HELLO),
    whole("prompt_tokens is a string", "usage.prompt_tokens", "5", Got("Hello", [], 0)),
    whole("prompt_tokens is a huge float", "usage.prompt_tokens", 1e300, Got("Hello", [], 0)),
    whole("prompt_tokens_details is a string", "usage.prompt_tokens_details", "x", HELLO),
    whole(
        "cached_tokens is 10**400",
        "usage.prompt_tokens_details",
        {"cached_tokens": BIG},
        HELLO,
    ),
    whole("completion_tokens_details is a list", "usage.completion_tokens_details", [1], HELLO),
    whole(
        "reasoning_tokens is 10**400",
        "usage.completion_tokens_details",
        {"reasoning_tokens": BIG},
        HELLO,
    ),
    whole("usage cost is a string", "usage.cost", "free", HELLO),
    # the choice: without one that can be read there is no answer (502, retried)
    whole("choices is [null]", "choices", [None], (ServerError, "choices[0]")),
    whole("choices is missing", "choices", _DELETE, (ServerError, "choices")),
    whole("choices is a string", "choices", "Hello", (ServerError, "choices")),
    whole("choices is an object", "choices", {"0": {}}, (ServerError, "choices")),
    whole("choices is empty", "choices", [], (ServerError, "choices")),
    whole("message is a string", "choices.0.message", "Hello", (ServerError, "message")),
    whole("message is null", "choices.0.message", None, (ServerError, "message")),
    whole("message is missing", "choices.0.message", _DELETE, (ServerError, "message")),
    whole("message is a list", "choices.0.message", ["Hello"], (ServerError, "message")),
    # the message's fields: what is not of its type is left out
    whole("content is 42", "choices.0.message.content", 42, Got("", [], 5)),
    whole("content is a list", "choices.0.message.content", ["Hello"], Got("", [], 5)),
    whole("content is an object", "choices.0.message.content", {"text": "Hi"}, Got("", [], 5)),
    whole("reasoning_content is 42", "choices.0.message.reasoning_content", 42, HELLO),
    whole("reasoning is a list", "choices.0.message.reasoning", ["x"], HELLO),
    whole("role is 5", "choices.0.message.role", 5, HELLO),
    whole("tool_calls is a string", "choices.0.message.tool_calls", "call_1", HELLO),
    whole("tool_calls is [null]", "choices.0.message.tool_calls", [None], HELLO),
    whole("tool_calls is an object", "choices.0.message.tool_calls", {"id": "x"}, HELLO),
    whole(
        "tool call id is 5",
        "choices.0.message.tool_calls.0.id",
        5,
        Got("", [(None, "get_weather")], 5),
        TOOL_ANSWER,
    ),
    whole(
        "tool call id is a list",
        "choices.0.message.tool_calls.0.id",
        ["call_1"],
        Got("", [(None, "get_weather")], 5),
        TOOL_ANSWER,
    ),
    whole(
        "tool name is 5",
        "choices.0.message.tool_calls.0.function.name",
        5,
        Got("", [("call_1", "")], 5),
        TOOL_ANSWER,
    ),
    whole(
        "tool function is a string",
        "choices.0.message.tool_calls.0.function",
        "get_weather",
        Got("", [("call_1", "")], 5),
        TOOL_ANSWER,
    ),
    whole(
        "tool function is missing",
        "choices.0.message.tool_calls.0.function",
        _DELETE,
        Got("", [("call_1", "")], 5),
        TOOL_ANSWER,
    ),
    whole(
        "tool arguments are 5",
        "choices.0.message.tool_calls.0.function.arguments",
        5,
        CALLED,
        TOOL_ANSWER,
    ),
    whole(
        "tool arguments are an object",
        "choices.0.message.tool_calls.0.function.arguments",
        {"city": "Paris"},
        CALLED,
        TOOL_ANSWER,
    ),
    whole(
        "tool arguments are null",
        "choices.0.message.tool_calls.0.function.arguments",
        None,
        CALLED,
        TOOL_ANSWER,
    ),
    whole(
        "tool arguments nested 100,000 deep",
        "choices.0.message.tool_calls.0.function.arguments",
        "[" * 100_000,
        CALLED,
        TOOL_ANSWER,
    ),
    whole("tool type is 5", "choices.0.message.tool_calls.0.type", 5, CALLED, TOOL_ANSWER),
    whole(
        "tool index is a string", "choices.0.message.tool_calls.0.index", "0", CALLED, TOOL_ANSWER
    ),
    # the answer's other fields
    whole("id is a list", "id", ["chatcmpl-1"], HELLO),
    whole("id is 5", "id", 5, HELLO),
    whole("model is 5", "model", 5, HELLO),
    whole("model is a list", "model", [None], HELLO),
    whole("created is a string", "created", "yesterday", HELLO),
    whole("object is 5", "object", 5, HELLO),
    whole("system_fingerprint is 5", "system_fingerprint", 5, HELLO),
    whole("finish_reason is 5", "choices.0.finish_reason", 5, HELLO),
    whole("logprobs is a string", "choices.0.logprobs", "x", HELLO),
    whole("logprobs content is a string", "choices.0.logprobs", {"content": "x"}, HELLO),
    whole("choice index is a string", "choices.0.index", "0", HELLO),
]

STREAM_CASES = [
    chunks("usage is a string", "2.usage", "lots", NO_USAGE),
    chunks("usage is a list", "2.usage", [5, 2, 7], NO_USAGE),
    chunks("prompt_tokens is 10**400", "2.usage.prompt_tokens", BIG, Got("Hello", [], 0)),
    chunks("completion_tokens is 10**400", "2.usage.completion_tokens", BIG, HELLO),
    chunks(
        "cached_tokens is 10**400",
        "2.usage.prompt_tokens_details",
        {"cached_tokens": BIG},
        HELLO,
    ),
    chunks("prompt_tokens_details is a string", "2.usage.prompt_tokens_details", "x", HELLO),
    # a chunk whose choice cannot be read at all ends the stream
    chunks("choices is [null]", "0.choices", [None], (IncompleteStreamError, "choices[0]")),
    chunks("choices is a string", "0.choices", "Hel", (IncompleteStreamError, "choices")),
    chunks("choices is an object", "0.choices", {"0": {}}, (IncompleteStreamError, "choices")),
    chunks("delta is a string", "0.choices.0.delta", "Hel", (IncompleteStreamError, "delta")),
    chunks("delta is a list", "0.choices.0.delta", ["Hel"], (IncompleteStreamError, "delta")),
    chunks("delta is null", "0.choices.0.delta", None, Got("lo", [], 5)),
    # a delta's fields: what is not of its type is left out
    chunks("content is 42", "0.choices.0.delta.content", 42, Got("lo", [], 5)),
    chunks("content is a list", "0.choices.0.delta.content", ["Hel"], Got("lo", [], 5)),
    chunks("reasoning_content is 42", "0.choices.0.delta.reasoning_content", 42, HELLO),
    chunks("role is 5", "0.choices.0.delta.role", 5, HELLO),
    chunks("tool_calls is a string", "0.choices.0.delta.tool_calls", "x", HELLO),
    chunks("tool_calls is [null]", "0.choices.0.delta.tool_calls", [None], HELLO),
    chunks(
        "tool call id is 5",
        "0.choices.0.delta.tool_calls.0.id",
        5,
        Got("", [(None, "get_weather")], 5),
        TOOL_STREAM,
    ),
    chunks(
        "tool call id is a list",
        "0.choices.0.delta.tool_calls.0.id",
        ["call_1"],
        Got("", [(None, "get_weather")], 5),
        TOOL_STREAM,
    ),
    chunks(
        "tool name is 5",
        "0.choices.0.delta.tool_calls.0.function.name",
        5,
        Got("", [("call_1", "")], 5),
        TOOL_STREAM,
    ),
    chunks(
        "tool function is a string",
        "0.choices.0.delta.tool_calls.0.function",
        "get_weather",
        Got("", [("call_1", "")], 5),
        TOOL_STREAM,
    ),
    chunks(
        "tool arguments are an object",
        "1.choices.0.delta.tool_calls.0.function.arguments",
        {"city": "Paris"},
        CALLED,
        TOOL_STREAM,
    ),
    chunks(
        "tool index is a string",
        "1.choices.0.delta.tool_calls.0.index",
        "0",
        CALLED,
        TOOL_STREAM,
    ),
    chunks(
        "tool arguments nested 100,000 deep",
        "1.choices.0.delta.tool_calls.0.function.arguments",
        "[" * 100_000,
        CALLED,
        TOOL_STREAM,
    ),
    chunks("tool type is 5", "0.choices.0.delta.tool_calls.0.type", 5, CALLED, TOOL_STREAM),
    chunks(
        "a tool delta is null",
        "1.choices.0.delta.tool_calls",
        [None],
        Got("", [("call_1", "get_weather")], 5),
        TOOL_STREAM,
    ),
    # the chunk's other fields
    in_every_chunk("id is a list", "id", ["chatcmpl-1"], HELLO),
    chunks("first id is a list", "0.id", ["chatcmpl-1"], HELLO),
    in_every_chunk("model is 5", "model", 5, HELLO),
    in_every_chunk("created is a string", "created", "yesterday", HELLO),
    in_every_chunk("object is 5", "object", 5, HELLO),
    in_every_chunk("system_fingerprint is 5", "system_fingerprint", 5, HELLO),
    chunks("finish_reason is 5", "1.choices.0.finish_reason", 5, HELLO),
    chunks("choice index is a string", "0.choices.0.index", "0", HELLO),
    Case(
        "logprobs of different shapes",
        [
            changed(TEXT_STREAM[0], "choices.0.logprobs", {"content": "x", "other": 1.5}),
            changed(
                TEXT_STREAM[1],
                "choices.0.logprobs",
                {"content": [{"token": "lo", "logprob": -0.1, "index": 0}], "other": 2.5},
            ),
            TEXT_STREAM[2],
        ],
        HELLO,
    ),
    Case(
        "logprobs a string then a list",
        [
            changed(TEXT_STREAM[0], "choices.0.logprobs", "x"),
            changed(TEXT_STREAM[1], "choices.0.logprobs", [1]),
            TEXT_STREAM[2],
        ],
        HELLO,
    ),
]


def answering(served: dict[str, Any] | list[dict[str, Any]]) -> Callable[..., httpx.Response]:
    """A handler serving ``served``: a whole answer as JSON (to streamed requests too), or
    the chunks of a stream as SSE ending in ``[DONE]``."""
    if isinstance(served, dict):
        body = json.dumps(served).encode()
        headers = {"content-type": "application/json"}
    else:
        events = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in served)
        body = (events + "data: [DONE]\n\n").encode()
        headers = {"content-type": "text/event-stream"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={**headers, "x-request-id": "req-1"})

    return handler


def check(case: Case, call: Callable[..., Got]) -> None:
    try:
        got = call(answering(case.served))
    except RunAPIError as err:
        if isinstance(case.expected, Got):
            raise AssertionError(f"expected the answer {case.expected}, got {err!r}") from err
        cls, field = case.expected
        assert isinstance(err, cls), f"expected {cls.__name__}, got {err!r}"
        assert field in str(err), f"{field!r} not named in {str(err)!r}"
        if cls is ServerError:
            assert err.status_code == 502
        return
    assert got == case.expected


@pytest.mark.parametrize("surface", [*WHOLE, *STREAMED])
@pytest.mark.parametrize("case", WHOLE_CASES, ids=str)
def test_a_malformed_whole_answer(case: Case, surface: str) -> None:
    check(case, {**WHOLE, **STREAMED}[surface])


@pytest.mark.parametrize("surface", list(STREAMED))
@pytest.mark.parametrize("case", STREAM_CASES, ids=str)
def test_a_malformed_stream(case: Case, surface: str) -> None:
    check(case, STREAMED[surface])
