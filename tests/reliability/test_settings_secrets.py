"""Secrets in settings stay secret, and settings that cannot work fail at construction.

A password in ``base_url`` and secret-looking header values are masked in every repr and left
out of every serialisation; a header value or key that cannot be sent (a trailing newline read
from a file, a non-ASCII character) is refused when the client is built, naming the header,
never the value, with nothing sent; a base URL with a bad port, a query string or a fragment is
refused up front; a ``Retry-After`` that is zero, negative, unreadable or absurd never stalls
nor lets a crowd retry in lockstep.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from langchain_core.load import dumps

from langchain_runapi import ChatRunAPI, RunAPIEmbeddings
from llama_index_runapi import RunAPIEmbedding, RunAPILLM
from runapi_client import ClientConfig, ConfigurationError, RateLimitError, RunAPIClient
from runapi_client.errors import parse_retry_after
from tests.support.fake_runapi import FakeRunAPI

PASSWORD = "hunter2-base-url-password"
HEADER_SECRET = "hdr-secret-value-123"
URL = f"https://user:{PASSWORD}@gateway.example.com/v1"
HEADERS = {"X-Api-Key": HEADER_SECRET, "X-Auth-Token": HEADER_SECRET, "X-Trace": "visible"}

CLASSES = [ChatRunAPI, RunAPIEmbeddings, RunAPILLM, RunAPIEmbedding]


def build(cls: type) -> Any:
    return cls(api_key="k", base_url=URL, default_headers=dict(HEADERS))


@pytest.mark.parametrize("cls", CLASSES)
def test_secrets_in_settings_are_masked_in_reprs(cls: type) -> None:
    shown = repr(build(cls))
    assert PASSWORD not in shown and HEADER_SECRET not in shown
    assert "user:[secure]@gateway.example.com" in shown
    if cls is not RunAPIEmbedding:  # (whose headers are not shown at all)
        assert "'visible'" in shown


def test_secrets_in_settings_are_masked_in_the_core() -> None:
    client = RunAPIClient(api_key="k", base_url=URL)
    config = ClientConfig.resolve(api_key="k", base_url=URL)
    for shown in (repr(client), repr(config), str(client)):
        assert PASSWORD not in shown and "[secure]" in shown


def test_serialisations_leave_the_secrets_out() -> None:
    saved = dumps(build(ChatRunAPI))
    assert PASSWORD not in saved and HEADER_SECRET not in saved
    assert '"base_url": {"lc": 1, "type": "secret", "id": ["RUNAPI_BASE_URL"]}' in saved
    for cls in (RunAPILLM, RunAPIEmbedding):
        model = build(cls)
        for saved in (model.to_json(), str(model.to_dict())):
            assert PASSWORD not in saved and HEADER_SECRET not in saved
        assert model.to_dict()["base_url"] is None  # rebuilt, it reads RUNAPI_BASE_URL
        assert model.to_dict().get("default_headers") in ({"X-Trace": "visible"}, None)


def test_a_password_in_a_bad_base_url_is_not_quoted_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        RunAPIClient(api_key="k", base_url=f"ftp://user:{PASSWORD}@host/v1")
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://host:abc/v1", "not a valid URL"),
        ("http://host:99999/v1", "not a valid URL"),
        ("https://runapi.ai/v1?api-version=2024", "query string"),
        ("https://runapi.ai/v1#frag", "query string or fragment"),
    ],
)
def test_a_base_url_that_cannot_work_is_refused_at_construction(url: str, match: str) -> None:
    for build_one in (
        lambda: RunAPIClient(api_key="k", base_url=url),
        lambda: ChatRunAPI(api_key="k", base_url=url),
        lambda: RunAPILLM(api_key="k", base_url=url),
    ):
        with pytest.raises(ConfigurationError, match=match):
            build_one()


@pytest.mark.parametrize("value", ["abc\n", "a\r\nX-Evil: 1", "caf\u00e9", "nul\x00"])
def test_a_header_value_that_cannot_be_sent_is_refused_naming_the_header(value: str) -> None:
    with FakeRunAPI() as server:
        for build_one in (
            lambda: RunAPIClient(
                api_key="k", base_url=server.base_url, default_headers={"X-Tenant": value}
            ),
            lambda: ChatRunAPI(
                api_key="k", base_url=server.base_url, default_headers={"X-Tenant": value}
            ),
            lambda: RunAPILLM(
                api_key="k", base_url=server.base_url, default_headers={"X-Tenant": value}
            ),
        ):
            with pytest.raises(ConfigurationError, match="header 'X-Tenant'") as info:
                build_one()
            assert value not in str(info.value)
        with pytest.raises(ConfigurationError, match="extra_headers header 'X-Tenant'"):
            RunAPIClient(api_key="k", base_url=server.base_url).chat_completion(
                {
                    "model": "glm-4.6",
                    "messages": [{"role": "user", "content": "hi"}],
                    "extra_headers": {"X-Tenant": value},
                }
            )
        assert server.requests == []  # nothing was sent


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "-5"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after-ms": "1e400"}, None),
        ({"retry-after-ms": "-100"}, None),
        ({"retry-after": "99999999"}, 86400.0),
    ],
)
def test_retry_after_is_sanitised(headers: dict[str, str], expected: float | None) -> None:
    hint = parse_retry_after(headers)
    assert hint == expected
    assert hint is None or math.isfinite(hint)


def test_a_zero_or_unreadable_hint_falls_back_to_the_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    answers = iter(
        [
            httpx.Response(429, headers={"retry-after": "0"}),
            httpx.Response(429, headers={"retry-after": "nan"}),
            httpx.Response(429, headers={"retry-after-ms": "1e400"}),
        ]
    )
    client = RunAPIClient(
        api_key="k",
        max_retries=2,
        pacing=False,  # the one call's own backoff, measured alone
        transport=httpx.MockTransport(lambda _: next(answers)),
    )
    with pytest.raises(RateLimitError) as info:
        client.chat_completion({"model": "glm-4.6", "messages": [{"role": "user", "content": "x"}]})
    assert len(slept) == 2 and all(0.3 < delay <= 1.0 for delay in slept)  # backoff, not 0
    assert info.value.retry_after is None  # unreadable: no hint, never inf or nan


def test_an_absurd_hint_is_capped_and_raised_not_slept() -> None:
    client = RunAPIClient(
        api_key="k",
        transport=httpx.MockTransport(
            lambda _: httpx.Response(429, headers={"retry-after": "99999999"})
        ),
    )
    with pytest.raises(RateLimitError) as info:
        client.chat_completion({"model": "glm-4.6", "messages": [{"role": "user", "content": "x"}]})
    assert info.value.retry_after == 86400.0
