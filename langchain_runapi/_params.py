"""Checks on ``ChatRunAPI``'s request parameters.

Each check turns a mistake into an error that says what to fix, before anything is sent: a
server answers a bad value with a terse 400 (or worse, accepts it), and a field set twice, say
``temperature`` both as a field and in ``model_kwargs``, would otherwise go out with whichever
value happened to be merged last.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runapi_client import ConfigurationError

__all__ = ["check_call_kwargs", "check_extra_fields"]

FIELD_OF_WIRE_NAME = {
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "top_p": "top_p",
    "stop": "stop",
    "seed": "seed",
}
"""Wire fields that have a ``ChatRunAPI`` field of their own."""

SET_BY_CHAT_RUNAPI = {
    "model": "use ChatRunAPI(model=...) or a per-call model=...",
    "messages": "they come from the call's input",
    "stream": "use .stream()/.astream(), or streaming=True",
    "stream_options": "usage is always requested so that cost tracking keeps counting; "
    "stream_usage=False leaves it off the chunks",
}


def check_extra_fields(
    model_kwargs: Mapping[str, Any], extra_body: Mapping[str, Any], reasoning: bool | None
) -> None:
    """``model_kwargs``/``extra_body`` may add wire fields, never replace ones set elsewhere."""
    for source, extra in (("model_kwargs", model_kwargs), ("extra_body", extra_body)):
        for key in extra:
            if key in FIELD_OF_WIRE_NAME:
                raise ConfigurationError(
                    f"{key} is set through {source}; use ChatRunAPI({FIELD_OF_WIRE_NAME[key]}="
                    "...) instead, so that one value is sent, not whichever is merged last."
                )
            if key in SET_BY_CHAT_RUNAPI:
                raise ConfigurationError(
                    f"{key} cannot be set through {source}: {SET_BY_CHAT_RUNAPI[key]}."
                )
            if key == "thinking" and reasoning is not None:
                raise ConfigurationError(
                    f"thinking is set through {source} and reasoning={reasoning} too; "
                    "keep one of them."
                )
    if both := sorted(set(model_kwargs) & set(extra_body)):
        raise ConfigurationError(f"{both} given in both model_kwargs and extra_body; keep one.")


def check_call_kwargs(kwargs: Mapping[str, Any]) -> None:
    """Per-call keyword arguments override the instance's settings, except what the call owns."""
    for key in ("messages", "stream_options"):
        if key in kwargs:
            raise ConfigurationError(
                f"{key}=... cannot be passed per call: {SET_BY_CHAT_RUNAPI[key]}."
            )
