from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runapi_client import ServerSentEvent, SSEDecoder
from tests.support.wire import WIRE_SAMPLES

SAMPLES = WIRE_SAMPLES


def decode(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for p in points:
        pieces.append(data[start:p])
        start = p
    pieces.append(data[start:])
    return pieces


def test_basic_events_and_done() -> None:
    events = decode([b'data: {"a":1}\n\ndata: [DONE]\n\n'])
    assert [e.data for e in events] == ['{"a":1}', "[DONE]"]


def test_crlf_and_lone_cr() -> None:
    assert [e.data for e in decode([b"data: x\r\n\r\ndata: y\r\rdata: z\n\n"])] == ["x", "y", "z"]


def test_crlf_split_between_chunks() -> None:
    assert [e.data for e in decode([b"data: x\r", b"\n\r", b"\ndata: y\r\n\r\n"])] == ["x", "y"]


def test_multiline_data_comments_and_fields() -> None:
    raw = b": keep-alive\nevent: error\nid: 7\nretry: 100\ndata: line1\ndata:line2\nunknown: v\n\n"
    [event] = decode([raw])
    assert event.data == "line1\nline2"
    assert event.event == "error" and event.id == "7" and event.retry == 100


def test_event_without_data_is_not_dispatched() -> None:
    assert decode([b"event: ping\n\n: comment\n\n"]) == []


def test_final_event_without_blank_line_is_delivered() -> None:
    assert [e.data for e in decode([b"data: a\n\ndata: [DONE]\n"])] == ["a", "[DONE]"]


def test_truncated_last_line_is_dropped() -> None:
    assert [e.data for e in decode([b'data: a\n\ndata: {"par'])] == ["a"]


def test_utf8_split_inside_a_character() -> None:
    raw = 'data: {"content":"北京"}\n\n'.encode()
    cut = raw.index("京".encode()) + 1
    assert decode([raw[:cut], raw[cut:]])[0].data == '{"content":"北京"}'


@settings(max_examples=300, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_every_sample_same_events_at_any_byte_boundary(cuts: list[int]) -> None:
    for path in sorted(SAMPLES.glob("*.sse")):
        data = path.read_bytes()
        whole = decode([data])
        assert whole, path
        for variant in (data, data.replace(b"\n", b"\r\n"), data.replace(b"\n", b"\r")):
            assert [e.data for e in decode(split_at(variant, cuts))] == [e.data for e in whole]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=2000), max_size=10))
def test_arbitrary_bytes_never_crash(data: bytes, cuts: list[int]) -> None:
    events = decode(split_at(data, cuts))
    assert all(isinstance(e.data, str) for e in events)


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_leading_bom_is_stripped_wherever_the_stream_is_split(cuts: list[int]) -> None:
    # The spec strips one U+FEFF at the start of the stream; kept, it hides the first field name
    # ("\ufeffdata") and the first event is lost.
    raw = b'\xef\xbb\xbfdata: {"a":1}\n\ndata: [DONE]\n\n'
    assert [e.data for e in decode(split_at(raw, cuts))] == ['{"a":1}', "[DONE]"]


def test_only_a_leading_bom_is_stripped() -> None:
    bom = "\ufeff".encode()
    assert [e.data for e in decode([b"data: a\n\n" + bom + b"data: b\n\n"])] == ["a"]
    assert [e.data for e in decode([b"data: " + bom + b"x\n\n"])] == ["\ufeffx"]
    assert decode([bom[:2]]) == []


def test_empty_data_is_not_dispatched() -> None:
    # Spec: an event whose data buffer is empty is not dispatched (a `data:` keep-alive).
    assert [e.data for e in decode([b"data:\n\ndata: \n\ndata: a\n\n"])] == ["a"]
    assert [e.data for e in decode([b"data:\ndata:\n\n"])] == ["\n"]
