"""A fake RunAPI server on 127.0.0.1 that speaks GLM's wire formats and injects faults.

In tests::

    from tests.support.fake_runapi import FakeRunAPI, Fault

    with FakeRunAPI(stream_shape="native") as server:  # or any dialect below
        client = RunAPIClient(base_url=server.base_url, api_key="k")
        server.enqueue(Fault.status(429, retry_after="1"))  # consumed FIFO by the next requests
        ...
        server.requests          # [{"method", "path", "headers", "body"}] in arrival order
        server.open_connections  # sockets open right now (see also wait_idle())

As a process (the benchmark runs it so): ``python -m tests.support.fake_runapi --port 0
--stream-shape native`` prints its base URL on the first stdout line and serves until killed.

Another server can give the same bytes (``bench/server.py`` does): ``RenderedAnswers`` renders
and memoises the answers, ``fill`` and ``created_field`` put a response's id and time in,
``RequestIds`` makes ids of Z.ai's shape and ``response_head`` the status line and headers.

Besides chat and embeddings it serves RunAPI's own API at ``/api/v1`` (beside ``/v1``): the
account (``GET /api/v1/me`` and ``GET /api/v1/me/balance``: a $10.00 paid and $2.50 bonus
balance from which every answered chat and embeddings call's cost is taken, bonus first, in
fractional cents) and the public price list (``GET /api/v1/price_schedules?model=...``:
integer cents per 1M tokens, RunAPI's rates, with an ``ETag``; ``If-None-Match`` gets a 304;
``set_price_schedule`` changes one). ``price_list_url`` is its address.

RunAPI's limits per key, when a test sets them (``server.key_limits = KeyLimits(in_flight=8,
per_second=50, latency=0.02)``): calls beyond them get a 429 with ``Retry-After``, as RunAPI
answers; the pacer's tests meet them.

It is one asyncio server in a background thread (its own event loop), HTTP/1.1 with keep-alive,
streams chunked (or close-delimited with ``framing="close"``). What the model says comes from
``scripted_glm`` (deterministic; it refuses what GLM refuses, calls a tool only when asked, and
otherwise echoes the last user text). Any non-empty ``Authorization: Bearer`` key is accepted
except ``bad-key``; faults are applied before the key is checked.

Refusals, as Z.ai sends them (HTTP 400, ``{"error": {"code": "<code>", "message": ...}}``):
1214 bad ``messages``; 1211 unknown model (a name containing ``does-not-exist``); 1210 a forced
``tool_choice`` or ``response_format`` ``json_schema`` on a GLM model; 1261 a prompt over the
model's context window. See ``scripted_glm`` for these and for when a tool is called.

Dialects (the wire shapes of "What real recordings show" in the wire samples' README), picked
per server (``stream_shape=``) or per request (header ``X-Fake-Dialect``, or its older name
``X-Fake-Stream-Shape``); each shapes streams and JSON answers alike:

================  =================================================================================
``native``        GLM-native stream (the default): no ``object``, ``role`` in every text and
                  reasoning delta, all tool calls in one delta without ``role``, no
                  ``finish_reason`` key on middle chunks, usage on the finish chunk when
                  ``include_usage`` is asked. JSON: ``object``, top-level ``request_id``.
``normalised``    a gateway's normalised stream: ``object`` on every chunk, the finish chunk, then
                  usage in a separate ``choices: []`` chunk; a tool call split in two deltas.
``glm-2025-09``   Z.ai until 2025-09: no ``object`` (JSON neither); a ``"\\n"`` content (and
                  reasoning) delta first; one delta per tool call (index 0, 1), each also carrying
                  ``finish_reason: "tool_calls"``, and a last chunk repeating it with the usage;
                  usage always, never ``reasoning_tokens``; a JSON answer holding only tool calls
                  has no ``content`` key.
``glm-2026``      Z.ai from 2026: ``object`` on every chunk and JSON answer; the first delta is
                  ``{"content": "", "reasoning_content": "\\n"}``, every reasoning delta carries
                  ``"content": ""`` and the first text delta ``"reasoning_content": ""``; one
                  delta per tool call; usage always, on the finish chunk, with
                  ``completion_tokens_details.reasoning_tokens``; no ``content`` key beside only
                  tool calls.
``gateway``       a gateway in front of GLM: ``reasoning`` instead of ``reasoning_content``,
                  ``: PROCESSING`` comment lines before and between events, blank lines before a
                  JSON body, ``cost`` (USD) inside ``usage``, usage always (separate chunk), no
                  leading newline, a tool call as a header delta and an arguments delta, and the
                  model as ``z-ai/glm-4.6-20251001`` (provider prefix, dated snapshot).
================  =================================================================================

In every dialect the response id is 14 digits of UTC+8 time and 16 hex digits, the same on every
chunk and in ``x-request-id``. Tool-call ids are ``call_-<signed int64>`` in JSON answers; in
streams ``call_`` + 24 hex, except in ``native`` and ``normalised`` (kept as they were, so what
was recorded with them keeps its meaning). ``X-Fake-Tool-Index: -1`` gives the first tool call
``"index": -1`` (seen once in a real recording).

Per-request faults without the shared queue: the header ``X-Fake-Fault`` holds one fault as
``kind[=value][;key=value]...``, where ``value`` is the kind's main argument:

===============================  ==============================================================
``status=429;retry_after=1``     HTTP 429 (any status; ``body=...`` replaces the JSON body)
``glm_error=429;code=1113``      a Z.ai error body ``{"error":{"code","message"}}`` with that
                                 status (``message=``, ``retry_after=``; ``request_id=1`` adds a
                                 top-level ``request_id``, as Z.ai sometimes does)
``no_balance``                   HTTP 429, 1113 "Insufficient balance or no resource package..."
``usage_cap``                    HTTP 429, 1308 "Usage limit reached for 5 hour. Your limit will
                                 reset at 2026-03-15 18:30:00"
``overloaded``                   HTTP 429, 1305 "The service may be temporarily overloaded..."
``unsafe``                       HTTP 400, 1301 (unsafe or sensitive content)
``error_200``                    HTTP 200 whose JSON body is a 1305 error, even answering a
                                 stream request (``code=``, ``message=`` for another)
``html=502``                     an HTML gateway page with that status
``not_json``                     200 whose body is not JSON
``redirect=301``                 301/302/307/308 with ``Location`` (default: the same URL over
                                 https, as an http->https redirect; ``location=...``)
``sse_as_json``                  a stream served with ``Content-Type: application/json`` (SSE
                                 frames in the body all the same)
``cut_stream=3``                 close the connection after 3 events (``clean=1``: end the HTTP
                                 body properly, but without a finish chunk or [DONE];
                                 ``mid_frame=1``: first send half of the 4th frame, so the body
                                 ends inside a JSON object)
``stall=5;after=2``              stop for 5 s after 2 events (non-stream: after the headers)
``malformed_event=2``            after 2 events, one event that is not JSON
``error_event=2;code=1305``      after 2 events, an error payload ``data: {"error": ...}``
                                 (``message=``; ``event=error`` sends it as ``event: error``);
                                 ``error_event=0`` (or just ``error_event``): the FIRST event
``delay=2``                      wait 2 s before answering
``huge=20000``                   a 20,000-chunk answer (also ``X-Fake-Chunks: 20000``)
``reset``                        reset the connection before any response
===============================  ==============================================================

Each has a class method on :class:`Fault` of the same name (``Fault.no_balance()``,
``Fault.error_event(0, event="error")``, ``Fault.cut_stream(3, mid_frame=True)``...).
``;times=N`` applies a header fault to the first N requests with the same header and body only,
so a call can fail N times and then succeed on its retry, independently of other calls.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import hashlib
import itertools
import json
import random
import re
import secrets
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.scripted_glm import Answer, Refusal, answer, base_model, refusal, split_words

__all__ = [
    "FakeRunAPI",
    "Fault",
    "RenderedAnswers",
    "RequestIds",
    "created_field",
    "fill",
    "parse_fault_header",
    "response_head",
]

_COMPACT = (",", ":")
MODELS = ("glm-4.6", "glm-4.7", "glm-4.5-air", "glm-5-turbo", "embedding-3")
INVALID_KEY_BODY = {
    "error": {
        "message": "Invalid API key",
        "type": "authentication_error",
        "code": "invalid_api_key",
    }
}
_DEFAULT_ERROR_BODIES: dict[int, Any] = {
    408: {"error": {"message": "Request timeout", "type": "timeout"}},
    429: {"error": {"code": "rate_limited", "message": "Too many requests"}},
    500: {"error": {"message": "Internal server error", "type": "server_error"}},
    503: {"error": "No active channel available"},
}
_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# Z.ai's own messages for the codes its errors carry (the wire samples' README).
OVERLOADED = "The service may be temporarily overloaded, please try again later"
_GLM_ERRORS: dict[str, tuple[int, str, str]] = {  # preset -> (HTTP status, code, message)
    "no_balance": (
        429,
        "1113",
        "Insufficient balance or no resource package. Please recharge.",
    ),
    "usage_cap": (
        429,
        "1308",
        "Usage limit reached for 5 hour. Your limit will reset at 2026-03-15 18:30:00",
    ),
    "overloaded": (429, "1305", OVERLOADED),
    "unsafe": (
        400,
        "1301",
        "系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，"
        "感谢您的配合。",
    ),
    "error_200": (200, "1305", OVERLOADED),
}


@dataclass(frozen=True)
class Fault:
    """One per-request behaviour. Build with the class methods."""

    kind: str
    status_code: int = 200
    retry_after: str | None = None
    body: str | None = None
    after: int = 0
    seconds: float = 0.0
    n_chunks: int = 0
    payload: Any = None
    event: str | None = None
    clean: bool = False
    times: int | None = None
    mid_frame: bool = False
    location: str | None = None
    request_id: bool = False
    """A ``glm_error`` body also carries the response's id as a top-level ``request_id``."""

    @classmethod
    def none(cls) -> Fault:
        """No fault: a normal answer (handy between faults in the queue)."""
        return cls("none")

    @classmethod
    def status(
        cls, status: int, *, retry_after: str | None = None, body: str | None = None
    ) -> Fault:
        return cls("status", status_code=status, retry_after=retry_after, body=body)

    @classmethod
    def glm_error(
        cls,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: str | None = None,
        request_id: bool = False,
    ) -> Fault:
        """Z.ai's error envelope ``{"error": {"code", "message"}}`` with ``status``."""
        return cls(
            "glm_error",
            status_code=status,
            retry_after=retry_after,
            payload={"error": {"code": code, "message": message}},
            request_id=request_id,
        )

    @classmethod
    def _preset(cls, name: str, retry_after: str | None, request_id: bool) -> Fault:
        status, code, message = _GLM_ERRORS[name]
        return cls.glm_error(status, code, message, retry_after=retry_after, request_id=request_id)

    @classmethod
    def no_balance(cls, *, retry_after: str | None = None, request_id: bool = False) -> Fault:
        """HTTP 429, 1113: no balance left (not worth retrying, though the status says 429)."""
        return cls._preset("no_balance", retry_after, request_id)

    @classmethod
    def usage_cap(cls, *, retry_after: str | None = None, request_id: bool = False) -> Fault:
        """HTTP 429, 1308: the plan's 5-hour cap, with the reset time in the message."""
        return cls._preset("usage_cap", retry_after, request_id)

    @classmethod
    def overloaded(cls, *, retry_after: str | None = None, request_id: bool = False) -> Fault:
        """HTTP 429, 1305: Z.ai overloaded."""
        return cls._preset("overloaded", retry_after, request_id)

    @classmethod
    def unsafe(cls, *, request_id: bool = False) -> Fault:
        """HTTP 400, 1301: the content filter refused the input or the output."""
        return cls._preset("unsafe", None, request_id)

    @classmethod
    def error_200(cls, code: str = "1305", message: str = OVERLOADED) -> Fault:
        """HTTP 200 with an error body (seen answering a stream request, as JSON, not SSE)."""
        return cls.glm_error(200, code, message)

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        return cls("html", status_code=status)

    @classmethod
    def not_json(cls) -> Fault:
        return cls("not_json")

    @classmethod
    def redirect(cls, status: int = 307, location: str | None = None) -> Fault:
        """A redirect; ``location`` None: the request's URL over https (http->https)."""
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"a redirect is 301, 302, 303, 307 or 308, not {status}")
        return cls("redirect", status_code=status, location=location)

    @classmethod
    def sse_as_json(cls) -> Fault:
        """A stream labelled ``Content-Type: application/json``, with SSE frames in the body."""
        return cls("sse_as_json")

    @classmethod
    def cut_stream(cls, after: int, *, clean: bool = False, mid_frame: bool = False) -> Fault:
        return cls("cut_stream", after=after, clean=clean, mid_frame=mid_frame)

    @classmethod
    def stall(cls, seconds: float, after: int = 0) -> Fault:
        return cls("stall", seconds=seconds, after=after)

    @classmethod
    def malformed_event(cls, after: int) -> Fault:
        return cls("malformed_event", after=after)

    @classmethod
    def error_event(cls, after: int = 0, payload: Any = None, *, event: str | None = None) -> Fault:
        """An error inside the stream after ``after`` events (0: as the first event), as
        ``data: {"error": ...}`` or, with ``event="error"``, as ``event: error``."""
        payload = payload or {"error": {"code": "1305", "message": OVERLOADED}}
        return cls("error_event", after=after, payload=payload, event=event)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)

    @classmethod
    def huge(cls, n_chunks: int = 20000) -> Fault:
        return cls("huge", n_chunks=n_chunks)

    @classmethod
    def reset(cls) -> Fault:
        return cls("reset")


_MAIN_ARG = {
    "status": "status_code",
    "glm_error": "status_code",
    "html": "status_code",
    "redirect": "status_code",
    "cut_stream": "after",
    "stall": "seconds",
    "malformed_event": "after",
    "error_event": "after",
    "delay": "seconds",
    "huge": "n_chunks",
}
_FIELD_TYPES: dict[str, type] = {
    "status_code": int,
    "after": int,
    "n_chunks": int,
    "times": int,
    "seconds": float,
    "retry_after": str,
    "body": str,
    "event": str,
    "location": str,
}
_FLAGS = ("clean", "mid_frame", "request_id")
_DEFAULTS: dict[str, dict[str, Any]] = {
    "html": {"status_code": 502},
    "huge": {"n_chunks": 20000},
    "redirect": {"status_code": 307},
}

_KINDS = (
    "none",
    "status",
    "glm_error",
    *_GLM_ERRORS,
    "html",
    "not_json",
    "redirect",
    "sse_as_json",
    "cut_stream",
    "stall",
    "malformed_event",
    "error_event",
    "delay",
    "huge",
    "reset",
)


def parse_fault_header(value: str) -> Fault:
    """``kind[=value][;key=value]...`` -> Fault (see the module docstring)."""
    head, *options = [part.strip() for part in value.split(";") if part.strip()]
    kind, _, main = head.partition("=")
    kind = kind.strip()
    if kind not in _KINDS:
        raise ValueError(f"unknown fault {kind!r} in X-Fake-Fault: {value!r}")
    fields: dict[str, Any] = dict(_DEFAULTS.get(kind, {}))
    error = {"code": "1305", "message": OVERLOADED}
    if kind in _GLM_ERRORS:  # a preset: a glm_error with its status, code and message
        status, error["code"], error["message"] = _GLM_ERRORS[kind]
        fields["status_code"] = status
        if main:
            error["code"] = main  # error_200=1234: that code
        kind = "glm_error"
    elif main:
        if kind not in _MAIN_ARG:
            raise ValueError(f"fault {kind!r} takes no value in X-Fake-Fault: {value!r}")
        fields[_MAIN_ARG[kind]] = main
    for option in options:
        key, _, raw = option.partition("=")
        key, raw = key.strip(), raw.strip()
        if key in ("code", "message"):
            error[key] = raw
        elif key in _FLAGS:
            fields[key] = raw.lower() in ("1", "true", "yes")
        elif key in _FIELD_TYPES:
            fields[key] = raw
        else:
            raise ValueError(f"unknown option {key!r} in X-Fake-Fault: {value!r}")
    typed = {k: (_FIELD_TYPES[k](v) if k in _FIELD_TYPES else v) for k, v in fields.items()}
    if kind in ("error_event", "glm_error"):
        typed["payload"] = {"error": error}
    fault = Fault(kind, **typed)
    if kind == "redirect":
        Fault.redirect(fault.status_code)  # the same check as the class method
    return fault


class _Gone(Exception):
    """The client went away; stop serving this connection."""


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    raw_body: bytes
    body: Any = field(default=None)
    target: str = ""
    """The request target as sent (with any query string)."""


# Placeholders for the two per-response values of a rendered answer (the id and ``created``):
# random per process, so no request text can contain them by accident.
_ID_MARK = secrets.token_hex(15)  # as long as a request id
_CREATED = secrets.randbelow(9 * 10**9) + 10**9  # ten digits, like a timestamp
_CREATED_MARK = f'"created":{_CREATED}'


_Key = tuple[bytes, str | None, str | None, int | None]


class RenderedAnswers:
    """Rendered chat answers, memoised (LRU): an answer depends only on the request body, the
    dialect, the first tool call's index and the chunk count, so it is rendered
    (``scripted_glm`` and JSON) once, with placeholders for the id and ``created``, and every
    response fills in its own (:func:`fill`). The refusal a body gets (or None) is memoised the
    same way."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._cache: collections.OrderedDict[_Key, tuple[str, ...]] = collections.OrderedDict()
        self._refusals: collections.OrderedDict[bytes, Refusal | None] = collections.OrderedDict()

    def get(
        self,
        raw_body: bytes,
        body: dict[str, Any],
        stream_shape: str | None,
        n_chunks: int,
        *,
        dialect: str | None = None,
        tool_index: int | None = None,
    ) -> Iterable[str]:
        """The response body (non-streamed: ``stream_shape`` None, in ``dialect``, default
        native) or the stream's items in the dialect ``stream_shape``: ``data:`` payloads, and
        SSE comment lines (which start with ``:``; the gateway dialect's only), with the
        placeholders in. ``tool_index``: the first tool call's ``index`` (-1 as once seen)."""
        if n_chunks:  # a huge answer is a one-off, streamed as it is rendered, not cached
            return _render(body, stream_shape, n_chunks, dialect, tool_index)
        key = (raw_body, stream_shape, dialect, tool_index)
        rendered = self._cache.get(key)
        if rendered is None:
            rendered = tuple(_render(body, stream_shape, n_chunks, dialect, tool_index))
            self._cache[key] = rendered
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return rendered

    def refusal(self, raw_body: bytes, body: Any) -> Refusal | None:
        """What GLM answers with a 400 instead (``scripted_glm.refusal``), or None."""
        if raw_body in self._refusals:
            self._refusals.move_to_end(raw_body)
            return self._refusals[raw_body]
        found = refusal(body)
        self._refusals[raw_body] = found
        if len(self._refusals) > self.size:
            self._refusals.popitem(last=False)
        return found


def created_field(timestamp: int) -> str:
    """The ``"created":<timestamp>`` member that :func:`fill` puts in a rendered answer."""
    return f'"created":{timestamp}'


def fill(rendered: str, request_id: str, created: str) -> str:
    """One response's text: a rendered answer (an item of :meth:`RenderedAnswers.get`) with its
    placeholders replaced by ``request_id`` and ``created`` (from :func:`created_field`)."""
    return rendered.replace(_ID_MARK, request_id).replace(_CREATED_MARK, created)


class RequestIds:
    """``x-request-id`` values of Z.ai's shape, a new one each call: the time in UTC+8
    (Beijing), 14 digits, then 16 hex digits."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> str:
        n = next(self._counter)
        beijing = time.gmtime(time.time() + 8 * 3600)
        return (
            time.strftime("%Y%m%d%H%M%S", beijing) + hashlib.md5(str(n).encode()).hexdigest()[:16]
        )


def response_head(status: int, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 status line and ``headers``, in the order given, up to the blank line."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _check_dialect(name: str) -> str:
    if name not in DIALECTS:
        raise ValueError(f"the dialect (stream_shape) is one of {sorted(DIALECTS)}, not {name!r}")
    return name


@dataclass
class KeyLimits:
    """RunAPI's limits per key, applied to chat calls (``FakeRunAPI.key_limits``): at most
    ``in_flight`` calls of one key answering at once and ``per_second`` started in any one
    second; beyond that a 429 ``{"error": {"code": "rate_limited", ...}}`` with
    ``Retry-After``: by default the whole seconds until a call would be admitted (at least 1,
    as RunAPI sends it); ``retry_after`` a fixed text instead ("0", "-3", "soon", "86400"...),
    or None for no header. An admitted call takes ``latency`` seconds before its answer."""

    in_flight: int | None = None
    per_second: int | None = None
    latency: float = 0.0
    retry_after: str | None = "auto"
    admitted: int = 0
    refused: int = 0
    most_in_flight: int = 0
    """The most calls of one key answering together (what a client's pace let through)."""
    _started: dict[str, collections.deque[float]] = field(default_factory=dict)
    _answering: collections.Counter[str] = field(default_factory=collections.Counter)

    def admit(self, key: str) -> str | None:
        """None if ``key``'s call is admitted (then :meth:`release` it), else the refusal's
        ``Retry-After`` text ("" for none)."""
        now = time.monotonic()
        started = self._started.setdefault(key, collections.deque())
        while started and started[0] <= now - 1.0:
            started.popleft()
        waits = []
        if self.per_second is not None and len(started) >= self.per_second:
            waits.append(started[0] + 1.0 - now)
        if self.in_flight is not None and self._answering[key] >= self.in_flight:
            waits.append(self.latency)
        if waits:
            self.refused += 1
            if self.retry_after == "auto":
                return str(max(1, int(-(-max(waits) // 1))))
            return self.retry_after or ""
        started.append(now)
        self._answering[key] += 1
        self.admitted += 1
        self.most_in_flight = max(self.most_in_flight, self._answering[key])
        return None

    def release(self, key: str) -> None:
        self._answering[key] -= 1


RATE_LIMITED_BODY = {"error": {"code": "rate_limited", "message": "Too many requests"}}


class FakeRunAPI:
    """The server; a context manager that starts and stops it. ``stream_shape`` is the default
    dialect (the name is older than the dialects that are not stream shapes only)."""

    def __init__(
        self,
        stream_shape: str = "native",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framing: str = "chunked",
    ) -> None:
        self.stream_shape = _check_dialect(stream_shape)
        self.framing = framing
        self.host, self.port = host, port
        self.requests: list[dict[str, Any]] = []
        self.total_connections = 0
        self.open_connections = 0
        self._default = Fault.none()
        self._queue: collections.deque[Fault] = collections.deque()
        self._times_seen: collections.Counter[str] = collections.Counter()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ids = RequestIds()
        self._answers = RenderedAnswers()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self.account: dict[str, Any] = dict(ACCOUNT)
        """What ``GET /api/v1/me`` answers."""
        self.paid_cents = 1000.0
        self.bonus_cents = 250.0
        self.spent_today_cents = 0.0
        self.spent_total_cents = 0.0
        self.price_schedules: dict[str, dict[str, Any]] = {
            model: _schedule(model, *(round(usd * 100) for usd in rates))
            for model, rates in _PRICES.items()
        }
        """The price list, by model: RunAPI's rates in integer cents per 1M tokens."""
        self.price_list_as_of = PRICE_LIST_AS_OF
        self.key_limits: KeyLimits | None = None
        """Per-key limits on chat calls (None: none); see :class:`KeyLimits`."""

    # ---------------------------------------------------------------------------- public API

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def price_list_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v1/price_schedules"

    def set_price_schedule(
        self,
        model: str,
        input_cents: float,
        output_cents: float,
        cache_read_cents: float | None = None,
        *,
        as_of: str | None = None,
    ) -> None:
        """Put ``model`` in the price list at these rates (cents per 1M tokens); its ETag
        changes with them."""
        self.price_schedules[model] = _schedule(model, input_cents, output_cents, cache_read_cents)
        if as_of is not None:
            self.price_list_as_of = as_of

    @property
    def price_list_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/api/v1/price_schedules"]

    def balance_payload(self) -> dict[str, Any]:
        """What ``GET /api/v1/me/balance`` answers now."""
        return {
            "balance_cents": round(self.paid_cents + self.bonus_cents, 4),
            "paid_balance_cents": round(self.paid_cents, 4),
            "bonus_balance_cents": round(self.bonus_cents, 4),
            "spent_cents_today": round(self.spent_today_cents, 4),
            "spent_cents_total": round(self.spent_total_cents, 4),
        }

    def _spend(
        self, model: str, usage: Any, rates: tuple[float, float, float] | None = None
    ) -> None:
        """Take a call's cost (RunAPI's rates, as the price list says) off the balance."""
        if not isinstance(usage, dict):
            return
        rates = rates or _PRICES.get(base_model(model), _DEFAULT_PRICE)
        prompt = usage.get("prompt_tokens") or 0
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") or 0 if isinstance(details, dict) else 0
        output = usage.get("completion_tokens") or 0
        usd = ((prompt - cached) * rates[0] + cached * rates[2] + output * rates[1]) / 1e6
        cents = usd * 100
        from_bonus = min(cents, self.bonus_cents)
        self.bonus_cents -= from_bonus
        self.paid_cents -= cents - from_bonus
        self.spent_today_cents += cents
        self.spent_total_cents += cents

    def enqueue(self, *faults: Fault) -> None:
        self._queue.extend(faults)

    def set_default(
        self,
        fault: Fault | None = None,
        *,
        stream_shape: str | None = None,
        framing: str | None = None,
    ) -> None:
        """Change what a request with no queued or header fault gets."""
        if fault is not None:
            self._default = fault
        if stream_shape is not None:
            self.stream_shape = _check_dialect(stream_shape)
        if framing is not None:
            self.framing = framing

    def reset_state(self) -> None:
        """Forget recorded requests and queued faults (between tests sharing a server)."""
        self.requests.clear()
        self._queue.clear()
        self._default = Fault.none()

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def wait_idle(self, timeout: float = 5.0, *, at_most: int = 0) -> bool:
        """Wait until at most ``at_most`` connections are open; True if reached in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.open_connections <= at_most:
                return True
            time.sleep(0.01)
        return self.open_connections <= at_most

    def start(self) -> FakeRunAPI:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-runapi", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeRunAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, limit=1 << 20, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.sleep(0)
        # A handler still waiting (a latency, a stall) would be destroyed pending when the loop
        # closes, and asyncio logs that at ERROR in whatever test collects it: end them here.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 5)

    # ---------------------------------------------------------------------------- HTTP

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.total_connections += 1
        self.open_connections += 1
        self._writers.add(writer)
        try:
            while True:
                request = await self._read_request(reader, writer)
                if request is None or not await self._respond(request, reader, writer):
                    break
        except (
            _Gone,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass
        finally:
            self.open_connections -= 1
            self._writers.discard(writer)
            writer.transport.abort()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readline()
            raw = b"".join(parts)
        else:
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
        request = _Request(method, target.split("?", 1)[0], headers, raw, target=target)
        with contextlib.suppress(ValueError):
            request.body = json.loads(raw) if raw else None
        self.requests.append(
            {"method": method, "path": request.path, "headers": headers, "body": request.body}
        )
        return request

    def _pick_fault(self, request: _Request) -> Fault:
        header = request.headers.get("x-fake-fault")
        if header:
            fault = parse_fault_header(header)
            if fault.times is not None:
                key = hashlib.sha256(header.encode() + b"\0" + request.raw_body).hexdigest()
                self._times_seen[key] += 1
                if self._times_seen[key] > fault.times:
                    fault = Fault.none()
            if fault.kind != "none":
                return fault
        if request.headers.get("x-fake-chunks"):
            return Fault.huge(int(request.headers["x-fake-chunks"]))
        if self._queue:
            return self._queue.popleft()
        return self._default

    def _request_id(self) -> str:
        return self._ids.next()

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes | str | Any,
        *,
        content_type: str = "application/json",
        extra: dict[str, str] | None = None,
        request_id: str | None = None,
        keep_alive: bool = True,
    ) -> bool:
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body, ensure_ascii=False, separators=_COMPACT)
        data = body.encode() if isinstance(body, str) else body
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "x-request-id": request_id or self._request_id(),
            **(extra or {}),
        }
        if not keep_alive:
            headers["Connection"] = "close"
        writer.write(response_head(status, headers) + data)
        await writer.drain()
        return keep_alive

    async def _sleep(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float
    ) -> None:
        """Sleep, but notice a client that hangs up meanwhile (so connection counts are true)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if reader.at_eof() or writer.transport.is_closing():
                raise _Gone
            await asyncio.sleep(min(left, 0.02))

    async def _price_list(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        """``GET /api/v1/price_schedules[?model=...]``: public (no key), ETag-revalidated."""
        keep_alive = request.headers.get("connection", "").lower() != "close"
        query = parse_qs(urlsplit(request.target).query)
        wanted = [base_model(m) for m in query.get("model", [])]
        schedules = [
            schedule
            for model, schedule in self.price_schedules.items()
            if not wanted or model in wanted
        ]
        payload = {"as_of": self.price_list_as_of, "price_schedules": schedules}
        body = _dump(payload)
        etag = f'W/"{hashlib.sha256(body.encode()).hexdigest()[:16]}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
        if request.headers.get("if-none-match") == etag:
            writer.write(response_head(304, {**headers, "Content-Length": "0"}))
            await writer.drain()
            return keep_alive
        return await self._send(writer, 200, body, extra=headers, keep_alive=keep_alive)

    async def _respond(
        self, request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        keep_alive = request.headers.get("connection", "").lower() != "close"
        fault = self._pick_fault(request)
        if fault.kind == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise _Gone
        if fault.kind == "delay":
            await self._sleep(reader, writer, fault.seconds)
        if fault.kind == "status":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            body = (
                fault.body
                if fault.body is not None
                else _DEFAULT_ERROR_BODIES.get(
                    fault.status_code,
                    {"error": {"message": f"HTTP {fault.status_code}", "type": "error"}},
                )
            )
            return await self._send(
                writer, fault.status_code, body, extra=extra, keep_alive=keep_alive
            )
        if fault.kind == "glm_error":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            request_id = self._request_id()
            payload = fault.payload
            if fault.request_id:
                payload = {**payload, "request_id": request_id}
            return await self._send(
                writer,
                fault.status_code,
                payload,
                extra=extra,
                request_id=request_id,
                keep_alive=keep_alive,
            )
        if fault.kind in ("html", "redirect"):
            title = f"{fault.status_code} {_REASONS.get(fault.status_code, 'Error')}"
            page = (
                f"<!doctype html><html><head><title>{title}</title></head>"
                f"<body><h1>{title}</h1><hr>nginx</body></html>"
            )
            extra = {}
            if fault.kind == "redirect":
                host = request.headers.get("host", f"{self.host}:{self.port}")
                extra["Location"] = fault.location or f"https://{host}{request.target}"
            return await self._send(
                writer,
                fault.status_code,
                page,
                content_type="text/html",
                extra=extra,
                keep_alive=keep_alive,
            )
        if fault.kind == "not_json":
            return await self._send(
                writer,
                200,
                "upstream answered: OK (this is not JSON)",
                content_type="text/plain",
                keep_alive=keep_alive,
            )

        if request.method == "GET" and request.path == "/api/v1/price_schedules":
            return await self._price_list(request, writer)
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key or key == "bad-key":
            return await self._send(writer, 401, INVALID_KEY_BODY, keep_alive=keep_alive)
        path, body = request.path, request.body
        if request.method == "GET" and path == "/api/v1/me":
            return await self._send(writer, 200, self.account, keep_alive=keep_alive)
        if request.method == "GET" and path == "/api/v1/me/balance":
            return await self._send(writer, 200, self.balance_payload(), keep_alive=keep_alive)
        if request.method == "GET" and path == "/v1/models":
            models = [
                {"id": m, "object": "model", "created": 1759305357, "owned_by": "zhipu"}
                for m in MODELS
            ]
            return await self._send(
                writer, 200, {"object": "list", "data": models}, keep_alive=keep_alive
            )
        if request.method == "POST" and path == "/v1/embeddings" and isinstance(body, dict):
            answer = _embeddings(body)
            self._spend(str(body.get("model") or ""), answer["usage"], EMBEDDING_PRICE)
            return await self._send(writer, 200, answer, keep_alive=keep_alive)
        if request.method != "POST" or path != "/v1/chat/completions":
            return await self._send(
                writer,
                404,
                {"error": {"message": f"No route {request.method} {path}", "type": "not_found"}},
                keep_alive=keep_alive,
            )
        limits = self.key_limits
        if limits is None:
            return await self._chat(request, reader, writer, fault, keep_alive)
        retry_after = limits.admit(key)
        if retry_after is not None:
            extra = {"Retry-After": retry_after} if retry_after else {}
            return await self._send(
                writer, 429, RATE_LIMITED_BODY, extra=extra, keep_alive=keep_alive
            )
        try:
            if limits.latency:
                await self._sleep(reader, writer, limits.latency)
            return await self._chat(request, reader, writer, fault, keep_alive)
        finally:
            limits.release(key)

    async def _chat(
        self,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        fault: Fault,
        keep_alive: bool,
    ) -> bool:
        body = request.body
        refused = self._answers.refusal(request.raw_body, body)
        if refused is not None:
            return await self._send(writer, refused.status, refused.body(), keep_alive=keep_alive)
        assert isinstance(body, dict)  # a body that is not is refused (1214)
        dialect = request.headers.get(
            "x-fake-dialect", request.headers.get("x-fake-stream-shape", self.stream_shape)
        )
        index_header = request.headers.get("x-fake-tool-index", "")
        problem = None
        if dialect not in DIALECTS:
            problem = f"X-Fake-Dialect is one of {sorted(DIALECTS)}, not {dialect!r}"
        elif index_header and not re.fullmatch(r"-?\d+", index_header):
            problem = f"X-Fake-Tool-Index is an integer, not {index_header!r}"
        if problem:  # a test's mistake, not GLM's behaviour: the fake's own error type
            return await self._send(
                writer,
                400,
                {"error": {"message": problem, "type": "fake_server_error"}},
                keep_alive=keep_alive,
            )
        tool_index = int(index_header) if index_header else None
        request_id = self._request_id()
        created = created_field(int(time.time()))
        n_chunks = fault.n_chunks if fault.kind == "huge" else 0
        if body.get("stream"):
            events = self._answers.get(
                request.raw_body, body, dialect, n_chunks, tool_index=tool_index
            )
            if isinstance(events, tuple):  # not a huge answer rendered as it streams
                usage = next((e for e in reversed(events) if '"usage"' in e), None)
                if usage is not None:
                    self._spend(str(body.get("model") or ""), json.loads(usage).get("usage"))
            return await self._stream(
                request, reader, writer, fault, events, request_id, created, keep_alive
            )
        (rendered,) = self._answers.get(
            request.raw_body, body, None, n_chunks, dialect=dialect, tool_index=tool_index
        )
        data = fill(rendered, request_id, created).encode()
        self._spend(str(body.get("model") or ""), json.loads(data).get("usage"))
        if fault.kind in ("stall", "cut_stream"):
            writer.write(
                response_head(
                    200,
                    {
                        "Content-Type": "application/json",
                        "Content-Length": str(len(data)),
                        "x-request-id": request_id,
                    },
                )
            )
            await writer.drain()
            if fault.kind == "cut_stream":
                writer.write(data[: len(data) // 2])
                await writer.drain()
                raise _Gone
            await self._sleep(reader, writer, fault.seconds)
            writer.write(data)
            await writer.drain()
            return keep_alive
        return await self._send(writer, 200, data, request_id=request_id, keep_alive=keep_alive)

    async def _stream(
        self,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        fault: Fault,
        events: Iterable[str],
        request_id: str,
        created: str,
        keep_alive: bool,
    ) -> bool:
        chunked = self.framing == "chunked" and request.headers.get("x-fake-framing") != "close"
        content_type = (
            "application/json"
            if fault.kind == "sse_as_json"
            else "text/event-stream; charset=utf-8"
        )
        headers = {
            "Content-Type": content_type,
            "Cache-Control": "no-cache",
            "x-request-id": request_id,
        }
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Connection"] = "close"
        if not keep_alive:
            headers["Connection"] = "close"
        writer.write(response_head(200, headers))

        def write(data: bytes) -> None:
            writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

        def frame(item: str) -> bytes:
            # Items starting with ":" are SSE comment lines; the rest are data payloads.
            return f"{item}\n\n".encode() if item.startswith(":") else f"data: {item}\n\n".encode()

        count = 0  # data events sent; comment lines do not count for the faults' "after"
        for item in events:
            if writer.transport.is_closing():
                raise _Gone
            if item.startswith(":"):
                write(frame(item))
                continue
            if count == fault.after and fault.kind in (
                "cut_stream",
                "stall",
                "malformed_event",
                "error_event",
            ):
                await writer.drain()
                if fault.kind == "cut_stream":
                    if fault.mid_frame:  # half a frame: the body ends inside a JSON object
                        data = frame(fill(item, request_id, created))
                        write(data[: len(data) // 2])
                        await writer.drain()
                    if not fault.clean:
                        raise _Gone  # connection dropped mid-body: incomplete chunked read
                    break
                if fault.kind == "stall":
                    await self._sleep(reader, writer, fault.seconds)
                elif fault.kind == "malformed_event":
                    write(
                        frame(
                            '{"id": "'
                            + request_id
                            + '", "choices": [{"index": 0, "delta": {"content": "br'
                        )
                    )
                else:
                    payload = _dump(fault.payload)
                    if fault.event:
                        write(f"event: {fault.event}\ndata: {payload}\n\n".encode())
                    else:
                        write(frame(payload))
                    break
            write(frame(fill(item, request_id, created)))
            count += 1
            if count % 64 == 0:
                await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return chunked and keep_alive


# -------------------------------------------------------------------------------- wire shapes


@dataclass(frozen=True)
class _Dialect:
    """How one real source puts an answer on the wire (see the module docstring's table)."""

    name: str
    chunk_object: bool = False
    """``"object": "chat.completion.chunk"`` on every chunk."""
    json_object: bool = True
    """``"object": "chat.completion"`` in a JSON answer."""
    json_request_id: bool = True
    """A top-level ``request_id`` (the id again) in a JSON answer."""
    reasoning_key: str = "reasoning_content"
    tool_deltas: str = "together"
    """together: all calls in one delta; each: a delta per call; halves: a delta per half of
    the call (arguments cut in the middle); header: a header delta, then the arguments."""
    tool_delta_role: bool = False
    tool_delta_finish: bool = False
    """Every tool-call delta carries ``finish_reason: "tool_calls"`` (until 2025-09)."""
    stream_call_ids: bool = False
    """Tool-call ids in streams are ``call_`` + 24 hex (JSON answers keep ``call_-<int64>``)."""
    usage_always: bool = False
    """Usage comes whether or not ``stream_options.include_usage`` asks for it."""
    usage_chunk: bool = False
    """Usage in a separate ``choices: []`` chunk (else on the finish chunk)."""
    reasoning_tokens: str = "if-any"
    """``completion_tokens_details.reasoning_tokens``: if-any, always or never."""
    reasoning_lead: str = "attached"
    content_lead: str = "attached"
    """The leading newline of the text: attached (to the first word), own (a delta of its own),
    none (left out, in JSON answers too)."""
    mixed_deltas: bool = False
    """Reasoning deltas carry ``"content": ""``; the first text delta ``"reasoning_content":
    ""``: the key present is not the text there is."""
    bare_tool_answer: bool = False
    """A JSON answer holding only tool calls has no ``content`` key."""
    comments: bool = False
    """``: PROCESSING`` SSE comment lines before and between events."""
    json_blank_lines: bool = False
    """Blank lines before a JSON body (a gateway keeping the connection busy)."""
    cost: bool = False
    """A ``cost`` in USD inside ``usage``."""
    model_alias: bool = False
    """The model as ``provider/name-YYYYMMDD``."""


DIALECTS = {
    d.name: d
    for d in (
        _Dialect("native", tool_deltas="together"),
        _Dialect("normalised", chunk_object=True, tool_deltas="halves", usage_chunk=True),
        _Dialect(
            "glm-2025-09",
            json_object=False,
            tool_deltas="each",
            tool_delta_finish=True,
            stream_call_ids=True,
            usage_always=True,
            reasoning_tokens="never",
            reasoning_lead="own",
            content_lead="own",
            bare_tool_answer=True,
        ),
        _Dialect(
            "glm-2026",
            chunk_object=True,
            tool_deltas="each",
            stream_call_ids=True,
            usage_always=True,
            reasoning_tokens="always",
            reasoning_lead="own",
            mixed_deltas=True,
            bare_tool_answer=True,
        ),
        _Dialect(
            "gateway",
            chunk_object=True,
            json_request_id=False,
            reasoning_key="reasoning",
            tool_deltas="header",
            stream_call_ids=True,
            usage_always=True,
            usage_chunk=True,
            reasoning_lead="none",
            content_lead="none",
            comments=True,
            json_blank_lines=True,
            cost=True,
            model_alias=True,
        ),
    )
}
_COMMENT = ": PROCESSING"
# Snapshot dates a gateway appends to the model name; other models get _DEFAULT_SNAPSHOT.
_SNAPSHOTS = {
    "glm-4.5": "20250728",
    "glm-4.5-air": "20250728",
    "glm-4.6": "20251001",
    "glm-4.7": "20251222",
    "glm-5": "20260211",
    "glm-5-turbo": "20260315",
    "glm-5.1": "20260407",
    "gpt-4o-mini": "20240718",
}
_DEFAULT_SNAPSHOT = "20250101"
# USD per 1M tokens (input, output, cache read), for the gateway's ``cost``: RunAPI's rates.
_PRICES = {
    "glm-4.5-air": (0.10, 0.55, 0.02),
    "glm-4.6": (0.30, 1.10, 0.06),
    "glm-4.7": (0.30, 1.10, 0.06),
    "glm-5-turbo": (0.60, 2.00, 0.12),
}
_DEFAULT_PRICE = (0.30, 1.10, 0.06)
EMBEDDING_PRICE = (0.02, 0.0, 0.02)
"""What the emulator bills an embedding call, per 1M tokens: an assumed rate, as RunAPI publishes
none (so the client reports no cost for it, and only the balance shows what it took)."""
PRICE_LIST_AS_OF = "2026-11-29T00:00:00Z"
ACCOUNT: dict[str, Any] = {
    "id": "usr_7f3c2a9e41d0",
    "email": "developer@example.com",
    "name": "Emulator Account",
    "created_at": "2026-01-15T09:30:00Z",
}


def _schedule(
    model: str, input_cents: float, output_cents: float, cache_read_cents: float | None = None
) -> dict[str, Any]:
    """One price schedule as RunAPI's list writes it: cents per 1M tokens."""
    return {
        "model": model,
        "input_price_per_1m_cents": input_cents,
        "output_price_per_1m_cents": output_cents,
        "cache_read_price_per_1m_cents": cache_read_cents,
        "cache_write_price_per_1m_cents": 0,
    }


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=_COMPACT)


def _model_name(wire: _Dialect, model: str) -> str:
    if not wire.model_alias or not model:
        return model
    base = base_model(model)
    prefix = "z-ai/" if base.startswith("glm") else "openai/" if base.startswith("gpt") else ""
    return f"{prefix}{base}-{_SNAPSHOTS.get(base, _DEFAULT_SNAPSHOT)}"


def _lead(text: str, lead: str) -> str:
    return text.lstrip("\n") if lead == "none" else text


def _pieces(text: str, lead: str) -> list[str]:
    """Stream pieces of ``text`` with its leading newline as the dialect sends it."""
    if lead == "own" and text.startswith("\n"):
        return ["\n", *split_words(text[1:])]
    return split_words(_lead(text, lead))


def _usage(wire: _Dialect, result: Answer, model: str) -> dict[str, Any]:
    usage = result.usage()
    if wire.reasoning_tokens != "if-any":
        usage = {
            "completion_tokens": result.completion_tokens,
            "prompt_tokens": result.prompt_tokens,
            "prompt_tokens_details": {"cached_tokens": result.cached_tokens},
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        }
        if wire.reasoning_tokens == "always":
            usage["completion_tokens_details"] = {"reasoning_tokens": result.reasoning_tokens}
    if wire.cost:
        price_in, price_out, price_cached = _PRICES.get(base_model(model), _DEFAULT_PRICE)
        uncached = result.prompt_tokens - result.cached_tokens
        usd = uncached * price_in + result.cached_tokens * price_cached
        usage["cost"] = round((usd + result.completion_tokens * price_out) / 1e6, 12)
    return usage


def _with_index(calls: list[dict[str, Any]], tool_index: int | None) -> list[dict[str, Any]]:
    if tool_index is None or not calls:
        return calls
    return [{**calls[0], "index": tool_index}, *calls[1:]]


def _stream_id(call_id: str) -> str:
    return "call_" + hashlib.sha256(call_id.encode()).hexdigest()[:24]


def _render(
    body: dict[str, Any],
    stream_shape: str | None,
    n_chunks: int,
    dialect: str | None = None,
    tool_index: int | None = None,
) -> Iterator[str]:
    """A chat answer on the wire with placeholders for the id and ``created`` (see
    RenderedAnswers)."""
    model = str(body.get("model") or "")
    result = answer(body)
    if n_chunks:
        _make_huge(result, n_chunks)
    result.tool_calls = _with_index(result.tool_calls, tool_index)
    if stream_shape is None:
        wire = DIALECTS[dialect or "native"]
        completion = _dump(_completion(wire, model, result, _ID_MARK, _CREATED))
        return iter(["\n\n" + completion if wire.json_blank_lines else completion])
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return _stream_events(DIALECTS[stream_shape], model, result, _ID_MARK, _CREATED, include_usage)


def _make_huge(result: Answer, n_chunks: int) -> None:
    have = len(split_words(result.content))
    result.tool_calls = []
    result.finish_reason = "stop"
    result.content += "".join(f" w{i}" for i in range(max(n_chunks - have, 0)))
    result.completion_tokens = max(n_chunks, have) + result.reasoning_tokens


def _completion(
    wire: _Dialect, model: str, result: Answer, request_id: str, created: int
) -> dict[str, Any]:
    message: dict[str, Any] = {}
    content = _lead(result.content, wire.content_lead)
    if content or not (wire.bare_tool_answer and result.tool_calls):
        message["content"] = content
    message["role"] = "assistant"
    if result.reasoning:
        message[wire.reasoning_key] = _lead(result.reasoning, wire.reasoning_lead)
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    completion: dict[str, Any] = {
        "choices": [{"finish_reason": result.finish_reason, "index": 0, "message": message}],
        "created": created,
        "id": request_id,
        "model": _model_name(wire, model),
    }
    if wire.json_object:
        completion["object"] = "chat.completion"
    if wire.json_request_id:
        completion["request_id"] = request_id
    completion["usage"] = _usage(wire, result, model)
    return completion


def _tool_deltas(wire: _Dialect, calls: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The ``delta`` objects that carry ``calls`` in ``wire``'s way."""
    if not calls:
        return
    if wire.stream_call_ids:
        calls = [{**call, "id": _stream_id(call["id"])} for call in calls]
    if wire.tool_deltas == "together":
        yield (
            {"role": "assistant", "tool_calls": calls}
            if wire.tool_delta_role
            else {"tool_calls": calls}
        )
        return
    for call in calls:
        if wire.tool_deltas == "each":
            yield {"tool_calls": [call]}
            continue
        args = call["function"]["arguments"]
        cut = max(1, len(args) // 2) if wire.tool_deltas == "halves" else 0
        header = {
            "index": call["index"],
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": args[:cut]},
        }
        yield {"tool_calls": [header]}
        if args[cut:]:
            yield {"tool_calls": [{"index": call["index"], "function": {"arguments": args[cut:]}}]}


def _stream_events(
    wire: _Dialect,
    model: str,
    result: Answer,
    request_id: str,
    created: int,
    include_usage: bool,
) -> Iterator[str]:
    """The stream's items in ``wire``'s dialect (``data:`` payloads and, starting with ``:``,
    comment lines), then [DONE]."""
    head: dict[str, Any] = {"id": request_id, "created": created}
    if wire.chunk_object:
        head["object"] = "chat.completion.chunk"
    head["model"] = _model_name(wire, model)

    def chunk(delta: dict[str, Any], **extra: Any) -> str:
        choice: dict[str, Any] = {"index": 0, **extra, "delta": delta}
        return _dump({**head, "choices": [choice]})

    if wire.comments:
        yield _COMMENT
    thought = _pieces(result.reasoning, wire.reasoning_lead)
    for piece in thought:
        mixed = {"content": ""} if wire.mixed_deltas else {}
        yield chunk({"role": "assistant", **mixed, wire.reasoning_key: piece})
    if wire.comments and thought:
        yield _COMMENT  # the gateway waits for the first word of the answer
    for number, piece in enumerate(_pieces(result.content, wire.content_lead)):
        mixed = {wire.reasoning_key: ""} if wire.mixed_deltas and number == 0 else {}
        yield chunk({"role": "assistant", "content": piece, **mixed})
    calls_finish = {"finish_reason": "tool_calls"} if wire.tool_delta_finish else {}
    for delta in _tool_deltas(wire, result.tool_calls):
        yield chunk(delta, **calls_finish)
    finish = {"finish_reason": result.finish_reason}
    with_usage = include_usage or wire.usage_always
    if wire.usage_chunk or not with_usage:
        yield chunk({"role": "assistant", "content": ""}, **finish)
        if with_usage:
            yield _dump({**head, "choices": [], "usage": _usage(wire, result, model)})
    else:
        choice = {"index": 0, **finish, "delta": {"role": "assistant", "content": ""}}
        yield _dump({**head, "choices": [choice], "usage": _usage(wire, result, model)})
    yield "[DONE]"


def _bag_of_words(text: str, dims: int) -> list[float]:
    """A hashing-trick vector of the text's words plus a little text-specific noise: texts that
    share words come out close (so retrieval over it ranks sensibly), equal texts are equal, and
    different texts never coincide."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    vector = [rng.uniform(-0.05, 0.05) for _ in range(dims)]
    for word in re.findall(r"[a-z0-9]{3,}", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little") % dims
        vector[slot] += 1.0 if digest[4] & 1 else -1.0
    return vector


EMBEDDING_DIMENSIONS = {
    # OpenAI's, served by RunAPI: a vector's length when no ``dimensions`` is asked for
    # (OpenAI's model pages; tests/reliability checks them).
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    # Z.ai's own (in /v1/models above): 2048 by default, or 256, 512 or 1024 (Z.ai's docs).
    "embedding-3": 2048,
}


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    items = (
        inputs
        if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int)
        else [inputs]
    )
    model = body.get("model", "embedding-3")
    dims: int = (
        body["dimensions"]
        if isinstance(body.get("dimensions"), int)
        else EMBEDDING_DIMENSIONS.get(str(model), 1536)
    )
    data, tokens = [], 0
    for index, item in enumerate(items):
        text = json.dumps(item, ensure_ascii=False, separators=_COMPACT)
        tokens += max(1, len(text) // 4)
        vector = _bag_of_words(text, dims)
        norm = sum(v * v for v in vector) ** 0.5 or 1.0
        vector = [v / norm for v in vector]
        embedding: Any = vector
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stream-shape", "--dialect", choices=sorted(DIALECTS), default="native")
    parser.add_argument("--framing", choices=("chunked", "close"), default="chunked")
    args = parser.parse_args(argv)
    server = FakeRunAPI(args.stream_shape, host=args.host, port=args.port, framing=args.framing)

    async def run() -> None:
        await server._listen()
        print(server.base_url, flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    sys.exit(0)


if __name__ == "__main__":
    main()
