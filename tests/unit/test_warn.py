"""Our warnings name the caller's line, through LangChain's call chain, LlamaIndex's
instrumentation wrappers and the core alike, sync, async, streamed and batched."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.llms import ChatMessage

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client import AsyncRunAPIClient, RunAPIClient, RunAPIWarning, _pricing
from tests.support.fake_runapi import FakeRunAPI
from tests.support.wire import wire_sample

THIS_FILE = str(Path(__file__))


def _answer(request: httpx.Request) -> httpx.Response:
    # The recorded glm-4.6 answer, for whichever model was asked (so an unpriced one stays so).
    completion = json.loads(wire_sample("glm-4.6.nonstream.json"))
    completion["model"] = json.loads(request.content)["model"]
    return httpx.Response(200, json=completion)


def _caught(action: Callable[[], object]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [w for w in caught if issubclass(w.category, UserWarning)]


def test_a_forced_tool_choice_warning_points_at_the_invoke_line() -> None:
    llm = ChatRunAPI(
        model="glm-4.6",
        api_key="k",
        http_client=httpx.Client(transport=httpx.MockTransport(_answer)),
    )

    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    bound = llm.bind_tools([get_weather], tool_choice="get_weather")
    caught = _caught(lambda: bound.invoke("Weather in Paris?"))
    assert caught and "tool_choice" in str(caught[0].message)
    assert caught[0].filename == THIS_FILE


def test_the_no_price_warning_points_at_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pricing, "_warned", set())
    client = RunAPIClient(api_key="k", transport=httpx.MockTransport(_answer))
    body = {"model": "glm-unpriced-x", "messages": [{"role": "user", "content": "hi"}]}
    caught = _caught(lambda: client.chat_completion(body))
    assert caught and "No price known" in str(caught[0].message)
    assert caught[0].filename == THIS_FILE


def test_inside_an_asyncio_task_it_still_names_the_callers_coroutine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_pricing, "_warned", set())
    llm = ChatRunAPI(
        model="glm-unpriced-y",
        api_key="k",
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(_answer)),
    )

    async def main() -> None:
        await llm.ainvoke("hi")

    caught = _caught(lambda: asyncio.run(main()))
    assert caught and caught[0].filename == THIS_FILE


# ------------------------------------------------- every way of calling, through the emulator

QUESTION = "What time is it?"
MESSAGES = [ChatMessage(role="user", content=QUESTION)]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time now.",
        "parameters": {"type": "object", "properties": {}},
    },
}
# Each kind of warning, and what makes a call raise it: a model without a price (warned at the
# end of the call) and a forced tool_choice on GLM (warned as the request is prepared).
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "no price": ("glm-unpriced-w", {}),
    "tool_choice": ("glm-4.6", {"tools": [TOOL], "tool_choice": "required"}),
}
MATCH = {"no price": "No price known", "tool_choice": "tool_choice='required'"}


@dataclass
class Callers:
    llm: RunAPILLM
    chat: ChatRunAPI
    client: RunAPIClient
    async_client: AsyncRunAPIClient
    body: dict[str, Any]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeRunAPI]:
    with FakeRunAPI() as fake:
        yield fake


def _callers(server: FakeRunAPI, kind: str) -> Callers:
    model, extra = KINDS[kind]
    settings = {"model": model, "api_key": "k", "base_url": server.base_url, **extra}
    return Callers(
        llm=RunAPILLM(**settings),
        chat=ChatRunAPI(**settings),
        client=RunAPIClient(api_key="k", base_url=server.base_url),
        async_client=AsyncRunAPIClient(api_key="k", base_url=server.base_url),
        body={"model": model, "messages": [{"role": "user", "content": QUESTION}], **extra},
    )


def _core_stream(c: Callers) -> None:
    with c.client.stream_chat_completion(c.body) as stream:
        for _ in stream:
            pass


SYNC_CALLS: dict[str, Callable[[Callers], object]] = {
    "RunAPILLM.chat": lambda c: c.llm.chat(MESSAGES),
    "RunAPILLM.complete": lambda c: c.llm.complete(QUESTION),
    "RunAPILLM.stream_chat": lambda c: list(c.llm.stream_chat(MESSAGES)),
    "RunAPILLM.stream_complete": lambda c: list(c.llm.stream_complete(QUESTION)),
    "ChatRunAPI.invoke": lambda c: c.chat.invoke(QUESTION),
    "ChatRunAPI.stream": lambda c: list(c.chat.stream(QUESTION)),
    "ChatRunAPI.batch": lambda c: c.chat.batch([QUESTION, "And the date?"]),
    "RunAPIClient.chat_completion": lambda c: c.client.chat_completion(c.body),
    "RunAPIClient.stream_chat_completion": _core_stream,
}


async def _astream_chat(c: Callers) -> None:
    async for _ in await c.llm.astream_chat(MESSAGES):
        pass


async def _astream(c: Callers) -> None:
    async for _ in c.chat.astream(QUESTION):
        pass


async def _core_astream(c: Callers) -> None:
    async with c.async_client.stream_chat_completion(c.body) as stream:
        async for _ in stream:
            pass


async def _achat(c: Callers) -> None:
    await c.llm.achat(MESSAGES)


async def _acomplete(c: Callers) -> None:
    await c.llm.acomplete(QUESTION)


async def _ainvoke(c: Callers) -> None:
    await c.chat.ainvoke(QUESTION)


async def _abatch(c: Callers) -> None:
    await c.chat.abatch([QUESTION, "And the date?"])


async def _core_achat(c: Callers) -> None:
    await c.async_client.chat_completion(c.body)


ASYNC_CALLS: dict[str, Callable[[Callers], Awaitable[None]]] = {
    "RunAPILLM.achat": _achat,
    "RunAPILLM.acomplete": _acomplete,
    "RunAPILLM.astream_chat": _astream_chat,
    "ChatRunAPI.ainvoke": _ainvoke,
    "ChatRunAPI.astream": _astream,
    "ChatRunAPI.abatch": _abatch,
    "AsyncRunAPIClient.chat_completion": _core_achat,
    "AsyncRunAPIClient.stream_chat_completion": _core_astream,
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("way", SYNC_CALLS)
def test_every_sync_way_of_calling_names_this_file(
    way: str, kind: str, server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pricing, "_warned", set())
    callers = _callers(server, kind)
    with pytest.warns(RunAPIWarning, match=MATCH[kind]) as record:
        SYNC_CALLS[way](callers)
    callers.llm.close()
    callers.chat.close()
    callers.client.close()
    assert [w.filename for w in record] == [__file__] * len(record)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("way", ASYNC_CALLS)
async def test_every_async_way_of_calling_names_this_file(
    way: str, kind: str, server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pricing, "_warned", set())
    callers = _callers(server, kind)
    with pytest.warns(RunAPIWarning, match=MATCH[kind]) as record:
        await ASYNC_CALLS[way](callers)
    await callers.llm.aclose()
    await callers.chat.aclose()
    await callers.async_client.aclose()
    assert [w.filename for w in record] == [__file__] * len(record)
