"""One exception hierarchy keyed by HTTP status, and a parser for every error body RunAPI sends."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "IncompleteStreamError",
    "InsufficientCreditsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RunAPIError",
    "ServerError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "error_from_response",
    "error_from_stream_payload",
    "parse_error_body",
]


class RunAPIError(Exception):
    """Base of every error this library raises about a RunAPI call."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = body
        # For errors that cut a stream short: the message accumulated until then.
        self.partial: Mapping[str, Any] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: teach pickle (multiprocessing, Ray) how to rebuild us.
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[RunAPIError], message: str, state: dict[str, Any]) -> RunAPIError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ConfigurationError(RunAPIError, ValueError):
    """Bad settings or input, found before any request is sent."""


class APIStatusError(RunAPIError):
    """The server answered with an error status."""


class BadRequestError(APIStatusError):
    """400, 409, 413, 422: the request was refused as it stands; change it before retrying."""


class AuthenticationError(APIStatusError):
    """401: the key is missing, wrong or revoked."""


class InsufficientCreditsError(APIStatusError):
    """402: the account has no credit left."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model or endpoint."""


class NotFoundError(APIStatusError):
    """404: unknown model or resource."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` holds the server's hint in seconds, if sent."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx, or an upstream overload reported with a 200 stream."""


class APIConnectionError(RunAPIError):
    """The request never got an HTTP answer: DNS, refused, reset, TLS."""


class APITimeoutError(APIConnectionError):
    """Connecting, or waiting for the next bytes, took longer than ``timeout``."""


class IncompleteStreamError(RunAPIError):
    """A stream ended before its finish reason or ``[DONE]``.

    Raised only after every delta received was handed to the caller; ``partial`` holds the
    message accumulated so far (a ChatCompletion-shaped dict).
    """

    def __init__(
        self, message: str, *, partial: Mapping[str, Any] | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.partial = partial


class StreamInterruptedError(IncompleteStreamError, APIConnectionError):
    """The connection broke after part of a stream was delivered (``partial`` holds it).

    Catch it as ``IncompleteStreamError`` (the answer is cut short) or as
    ``APIConnectionError`` (the network failed): both are true.
    """


class StreamTimeoutError(StreamInterruptedError, APITimeoutError):
    """The stream stalled past ``timeout`` after part of it was delivered."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: BadRequestError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}

# Codes seen in bodies; used when there is no HTTP status to go by (an error inside a stream).
_CODE_CLASSES: dict[str, type[APIStatusError]] = {
    "rate_limited": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "insufficient_quota": InsufficientCreditsError,
    "insufficient_credits": InsufficientCreditsError,
    "invalid_api_key": AuthenticationError,
    "model_not_found": NotFoundError,
    "unsupported_model_capability": BadRequestError,
    "model_limit_exceeded": BadRequestError,
    "context_length_exceeded": BadRequestError,
    "1211": NotFoundError,  # Z.ai: model does not exist
    "1305": ServerError,  # Z.ai: service temporarily overloaded
    "1302": RateLimitError,  # Z.ai: concurrency limit
    "1113": InsufficientCreditsError,  # Z.ai: balance exhausted
    # The OpenAI envelope's "type" (read as the code when there is none)
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "rate_limit_error": RateLimitError,
    "server_error": ServerError,
    "api_error": ServerError,
    "overloaded_error": ServerError,
}

_ADVICE: dict[type[RunAPIError], str] = {
    AuthenticationError: "Check the api_key argument or the RUNAPI_API_KEY environment variable.",
    InsufficientCreditsError: "Top up the account's credit at https://runapi.ai.",
    PermissionDeniedError: "This key may not use this model or endpoint.",
    NotFoundError: "Check the model name (client.list_models() lists what the key can use).",
    RateLimitError: "Slow down, or raise max_retries to let the client wait and retry.",
    ServerError: "This is on the server side; retrying later usually helps.",
}

_TITLE_RE = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)


def _as_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def parse_error_body(body: bytes | str | Any) -> tuple[str | None, str | None, Any]:
    """Return ``(message, code, parsed)`` from any error body shape; never raises.

    Shapes: OpenAI ``{"error": {"message", "type", "code"}}``; RunAPI ``{"error": "text"}``
    with optional ``errors`` field details; RunAPI ``{"error": {"code", "message"}}``; Z.ai
    numeric codes; ``{"message": ...}``; HTML pages from proxies; plain text; empty.
    """
    parsed: Any = body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body.strip()
        if not text:
            return None, None, None
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            if text[:1] == "<":
                match = _TITLE_RE.search(text)
                title = match.group(1) if match else None
                return (f"the server sent an HTML page{f' ({title})' if title else ''}", None, text)
            return text[:500], None, text
    whole = parsed
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        parsed = parsed[0]  # a batch of errors (Google-style gateways): the first says enough
    if not isinstance(parsed, dict):
        shown = _as_str(parsed)
        return (shown[:500] if shown else None), None, parsed
    err = parsed.get("error", parsed)
    if isinstance(err, list) and err and isinstance(err[0], dict):
        err = err[0]
    message: str | None
    code: str | None = None
    if isinstance(err, dict):
        message = (
            _as_str(err.get("message")) or _as_str(err.get("msg")) or _as_str(err.get("error"))
        )
        code = _as_str(err.get("code")) or _as_str(err.get("type"))
    else:
        message = _as_str(err)
        code = _as_str(parsed.get("code"))
    if message is None:
        message = _as_str(parsed.get("message"))
    details = parsed.get("errors")
    if isinstance(details, dict) and details:
        flat = "; ".join(
            f"{field} {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for field, v in details.items()
        )
        message = f"{message}: {flat}" if message else flat
    return message, code, whole


def _lower(headers: Mapping[str, str]) -> Mapping[str, str]:
    # httpx.Headers is already case-insensitive; plain dicts (tests, callers) may not be.
    if hasattr(headers, "get_list"):
        return headers
    return {k.lower(): v for k, v in headers.items()}


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``Retry-After`` seconds, or an HTTP date."""
    headers = _lower(headers)
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    import datetime as _dt
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max((when - _dt.datetime.now(_dt.timezone.utc)).total_seconds(), 0.0)


def _class_for(
    status: int | None, code: str | None, unknown: type[RunAPIError] = ServerError
) -> type[RunAPIError]:
    if status is not None:
        if status in _STATUS_CLASSES:
            return _STATUS_CLASSES[status]
        if status >= 500:
            return ServerError
        if status == 408:
            return APITimeoutError
        if 400 <= status < 500:
            return BadRequestError
    if code is not None and code in _CODE_CLASSES:
        return _CODE_CLASSES[code]
    return unknown if status is None else APIStatusError


def _compose(
    cls: type[RunAPIError], what: str, detail: str | None, code: str | None, request_id: str | None
) -> str:
    parts = [what]
    if detail:
        parts.append(f": {detail}")
    if code and (not detail or code not in detail):
        parts.append(f" (code {code})")
    parts.append(".")
    advice = next((a for c, a in _ADVICE.items() if issubclass(cls, c)), None)
    if advice:
        parts.append(f" {advice}")
    if request_id:
        parts.append(f" [request_id {request_id}]")
    return "".join(parts)


def error_from_response(
    status_code: int, headers: Mapping[str, str], body: bytes | str
) -> RunAPIError:
    """Turn an error response into the matching typed exception."""
    message, code, parsed = parse_error_body(body)
    headers = _lower(headers)
    request_id = headers.get("x-request-id") or (
        _as_str(parsed.get("request_id")) if isinstance(parsed, dict) else None
    )
    cls = _class_for(status_code, code)
    what = f"RunAPI answered HTTP {status_code}"
    if message is None:
        message = "no error details in the response body" if not body else None
    text = _compose(cls, what, message, code, request_id)
    kwargs: dict[str, Any] = dict(
        status_code=status_code, code=code, request_id=request_id, body=parsed
    )
    if cls is RateLimitError:
        return RateLimitError(text, retry_after=parse_retry_after(headers), **kwargs)
    return cls(text, **kwargs)


def error_from_stream_payload(
    payload: Any,
    request_id: str | None = None,
    *,
    where: str = "inside the stream",
    unknown: type[RunAPIError] = ServerError,
) -> RunAPIError:
    """An error reported in a 200 answer: an ``error`` event inside a stream (the upstream
    failed after headers were sent), or, with ``where``, a 200 body that is an error envelope.
    With no HTTP error status to go by, the class comes from the body's code (or its own
    ``status``); ``status_code`` is None unless the body states one. ``unknown``: the class
    when neither says (a stream that fails midway is most often the upstream failing, so by
    default a retryable ``ServerError``)."""
    message, code, parsed = parse_error_body(
        payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    )
    status: int | None = None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        raw_status = (
            (err.get("status") or err.get("status_code")) if isinstance(err, dict) else None
        )
        raw_status = raw_status or parsed.get("status_code")
        if isinstance(raw_status, int) or (isinstance(raw_status, str) and raw_status.isdigit()):
            status = int(raw_status)
    cls = _class_for(status, code, unknown)
    text = _compose(cls, f"RunAPI reported an error {where}", message, code, request_id)
    return cls(text, status_code=status, code=code, request_id=request_id, body=parsed)
