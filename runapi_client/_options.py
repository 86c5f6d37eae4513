"""The OpenAI SDK's per-request options, accepted where a Chat Completions body goes.

LangChain and LlamaIndex pass a call's keyword arguments (and ``model_kwargs``/
``additional_kwargs``) into the request body, and people coming from ``ChatOpenAI`` or
``OpenAILike`` write ``extra_body=``, ``extra_headers=`` and ``timeout=`` there:
``extra_body={"thinking": {"type": "disabled"}}`` is the usual way to switch GLM's thinking off.
None of them is a wire field; sent as such, a server ignores them (the setting silently does
nothing) or refuses the request. So the core takes them out of the body before sending, as the
OpenAI SDK takes them out of ``create(**kwargs)``: ``extra_body``'s fields are merged into the
body, ``extra_headers`` go out as headers and ``timeout`` applies to that request.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ._config import Timeout, check_headers, check_timeout
from .errors import ConfigurationError

__all__ = ["NOT_GIVEN", "OPTION_KEYS", "RequestOptions", "split_request_options"]

OPTION_KEYS: Final = frozenset({"extra_body", "extra_headers", "extra_query", "timeout"})

_SET_BY_THE_CLIENT = ("messages", "stream", "stream_options")


class _NotGiven(enum.Enum):
    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = _NotGiven.NOT_GIVEN
"""The default of ``RequestOptions.timeout``: keep the client's (``None`` means no timeout)."""


@dataclass(frozen=True)
class RequestOptions:
    """What one request changes in its client's settings; checked when built, like the
    client's own settings: ``RequestOptions(timeout=5)`` applies a 5 s timeout,
    ``RequestOptions(headers={"Authorization": ...})`` is a ``ConfigurationError``.

    ``headers`` may be given as a dict; it is kept as sorted ``(name, value)`` pairs.
    ``timeout`` left out keeps the client's; ``None`` means no timeout.
    """

    headers: tuple[tuple[str, str], ...] | Mapping[str, str] = ()
    timeout: Timeout | Literal[_NotGiven.NOT_GIVEN] = NOT_GIVEN

    def __post_init__(self) -> None:
        headers = self.headers
        if not isinstance(headers, Mapping):
            try:
                headers = dict(headers)
            except (TypeError, ValueError):
                raise ConfigurationError(
                    "RequestOptions headers must be a dict of header names to string values, "
                    f"got {type(self.headers).__name__}."
                ) from None
        object.__setattr__(self, "headers", check_headers(headers, source="RequestOptions headers"))
        if self.timeout is not NOT_GIVEN:
            timeout = check_timeout(self.timeout, source="RequestOptions timeout")
            object.__setattr__(self, "timeout", timeout)


def split_request_options(
    body: Mapping[str, Any],
) -> tuple[Mapping[str, Any], RequestOptions | None]:
    """``body`` without the SDK's options (``extra_body`` merged in), and the options, or
    ``(body, None)`` untouched when it has none (the common case: one set check)."""
    if OPTION_KEYS.isdisjoint(body):
        return body, None
    fields = dict(body)
    extra_body = fields.pop("extra_body", None)
    extra_headers = fields.pop("extra_headers", None)
    extra_query = fields.pop("extra_query", None)
    has_timeout = "timeout" in fields
    timeout = fields.pop("timeout", None)
    if extra_query:
        raise ConfigurationError(
            "extra_query is not supported: RunAPI's chat completions take no query parameters. "
            "Put extra request fields in extra_body instead."
        )
    if extra_body is not None:
        if not isinstance(extra_body, Mapping):
            raise ConfigurationError(
                f"extra_body must be a dict of request fields, got {type(extra_body).__name__}."
            )
        clash = [key for key in _SET_BY_THE_CLIENT if key in extra_body]
        if clash:
            raise ConfigurationError(
                f"extra_body may not set {', '.join(clash)}: the client sets them itself "
                "(the messages come from the call; streaming from the method called)."
            )
        fields.update(extra_body)
    if extra_headers is not None and not isinstance(extra_headers, Mapping):
        raise ConfigurationError(
            f"extra_headers must be a dict of header names to values, got "
            f"{type(extra_headers).__name__}."
        )
    options = RequestOptions(
        headers=check_headers(extra_headers, source="extra_headers"),
        timeout=check_timeout(timeout) if has_timeout else NOT_GIVEN,
    )
    if not options.headers and not has_timeout:
        return fields, None
    return fields, options
