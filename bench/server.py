"""The benchmark's server: the fake RunAPI server's chat answers on a lean ``asyncio.Protocol``.

``python -m bench.server --port 0 --stream-shape native`` (from the repository root) prints its
base URL on the first stdout line and serves until killed, like ``tests.support.fake_runapi``.

It answers ``POST /v1/chat/completions``, non-streamed and streamed (``X-Fake-Chunks: N`` for
an N-chunk answer), with the same bytes as the emulator: the answers come from the emulator's
own rendering and memo (``RenderedAnswers``, ``fill``), the response heads from its
``response_head`` with the same headers in the same order, the ids from its ``RequestIds``,
and streams have the same chunked ``data:`` framing. Nothing else: no faults, no key check, no
request log, no models or embeddings; anything that is not a chat completion gets a 404 and
the connection is closed. The reliability tests use ``tests.support.fake_runapi``.

Why: the emulator's connection handling (``StreamReader``/``StreamWriter`` coroutines, kept
for its faults, stalls and cuts) costs more server CPU per request than the answer itself, and
every call of every client waits for it, which pulls every ours/peer ratio towards 1. Here a
request is parsed from the protocol's buffer and answered in one ``write``; a long stream is
written in batches of 64 events, pausing when the transport asks to.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterable
from typing import Any

from tests.support.fake_runapi import (
    RenderedAnswers,
    RequestIds,
    created_field,
    fill,
    response_head,
)

_STREAM_BATCH = 64
_NOT_FOUND = json.dumps(
    {"error": {"message": "the bench server answers chat completions only", "type": "not_found"}}
).encode()
_NO_LENGTH = json.dumps(
    {"error": {"message": "the bench server needs a Content-Length", "type": "not_found"}}
).encode()


def _frame(payload: str) -> bytes:
    """One SSE event as one HTTP chunk (as the emulator's ``emit``)."""
    data = f"data: {payload}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


class _Server:
    """What all connections share: the stream shape, the request ids and the answers memo."""

    def __init__(self, stream_shape: str) -> None:
        self.stream_shape = stream_shape
        self.ids = RequestIds()
        self.answers = RenderedAnswers()

    def request_id(self) -> str:
        return self.ids.next()


class _Connection(asyncio.Protocol):
    def __init__(self, server: _Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False  # a long stream is being written; later requests wait in the buffer
        self.paused = False
        self.resumed: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._wake()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._serve()

    # ------------------------------------------------------------------ HTTP

    def _wake(self) -> None:
        if self.resumed is not None and not self.resumed.done():
            self.resumed.set_result(None)

    def _serve(self) -> None:
        """Answer every complete request in the buffer, in order."""
        while self.transport is not None and not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            if "content-length" not in headers and method == "POST":
                self._not_found(_NO_LENGTH)
                return
            start = end + 4
            stop = start + int(headers.get("content-length", "0"))
            if len(self.buffer) < stop:
                return
            raw = bytes(self.buffer[start:stop])
            del self.buffer[:stop]
            self._respond(method, target.split("?", 1)[0], headers, raw)

    def _not_found(self, message: bytes = _NOT_FOUND) -> None:
        assert self.transport is not None
        head = response_head(
            404,
            {
                "Content-Type": "application/json",
                "Content-Length": str(len(message)),
                "x-request-id": self.server.request_id(),
                "Connection": "close",
            },
        )
        self.transport.write(head + message)
        self.transport.close()
        self.transport = None

    def _respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> None:
        assert self.transport is not None
        body: Any = None
        with contextlib.suppress(ValueError):
            body = json.loads(raw) if raw else None
        if (
            method != "POST"
            or path != "/v1/chat/completions"
            or not isinstance(body, dict)
            or not body.get("messages")
        ):
            self._not_found()
            return
        keep_alive = headers.get("connection", "").lower() != "close"
        request_id = self.server.request_id()
        created = created_field(int(time.time()))
        n_chunks = int(headers.get("x-fake-chunks") or 0)
        answers = self.server.answers
        if body.get("stream"):
            shape = headers.get("x-fake-stream-shape", self.server.stream_shape)
            events = answers.get(raw, body, shape, n_chunks)
            stream_headers = {
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": request_id,
                "Transfer-Encoding": "chunked",
            }
            if not keep_alive:
                stream_headers["Connection"] = "close"
            head = response_head(200, stream_headers)
            if n_chunks:
                self.busy = True
                self.transport.write(head)
                asyncio.get_running_loop().create_task(
                    self._long_stream(events, request_id, created, keep_alive)
                )
                return
            parts = [head]
            parts += [_frame(fill(event, request_id, created)) for event in events]
            parts.append(b"0\r\n\r\n")
            self.transport.write(b"".join(parts))
        else:
            (rendered,) = answers.get(raw, body, None, n_chunks)
            data = fill(rendered, request_id, created).encode()
            response_headers = {
                "Content-Type": "application/json",
                "Content-Length": str(len(data)),
                "x-request-id": request_id,
            }
            if not keep_alive:
                response_headers["Connection"] = "close"
            self.transport.write(response_head(200, response_headers) + data)
        if not keep_alive:
            self.transport.close()
            self.transport = None

    async def _long_stream(
        self, events: Iterable[str], request_id: str, created: str, keep_alive: bool
    ) -> None:
        """A long answer, rendered as it goes out, in batches of 64 events."""
        try:
            batch: list[bytes] = []
            for event in events:
                batch.append(_frame(fill(event, request_id, created)))
                if len(batch) == _STREAM_BATCH:
                    if not await self._write(b"".join(batch)):
                        return
                    batch.clear()
            batch.append(b"0\r\n\r\n")
            await self._write(b"".join(batch))
        finally:
            self.busy = False
            if self.transport is not None:
                if keep_alive:
                    self._serve()
                else:
                    self.transport.close()
                    self.transport = None

    async def _write(self, data: bytes) -> bool:
        """Write, then wait while the transport's buffer is over its high-water mark; False
        if the client has gone."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        while self.paused and self.transport is not None:
            self.resumed = asyncio.get_running_loop().create_future()
            await self.resumed
        return self.transport is not None


async def serve(host: str, port: int, stream_shape: str) -> None:
    state = _Server(stream_shape)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(state), host, port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"http://{host}:{port}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stream-shape", choices=("native", "normalised"), default="native")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.stream_shape))
    sys.exit(0)


if __name__ == "__main__":
    main()
