"""Checks on a request body, made before anything is sent, with errors that say what to fix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._catalog import get_model_info
from .errors import ConfigurationError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def validate_chat_request(body: Mapping[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError("model must be a non-empty string such as 'glm-4.6'.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ConfigurationError("messages must be a non-empty list: there is nothing to send.")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ConfigurationError(f"messages[{i}] must be a dict, got {type(message).__name__}.")
        role = message.get("role")
        if role not in ROLES:
            raise ConfigurationError(
                f"messages[{i}] has role {role!r}; the API accepts {', '.join(sorted(ROLES))}."
            )
        if role == "tool" and not message.get("tool_call_id"):
            raise ConfigurationError(
                f"messages[{i}] is a tool result without tool_call_id; "
                "say which tool call it answers."
            )
    check_content_parts(model, messages)
    check_parameters(body)


_ADVICE = {
    "image_url": " Use a vision model such as 'glm-4.6v' or 'glm-4.5v', or describe the image "
    "in text."
}


def check_content_parts(model: str, messages: list[Any]) -> None:
    """Refuse, before sending, content a known model cannot read: a text-only model handed an
    image may not reject it but answer as if it were not there. Unknown models are trusted."""
    info = None
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        info = info or get_model_info(model)
        if not info.known:
            return
        for part in content:
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind not in info.content_parts:
                raise ConfigurationError(
                    f"messages[{i}] holds a {kind!r} content part, but {model} reads "
                    f"{' and '.join(sorted(info.content_parts))} only." + _ADVICE.get(str(kind), "")
                )


def check_parameters(body: Mapping[str, Any]) -> None:
    """Ranges every Chat Completions server enforces, checked here so the error says what to
    fix instead of a terse 400; and ``n``, since the clients return one answer per call."""
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value <= 0
        ):
            raise ConfigurationError(f"{name} must be a positive integer, got {value!r}.")
    temperature = body.get("temperature")
    if temperature is not None and (not _is_number(temperature) or not 0 <= temperature <= 2):
        raise ConfigurationError(f"temperature must be between 0 and 2, got {temperature!r}.")
    top_p = body.get("top_p")
    if top_p is not None and (not _is_number(top_p) or not 0 < top_p <= 1):
        raise ConfigurationError(f"top_p must be above 0 and at most 1, got {top_p!r}.")
    n = body.get("n")
    if n is not None and n != 1:
        # The server would bill n answers and only the first is returned: paid for, then lost.
        raise ConfigurationError(
            f"n={n!r} is not supported: the clients return one answer per call. Make n calls "
            "instead (in LangChain, llm.batch([prompt] * n))."
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def encode_json(body: Mapping[str, Any]) -> bytes:
    """The body as compact UTF-8 JSON (non-ASCII kept as is), or an error naming the culprit."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"The request cannot be serialised to JSON ({exc}). Tool schemas and message "
            "contents must hold only JSON types (str, int, float, bool, None, list, dict)."
        ) from exc
