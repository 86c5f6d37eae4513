"""The SSE decoder's cost and its bound: work in proportion to the bytes fed (a long line fed
in pieces is not copied again with every piece), and one event held to ``max_event_bytes``,
through the decoder and through both clients' streams."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runapi_client import (
    AsyncRunAPIClient,
    ConfigurationError,
    IncompleteStreamError,
    RunAPIClient,
    ServerSentEvent,
    SSEDecoder,
)
from runapi_client._sse import DEFAULT_MAX_EVENT_BYTES

PIECE = 64 * 1024
BODY = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}
FIRST = b'data: {"id":"1","model":"glm-4.6","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'


def decode(decoder: SSEDecoder, pieces: list[bytes]) -> list[ServerSentEvent]:
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.close()


def pieces_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_a_long_line_fed_in_pieces_is_not_copied_again_with_each_piece() -> None:
    # Counted in bytes allocated, not timed: re-joining the held bytes with each new piece
    # allocates the whole line so far on every feed (quadratic copying overall); keeping the
    # pieces allocates about one piece per feed, and the line once, when it ends.
    line = b"data: " + b"x" * (64 * PIECE) + b"\n\n"
    pieces = pieces_of(line, PIECE)
    decoder = SSEDecoder()
    peaks: list[int] = []
    tracemalloc.start()
    try:
        for piece in pieces[:-1]:
            tracemalloc.reset_peak()
            current = tracemalloc.get_traced_memory()[0]
            assert decoder.feed(piece) == []
            peaks.append(tracemalloc.get_traced_memory()[1] - current)
    finally:
        tracemalloc.stop()
    assert max(peaks) < 4 * PIECE, peaks
    [event] = decode(decoder, pieces[-1:])
    assert len(event.data) == 64 * PIECE


def test_the_same_events_whatever_the_pieces() -> None:
    # Lines ending in each piece, across pieces, at a CRLF split by the cut.
    raw = (
        b"\xef\xbb\xbfdata: a\r\n: c\rdata: " + b"b" * 5000 + b"\r\ndata: c\n\nevent: e\ndata: d\n"
    )
    whole = decode(SSEDecoder(), [raw])
    assert [(e.data[:3], e.event) for e in whole] == [("a\nb", "message"), ("d", "e")]
    for size in (1, 2, 3, 7, 64, 4999, 5000):
        assert decode(SSEDecoder(), pieces_of(raw, size)) == whole


@pytest.mark.parametrize("size", [1, 7, 1000, 10**6])
def test_an_event_of_exactly_the_limit_passes_one_byte_more_does_not(size: int) -> None:
    limit = 1000
    at_limit = b"data: " + b"a" * 500 + b"\ndata: " + b"b" * 499 + b"\n\n"  # 500 + \n + 499
    over = b"data: " + b"a" * 500 + b"\ndata: " + b"b" * 500 + b"\n\n"
    decoder = SSEDecoder(max_event_bytes=limit)
    [event] = decode(decoder, pieces_of(at_limit, size))
    assert len(event.data) == limit and not decoder.too_large
    decoder = SSEDecoder(max_event_bytes=limit)
    assert decode(decoder, pieces_of(FIRST + over + FIRST, size)) == decode(SSEDecoder(), [FIRST])
    assert decoder.too_large


tokens = st.sampled_from(
    [b"data:", b"data: ", b"event: e", b"id: 1", b":", b"\n", b"\r", b"\r\n", b" ", b"x" * 7]
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(tokens, max_size=60).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=8),
    limit=st.integers(min_value=1, max_value=40),
)
def test_a_limit_only_ever_cuts_the_events_short(data: bytes, cuts: list[int], limit: int) -> None:
    # With a limit: the same events up to the first one past it, none past it, and the decoder
    # says so; without one event past it, everything the same.
    expected = decode(SSEDecoder(), [data])
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    decoder = SSEDecoder(max_event_bytes=limit)
    got = decode(decoder, pieces)
    assert got == expected[: len(got)]
    assert all(len(event.data) <= limit for event in got)
    if any(len(event.data) > limit for event in expected):
        assert decoder.too_large
    if not decoder.too_large:
        assert got == expected


def test_past_the_limit_the_bytes_are_not_kept() -> None:
    # A line that never ends (a comment, or data) stops the decoder at the limit; what it held
    # is dropped, and what comes after is not kept either.
    for start in (b"data: ", b": "):
        decoder = SSEDecoder(max_event_bytes=4 * PIECE)
        tracemalloc.start()
        try:
            for piece in [start] + [b"x" * PIECE] * 64:
                decoder.feed(piece)
            held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert decoder.too_large
        assert held < 2 * PIECE
        assert decoder.feed(b"\n\ndata: late\n\n") == [] and decoder.close() == []


def test_the_default_limit_and_bad_settings() -> None:
    assert DEFAULT_MAX_EVENT_BYTES == 16 * 1024 * 1024
    assert SSEDecoder().max_event_bytes == DEFAULT_MAX_EVENT_BYTES
    assert RunAPIClient(api_key="k").config.max_event_bytes == DEFAULT_MAX_EVENT_BYTES
    assert AsyncRunAPIClient(api_key="k", max_event_bytes=10).config.max_event_bytes == 10
    for bad in (0, -1, 1.5, True, "16MB"):
        with pytest.raises(ConfigurationError, match="max_event_bytes"):
            RunAPIClient(api_key="k", max_event_bytes=bad)


LIMIT = 256 * 1024
ENDLESS = 64  # pieces of an event that never ends: 16 times the limit


def endless_body(sent: list[int]) -> Iterator[bytes]:
    yield FIRST
    yield b'data: {"choices":[{"index":0,"delta":{"content":"'
    for _ in range(ENDLESS):
        sent.append(PIECE)
        yield b"x" * PIECE


async def async_endless_body(sent: list[int]) -> AsyncIterator[bytes]:
    for piece in endless_body(sent):
        yield piece


def check_too_large(err: IncompleteStreamError, sent: list[int]) -> None:
    assert "a stream event larger than 262,144 bytes" in str(
        err
    ) and "raise max_event_bytes" in str(err)
    assert err.partial is not None
    assert err.partial["choices"][0]["message"]["content"] == "Hel"
    assert len(sent) <= LIMIT // PIECE + 1  # read up to the limit, not on to the body's end


def test_a_stream_event_past_the_limit_ends_the_stream_with_partial() -> None:
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless_body(sent))

    client = RunAPIClient(
        api_key="k", transport=httpx.MockTransport(handler), max_event_bytes=LIMIT
    )
    got = []
    with pytest.raises(IncompleteStreamError) as info:
        for chunk in client.stream_chat_completion(BODY):
            got.append(chunk)
    assert len(got) == 1
    check_too_large(info.value, sent)


async def test_async_stream_event_past_the_limit_ends_the_stream_with_partial() -> None:
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=async_endless_body(sent))

    client = AsyncRunAPIClient(
        api_key="k", transport=httpx.MockTransport(handler), max_event_bytes=LIMIT
    )
    got = []
    with pytest.raises(IncompleteStreamError) as info:
        async for chunk in client.stream_chat_completion(BODY):
            got.append(chunk)
    assert len(got) == 1
    check_too_large(info.value, sent)


def test_the_default_limit_is_named_in_megabytes() -> None:
    body = FIRST + b"data: " + b"x" * (DEFAULT_MAX_EVENT_BYTES + 1) + b"\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    client = RunAPIClient(api_key="k", transport=httpx.MockTransport(handler))
    with pytest.raises(IncompleteStreamError, match="a stream event larger than 16 MB"):
        list(client.stream_chat_completion(BODY))
