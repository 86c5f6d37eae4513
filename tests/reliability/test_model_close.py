"""The model classes of both adapters close like the core clients: ``close()``, ``aclose()``,
``with`` and ``async with`` release the sockets of the pool the object used (none left open on
the server), and a call after that still works, on a fresh pool."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.llms import ChatMessage

from langchain_runapi import ChatRunAPI, RunAPIEmbeddings
from llama_index_runapi import RunAPIEmbedding, RunAPILLM
from tests.reliability.helpers import KEY, echo
from tests.support.fake_runapi import FakeRunAPI, Fault

KINDS = ("ChatRunAPI", "RunAPIEmbeddings", "RunAPILLM", "RunAPIEmbedding")


def make(kind: str, server: FakeRunAPI, **kwargs: Any) -> Any:
    settings = {"api_key": KEY, "base_url": server.base_url, **kwargs}
    if kind == "ChatRunAPI":
        return ChatRunAPI(model="glm-4.6", **settings)
    if kind == "RunAPIEmbeddings":
        return RunAPIEmbeddings(**settings)
    if kind == "RunAPILLM":
        return RunAPILLM(model="glm-4.6", **settings)
    return RunAPIEmbedding(**settings)


def call(kind: str, model: Any, text: str = "hi") -> None:
    if kind == "ChatRunAPI":
        assert model.invoke([HumanMessage(text)]).content == echo(text)
    elif kind == "RunAPILLM":
        assert model.chat([ChatMessage(role="user", content=text)]).message.content == echo(text)
    elif kind == "RunAPIEmbeddings":
        assert model.embed_query(text)
    else:
        assert model.get_text_embedding(text)


async def acall(kind: str, model: Any, text: str = "hi") -> None:
    if kind == "ChatRunAPI":
        assert (await model.ainvoke([HumanMessage(text)])).content == echo(text)
    elif kind == "RunAPILLM":
        answer = await model.achat([ChatMessage(role="user", content=text)])
        assert answer.message.content == echo(text)
    elif kind == "RunAPIEmbeddings":
        assert await model.aembed_query(text)
    else:
        assert await model.aget_text_embedding(text)


async def idle(server: FakeRunAPI) -> bool:
    return await asyncio.to_thread(server.wait_idle, 10)


@pytest.mark.parametrize("kind", KINDS)
def test_close_releases_the_sockets_and_a_later_call_works(kind: str, server: FakeRunAPI) -> None:
    model = make(kind, server)
    call(kind, model)
    assert server.open_connections == 1  # kept alive in the pool
    model.close()
    assert server.wait_idle(10)
    call(kind, model, "again")  # a fresh pool
    with model as same:
        assert same is model
        call(kind, model)
    assert server.wait_idle(10)
    model.close()  # closing a closed one is fine


@pytest.mark.parametrize("kind", KINDS)
async def test_aclose_releases_the_sockets_and_a_later_call_works(
    kind: str, server: FakeRunAPI
) -> None:
    model = make(kind, server)
    await acall(kind, model)
    assert server.open_connections == 1
    await model.aclose()
    assert await idle(server)
    await acall(kind, model, "again")
    async with model as same:
        assert same is model
        await acall(kind, model)
    assert await idle(server)


@pytest.mark.parametrize("kind", KINDS)
async def test_aclose_releases_the_sync_calls_sockets_too(kind: str, server: FakeRunAPI) -> None:
    model = make(kind, server)
    await asyncio.to_thread(call, kind, model)
    await acall(kind, model)
    assert server.open_connections == 2
    await model.aclose()
    assert await idle(server)


@pytest.mark.parametrize("kind", KINDS)
def test_close_before_any_call_does_nothing(kind: str, server: FakeRunAPI) -> None:
    model = make(kind, server)
    model.close()
    asyncio.run(model.aclose())
    call(kind, model)


@pytest.mark.parametrize("kind", KINDS)
def test_your_own_http_client_is_closed_as_the_core_closes_it(
    kind: str, server: FakeRunAPI
) -> None:
    # RunAPIClient(http_client=...).close() closes that client; the model classes do the same.
    own = httpx.Client()
    model = make(kind, server, http_client=own)
    call(kind, model)
    model.close()
    assert own.is_closed
    assert server.wait_idle(10)


# ------------------------------------------------------------- a pool other objects still use


def test_closing_one_object_leaves_another_objects_stream_whole(server: FakeRunAPI) -> None:
    # A request handler that closes its model at the end (with ...) must not cut the stream
    # another handler is reading from the same shared pool (same base URL and timeout).
    reader = make("ChatRunAPI", server)
    closer = make("RunAPILLM", server)
    call("RunAPILLM", closer)
    stream = reader.stream([HumanMessage("a long story")])
    first = next(stream)
    closer.close()
    rest = "".join(str(chunk.content) for chunk in stream)
    assert str(first.content) + rest == echo("a long story")
    reader.close()  # the last user: now the pool closes
    assert server.wait_idle(5)


async def test_aclosing_one_object_leaves_another_objects_call_whole(server: FakeRunAPI) -> None:
    reader = make("RunAPILLM", server)
    closer = make("ChatRunAPI", server)
    await closer.ainvoke("hi")
    server.enqueue(Fault.delay(0.3))
    pending = asyncio.ensure_future(reader.achat([ChatMessage(role="user", content="slow answer")]))
    await asyncio.sleep(0.1)
    await closer.aclose()
    answer = await pending
    assert answer.message.content == echo("slow answer")
    assert len(server.chat_requests) == 2  # not cut and sent again
    await reader.aclose()
    assert await asyncio.to_thread(server.wait_idle, 5)
