"""A fake RunAPI server on 127.0.0.1 that speaks GLM-4.6's wire format and injects faults.

In tests::

    from tests.support.fake_runapi import FakeRunAPI, Fault

    with FakeRunAPI(stream_shape="native") as server:  # or "normalised"
        client = RunAPIClient(base_url=server.base_url, api_key="k")
        server.enqueue(Fault.status(429, retry_after="1"))  # consumed FIFO by the next requests
        ...
        server.requests          # [{"method", "path", "headers", "body"}] in arrival order
        server.open_connections  # sockets open right now (see also wait_idle())

As a process (the benchmark runs it so): ``python -m tests.support.fake_runapi --port 0
--stream-shape native`` prints its base URL on the first stdout line and serves until killed.

It is one asyncio server in a background thread (its own event loop), HTTP/1.1 with keep-alive,
streams chunked (or close-delimited with ``framing="close"``). Answers come from
``scripted_glm`` (deterministic; echo the last user text). Any non-empty ``Authorization:
Bearer`` key is accepted except ``bad-key``; faults are applied before the key is checked.

Per-request faults without the shared queue: the header ``X-Fake-Fault`` holds one fault as
``kind[=value][;key=value]...``, where ``value`` is the kind's main argument:

====================  ===============================================================
``status=429;retry_after=1``   HTTP 429 (any status; ``body=...`` replaces the JSON body)
``html=502``                   an HTML gateway page with that status
``not_json``                   200 whose body is not JSON
``cut_stream=3``               close the connection after 3 events (``clean=1``: end the
                               HTTP body properly, but without a finish chunk or [DONE])
``stall=5;after=2``            stop for 5 s after 2 events (non-stream: after the headers)
``malformed_event=2``          after 2 events, one event that is not JSON
``error_event=2;code=1305``    after 2 events, an error payload (``message=``, ``event=error``)
``delay=2``                    wait 2 s before answering
``huge=20000``                 a 20,000-chunk answer (also ``X-Fake-Chunks: 20000``)
``reset``                      reset the connection before any response
====================  ===============================================================

``;times=N`` applies a header fault to the first N requests with the same header and body only,
so a call can fail N times and then succeed on its retry, independently of other calls.
``X-Fake-Stream-Shape: native|normalised`` picks the stream shape per request.
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

from tests.support.scripted_glm import Answer, answer, split_words

__all__ = ["FakeRunAPI", "Fault", "parse_fault_header"]

_COMPACT = (",", ":")
MODELS = ("glm-4.6", "glm-4.7", "glm-4.5-air", "glm-5-turbo", "embedding-3")
INVALID_KEY_BODY = {
    "error": {
        "message": "Invalid API key",
        "type": "authentication_error",
        "code": "invalid_api_key",
    }
}
_DEFAULT_ERROR_BODIES = {
    408: {"error": {"message": "Request timeout", "type": "timeout"}},
    429: {"error": {"code": "rate_limited", "message": "Too many requests"}},
    500: {"error": {"message": "Internal server error", "type": "server_error"}},
    503: {"error": "No active channel available"},
}
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
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
    def html(cls, status: int = 502) -> Fault:
        return cls("html", status_code=status)

    @classmethod
    def not_json(cls) -> Fault:
        return cls("not_json")

    @classmethod
    def cut_stream(cls, after: int, *, clean: bool = False) -> Fault:
        return cls("cut_stream", after=after, clean=clean)

    @classmethod
    def stall(cls, seconds: float, after: int = 0) -> Fault:
        return cls("stall", seconds=seconds, after=after)

    @classmethod
    def malformed_event(cls, after: int) -> Fault:
        return cls("malformed_event", after=after)

    @classmethod
    def error_event(cls, after: int, payload: Any = None, *, event: str | None = None) -> Fault:
        payload = payload or {
            "error": {"code": "1305", "message": "The service may be temporarily overloaded"}
        }
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
    "html": "status_code",
    "cut_stream": "after",
    "stall": "seconds",
    "malformed_event": "after",
    "error_event": "after",
    "delay": "seconds",
    "huge": "n_chunks",
}
_FIELD_TYPES = {
    "status_code": int,
    "after": int,
    "n_chunks": int,
    "times": int,
    "seconds": float,
    "retry_after": str,
    "body": str,
    "event": str,
}


_KINDS = (
    "none",
    "status",
    "html",
    "not_json",
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
    fields: dict[str, Any] = {"html": {"status_code": 502}, "huge": {"n_chunks": 20000}}.get(
        kind, {}
    )
    if main:
        fields[_MAIN_ARG[kind]] = main
    error: dict[str, str] = {"code": "1305", "message": "The service may be temporarily overloaded"}
    for option in options:
        key, _, raw = option.partition("=")
        key, raw = key.strip(), raw.strip()
        if key in ("code", "message"):
            error[key] = raw
        elif key == "clean":
            fields["clean"] = raw.lower() in ("1", "true", "yes")
        elif key in _FIELD_TYPES:
            fields[key] = raw
        else:
            raise ValueError(f"unknown option {key!r} in X-Fake-Fault: {value!r}")
    typed = {k: (_FIELD_TYPES[k](v) if k in _FIELD_TYPES else v) for k, v in fields.items()}
    if kind == "error_event":
        typed["payload"] = {"error": error}
    return Fault(kind, **typed)


class _Gone(Exception):
    """The client went away; stop serving this connection."""


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    raw_body: bytes
    body: Any = field(default=None)


# Placeholders for the two per-response values of a rendered answer (the id and ``created``):
# random per process, so no request text can contain them by accident.
_ID_MARK = secrets.token_hex(15)  # as long as a request id
_CREATED = secrets.randbelow(9 * 10**9) + 10**9  # ten digits, like a timestamp
_CREATED_MARK = f'"created":{_CREATED}'


class _Answers:
    """Rendered chat answers, memoised (LRU): an answer depends only on the request body, the
    stream shape and the chunk count, so it is rendered (``scripted_glm`` and JSON) once, with
    placeholders for the id and ``created``, and every response fills in its own."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._cache: collections.OrderedDict[tuple[bytes, str | None], tuple[str, ...]] = (
            collections.OrderedDict()
        )

    def get(
        self, raw_body: bytes, body: dict[str, Any], stream_shape: str | None, n_chunks: int
    ) -> Iterable[str]:
        """The response body (non-streamed, ``stream_shape`` None) or the ``data:`` payloads of
        the stream, with the placeholders in."""
        if n_chunks:  # a huge answer is a one-off, streamed as it is rendered, not cached
            return _render(body, stream_shape, n_chunks)
        key = (raw_body, stream_shape)
        rendered = self._cache.get(key)
        if rendered is None:
            rendered = tuple(_render(body, stream_shape, n_chunks))
            self._cache[key] = rendered
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return rendered


def _fill(rendered: str, request_id: str, created: str) -> str:
    return rendered.replace(_ID_MARK, request_id).replace(_CREATED_MARK, created)


class FakeRunAPI:
    """The server; a context manager that starts and stops it."""

    def __init__(
        self,
        stream_shape: str = "native",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framing: str = "chunked",
    ) -> None:
        if stream_shape not in ("native", "normalised"):
            raise ValueError("stream_shape is 'native' or 'normalised'")
        self.stream_shape = stream_shape
        self.framing = framing
        self.host, self.port = host, port
        self.requests: list[dict[str, Any]] = []
        self.total_connections = 0
        self.open_connections = 0
        self._default = Fault.none()
        self._queue: collections.deque[Fault] = collections.deque()
        self._times_seen: collections.Counter[str] = collections.Counter()
        self._writers: set[asyncio.StreamWriter] = set()
        self._counter = itertools.count(1)
        self._answers = _Answers()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    # ---------------------------------------------------------------------------- public API

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

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
            self.stream_shape = stream_shape
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
        request = _Request(method, target.split("?", 1)[0], headers, raw)
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
        n = next(self._counter)
        return time.strftime("%Y%m%d%H%M%S") + hashlib.md5(str(n).encode()).hexdigest()[:16]

    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

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
        writer.write(self._head(status, headers) + data)
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
        if fault.kind == "html":
            title = f"{fault.status_code} {_REASONS.get(fault.status_code, 'Error')}"
            page = (
                f"<!doctype html><html><head><title>{title}</title></head>"
                f"<body><h1>{title}</h1><hr>nginx</body></html>"
            )
            return await self._send(
                writer, fault.status_code, page, content_type="text/html", keep_alive=keep_alive
            )
        if fault.kind == "not_json":
            return await self._send(
                writer,
                200,
                "upstream answered: OK (this is not JSON)",
                content_type="text/plain",
                keep_alive=keep_alive,
            )

        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key or key == "bad-key":
            return await self._send(writer, 401, INVALID_KEY_BODY, keep_alive=keep_alive)
        path, body = request.path, request.body
        if request.method == "GET" and path == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": 1759305357, "owned_by": "zhipu"}
                for m in MODELS
            ]
            return await self._send(
                writer, 200, {"object": "list", "data": data}, keep_alive=keep_alive
            )
        if request.method == "POST" and path == "/v1/embeddings" and isinstance(body, dict):
            return await self._send(writer, 200, _embeddings(body), keep_alive=keep_alive)
        if request.method != "POST" or path != "/v1/chat/completions":
            return await self._send(
                writer,
                404,
                {"error": {"message": f"No route {request.method} {path}", "type": "not_found"}},
                keep_alive=keep_alive,
            )
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("messages"), list)
            or not body["messages"]
        ):
            return await self._send(
                writer,
                400,
                {"error": {"code": "1214", "message": "messages 参数非法"}},
                keep_alive=keep_alive,
            )
        model = str(body.get("model") or "")
        if not model or "does-not-exist" in model:
            return await self._send(
                writer,
                404,
                {"error": {"code": "1211", "message": "模型不存在，请检查模型代码。"}},
                keep_alive=keep_alive,
            )
        request_id = self._request_id()
        created = f'"created":{int(time.time())}'
        n_chunks = fault.n_chunks if fault.kind == "huge" else 0
        if body.get("stream"):
            shape = request.headers.get("x-fake-stream-shape", self.stream_shape)
            events = self._answers.get(request.raw_body, body, shape, n_chunks)
            return await self._stream(
                request, reader, writer, fault, events, request_id, created, keep_alive
            )
        (rendered,) = self._answers.get(request.raw_body, body, None, n_chunks)
        data = _fill(rendered, request_id, created).encode()
        if fault.kind in ("stall", "cut_stream"):
            writer.write(
                self._head(
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
        headers = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "x-request-id": request_id,
        }
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Connection"] = "close"
        if not keep_alive:
            headers["Connection"] = "close"
        writer.write(self._head(200, headers))

        def emit(payload: str) -> None:
            data = f"data: {payload}\n\n".encode()
            writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

        for count, event in enumerate(events):
            if writer.transport.is_closing():
                raise _Gone
            if count == fault.after and fault.kind in (
                "cut_stream",
                "stall",
                "malformed_event",
                "error_event",
            ):
                await writer.drain()
                if fault.kind == "cut_stream":
                    if not fault.clean:
                        raise _Gone  # connection dropped mid-body: incomplete chunked read
                    break
                if fault.kind == "stall":
                    await self._sleep(reader, writer, fault.seconds)
                elif fault.kind == "malformed_event":
                    emit(
                        '{"id": "'
                        + request_id
                        + '", "choices": [{"index": 0, "delta": {"content": "br'
                    )
                else:
                    payload = json.dumps(fault.payload, ensure_ascii=False, separators=_COMPACT)
                    if fault.event:
                        data = f"event: {fault.event}\ndata: {payload}\n\n".encode()
                        writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                    else:
                        emit(payload)
                    break
            emit(_fill(event, request_id, created))
            if count % 64 == 63:
                await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return chunked and keep_alive


# -------------------------------------------------------------------------------- wire shapes


def _render(body: dict[str, Any], stream_shape: str | None, n_chunks: int) -> Iterator[str]:
    """A chat answer on the wire with placeholders for the id and ``created`` (see _Answers)."""
    model = str(body.get("model") or "")
    result = answer(body)
    if n_chunks:
        _make_huge(result, n_chunks)
    if stream_shape is None:
        completion = _completion(model, result, _ID_MARK, _CREATED)
        return iter([json.dumps(completion, ensure_ascii=False, separators=_COMPACT)])
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return _stream_events(stream_shape, model, result, _ID_MARK, _CREATED, include_usage)


def _make_huge(result: Answer, n_chunks: int) -> None:
    have = len(split_words(result.content))
    result.tool_calls = []
    result.finish_reason = "stop"
    result.content += "".join(f" w{i}" for i in range(max(n_chunks - have, 0)))
    result.completion_tokens = max(n_chunks, have) + result.reasoning_tokens


def _completion(model: str, result: Answer, request_id: str, created: int) -> dict[str, Any]:
    message: dict[str, Any] = {"content": result.content, "role": "assistant"}
    if result.reasoning:
        message["reasoning_content"] = result.reasoning
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    return {
        "choices": [{"finish_reason": result.finish_reason, "index": 0, "message": message}],
        "created": created,
        "id": request_id,
        "model": model,
        "object": "chat.completion",
        "request_id": request_id,
        "usage": result.usage(),
    }


def _stream_events(
    shape: str, model: str, result: Answer, request_id: str, created: int, include_usage: bool
) -> Iterator[str]:
    """The ``data:`` payloads of a stream, in the native or the normalised shape, then [DONE]."""
    normalised = shape == "normalised"
    head: dict[str, Any] = {"id": request_id, "created": created}
    if normalised:
        head["object"] = "chat.completion.chunk"
    head["model"] = model

    def chunk(delta: dict[str, Any], **extra: Any) -> str:
        choice: dict[str, Any] = {"index": 0, **extra, "delta": delta}
        return json.dumps({**head, "choices": [choice]}, ensure_ascii=False, separators=_COMPACT)

    for piece in split_words(result.reasoning):
        yield chunk({"role": "assistant", "reasoning_content": piece})
    for piece in split_words(result.content):
        yield chunk({"role": "assistant", "content": piece})
    if result.tool_calls and not normalised:
        yield chunk({"role": "assistant", "tool_calls": result.tool_calls})
    for call in result.tool_calls if normalised else ():
        args = call["function"]["arguments"]
        cut = max(1, len(args) // 2)
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": call["index"],
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": args[:cut]},
                    }
                ]
            }
        )
        if args[cut:]:
            yield chunk(
                {"tool_calls": [{"index": call["index"], "function": {"arguments": args[cut:]}}]}
            )
    finish = {"finish_reason": result.finish_reason}
    if normalised or not include_usage:
        yield chunk({"role": "assistant", "content": ""}, **finish)
        if normalised and include_usage:
            yield json.dumps(
                {**head, "choices": [], "usage": result.usage()},
                ensure_ascii=False,
                separators=_COMPACT,
            )
    else:
        choice = {"index": 0, **finish, "delta": {"role": "assistant", "content": ""}}
        yield json.dumps(
            {**head, "choices": [choice], "usage": result.usage()},
            ensure_ascii=False,
            separators=_COMPACT,
        )
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


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    items = (
        inputs
        if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int)
        else [inputs]
    )
    dims = body.get("dimensions") if isinstance(body.get("dimensions"), int) else 1024
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
        "model": body.get("model", "embedding-3"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stream-shape", choices=("native", "normalised"), default="native")
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
