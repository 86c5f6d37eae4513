"""Bad input fails before any request; the API key never leaks (repr, str, logs, errors, files)."""

from __future__ import annotations

import asyncio
import logging
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from runapi_client import (
    AsyncRunAPIClient,
    ClientConfig,
    ConfigurationError,
    RunAPIClient,
    RunAPIError,
)
from tests.reliability.conftest import RetryLog
from tests.reliability.helpers import KEY, body, complete, stream
from tests.support.fake_runapi import FakeRunAPI, Fault

ROOT = Path(__file__).resolve().parents[2]
USER = {"role": "user", "content": "hi"}
BAD_BODIES: dict[str, dict[str, Any]] = {
    "no messages": {"model": "glm-4.6", "messages": []},
    "messages not a list": {"model": "glm-4.6", "messages": "hi"},
    "unknown role": {"model": "glm-4.6", "messages": [{"role": "robot", "content": "hi"}]},
    "message not a dict": {"model": "glm-4.6", "messages": ["hi"]},
    "tool result without id": {"model": "glm-4.6", "messages": [{"role": "tool", "content": "1"}]},
    "empty model": {"model": " ", "messages": [USER]},
    "max_tokens zero": {"model": "glm-4.6", "messages": [USER], "max_tokens": 0},
    "max_tokens negative": {"model": "glm-4.6", "messages": [USER], "max_tokens": -5},
    "max_tokens a string": {"model": "glm-4.6", "messages": [USER], "max_tokens": "100"},
    "max_tokens a float": {"model": "glm-4.6", "messages": [USER], "max_tokens": 1.5},
    "max_tokens a bool": {"model": "glm-4.6", "messages": [USER], "max_tokens": True},
    "tool schema with a set": {
        "model": "glm-4.6",
        "messages": [USER],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"enum": {1, 2}}}}],
    },
    "tool schema with an object": {
        "model": "glm-4.6",
        "messages": [USER],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": object()}}],
    },
    "NaN in the body": {"model": "glm-4.6", "messages": [USER], "temperature": float("nan")},
}


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_request_body_fails_before_sending(
    server: FakeRunAPI, mode: str, streamed: bool, case: str
) -> None:
    with pytest.raises(ConfigurationError):
        if streamed:
            stream(mode, server, BAD_BODIES[case])
        else:
            complete(mode, server, BAD_BODIES[case])
    assert server.requests == []


@pytest.mark.parametrize(
    "url", ["ftp://runapi.ai/v1", "runapi.ai/v1", "file:///etc/passwd", "http://", "", "  "]
)
@pytest.mark.parametrize("client_class", [RunAPIClient, AsyncRunAPIClient])
def test_base_url_must_be_http(
    client_class: type, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNAPI_BASE_URL", raising=False)
    if not url.strip():
        monkeypatch.setenv("RUNAPI_BASE_URL", "gopher://x")
    with pytest.raises(ConfigurationError, match="http"):
        client_class(api_key=KEY, base_url=url or None)


@pytest.mark.parametrize(
    "kwargs", [{"timeout": 0}, {"timeout": -1}, {"max_retries": -1}, {"max_retries": 1.5}]
)
def test_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RunAPIClient(api_key=KEY, **kwargs)


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="RUNAPI_API_KEY"):
        RunAPIClient(api_key="  ")


# ------------------------------------------------------------------------------------ secrets


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
    for call in (
        lambda: complete("async", server, body(), max_retries=1),
        lambda: complete("sync", server, body(), max_retries=0),
    ):
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
