"""How a stream ends when its connection does: lost after the finish chunk (only ``[DONE]``
missing), the answer is whole and ends as a clean end does; lost before it, the error keeps
``.partial``. Usage that arrived is recorded either way, since the server billed it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from runapi_client import RunAPIClient, StreamInterruptedError, track_usage
from tests.reliability.helpers import KEY, MODES, body, stream
from tests.support.fake_runapi import FakeRunAPI, Fault


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_cut_after_its_finish_chunk_ends_normally_and_is_billed(
    mode: str, any_shape_server: FakeRunAPI
) -> None:
    whole = stream(mode, any_shape_server, body("count me"))
    assert whole.error is None and whole.result is not None
    n = len(whole.chunks)
    any_shape_server.enqueue(Fault.cut_stream(n))  # every chunk out, then the socket closes
    with track_usage() as usage:
        cut = stream(mode, any_shape_server, body("count me"))
    assert cut.error is None, cut.error
    assert cut.content == whole.content
    assert cut.result is not None and cut.result.cost is not None
    assert usage.requests == 1
    assert whole.result.cost is not None
    assert usage.total_cost == pytest.approx(float(whole.result.cost.total))


class _CutAfter(httpx.SyncByteStream):
    """A body that sends ``data`` and then loses its connection."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self._data
        raise httpx.RemoteProtocolError("peer closed connection")


def test_a_stream_cut_before_its_finish_still_records_the_usage_that_arrived() -> None:
    # A gateway that reports usage before the finish chunk, then drops: the usage was billed.
    chunk = {
        "id": "c1",
        "model": "glm-4.6",
        "choices": [{"index": 0, "delta": {"content": "half an ans"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }
    data = f"data: {json.dumps(chunk)}\n\n".encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, stream=_CutAfter(data), headers={"content-type": "text/event-stream"}
        )

    client = RunAPIClient(api_key=KEY, transport=httpx.MockTransport(handler))
    got = []
    with track_usage() as usage, pytest.raises(StreamInterruptedError) as info:
        for piece in client.stream_chat_completion(body()):
            got.append(piece)
    assert len(got) == 1
    assert info.value.partial is not None
    assert info.value.partial["choices"][0]["message"]["content"] == "half an ans"
    assert usage.requests == 1 and usage.total_tokens == 13
