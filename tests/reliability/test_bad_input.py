"""Bad input fails before any request: a request body the API would refuse, a base URL that is
not http(s), a bad or wrongly typed setting, a missing key. Each is a ``ConfigurationError``
and the server records nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runapi_client import AsyncRunAPIClient, ConfigurationError, RunAPIClient
from tests.reliability.helpers import KEY, complete, stream
from tests.support.fake_runapi import FakeRunAPI

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


def test_constructor_settings_of_the_wrong_type_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="not a string"):
        RunAPIClient(api_key=KEY, timeout="5")
    with pytest.raises(ConfigurationError, match=r"an httpx\.Timeout"):  # one with a bad phase
        RunAPIClient(api_key=KEY, timeout=httpx.Timeout(5, connect=-1))
    assert RunAPIClient(api_key=KEY, timeout=httpx.Timeout(5)).config.timeout == (5, 5, 5, 5)
    with pytest.raises(ConfigurationError, match="'X-Secret' is int"):
        RunAPIClient(api_key=KEY, default_headers={"X-Secret": 12345})
    with pytest.raises(ConfigurationError, match="dict of header names"):
        RunAPIClient(api_key=KEY, default_headers=["X-A"])
    assert RunAPIClient(api_key=KEY, timeout=5).config.timeout == 5.0


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="RUNAPI_API_KEY"):
        RunAPIClient(api_key="  ")
