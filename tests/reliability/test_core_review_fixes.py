"""Core defects found in review (/tmp/review_core_docs.md, D1-D6), each shown fixed.

D1 a 200 whose JSON body is an error envelope raises that error (streamed or not);
D2 the key is blanked out of every error built from what the server sent;
D3 a stream that loses its connection after its finish chunk ends normally, usage recorded;
D4 ``RequestOptions`` built directly is checked and its timeout applies;
D5 per-request options of the wrong type are a ``ConfigurationError``, before any request;
D6 ``NO_PROXY`` entries written host:port match; a malformed proxy variable is named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runapi_client import (
    APITimeoutError,
    AsyncRunAPIClient,
    AuthenticationError,
    ConfigurationError,
    IncompleteStreamError,
    NotFoundError,
    RequestOptions,
    RunAPIClient,
    RunAPIError,
    ServerError,
    StreamInterruptedError,
    _pool,
    track_usage,
)
from tests.reliability.conftest import RetryLog
from tests.reliability.helpers import KEY, MODES, body, complete, stream
from tests.support.fake_runapi import FakeRunAPI, Fault

UNKNOWN_MODEL = json.dumps({"error": {"code": "1211", "message": "model does not exist"}})
OVERLOADED = json.dumps({"error": {"code": "1305", "message": "temporarily overloaded"}})
ECHOED_KEY = json.dumps(
    {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}
)


def _no_key(err: BaseException) -> None:
    assert isinstance(err, RunAPIError)
    assert KEY not in str(err)
    assert KEY not in repr(err.body)
    assert KEY not in repr(err.__dict__)


# ------------------------------------------------------------------ D1: 200 with an error body


@pytest.mark.parametrize("mode", MODES)
def test_a_200_error_envelope_raises_its_typed_error_at_once(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(200, body=UNKNOWN_MODEL))
    with pytest.raises(NotFoundError, match="model does not exist") as info:
        complete(mode, server, body())
    assert info.value.code == "1211"
    assert info.value.request_id  # from the response's x-request-id
    assert len(server.chat_requests) == 1  # 1211 is final, like a 404


@pytest.mark.parametrize("mode", MODES)
def test_a_200_error_envelope_with_a_transient_code_is_retried(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(200, body=OVERLOADED))
    result = complete(mode, server, body("retry me"))
    assert "retry me" in result.completion["choices"][0]["message"]["content"]
    assert len(server.chat_requests) == 2

    server.reset_state()
    server.enqueue(*[Fault.status(200, body=OVERLOADED)] * 3)
    with pytest.raises(ServerError, match="temporarily overloaded"):
        complete(mode, server, body(), max_retries=2)
    assert len(server.chat_requests) == 3


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_answered_with_a_json_error_raises_it(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(200, body=UNKNOWN_MODEL))
    outcome = stream(mode, server, body())
    assert isinstance(outcome.error, NotFoundError), outcome.error
    assert not isinstance(outcome.error, IncompleteStreamError)
    assert "model does not exist" in str(outcome.error)
    assert outcome.chunks == []
    assert len(server.chat_requests) == 1

    server.reset_state()
    server.enqueue(Fault.status(200, body=OVERLOADED))
    outcome = stream(mode, server, body("after the overload"))
    assert outcome.error is None and outcome.result is not None
    assert "after the overload" in outcome.content
    assert len(server.chat_requests) == 2


def test_a_200_error_envelope_on_embeddings_raises_it(server: FakeRunAPI) -> None:
    server.enqueue(Fault.status(200, body=UNKNOWN_MODEL))
    client = RunAPIClient(base_url=server.base_url, api_key=KEY)
    with client, pytest.raises(NotFoundError):
        client.embeddings({"model": "embedding-3", "input": ["a"]})


# --------------------------------------------------------------------- D2: the key never shows


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


# ------------------------------------------------- D3: a connection lost after the finish chunk


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
    assert usage.total_cost == pytest.approx(float(whole.result.cost.total))  # type: ignore[union-attr]


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


# ------------------------------------------------------- D4: RequestOptions used directly


def test_request_options_timeout_applies_through_with_options(server: FakeRunAPI) -> None:
    options = RequestOptions(timeout=0.3)
    assert options.timeout == 0.3
    server.enqueue(Fault.delay(2))
    with RunAPIClient(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        quick = client.with_options(options)
        assert quick.config.timeout == 0.3
        with pytest.raises(APITimeoutError):
            quick.chat_completion(body())
        assert client.with_options(RequestOptions()).config.timeout == client.config.timeout
        assert client.with_options(RequestOptions(timeout=None)).config.timeout is None


def test_request_options_timeout_applies_through_async_with_options(server: FakeRunAPI) -> None:
    import asyncio

    async def run() -> None:
        server.enqueue(Fault.delay(2))
        async with AsyncRunAPIClient(base_url=server.base_url, api_key=KEY, max_retries=0) as c:
            with pytest.raises(APITimeoutError):
                await c.with_options(RequestOptions(timeout=0.3)).chat_completion(body())

    asyncio.run(asyncio.wait_for(run(), 30))


def test_request_options_headers_are_checked_and_sent(server: FakeRunAPI) -> None:
    for name in ("Authorization", "content-type", "Accept"):
        with pytest.raises(ConfigurationError, match="may not set"):
            RequestOptions(headers={name: "Bearer other"})
    options = RequestOptions(headers={"X-Team": "data"})
    assert options.headers == (("X-Team", "data"),)
    with RunAPIClient(base_url=server.base_url, api_key=KEY) as client:
        client.with_options(options).chat_completion(body())
    sent = server.chat_requests[-1]["headers"]
    assert sent["x-team"] == "data"
    assert sent["authorization"] == f"Bearer {KEY}"



# ---------------------------------------------------------- D5: per-request option types

WRONG_OPTIONS = [
    ({"timeout": httpx.Timeout(5)}, r"httpx\.Timeout is not accepted"),
    ({"timeout": "5"}, "not a string"),
    ({"timeout": [5]}, "positive number of seconds"),
    ({"timeout": float("inf")}, "positive number of seconds"),
    ({"extra_headers": {"X-N": 1}}, r"'X-N' is int\. Pass the value as a str"),
    ({"extra_headers": {"X-N": None}}, "'X-N' is NoneType"),
    ({"extra_headers": {1: "x"}}, "string header names"),
]


@pytest.mark.parametrize(("options", "match"), WRONG_OPTIONS)
@pytest.mark.parametrize("mode", MODES)
def test_per_request_options_of_the_wrong_type_are_configuration_errors(
    mode: str, server: FakeRunAPI, options: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        complete(mode, server, body(**options))
    with pytest.raises(ConfigurationError, match=match):
        stream(mode, server, body(**options))
    assert server.chat_requests == []


def test_constructor_settings_of_the_wrong_type_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="not a string"):
        RunAPIClient(api_key=KEY, timeout="5")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"httpx\.Timeout"):
        RunAPIClient(api_key=KEY, timeout=httpx.Timeout(5))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'X-Secret' is int"):
        RunAPIClient(api_key=KEY, default_headers={"X-Secret": 12345})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="dict of header names"):
        RunAPIClient(api_key=KEY, default_headers=["X-A"])  # type: ignore[arg-type]
    assert RunAPIClient(api_key=KEY, timeout=5).config.timeout == 5.0


# ------------------------------------------------------------ D6: proxies from the environment

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("no_proxy", "base_url", "proxied"),
    [  # as httpx.Client() and requests decide
        ("127.0.0.1:8080", "http://127.0.0.1:8080/v1", False),
        ("localhost:8080", "http://localhost:8080/v1", False),
        ("127.0.0.1:9999", "http://127.0.0.1:8080/v1", True),
        ("127.0.0.1", "http://127.0.0.1:8080/v1", False),
        ("other:1,127.0.0.1:8080", "http://127.0.0.1:8080/v1", False),
        ("runapi.ai:443", "https://runapi.ai/v1", True),  # a default port is not matched
        ("::1", "http://[::1]:8080/v1", False),
    ],
)
def test_no_proxy_entries_with_a_port_match_as_in_httpx(
    proxy_env: pytest.MonkeyPatch, no_proxy: str, base_url: str, proxied: bool
) -> None:
    proxy_env.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    proxy_env.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    proxy_env.setenv("NO_PROXY", no_proxy)
    assert (_pool.env_proxy(base_url) is not None) == proxied


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTPS_PROXY", "http://user:s3cretpw@proxy.invalid:notaport"),
        ("https_proxy", "ftp://user:s3cretpw@proxy.invalid:21"),
        ("ALL_PROXY", "http://user:s3cretpw@[::1"),
    ],
)
def test_a_malformed_proxy_variable_is_a_configuration_error_naming_it(
    proxy_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    proxy_env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name) as info:
        _pool.env_proxy("https://runapi.example/v1")
    assert "s3cretpw" not in str(info.value)
    client = RunAPIClient(api_key=KEY, base_url="https://runapi.example/v1", timeout=1.25)
    with pytest.raises(ConfigurationError, match=name) as info:
        client.chat_completion(body())
    assert "s3cretpw" not in str(info.value)


def test_a_200_error_without_a_known_code_is_not_retried() -> None:
    import httpx

    from runapi_client import APIStatusError, BadRequestError, RunAPIClient, ServerError

    for answer, expected in (
        ({"error": "Bad input"}, APIStatusError),
        ({"error": {"message": "bad", "type": "invalid_request_error"}}, BadRequestError),
        ({"error": {"message": "busy", "type": "overloaded_error"}}, ServerError),
    ):
        sent: list[httpx.Request] = []

        def handler(
            request: httpx.Request, answer: dict[str, Any] = answer, sent: list[Any] = sent
        ) -> httpx.Response:
            sent.append(request)
            return httpx.Response(200, json=answer)

        client = RunAPIClient(api_key="k", transport=httpx.MockTransport(handler), max_retries=2)
        body = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}
        with pytest.raises(expected) as caught:
            client.chat_completion(body)
        retried = isinstance(caught.value, ServerError)
        assert len(sent) == (3 if retried else 1), (answer, len(sent))
        assert "retrying later" not in str(caught.value) or retried


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
