"""An incremental Server-Sent Events decoder that is correct for every framing the spec allows.

It takes bytes as the network delivers them (split anywhere, even inside a CRLF or a UTF-8
character) and returns whole events. Lines end in CRLF, LF or a lone CR; ``data:`` lines of one
event are joined with ``\\n``; comment lines (``:`` first) are skipped; one leading space after
the colon is dropped; a byte order mark opening the stream is dropped; an event with empty data
is not dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = "\ufeff".encode()


@dataclass(slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed bytes with :meth:`feed`; call :meth:`close` at end of stream."""

    __slots__ = ("_at_start", "_buffer", "_data", "_event", "_id", "_retry", "_skip_lf")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        # A chunk that ended in CR may be the first half of CRLF: drop a LF that starts the next.
        self._skip_lf = False
        # Until the first 3 bytes are in, they may be a byte order mark, which the spec strips.
        self._at_start = True

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if not chunk:
            return []
        if self._at_start:
            head = self._buffer + chunk
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._buffer = head  # maybe a BOM split across chunks: wait for the rest
                return []
            self._at_start = False
            self._buffer = b""
            chunk = head[len(_BOM) :] if head.startswith(_BOM) else head
            if not chunk:
                return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.splitlines(keepends=True)
        last = lines[-1] if lines else b""
        if last and last[-1:] not in (b"\n", b"\r"):
            self._buffer = lines.pop()
        else:
            self._buffer = b""
            if last[-1:] == b"\r":
                self._skip_lf = True
        events: list[ServerSentEvent] = []
        for raw in lines:
            self._line(raw.rstrip(b"\r\n"), events)
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream. A line cut off mid-way is dropped (it is truncated, not whole); an
        event whose lines all arrived but whose blank terminator did not is still delivered,
        since servers commonly end with ``data: [DONE]\\n``."""
        self._buffer = b""
        events: list[ServerSentEvent] = []
        self._dispatch(events)
        return events

    def _line(self, line: bytes, events: list[ServerSentEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line[:5] == b"data:":  # the hot path: almost every line is data
            value = line[5:]
            self._data.append(value[1:] if value[:1] == b" " else value)
            return
        if line[:1] == b":":
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id" and b"\0" not in value:
            self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit() and len(value) <= 12:  # int() caps digits
            self._retry = int(value)
        # other field names are ignored, as the spec says

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        # Spec: an empty data buffer dispatches nothing (``data:`` alone is a keep-alive).
        if self._data and (len(self._data) > 1 or self._data[0]):
            data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
            events.append(
                ServerSentEvent(
                    data=data.decode("utf-8", "replace"),
                    event=self._event or "message",
                    id=self._id,
                    retry=self._retry,
                )
            )
        self._data = []
        self._event = None
        self._retry = None
