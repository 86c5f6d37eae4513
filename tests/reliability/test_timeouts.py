"""``timeout`` bounds a stalled connect, a stalled response and a stall between stream events."""

from __future__ import annotations

import pytest

from runapi_client import APITimeoutError
from tests.reliability.conftest import RetryLog
from tests.reliability.helpers import MODES, body, complete, guarded, stream
from tests.support.fake_runapi import FakeRunAPI, Fault

pytestmark = pytest.mark.parametrize("mode", MODES)
SHORT = 0.3  # the client's timeout in these tests; the server stalls for far longer


def test_stalled_connect(mode: str, retry_log: RetryLog, unaccepting_port: int) -> None:
    target = FakeRunAPI()
    target.port = unaccepting_port  # a listener whose backlog is full: SYNs go unanswered
    with pytest.raises(APITimeoutError, match="ConnectTimeout"):
        guarded(lambda: complete(mode, target, body(), timeout=SHORT, max_retries=1))
    assert retry_log.retries == 1  # a timeout is retried like any connection error


def test_stalled_response(mode: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    server.enqueue(Fault.delay(30), Fault.delay(30))
    with pytest.raises(APITimeoutError, match="ReadTimeout"):
        guarded(lambda: complete(mode, server, body(), timeout=SHORT, max_retries=1))
    assert len(server.chat_requests) == 2
    assert server.wait_idle(5), "the timed-out connections were not closed"


def test_stalled_body_after_headers(mode: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    server.enqueue(Fault.stall(30))
    with pytest.raises(APITimeoutError):
        guarded(lambda: complete(mode, server, body(), timeout=SHORT, max_retries=0))
    assert server.wait_idle(5)


def test_stream_stalled_before_first_event_is_retried(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.stall(30, after=0))
    outcome = guarded(lambda: stream(mode, server, body("late"), timeout=SHORT, max_retries=1))
    assert outcome.error is None and outcome.result is not None
    assert len(server.chat_requests) == 2


def test_stall_between_events(mode: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    server.enqueue(Fault.stall(30, after=9))
    outcome = guarded(
        lambda: stream(mode, server, body("one two three"), timeout=SHORT, max_retries=3)
    )
    assert isinstance(outcome.error, APITimeoutError)
    assert len(outcome.chunks) == 9 and len(server.chat_requests) == 1  # never retried
    assert outcome.error.partial is not None
    assert outcome.error.partial["choices"][0]["message"]["content"] == "\nHello! You"
    assert server.wait_idle(5)
