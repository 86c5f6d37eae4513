"""Retries, Retry-After, typed errors and stream faults, over real sockets, sync and async."""

from __future__ import annotations

import email.utils
import time

import pytest

from runapi_client import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RunAPIError,
    ServerError,
)
from tests.reliability.conftest import RetryLog
from tests.reliability.helpers import MODES, body, complete, echo, stream
from tests.support.fake_runapi import FakeRunAPI, Fault

pytestmark = pytest.mark.parametrize("mode", MODES)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_status_then_success(
    mode: str, server: FakeRunAPI, retry_log: RetryLog, status: int
) -> None:
    server.enqueue(Fault.status(status), Fault.status(status))
    result = complete(mode, server, body("retry me"), max_retries=2)
    assert result.completion["choices"][0]["message"]["content"] == echo("retry me")
    assert len(server.chat_requests) == 3
    assert retry_log.retries == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [(408, APITimeoutError), (429, RateLimitError), (500, ServerError), (503, ServerError)],
)
def test_retries_exhausted_raise_the_last_error(
    mode: str, server: FakeRunAPI, retry_log: RetryLog, status: int, error: type[RunAPIError]
) -> None:
    server.enqueue(Fault.status(500), Fault.status(502), Fault.status(status))
    with pytest.raises(error) as caught:
        complete(mode, server, body(), max_retries=2)
    assert caught.value.status_code == status  # the last attempt's error, not the first
    assert len(server.chat_requests) == 3
    assert retry_log.delays[-1] is None


def test_backoff_grows(mode: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    server.enqueue(*[Fault.status(503)] * 4)
    with pytest.raises(ServerError):
        complete(mode, server, body(), max_retries=3)
    delays = [d for d in retry_log.delays if d is not None]
    assert len(delays) == 3
    # exponential with at most 25 % jitter: each step at least 1.5x the previous one
    assert delays[1] >= 1.5 * delays[0] * 0.999 and delays[2] >= 1.5 * delays[1] * 0.999


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (402, InsufficientCreditsError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, BadRequestError),
        (413, BadRequestError),
        (422, BadRequestError),
    ],
)
def test_non_retryable_4xx_raised_at_once(
    mode: str, server: FakeRunAPI, retry_log: RetryLog, status: int, error: type[RunAPIError]
) -> None:
    server.enqueue(Fault.status(status))
    with pytest.raises(error):
        complete(mode, server, body(), max_retries=5)
    assert len(server.chat_requests) == 1
    assert retry_log.retries == 0


def test_bad_key_is_authentication_error_at_once(mode: str, server: FakeRunAPI) -> None:
    with pytest.raises(AuthenticationError) as caught:
        complete(mode, server, body(), api_key="bad-key", max_retries=5)
    assert caught.value.code == "invalid_api_key"
    assert len(server.chat_requests) == 1


def test_retry_after_seconds_honoured(mode: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    server.enqueue(Fault.status(429, retry_after="1"))
    complete(mode, server, body())
    assert retry_log.delays == [1.0]


def test_retry_after_http_date_honoured(mode: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    server.enqueue(Fault.status(503, retry_after=when))
    complete(mode, server, body())
    (delay,) = retry_log.delays
    assert delay is not None and 1.0 <= delay <= 3.0


def test_retry_after_beyond_cap_raises_at_once(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(429, retry_after="3600"))
    with pytest.raises(RateLimitError) as caught:
        complete(mode, server, body(), max_retries=3)
    assert caught.value.retry_after == 3600
    assert len(server.chat_requests) == 1


def test_max_retries_zero_means_one_attempt(mode: str, server: FakeRunAPI) -> None:
    server.enqueue(Fault.status(503))
    with pytest.raises(ServerError):
        complete(mode, server, body(), max_retries=0)
    assert len(server.chat_requests) == 1


def test_reset_before_response_is_retried(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.reset(), Fault.reset())
    result = complete(mode, server, body("after resets"))
    assert result.completion["choices"][0]["message"]["content"] == echo("after resets")
    assert len(server.chat_requests) == 3


def test_reset_every_time_raises_connection_error(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(*[Fault.reset()] * 3)
    with pytest.raises(APIConnectionError):
        complete(mode, server, body())
    assert len(server.chat_requests) == 3


def test_connection_refused_is_retried_then_raised(
    mode: str, retry_log: RetryLog, free_port: int
) -> None:
    refused = FakeRunAPI()
    refused.port = free_port  # never started: nothing listens there
    with pytest.raises(APIConnectionError) as caught:
        complete(mode, refused, body(), max_retries=2)
    assert not isinstance(caught.value, APITimeoutError)
    assert retry_log.retries == 2


def test_html_gateway_page_retried_then_typed(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(*[Fault.html(502)] * 3)
    with pytest.raises(ServerError) as caught:
        complete(mode, server, body())
    assert caught.value.status_code == 502 and "HTML page" in str(caught.value)
    assert "502 Bad Gateway" in str(caught.value)
    assert len(server.chat_requests) == 3


def test_body_that_is_not_json(mode: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    server.enqueue(Fault.not_json())
    assert complete(mode, server, body("x")).completion["choices"][0]["message"]["content"]
    server.enqueue(*[Fault.not_json()] * 3)
    with pytest.raises(RunAPIError):
        complete(mode, server, body())


def test_huge_answer(mode: str, server: FakeRunAPI) -> None:
    server.enqueue(Fault.huge(n_chunks=20000))
    result = complete(mode, server, body("big"))
    content = result.completion["choices"][0]["message"]["content"]
    assert content is not None and content.endswith(" w19995")
    server.enqueue(Fault.huge(n_chunks=20000))
    outcome = stream(mode, server, body("big"))
    assert outcome.error is None and len(outcome.chunks) > 20000
    assert outcome.result is not None and outcome.result.usage is not None


# ------------------------------------------------------------------------------------ streams


def test_stream_retried_before_first_event(
    mode: str, any_shape_server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server = any_shape_server
    server.enqueue(Fault.status(503), Fault.reset())
    outcome = stream(mode, server, body("stream me"))
    assert outcome.error is None and outcome.content == echo("stream me")
    assert len(server.chat_requests) == 3


def test_stream_cut_midway_is_not_retried_and_keeps_deltas(
    mode: str, any_shape_server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server = any_shape_server
    server.enqueue(Fault.cut_stream(after=9))  # 7 reasoning chunks, then 2 of content
    outcome = stream(mode, server, body("one two three four"), max_retries=5)
    assert len(server.chat_requests) == 1
    assert len(outcome.chunks) == 9
    # The connection dropped inside the HTTP body: the transport's typed error, with .partial.
    assert isinstance(outcome.error, APIConnectionError)
    assert not isinstance(outcome.error, APITimeoutError)
    partial = outcome.error.partial
    assert partial is not None
    assert partial["choices"][0]["message"]["content"] == outcome.content == "\nHello! You"
    assert partial["choices"][0]["message"]["reasoning_content"]


def test_stream_ended_cleanly_but_early(mode: str, any_shape_server: FakeRunAPI) -> None:
    server = any_shape_server
    server.enqueue(Fault.cut_stream(after=8, clean=True))
    outcome = stream(mode, server, body("a b c"), max_retries=5)
    assert isinstance(outcome.error, IncompleteStreamError)
    assert outcome.error.partial is not None
    assert outcome.error.partial["choices"][0]["message"]["content"] == outcome.content
    assert outcome.content == "\nHello!" and len(server.chat_requests) == 1


def test_stream_malformed_event(mode: str, server: FakeRunAPI) -> None:
    server.enqueue(Fault.malformed_event(after=2))
    outcome = stream(mode, server, body(), max_retries=5)
    assert isinstance(outcome.error, IncompleteStreamError)
    assert len(outcome.chunks) == 2 and len(server.chat_requests) == 1


@pytest.mark.parametrize("event", [None, "error"])
def test_stream_error_event(mode: str, server: FakeRunAPI, event: str | None) -> None:
    payload = {"error": {"code": "1305", "message": "The service may be temporarily overloaded"}}
    server.enqueue(Fault.error_event(after=3, payload=payload, event=event))
    outcome = stream(mode, server, body(), max_retries=5)
    assert isinstance(outcome.error, ServerError)
    assert outcome.error.code == "1305" and "overloaded" in str(outcome.error)
    assert outcome.error.request_id and len(outcome.chunks) == 3
    assert len(server.chat_requests) == 1
