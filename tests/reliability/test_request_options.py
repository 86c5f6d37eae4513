"""The OpenAI SDK's per-request options (``extra_body``, ``extra_headers``, ``timeout``) work
wherever a call's keyword arguments reach the request: the core, ``ChatRunAPI`` (per call,
``bind``, ``model_kwargs``) and ``RunAPILLM`` (per call, ``additional_kwargs``).

Before, they went out as literal JSON fields: ``extra_body={"thinking": {"type": "disabled"}}``
left GLM's thinking on, no header was sent and the timeout did not apply.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from runapi_client import (
    APITimeoutError,
    AsyncRunAPIClient,
    ConfigurationError,
    RequestOptions,
    RunAPIClient,
)
from runapi_client._options import split_request_options
from tests.reliability.helpers import KEY, MODES, body, complete, stream
from tests.support.fake_runapi import FakeRunAPI, Fault

MESSAGES = [{"role": "user", "content": "What is 2 + 3?"}]
BODY: dict[str, Any] = {"model": "glm-4.6", "messages": MESSAGES}
OFF = {"thinking": {"type": "disabled"}}


def _last(server: FakeRunAPI) -> tuple[dict[str, Any], dict[str, str]]:
    request = server.chat_requests[-1]
    return request["body"], {k.lower(): v for k, v in request["headers"].items()}


# ------------------------------------------------------------------------------- pure split


def test_a_body_without_options_is_returned_as_is() -> None:
    body, options = split_request_options(BODY)
    assert body is BODY and options is None


def test_extra_body_is_merged_and_needs_no_client_change() -> None:
    body, options = split_request_options({**BODY, "extra_body": OFF})
    assert body == {**BODY, **OFF} and options is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"extra_query": {"a": "1"}}, "extra_query is not supported"),
        ({"extra_body": {"messages": []}}, "extra_body may not set messages"),
        ({"extra_body": {"stream": True}}, "extra_body may not set stream"),
        ({"extra_body": "thinking"}, "extra_body must be a dict"),
        ({"extra_headers": {"Authorization": "Bearer other"}}, "extra_headers may not set"),
        ({"extra_headers": ["X-A"]}, "extra_headers must be a dict"),
        ({"timeout": 0}, "timeout must be a positive number"),
    ],
)
def test_bad_options_say_what_to_fix(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        split_request_options({**BODY, **extra})


# ------------------------------------------------------------------------------------ core


def test_core_sync_applies_each_option(server: FakeRunAPI) -> None:
    with RunAPIClient(api_key="k", base_url=server.base_url, default_headers={"X-App": "a"}) as c:
        c.chat_completion({**BODY, "extra_body": OFF, "extra_headers": {"X-Trace": "t1"}})
        body, headers = _last(server)
        assert body["thinking"] == {"type": "disabled"} and "extra_body" not in body
        assert "extra_headers" not in body
        assert headers["x-trace"] == "t1" and headers["x-app"] == "a"
        assert headers["authorization"] == "Bearer k"

        for _ in c.stream_chat_completion({**BODY, "extra_headers": {"X-Trace": "t2"}}):
            pass
        body, headers = _last(server)
        assert headers["x-trace"] == "t2" and body["stream"] is True

        c.chat_completion(BODY)  # the options were for one request only
        body, headers = _last(server)
        assert "x-trace" not in headers and "thinking" not in body


def test_core_timeout_option_applies_to_that_request(server: FakeRunAPI) -> None:
    with RunAPIClient(api_key="k", base_url=server.base_url, max_retries=0) as c:
        server.enqueue(Fault.delay(3.0))
        start = time.monotonic()
        with pytest.raises(APITimeoutError):
            c.chat_completion({**BODY, "timeout": 0.3})
        assert time.monotonic() - start < 2.5
        server.enqueue(Fault.delay(0.5))
        c.chat_completion(BODY)  # the client's own 60 s again


def test_core_async_applies_each_option(server: FakeRunAPI) -> None:
    async def run() -> None:
        client = AsyncRunAPIClient(api_key="k", base_url=server.base_url, max_retries=0)
        try:
            await client.chat_completion({**BODY, "extra_body": OFF, "extra_headers": {"X-T": "1"}})
            body, headers = _last(server)
            assert body["thinking"] == {"type": "disabled"} and headers["x-t"] == "1"
            async with client.stream_chat_completion({**BODY, "extra_headers": {"X-T": "2"}}) as s:
                async for _ in s:
                    pass
            assert _last(server)[1]["x-t"] == "2"
            server.enqueue(Fault.delay(3.0))
            with pytest.raises(APITimeoutError):
                await client.chat_completion({**BODY, "timeout": 0.3})
        finally:
            await client.aclose()

    asyncio.run(run())


# -------------------------------------------------------------------------------- adapters


def test_chat_runapi_per_call_bound_and_model_kwargs(server: FakeRunAPI) -> None:
    from langchain_runapi import ChatRunAPI

    llm = ChatRunAPI(model="glm-4.6", api_key="k", base_url=server.base_url, max_retries=0)
    llm.invoke("hi", extra_body=OFF, extra_headers={"X-Call": "1"})
    body, headers = _last(server)
    assert body["thinking"] == {"type": "disabled"} and "extra_body" not in body
    assert headers["x-call"] == "1" and "extra_headers" not in body

    list(llm.bind(extra_body=OFF).stream("hi"))
    assert _last(server)[0]["thinking"] == {"type": "disabled"}

    asyncio.run(llm.ainvoke("hi", extra_headers={"X-Call": "2"}))
    assert _last(server)[1]["x-call"] == "2"

    server.enqueue(Fault.delay(3.0))
    with pytest.raises(APITimeoutError):
        llm.invoke("hi", timeout=0.3)


def test_runapi_llm_per_call_and_additional_kwargs(server: FakeRunAPI) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_runapi import RunAPILLM

    messages = [ChatMessage(role="user", content="hi")]
    llm = RunAPILLM(
        model="glm-4.6",
        api_key="k",
        base_url=server.base_url,
        max_retries=0,
        additional_kwargs={"extra_body": OFF},
    )
    response = llm.chat(messages, extra_headers={"X-Call": "1"})
    body, headers = _last(server)
    assert body["thinking"] == {"type": "disabled"} and "extra_body" not in body
    assert headers["x-call"] == "1"
    # thinking off: the answer carries no reasoning block
    assert [type(b).__name__ for b in response.message.blocks] == ["TextBlock"]

    for _ in llm.stream_chat(messages, extra_headers={"X-Call": "2"}):
        pass
    assert _last(server)[1]["x-call"] == "2"

    server.enqueue(Fault.delay(3.0))
    with pytest.raises(APITimeoutError):
        llm.chat(messages, timeout=0.3)


def test_a_per_request_timeout_shares_the_pool(server: FakeRunAPI) -> None:
    from runapi_client import _pool

    with RunAPIClient(api_key="k", base_url=server.base_url) as c:
        c.chat_completion(BODY)
        pools = dict(_pool._sync)
        for seconds in (5.0, 6.0, 7.0):
            c.chat_completion({**BODY, "timeout": seconds})
        assert dict(_pool._sync) == pools
        assert server.chat_requests[-1]["body"] == {**BODY}


def test_a_per_request_header_replaces_a_default_of_another_case() -> None:
    import httpx

    seen: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get_list("x-trace"))
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    client = RunAPIClient(
        api_key="k",
        transport=httpx.MockTransport(handler),
        default_headers={"X-Trace": "default"},
    )
    client.chat_completion({**BODY, "extra_headers": {"x-trace": "per-call"}})
    client.chat_completion(BODY)
    assert seen == [["per-call"], ["default"]]


def test_the_same_options_reuse_one_per_request_client(server: FakeRunAPI) -> None:
    with RunAPIClient(api_key="k", base_url=server.base_url) as c:
        options = {"extra_headers": {"X-A": "1"}, "timeout": 30}
        c.chat_completion({**BODY, **options})
        first = dict(c._option_clients)
        c.chat_completion({**BODY, **options})
        assert dict(c._option_clients) == first and len(first) == 1
        c.chat_completion({**BODY, "extra_headers": {"X-A": "2"}})
        assert len(c._option_clients) == 2
    assert [r["headers"].get("x-a") or r["headers"].get("X-A") for r in server.chat_requests] == [
        "1",
        "1",
        "2",
    ]


# ------------------------------------------------------------------ RequestOptions built directly


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


# ---------------------------------------------------------- per-request options of the wrong type


WRONG_OPTIONS = [
    ({"timeout": httpx.Timeout(5, read=-1)}, "positive number of seconds"),
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


def test_an_httpx_timeout_applies_per_request_too(server: FakeRunAPI) -> None:
    server.enqueue(Fault.delay(2))
    with pytest.raises(APITimeoutError):
        complete("sync", server, body(timeout=httpx.Timeout(5.0, read=0.3)), max_retries=0)
