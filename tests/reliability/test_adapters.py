"""The same fault, timeout, cancellation, load, input and secret checks through both adapters:
``langchain_runapi.ChatRunAPI`` and ``llama_index_runapi.RunAPILLM``, sync and async."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from langchain_core.load import dumps
from langchain_core.messages import ChatMessage as LCChatMessage
from llama_index.core.llms import ChatMessage as LIChatMessage

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ConfigurationError,
    RunAPIError,
    ServerError,
)
from tests.reliability.conftest import RetryLog
from tests.reliability.helpers import HANG_GUARD, KEY, echo, guarded, open_fds
from tests.reliability.test_cancellation_and_load import (
    CANCEL_MAY_BE_SWALLOWED_ON_310,
    check_load,
)
from tests.support.fake_runapi import FakeRunAPI, Fault

ADAPTERS = ("langchain", "llama_index")
MODES = ("sync", "async")


def make(adapter: str, server: FakeRunAPI, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    settings = {"base_url": server.base_url, "api_key": KEY, "default_headers": headers, **kw}
    if adapter == "langchain":
        return ChatRunAPI(model="glm-4.6", **settings)
    return RunAPILLM(model="glm-4.6", **settings)


def messages(adapter: str, text: str) -> Any:
    if adapter == "langchain":
        return text
    return [LIChatMessage(role="user", content=text)]


async def ask_async(model: Any, adapter: str, text: str) -> str:
    if adapter == "langchain":
        return str((await model.ainvoke(text)).content)
    return str((await model.achat(messages(adapter, text))).message.content)


def ask(model: Any, adapter: str, text: str, mode: str) -> str:
    if mode == "async":
        return asyncio.run(asyncio.wait_for(ask_async(model, adapter, text), HANG_GUARD))
    if adapter == "langchain":
        return str(model.invoke(text).content)
    return str(model.chat(messages(adapter, text)).message.content)


def deltas(model: Any, adapter: str, text: str) -> Iterator[str]:
    if adapter == "langchain":
        for chunk in model.stream(text):
            yield str(chunk.content)
    else:
        for response in model.stream_chat(messages(adapter, text)):
            yield response.delta or ""


async def adeltas(model: Any, adapter: str, text: str) -> AsyncIterator[str]:
    if adapter == "langchain":
        async for chunk in model.astream(text):
            yield str(chunk.content)
    else:
        async for response in await model.astream_chat(messages(adapter, text)):
            yield response.delta or ""


def stream_all(
    model: Any, adapter: str, text: str, mode: str
) -> tuple[list[str], Exception | None]:
    """Every delta received, and the error the stream ended with (if any)."""
    got: list[str] = []
    if mode == "sync":
        try:
            for delta in deltas(model, adapter, text):
                got.append(delta)
        except RunAPIError as exc:
            return got, exc
        return got, None

    async def run() -> Exception | None:
        try:
            async for delta in adeltas(model, adapter, text):
                got.append(delta)
        except RunAPIError as exc:
            return exc
        return None

    return got, asyncio.run(asyncio.wait_for(run(), HANG_GUARD))


pytestmark = pytest.mark.parametrize("adapter", ADAPTERS)


# ---------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("mode", MODES)
def test_retries_then_answer(
    adapter: str, mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(503), Fault.reset())
    answer = ask(make(adapter, server, max_retries=2), adapter, "retried", mode)
    assert answer == echo("retried")
    assert len(server.chat_requests) == 3  # one retry layer (the core's), not two


@pytest.mark.parametrize("mode", MODES)
def test_retries_exhausted_and_4xx(
    adapter: str, mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(500), Fault.html(502), Fault.status(503, retry_after="0"))
    with pytest.raises(ServerError) as caught:
        ask(make(adapter, server, max_retries=2), adapter, "x", mode)
    assert caught.value.status_code == 503 and len(server.chat_requests) == 3
    server.enqueue(Fault.status(400))
    with pytest.raises(BadRequestError):
        ask(make(adapter, server, max_retries=5), adapter, "x", mode)
    assert len(server.chat_requests) == 4


@pytest.mark.parametrize("mode", MODES)
def test_stream_retried_before_first_event_only(
    adapter: str, mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(429, retry_after="0"), Fault.reset())
    got, error = stream_all(make(adapter, server), adapter, "s t", mode)
    assert error is None and "".join(got) == echo("s t")
    assert len(server.chat_requests) == 3

    server.enqueue(Fault.cut_stream(after=9))  # 7 reasoning chunks, then "\nHello!" " You"
    got, error = stream_all(make(adapter, server, max_retries=5), adapter, "a b c", mode)
    assert isinstance(error, APIConnectionError) and len(server.chat_requests) == 4
    assert "".join(got) == "\nHello! You"  # the caller kept every delta it was sent
    assert error.partial is not None


@pytest.mark.parametrize("mode", MODES)
def test_error_event_and_malformed_event(adapter: str, mode: str, server: FakeRunAPI) -> None:
    server.enqueue(Fault.error_event(after=8))
    got, error = stream_all(make(adapter, server), adapter, "a b", mode)
    assert isinstance(error, ServerError) and error.code == "1305"
    assert "".join(got) == "\nHello!"
    server.enqueue(Fault.malformed_event(after=8))
    got, error = stream_all(make(adapter, server), adapter, "a b", mode)
    assert isinstance(error, RunAPIError) and "".join(got) == "\nHello!"


@pytest.mark.parametrize("mode", MODES)
def test_timeouts(adapter: str, mode: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    server.enqueue(Fault.delay(30))
    with pytest.raises(APITimeoutError):
        guarded(lambda: ask(make(adapter, server, timeout=0.3, max_retries=0), adapter, "x", mode))
    server.enqueue(Fault.stall(30, after=9))
    model = make(adapter, server, timeout=0.3, max_retries=3)
    got, error = guarded(lambda: stream_all(model, adapter, "a b c", mode))
    assert isinstance(error, APITimeoutError) and "".join(got) == "\nHello! You"
    assert len(server.chat_requests) == 2
    assert server.wait_idle(10)


# ---------------------------------------------------------------------------- cancellation


def test_breaking_out_of_a_sync_stream_closes_it(adapter: str, server: FakeRunAPI) -> None:
    baseline = open_fds()
    model = make(adapter, server)
    server.enqueue(Fault.stall(30, after=9))
    for _delta in deltas(model, adapter, "x y z"):
        break
    assert server.wait_idle(10)
    assert open_fds() <= baseline + 1  # at most a pooled idle socket pair remains


async def test_cancelling_an_async_stream_closes_it(adapter: str, server: FakeRunAPI) -> None:
    model = make(adapter, server)
    server.enqueue(Fault.stall(30, after=9))
    first = asyncio.Event()

    async def consume() -> None:
        async for _delta in adeltas(model, adapter, "x y z"):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), HANG_GUARD)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.wait_idle, 10)


# ------------------------------------------------------------------------------------ load


def adapter_call(adapter: str, server: FakeRunAPI) -> Any:
    async def call(text: str, headers: dict[str, str], streamed: bool) -> str:
        # Each call on its own: the faults here are per call, not a key's limit (the shared
        # pace has its tests in test_pacer.py).
        model = make(adapter, server, headers or None, pacing=False)
        if not streamed:
            return await ask_async(model, adapter, text)
        return "".join([d async for d in adeltas(model, adapter, text)])

    return call


@CANCEL_MAY_BE_SWALLOWED_ON_310
async def test_load(adapter: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    await check_load(server, adapter_call(adapter, server), 600, 100, f"{adapter} async")


@pytest.mark.soak
async def test_load_soak(adapter: str, server: FakeRunAPI, retry_log: RetryLog) -> None:
    await check_load(server, adapter_call(adapter, server), 3000, 200, f"{adapter} async (soak)")


# ------------------------------------------------------------------------ input and secrets


def test_bad_input_before_any_request(adapter: str, server: FakeRunAPI) -> None:
    model = make(adapter, server)
    cases: list[Callable[[], object]]
    if adapter == "langchain":
        cases = [
            lambda: model.invoke([]),
            lambda: model.invoke([LCChatMessage(role="robot", content="x")]),
            lambda: model.invoke("x", max_tokens=0),
        ]
    else:
        cases = [
            lambda: model.chat([]),
            lambda: make(adapter, server, max_tokens=0).chat(messages(adapter, "x")),
        ]
    for case in cases:
        with pytest.raises((ConfigurationError, ValueError)):
            case()
    with pytest.raises((ConfigurationError, ValueError), match="http"):
        make(adapter, server, base_url="ftp://runapi.ai/v1")
    assert server.requests == []


def test_key_never_leaks(
    adapter: str, server: FakeRunAPI, retry_log: RetryLog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "runapi_client", "langchain_runapi", "llama_index_runapi"):
        caplog.set_level(logging.DEBUG, logger=name)
    model = make(adapter, server)
    server.enqueue(Fault.status(429, retry_after="0"), Fault.status(400))
    errors: list[BaseException] = []
    for _ in range(2):
        try:
            ask(model, adapter, "x", "sync")
        except RunAPIError as exc:
            errors.append(exc)
    texts = [repr(model), str(model), json.dumps(model.model_dump(), default=str)]
    texts.append(model.model_dump_json() if adapter == "llama_index" else dumps(model))
    if adapter == "llama_index":
        texts.append(json.dumps(model.to_dict(), default=str))
    texts += [r.getMessage() for r in caplog.records] + [str(r.__dict__) for r in caplog.records]
    texts += [repr(e) + str(e) + str(vars(e)) for e in errors]
    assert errors and caplog.records
    for text in texts:
        assert KEY not in text
