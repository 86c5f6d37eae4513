"""The API key never leaks: not in the repr or str of clients and configs, not in any log
record at DEBUG, not in exceptions or their pickles, not in a task's repr, not in any cassette;
and where the server sends it back (an echoing error status, a 200 body that is not JSON, a 200
error envelope, an error event, a malformed event quoted in the error), it is blanked out."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from runapi_client import (
    AsyncRunAPIClient,
    AuthenticationError,
    ClientConfig,
    IncompleteStreamError,
    RunAPIClient,
    RunAPIError,
    ServerError,
)
from tests.reliability.conftest import RetryLog
from tests.reliability.helpers import KEY, MODES, body, complete, stream
from tests.support.fake_runapi import FakeRunAPI, Fault

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------- repr, str, logs, errors, pickles, cassettes


def assert_no_key(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text)
        assert KEY[8:] not in str(text)  # nor a tail of it


def test_key_not_in_repr_or_str(server: FakeRunAPI) -> None:
    sync_client = RunAPIClient(base_url=server.base_url, api_key=KEY)
    async_client = AsyncRunAPIClient(base_url=server.base_url, api_key=KEY)
    config = ClientConfig.resolve(api_key=KEY, base_url=server.base_url)
    for thing in (sync_client, async_client, config, config.api_key):
        assert_no_key(repr(thing), str(thing), f"{thing!s:>10}")
    assert_no_key(vars(config))


def _leaky_run(server: FakeRunAPI) -> list[BaseException]:
    """A mix of successes, retries and failures, sync and async; return the errors raised."""
    errors: list[BaseException] = []
    server.enqueue(Fault.status(429, retry_after="0"), Fault.reset())
    complete("sync", server, body())
    server.enqueue(Fault.status(503), Fault.html(502), Fault.status(401), Fault.cut_stream(after=2))
    calls: list[Callable[[], object]] = [
        lambda: complete("async", server, body(), max_retries=1),
        lambda: complete("sync", server, body(), max_retries=0),
    ]
    for call in calls:
        try:
            call()
        except RunAPIError as exc:
            errors.append(exc)
    outcome = stream("async", server, body("streamed"))
    assert outcome.error is not None
    errors.append(outcome.error)
    for bad_key in ("bad-key",):
        try:
            complete("sync", server, body(), api_key=bad_key)
        except RunAPIError as exc:
            errors.append(exc)
    return errors


def test_key_not_in_logs_or_errors(
    server: FakeRunAPI, retry_log: RetryLog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("runapi_client", "httpx", "httpcore", "asyncio", "langchain_runapi"):
        caplog.set_level(logging.DEBUG, logger=name)
    errors = _leaky_run(server)
    assert len(errors) >= 3 and caplog.records, "the run should have failed and logged"
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    for record in caplog.records:
        assert_no_key(record.getMessage(), record.args, record.__dict__)
    for error in errors:
        assert_no_key(str(error), repr(error), vars(error), error.__cause__)
        assert_no_key(pickle.loads(pickle.dumps(error)))
    # the key did reach the server, so the test would have seen it had it leaked
    assert server.requests[-1]["headers"]["authorization"] == "Bearer bad-key"
    assert any(r["headers"]["authorization"] == f"Bearer {KEY}" for r in server.requests)


def test_key_not_in_any_cassette(monkeypatch: pytest.MonkeyPatch) -> None:
    """No recorded exchange holds a key: every Authorization header is redacted."""
    import os

    from tests.conftest import DUMMY_KEY

    secrets = {DUMMY_KEY, KEY}
    live = os.environ.get("RUNAPI_API_KEY")
    if live:
        secrets.add(live)
    sk_key = re.compile(r"\bsk-[A-Za-z0-9]{16,}")
    files = [p for p in (ROOT / "cassettes").rglob("*") if p.is_file()]
    for path in files:
        text = path.read_text("utf-8", errors="replace")
        for secret in secrets:
            assert secret not in text, f"{path} holds an API key"
        assert not sk_key.search(text), f"{path}: {sk_key.search(text)}"
        if path.suffix not in (".yaml", ".yml"):
            continue
        # Structurally, not by pattern: recorded prompts may quote prose about bearer tokens.
        for interaction in yaml.safe_load(text)["interactions"]:
            headers = {k.lower(): v for k, v in interaction["request"]["headers"].items()}
            for value in headers.get("authorization", []):
                assert value == "Bearer <redacted>", f"{path}: authorization {value[:12]}..."
            assert "x-api-key" not in headers or headers["x-api-key"] == ["<redacted>"]


def test_async_client_key_not_in_task_reprs(server: FakeRunAPI) -> None:
    async def run() -> list[str]:
        client = AsyncRunAPIClient(base_url=server.base_url, api_key=KEY)
        task = asyncio.ensure_future(client.chat_completion(body()))
        await asyncio.sleep(0)
        reprs = [repr(task), repr(client)]
        await task
        await client.aclose()
        return reprs

    assert_no_key(*asyncio.run(run()))


# ---------------------------------------- a key the server sends back is blanked out of the error


ECHOED_KEY = json.dumps(
    {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}
)


def _no_key(err: BaseException) -> None:
    assert isinstance(err, RunAPIError)
    assert KEY not in str(err)
    assert KEY not in repr(err.body)
    assert KEY not in repr(err.__dict__)


@pytest.mark.parametrize("mode", MODES)
def test_the_key_is_blanked_in_a_non_json_200_body(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(*[Fault.status(200, body=f"Unauthorized: bearer {KEY} rejected")] * 3)
    with pytest.raises(ServerError) as info:
        complete(mode, server, body())
    assert "**********" in str(info.value)
    _no_key(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_the_key_is_blanked_in_a_200_error_envelope(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(200, body=ECHOED_KEY))
    with pytest.raises(AuthenticationError) as info:
        complete(mode, server, body())
    _no_key(info.value)
    server.reset_state()
    server.enqueue(Fault.status(200, body=ECHOED_KEY))
    outcome = stream(mode, server, body())
    assert isinstance(outcome.error, AuthenticationError)
    _no_key(outcome.error)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("event", [None, "error"])
def test_the_key_is_blanked_in_an_error_event(
    mode: str, event: str | None, server: FakeRunAPI
) -> None:
    server.enqueue(Fault.error_event(2, json.loads(ECHOED_KEY), event=event))
    outcome = stream(mode, server, body())
    assert isinstance(outcome.error, AuthenticationError), outcome.error
    assert "**********" in str(outcome.error)
    _no_key(outcome.error)


def _event_stream(*events: bytes) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b"".join(events), headers={"content-type": "text/event-stream"}
        )

    return httpx.MockTransport(handler)


def test_the_key_is_blanked_in_a_malformed_event_quoted_by_the_error() -> None:
    client = RunAPIClient(api_key=KEY, transport=_event_stream(f"data: {KEY} {{\n\n".encode()))
    with pytest.raises(IncompleteStreamError) as info:
        list(client.stream_chat_completion(body()))
    _no_key(info.value)


def test_an_embeddings_error_never_keeps_part_of_the_key() -> None:
    import httpx

    from runapi_client import RunAPIClient, RunAPIError

    key = "QZXW8-runapi-0123456789abcdef0123456789"

    def handler(request: httpx.Request) -> httpx.Response:
        # Not an embeddings answer, the key echoed where a 500-character cut falls on it.
        return httpx.Response(200, json={"object": "x" * 470, "echo": key})

    client = RunAPIClient(api_key=key, transport=httpx.MockTransport(handler), max_retries=0)
    with pytest.raises(RunAPIError) as caught:
        client.embeddings({"model": "text-embedding-3-small", "input": ["a"]})
    text = f"{caught.value} {caught.value.body}"
    assert "QZXW8" not in text
