"""``timeout`` bounds connecting and each read; ``total_timeout`` bounds a whole call: every
attempt, the waits between them, and all of a stream, even one that pings to stay alive."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client import (
    APITimeoutError,
    AsyncRunAPIClient,
    ConfigurationError,
    RunAPIClient,
    StreamTimeoutError,
)
from runapi_client._config import Timeouts
from tests.support.fake_runapi import FakeRunAPI

BODY = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server() -> Iterator[FakeRunAPI]:
    with FakeRunAPI() as fake:
        yield fake


def pinging(request: httpx.Request) -> httpx.Response:
    """A stream that sends one chunk, then a keep-alive comment every 50 ms, forever."""

    def body() -> Iterator[bytes]:
        yield b'data: {"id":"1","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        while True:
            time.sleep(0.05)
            yield b": ping\n\n"

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())


def test_a_stream_kept_alive_by_pings_ends_at_the_deadline() -> None:
    client = RunAPIClient(
        api_key="k", timeout=1, total_timeout=0.4, transport=httpx.MockTransport(pinging)
    )
    started = time.monotonic()
    chunks = []
    with pytest.raises(StreamTimeoutError, match=r"total_timeout=0\.4") as info:
        for chunk in client.stream_chat_completion(BODY):
            chunks.append(chunk)
    assert len(chunks) == 1 and info.value.partial is not None
    assert time.monotonic() - started < 5  # a bound on hanging (without it: forever)


def test_retries_stop_at_the_deadline(server: FakeRunAPI) -> None:
    client = RunAPIClient(
        api_key="k",
        base_url=server.base_url,
        max_retries=50,
        total_timeout=1.0,
        default_headers={"X-Fake-Fault": "status=503"},
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"total_timeout=1\.0") as info:
        client.chat_completion(BODY)
    assert time.monotonic() - started < 5  # (a bound on hanging, not a speed figure)
    assert type(info.value.__cause__).__name__ == "ServerError"  # the last attempt's error


@pytest.mark.parametrize("stream", [False, True])
async def test_a_stalled_answer_ends_at_the_deadline_async(
    server: FakeRunAPI, stream: bool
) -> None:
    client = AsyncRunAPIClient(
        api_key="k",
        base_url=server.base_url,
        timeout=10,
        total_timeout=0.3,
        default_headers={"X-Fake-Fault": "stall=3"},
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        if stream:
            async for _ in client.stream_chat_completion(BODY):
                pass
        else:
            await client.chat_completion(BODY)
    assert time.monotonic() - started < 5  # (a bound on hanging, not a speed figure)
    await client.aclose()


def test_both_adapters_take_total_timeout_and_an_httpx_timeout(server: FakeRunAPI) -> None:
    stalled = {"X-Fake-Fault": "stall=3"}
    adapters: list[tuple[type[Any], Callable[[Any], Any]]] = [
        (ChatRunAPI, lambda m: m.invoke("hi")),
        (RunAPILLM, lambda m: m.chat([ChatMessage(role="user", content="hi")])),
    ]
    for llm, call in adapters:
        model = llm(
            api_key="k", base_url=server.base_url, total_timeout=0.3, default_headers=stalled
        )
        with pytest.raises(APITimeoutError):
            call(model)
        fine = llm(api_key="k", base_url=server.base_url, timeout=httpx.Timeout(5.0, connect=2.0))
        call(fine)
        assert fine._config().timeout == Timeouts(connect=2.0, read=5.0, write=5.0, pool=5.0)


@pytest.mark.parametrize("bad", [0, -1, "10", float("nan")])
def test_a_total_timeout_that_cannot_work_is_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="total_timeout"):
        RunAPIClient(api_key="k", total_timeout=bad)
