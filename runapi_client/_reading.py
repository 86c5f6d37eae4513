"""A 200 answer read into the shapes ``_types`` declares, before anything else reads it.

What a server sends is read the way the OpenAI SDK reads it: a field of the wrong type is as if
it were absent. A ``content`` that is not a string is no text, a ``usage`` that is not an
object is no usage, an ``id``, ``model`` or tool-call name that is not a string is none, a
token count that is not a whole number from 0 to :data:`MAX_TOKENS` is unreadable (``10**400``
is an int, but the cost of it overflows a float). Only the structure that says where the
answer is cannot be passed over: a whole answer with no choice holding a ``message`` object,
or a stream chunk whose ``choices`` cannot be read (not a list, or none of its entries an
object with an object ``delta``), raises :class:`Unreadable`, naming the field; the request
machine makes that a ``ServerError`` (502) or an ``IncompleteStreamError``.

The accumulator, pricing, usage tracking and both adapters then read well-typed data, so no
adapter needs defensive code of its own. Fields the server adds are left as they are.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

__all__ = ["MAX_TOKENS", "Unreadable", "is_count", "read_chunk", "read_completion"]

MAX_TOKENS: Final = 2**53
"""Token counts at or above this are unreadable: past it a JSON number is not exact in most
parsers, and a count that large is no count of a real call."""

_COUNTS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
_DETAILS = ("prompt_tokens_details", "completion_tokens_details")
_TEXTS = ("id", "object", "model", "system_fingerprint")


class Unreadable(ValueError):
    """A 200 answer or chunk with no choice that can be read; the message names the field."""


def is_count(value: Any) -> bool:
    """A token count that can be read: a whole number from 0 up to :data:`MAX_TOKENS`."""
    return type(value) is int and 0 <= value < MAX_TOKENS


def _index(value: Any) -> bool:
    return type(value) is int and value >= 0


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _not(field: str, value: Any, wanted: str) -> Unreadable:
    return Unreadable(f"{field} is {_kind(value)}, not {wanted}")


def read_completion(data: dict[str, Any]) -> None:
    """Read a whole answer in place; :class:`Unreadable` if it has no usable choice."""
    _read_head(data)
    choices = data.get("choices")
    if "choices" not in data:
        raise Unreadable("choices is missing")
    if not isinstance(choices, list):
        raise _not("choices", choices, "a list")
    if not choices:
        raise Unreadable("choices is empty")
    data["choices"] = _read_choices(choices, "message")


def read_chunk(data: dict[str, Any]) -> None:
    """Read a stream chunk in place; :class:`Unreadable` if it carries choices and none of
    them can be read (a chunk without choices, e.g. the usage chunk, is fine)."""
    _read_head(data)
    choices = data.get("choices")
    if choices is None:
        if "choices" in data:
            data["choices"] = []
        return
    if not isinstance(choices, list):
        raise _not("choices", choices, "a list")
    if choices:
        data["choices"] = _read_choices(choices, "delta")


def _read_choices(choices: list[Any], body: Literal["message", "delta"]) -> list[dict[str, Any]]:
    """The choices that can be read, each read in place; :class:`Unreadable` naming the first
    problem when none can. ``body`` is what a choice holds: a ``message`` (a whole answer) or
    a ``delta`` (a chunk)."""
    kept: list[dict[str, Any]] = []
    problem: Unreadable | None = None
    for position, choice in enumerate(choices):
        where = f"choices[{position}]"
        if not isinstance(choice, dict):
            problem = problem or _not(where, choice, "an object")
            continue
        inner = choice.get(body)
        if inner is None and body == "delta":
            inner = choice[body] = {}  # a finish chunk may carry no delta: an empty one
        elif body not in choice:
            problem = problem or Unreadable(f"{where}.{body} is missing")
            continue
        if not isinstance(inner, dict):
            problem = problem or _not(f"{where}.{body}", inner, "an object")
            continue
        if not _index(choice.get("index")):
            choice["index"] = position
        if "finish_reason" in choice and not isinstance(choice["finish_reason"], str):
            choice["finish_reason"] = None
        if "logprobs" in choice:
            choice["logprobs"] = _read_logprobs(choice["logprobs"])
        _read_message(inner, whole=body == "message")
        kept.append(choice)
    if not kept and problem is not None:
        raise problem
    return kept


def _read_head(data: dict[str, Any]) -> None:
    for key in _TEXTS:
        if key in data and not isinstance(data[key], str):
            del data[key]
    if "created" in data and type(data["created"]) is not int:
        del data["created"]
    if "usage" in data:
        usage = data["usage"]
        if isinstance(usage, dict):
            _read_usage(usage)
        else:
            del data["usage"]


def _read_usage(usage: dict[str, Any]) -> None:
    for key in _COUNTS:
        if key in usage and not is_count(usage[key]):
            del usage[key]
    for key in _DETAILS:
        if key not in usage:
            continue
        details = usage[key]
        if isinstance(details, dict):
            # Details are counts, every one of them (cached, reasoning, audio tokens...).
            usage[key] = {name: n for name, n in details.items() if is_count(n)}
        else:
            del usage[key]


def _read_message(message: dict[str, Any], *, whole: bool) -> None:
    """A message (``whole``) or a delta, in place."""
    for key in ("role", "reasoning_content", "reasoning"):
        if key in message and not isinstance(message[key], str):
            del message[key]
    if "content" in message and not isinstance(message["content"], str):
        message["content"] = None
    if "tool_calls" not in message:
        return
    calls = message["tool_calls"]
    if isinstance(calls, list):
        message["tool_calls"] = [_read_tool_call(c, whole) for c in calls if isinstance(c, dict)]
    else:
        del message["tool_calls"]


def _read_tool_call(call: dict[str, Any], whole: bool) -> dict[str, Any]:
    """A tool call of a whole answer comes out complete (``type``, a ``function`` with a string
    ``name`` and ``arguments``, "" when unreadable), as the adapters build calls from it; a
    delta keeps only what it can read, since the rest may come in a later delta."""
    for key in ("id", "type"):
        if key in call and not isinstance(call[key], str):
            del call[key]
    if "index" in call and not _index(call["index"]):
        del call["index"]  # the accumulator gives it its slot
    function = call.get("function")
    if not isinstance(function, dict):
        function = {}
    name = function.get("name")
    if not isinstance(name, str):
        function.pop("name", None)
    arguments = function.get("arguments")
    if arguments is None:
        function.pop("arguments", None)
    elif not isinstance(arguments, str):
        # Some gateways send the arguments as a JSON object rather than its text.
        function["arguments"] = _json_text(arguments)
    if whole:
        call.setdefault("type", "function")
        function.setdefault("name", "")
        function.setdefault("arguments", "")
    if function or whole:
        call["function"] = function
    else:
        call.pop("function", None)
    return call


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        return ""


def _read_logprobs(value: Any) -> dict[str, Any] | None:
    """OpenAI's ``{"content": [...], "refusal": [...]}``, rebuilt from the fields it defines:
    LangChain adds up a stream's logprobs, and raises on values of two different types."""
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("content", "refusal"):
        tokens = value.get(key)
        if isinstance(tokens, list):
            out[key] = [t for t in (_read_token(x, top=True) for x in tokens) if t is not None]
    return out or None


def _read_token(value: Any, *, top: bool) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not isinstance(value.get("token"), str):
        return None
    logprob = value.get("logprob")
    if type(logprob) not in (int, float):
        return None
    raw = value.get("bytes")
    token: dict[str, Any] = {
        "token": value["token"],
        "logprob": logprob,
        "bytes": raw if isinstance(raw, list) and all(type(b) is int for b in raw) else None,
    }
    if top:
        alternatives = value.get("top_logprobs")
        token["top_logprobs"] = (
            [t for t in (_read_token(x, top=False) for x in alternatives) if t is not None]
            if isinstance(alternatives, list)
            else []
        )
    return token
