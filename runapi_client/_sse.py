"""An incremental Server-Sent Events decoder that is correct for every framing the spec allows.

It takes bytes as the network delivers them (split anywhere, even inside a CRLF or a UTF-8
character) and returns whole events. Lines end in CRLF, LF or a lone CR; ``data:`` lines of one
event are joined with ``\\n``; comment lines (``:`` first) are skipped; one leading space after
the colon is dropped; a byte order mark opening the stream is dropped; an event with empty data
is not dispatched.

Work is linear in the bytes fed: only the new bytes are searched for line ends, and a line cut
across pieces is kept as a list of its pieces, joined once when it completes (joining the held
bytes with each new piece made a long line quadratic). One event may hold at most
``max_event_bytes``; a larger one stops the decoder (:attr:`SSEDecoder.too_large`) rather than
hold ever more bytes for a stream that never ends its line.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent"]

_BOM = "\ufeff".encode()
_DATA_FIELD = len(b"data: ")

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
"""The most one event may hold: far above any chat chunk (a few hundred bytes; a whole answer
sent as one event is still well under a megabyte), yet a bound on what a broken or hostile
server can make the client hold."""


@dataclass(slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class _TooLarge(Exception):
    """Raised inside the decoder when an event passes the limit; :meth:`SSEDecoder.feed`
    catches it (an exception costs nothing until raised, a check per line would)."""


class SSEDecoder:
    """Feed bytes with :meth:`feed`; call :meth:`close` at end of stream.

    An event (its data, and the line being read) past ``max_event_bytes`` sets
    :attr:`too_large`: the bytes held are dropped, and the rest of the stream is ignored, since
    it cannot be read in step any more. The events before it are returned as usual.
    """

    __slots__ = (
        "_at_start",
        "_counted",
        "_data",
        "_data_size",
        "_event",
        "_id",
        "_pending",
        "_pending_size",
        "_retry",
        "_skip_lf",
        "_unchecked",
        "max_event_bytes",
        "too_large",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
            raise TypeError(f"max_event_bytes must be an int, got {max_event_bytes!r}")
        if max_event_bytes <= 0:
            raise ValueError(f"max_event_bytes must be positive, got {max_event_bytes!r}")
        self.max_event_bytes = max_event_bytes
        self.too_large = False
        # The pieces of a line not yet ended, joined once it ends.
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._data: list[bytes] = []
        # The size of the first ``_counted`` data lines, each with the newline joining it to
        # the next: counted when measured, not line by line, to keep the per-line path lean.
        self._data_size = 0
        self._counted = 0
        # An upper bound of the bytes the event being read holds: what it held when last
        # measured, plus every byte fed since. Measured only when this passes the limit.
        self._unchecked = 0
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        # A chunk that ended in CR may be the first half of CRLF: drop a LF that starts the next.
        self._skip_lf = False
        # Until the first 3 bytes are in, they may be a byte order mark, which the spec strips.
        self._at_start = True

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if not chunk or self.too_large:
            return []
        if self._at_start:
            head = b"".join(self._pending) + chunk  # at most 2 bytes held: cheap
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._pending = [head]  # maybe a BOM split across chunks: wait for the rest
                return []
            self._at_start = False
            self._pending = []
            chunk = head[len(_BOM) :] if head.startswith(_BOM) else head
            if not chunk:
                return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        # Only the new bytes are searched. bytes.splitlines splits at CRLF, LF and a lone CR
        # only (str's would split at more).
        lines = chunk.splitlines(keepends=True)
        tail = lines.pop() if lines[-1][-1:] not in (b"\n", b"\r") else None
        if tail is None and lines[-1][-1:] == b"\r":
            self._skip_lf = True
        if self._pending and lines:  # the line cut at the last feed ends in this one
            self._pending.append(lines[0])
            lines[0] = b"".join(self._pending)
            self._pending = []
            self._pending_size = 0
        events: list[ServerSentEvent] = []
        self._unchecked += len(chunk)
        try:
            for raw in lines:
                self._line(raw.rstrip(b"\r\n"), events)
            if tail is not None:
                self._pending.append(tail)
                self._pending_size += len(tail)
            if self._unchecked > self.max_event_bytes:
                self._check_size()
        except _TooLarge:
            self.too_large = True
            self._pending = []
            self._data = []
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream. A line cut off mid-way is dropped (it is truncated, not whole); an
        event whose lines all arrived but whose blank terminator did not is still delivered,
        since servers commonly end with ``data: [DONE]\\n``."""
        self._pending = []
        events: list[ServerSentEvent] = []
        if not self.too_large:
            try:
                self._dispatch(events)
            except _TooLarge:
                self.too_large = True
        return events

    def _check_size(self) -> None:
        """Raise :class:`_TooLarge` if the event being read is already past the limit."""
        data = self._data
        if self._counted < len(data):
            self._data_size += sum(map(len, data[self._counted :])) + len(data) - self._counted
            self._counted = len(data)
        self._unchecked = self._data_size + self._pending_size
        # Its data so far (less the last newline), and the line cut off, read as the data line
        # it most likely is, the field name aside: a lower bound of the event's size.
        size = self._data_size - 1 if self._data_size else 0
        if self._pending_size:
            size += (1 if self._data_size else 0) + self._pending_size - _DATA_FIELD
        if size > self.max_event_bytes:
            raise _TooLarge

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
            if len(data) > self.max_event_bytes:
                raise _TooLarge
            events.append(
                ServerSentEvent(
                    data=data.decode("utf-8", "replace"),
                    event=self._event or "message",
                    id=self._id,
                    retry=self._retry,
                )
            )
        self._data = []
        if self._counted:
            self._data_size = self._counted = 0
        self._event = None
        self._retry = None
