"""Every error the package raises, in one hierarchy, and a parser for every error body RunAPI
sends. ``runapi_client``, ``langchain_runapi`` and ``llama_index_runapi`` re-export
:data:`__all__`; adding an error class means adding it here (and, for its LangChain twin, one
line in ``langchain_runapi._errors``).

An error's class says what it means, and so whether retrying can help: a provider code the
body carries decides it over the HTTP status (Z.ai sends "insufficient balance", 1113, with
HTTP 429, which is no reason to slow down and retry), then the status, then, for an error with
no status (inside a stream, or a 200 whose body is an error), the OpenAI envelope's ``type``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "ContentFilterError",
    "ContextOverflowError",
    "IncompleteStreamError",
    "InsufficientCreditsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "RunAPIError",
    "ServerError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "UsageLimitError",
    "error_from_response",
    "error_from_stream_payload",
    "parse_error_body",
    "parse_reset_time",
    "parse_retry_after",
]

ERROR_CLASSES = tuple(name for name in __all__ if name.endswith("Error"))
"""The names of the error classes, as the packages export them."""


class RunAPIError(Exception):
    """Base of every error this library raises about a RunAPI call."""

    retryable: ClassVar[bool] = False
    """Whether sending the same request again may succeed (the client's retries go by it)."""

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
        # Keyword-only constructor: teach pickle (multiprocessing, Ray) how to rebuild us, as
        # the public class the error is (an adapter's twin class is not importable by name).
        return (_rebuild, (_public_class(type(self)), self.message, self.__dict__))


def _public_class(cls: type[RunAPIError]) -> type[RunAPIError]:
    for candidate in cls.__mro__:
        module = sys.modules.get(candidate.__module__)
        if getattr(module, candidate.__qualname__, None) is candidate:
            return candidate  # type: ignore[no-any-return]
    return cls


def _rebuild(cls: type[RunAPIError], message: str, state: dict[str, Any]) -> RunAPIError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ConfigurationError(RunAPIError, ValueError):
    """Bad settings or input, found before any request is sent."""


class BudgetExceededError(RunAPIError):
    """A ``track_usage(max_cost=...)`` budget is spent; no further call is sent inside it."""


class APIStatusError(RunAPIError):
    """The server answered with an error status."""


class BadRequestError(APIStatusError):
    """400, 409, 413, 422: the request was refused as it stands; change it before retrying."""


class ContextOverflowError(BadRequestError):
    """The prompt is longer than the model's context window (Z.ai code 1261,
    ``context_length_exceeded``): shorten the history or pick a model with a larger window."""


class ContentFilterError(BadRequestError):
    """The provider refused the content as unsafe (Z.ai code 1301)."""


class AuthenticationError(APIStatusError):
    """401: the key is missing, wrong or revoked."""


class InsufficientCreditsError(APIStatusError):
    """402, or Z.ai's 1113 whatever its status: the account has no credit left."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model or endpoint."""


class NotFoundError(APIStatusError):
    """404, or Z.ai's 1211 (sent with HTTP 400): unknown model or resource."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` holds the server's hint in seconds, if sent."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UsageLimitError(RateLimitError):
    """A usage cap is reached (Z.ai codes 1308, 1310: "usage limit reached ... resets at ..."),
    sent with HTTP 429 but lasting hours: not retried. ``resets_at`` is when the cap resets, if
    the message says (an aware datetime; Z.ai writes China Standard Time, UTC+8), and
    ``retry_after`` the seconds until then."""

    retryable = False

    def __init__(self, message: str, *, resets_at: _dt.datetime | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.resets_at = resets_at


class ServerError(APIStatusError):
    """5xx, or an upstream overload reported with a 200 (Z.ai's 1305)."""

    retryable = True


class RedirectError(APIStatusError):
    """A 3xx answer: the base URL points at a redirect (``http://`` for an ``https://``
    service, a moved path). Never followed, so the key never goes to another origin, and not
    retried: fix the base URL. ``location`` is where the server pointed."""

    def __init__(self, message: str, *, location: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.location = location


class APIConnectionError(RunAPIError):
    """The request never got an HTTP answer: DNS, refused, reset, TLS."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """Connecting, or waiting for the next bytes, took longer than ``timeout``."""


class IncompleteStreamError(RunAPIError):
    """A stream ended before its finish reason or ``[DONE]``.

    Raised only after every delta received was handed to the caller; ``partial`` holds the
    message accumulated so far (a ChatCompletion-shaped dict). Not retried: part of the answer
    is already out.
    """

    retryable = False

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

    retryable = False


class StreamTimeoutError(StreamInterruptedError, APITimeoutError):
    """The stream stalled past ``timeout`` after part of it was delivered."""

    retryable = False


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

# Provider codes that say what an error means, whatever HTTP status it came with.
_CODE_CLASSES: dict[str, type[APIStatusError]] = {
    "1113": InsufficientCreditsError,  # Z.ai: balance exhausted (sent with HTTP 429)
    "1211": NotFoundError,  # Z.ai: model does not exist (sent with HTTP 400)
    "1261": ContextOverflowError,  # Z.ai: prompt too long (HTTP 400)
    "1301": ContentFilterError,  # Z.ai: unsafe content (HTTP 400)
    "1302": RateLimitError,  # Z.ai: concurrency limit
    "1305": ServerError,  # Z.ai: service temporarily overloaded (HTTP 429, or 200 on a stream)
    "1308": UsageLimitError,  # Z.ai: usage cap reached, resets at a stated time (HTTP 429)
    "1310": UsageLimitError,  # Z.ai: weekly/monthly usage cap
    "rate_limited": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "insufficient_quota": InsufficientCreditsError,
    "insufficient_credits": InsufficientCreditsError,
    "invalid_api_key": AuthenticationError,
    "model_not_found": NotFoundError,
    "unsupported_model_capability": BadRequestError,
    "model_limit_exceeded": BadRequestError,
    "context_length_exceeded": ContextOverflowError,
    "context_window_exceeded": ContextOverflowError,
}

# The OpenAI envelope's "type": read only for an error with no HTTP status to go by (inside a
# stream, or a 200 body), since a generic type says less than a status ("invalid_request_error"
# comes with 404s and 401s too).
_TYPE_CLASSES: dict[str, type[APIStatusError]] = {
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "rate_limit_error": RateLimitError,
    "server_error": ServerError,
    "api_error": ServerError,
    "overloaded_error": ServerError,
}

# Messages that say the prompt is too long, from servers that send no code for it.
_OVERFLOW_WORDS = (
    "context length",
    "context window",
    "maximum context",
    "prompt is too long",
    "prompt exceeds",
    "input is too long",
    "too many tokens",
)

_ADVICE: dict[type[RunAPIError], str] = {
    AuthenticationError: "Check the api_key argument or the RUNAPI_API_KEY environment variable.",
    InsufficientCreditsError: "Top up the account's credit at https://runapi.ai.",
    UsageLimitError: "A usage cap is reached; retrying before it resets cannot help.",
    ContextOverflowError: "Shorten the conversation, or use a model with a larger context window.",
    PermissionDeniedError: "This key may not use this model or endpoint.",
    NotFoundError: "Check the model name (client.list_models() lists what the key can use).",
    RateLimitError: "Slow down, or raise max_retries to let the client wait and retry.",
    ServerError: "This is on the server side; retrying later usually helps.",
    RedirectError: "Fix the base_url argument or the RUNAPI_BASE_URL environment variable "
    "(e.g. https:// instead of http://); redirects are not followed, so the key is never "
    "sent to another address.",
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


MAX_RETRY_AFTER_HINT = 86_400.0
"""A day: a longer hint is absurd, and is capped to this (it is never slept anyway)."""


def _seconds(value: float) -> float | None:
    """A hint as a usable number of seconds: a negative, infinite or nan hint is unreadable
    (None, so the caller's normal backoff applies); an absurd one is capped."""
    if not math.isfinite(value) or value < 0:
        return None
    return min(value, MAX_RETRY_AFTER_HINT)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``Retry-After`` seconds, or an HTTP date;
    None when there is no readable hint. Never negative, infinite or nan; at most a day."""
    headers = _lower(headers)
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return _seconds(float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _seconds(float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return _seconds(max((when - _dt.datetime.now(_dt.timezone.utc)).total_seconds(), 0.0))


def _kind_of(parsed: Any) -> str | None:
    """The OpenAI envelope's ``type`` of a parsed error body, if any."""
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(err, list) and err and isinstance(err[0], dict):
        err = err[0]
    return _as_str(err.get("type")) if isinstance(err, dict) else None


def _class_for(
    status: int | None,
    code: str | None,
    kind: str | None,
    message: str | None,
    unknown: type[RunAPIError] = ServerError,
) -> type[RunAPIError]:
    """The class an error stands for: a known provider code first, then the HTTP status, then
    (with no status) the envelope's type; ``unknown`` when nothing says."""
    cls: type[RunAPIError]
    if code is not None and code in _CODE_CLASSES:
        cls = _CODE_CLASSES[code]
    elif status is not None:
        if status in _STATUS_CLASSES:
            cls = _STATUS_CLASSES[status]
        elif status >= 500:
            cls = ServerError
        elif status == 408:
            cls = APITimeoutError
        elif 400 <= status < 500:
            cls = BadRequestError
        elif 300 <= status < 400:
            cls = RedirectError
        else:
            cls = APIStatusError
    else:
        named = kind or code
        cls = _TYPE_CLASSES.get(named, unknown) if named is not None else unknown
    if cls is BadRequestError and message and _is_overflow(message):
        cls = ContextOverflowError
    return cls


def _is_overflow(message: str) -> bool:
    text = message.lower()
    return any(words in text for words in _OVERFLOW_WORDS)


_RESET_RE = re.compile(
    r"reset\w*\s+(?:at\s+)?(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)"
    r"\s*(Z|UTC|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_CHINA_STANDARD_TIME = _dt.timezone(_dt.timedelta(hours=8))


def parse_reset_time(message: str | None) -> _dt.datetime | None:
    """When a usage cap resets, from a message such as "Your limit will reset at 2026-03-15
    18:30:00": an aware datetime, read as UTC+8 (Z.ai's time, as in its response ids) unless
    the text names a zone; None if the message gives no time."""
    match = _RESET_RE.search(message or "")
    if match is None:
        return None
    try:
        when = _dt.datetime.fromisoformat(match.group(1).replace(" ", "T"))
    except ValueError:
        return None
    zone = (match.group(2) or "").upper()
    if zone in ("Z", "UTC"):
        return when.replace(tzinfo=_dt.timezone.utc)
    if zone:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return when.replace(tzinfo=_dt.timezone(sign * offset))
    return when.replace(tzinfo=_CHINA_STANDARD_TIME)


def _build(
    cls: type[RunAPIError],
    text: str,
    headers: Mapping[str, str] | None,
    message: str | None,
    **kwargs: Any,
) -> RunAPIError:
    """An instance of ``cls`` with the attributes its class carries."""
    if issubclass(cls, UsageLimitError):
        resets_at = parse_reset_time(message)
        wait = None
        if resets_at is not None:
            wait = max((resets_at - _dt.datetime.now(_dt.timezone.utc)).total_seconds(), 0.0)
        return cls(text, resets_at=resets_at, retry_after=wait, **kwargs)
    if issubclass(cls, RateLimitError):
        hint = parse_retry_after(headers) if headers is not None else None
        return cls(text, retry_after=hint, **kwargs)
    if issubclass(cls, RedirectError):
        location = headers.get("location") if headers is not None else None
        return cls(text, location=location, **kwargs)
    return cls(text, **kwargs)


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
    """Turn an error response (a 3xx, 4xx or 5xx) into the matching typed exception."""
    message, code, parsed = parse_error_body(body)
    headers = _lower(headers)
    request_id = headers.get("x-request-id") or (
        _as_str(parsed.get("request_id")) if isinstance(parsed, dict) else None
    )
    cls = _class_for(status_code, code, _kind_of(parsed), message)
    what = f"RunAPI answered HTTP {status_code}"
    if cls is RedirectError:
        where = headers.get("location")
        message = f"a redirect to {where}" if where else "a redirect without a Location"
    elif message is None:
        message = "no error details in the response body" if not body else None
    text = _compose(cls, what, message, code, request_id)
    return _build(
        cls,
        text,
        headers,
        message,
        status_code=status_code,
        code=code,
        request_id=request_id,
        body=parsed,
    )


def error_from_stream_payload(
    payload: Any,
    request_id: str | None = None,
    *,
    where: str = "inside the stream",
    unknown: type[RunAPIError] = ServerError,
) -> RunAPIError:
    """An error reported in a 200 answer: an ``error`` event inside a stream (the upstream
    failed after headers were sent), or, with ``where``, a 200 body that is an error envelope.
    With no HTTP error status to go by, the class comes from the body's code, its own
    ``status``, or its type; ``status_code`` is None unless the body states one. ``unknown``:
    the class when nothing says (a stream that fails midway is most often the upstream
    failing, so by default a retryable ``ServerError``)."""
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
        if request_id is None:
            request_id = _as_str(parsed.get("request_id"))
    cls = _class_for(status, code, _kind_of(parsed), message, unknown)
    text = _compose(cls, f"RunAPI reported an error {where}", message, code, request_id)
    return _build(
        cls, text, None, message, status_code=status, code=code, request_id=request_id, body=parsed
    )


# Tracebacks and reprs show the name to import (runapi_client.NotFoundError), not this module.
for _name in ERROR_CLASSES:
    globals()[_name].__module__ = "runapi_client"
del _name
