"""Checks on a request body, made before anything is sent, with errors that say what to fix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._errors import ConfigurationError

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
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value <= 0
        ):
            raise ConfigurationError(f"{name} must be a positive integer, got {value!r}.")


def encode_json(body: Mapping[str, Any]) -> bytes:
    """The body as compact UTF-8 JSON (non-ASCII kept as is), or an error naming the culprit."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"The request cannot be serialised to JSON ({exc}). Tool schemas and message "
            "contents must hold only JSON types (str, int, float, bool, None, list, dict)."
        ) from exc
