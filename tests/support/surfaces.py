"""Every way an answer reaches a caller, driven the same way: the core clients and both
adapters, sync and async, whole and streamed, over ``httpx.MockTransport``.

A surface takes a transport handler and returns what the caller got (:class:`Got`: the text,
the tool calls, the token counts), or raises what the caller would see. The tests that feed
malformed answers through all of them (``tests/test_malformed_answers.py``,
``tests/reliability/test_fuzz_parsers.py``) assert that only a ``RunAPIError`` ever escapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessageChunk
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client import AsyncRunAPIClient, ChatResult, RunAPIClient

Handler = Callable[[httpx.Request], httpx.Response]

REQUEST = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}
KEY = "sk-surfaces-0123456789"


@dataclass
class Got:
    """What one call gave its caller, in the same terms whatever the surface."""

    text: str
    tools: list[tuple[str | None, str]] = field(default_factory=list)
    """(id, name) of each tool call; an id the answer did not give is None."""
    input_tokens: int | None = None
    """Prompt tokens as the caller sees them; None when the call reported no usage."""


# ------------------------------------------------------------------------------------- core


def _got_core(result: ChatResult) -> Got:
    message = result.completion["choices"][0]["message"]
    calls = message.get("tool_calls") or []
    tokens = result.tokens
    return Got(
        text=message.get("content") or "",
        tools=[(c.get("id") or None, c["function"]["name"]) for c in calls],
        input_tokens=tokens["input"] if tokens is not None else None,
    )


def core_sync(handler: Handler) -> Got:
    client = RunAPIClient(api_key=KEY, transport=httpx.MockTransport(handler), max_retries=0)
    return _got_core(client.chat_completion(REQUEST))


def core_async(handler: Handler) -> Got:
    async def run() -> Got:
        transport = httpx.MockTransport(handler)
        async with AsyncRunAPIClient(api_key=KEY, transport=transport, max_retries=0) as client:
            return _got_core(await client.chat_completion(REQUEST))

    return asyncio.run(run())


def core_stream(handler: Handler) -> Got:
    client = RunAPIClient(api_key=KEY, transport=httpx.MockTransport(handler), max_retries=0)
    with client.stream_chat_completion(REQUEST) as stream:
        for chunk in stream:
            assert isinstance(chunk, dict)
        assert stream.result is not None
        return _got_core(stream.result)


def core_astream(handler: Handler) -> Got:
    async def run() -> Got:
        transport = httpx.MockTransport(handler)
        async with AsyncRunAPIClient(api_key=KEY, transport=transport, max_retries=0) as client:
            async with client.stream_chat_completion(REQUEST) as stream:
                async for chunk in stream:
                    assert isinstance(chunk, dict)
            assert stream.result is not None
            return _got_core(stream.result)

    return asyncio.run(run())


# -------------------------------------------------------------------------------- LangChain


def chat_runapi(handler: Handler) -> ChatRunAPI:
    return ChatRunAPI(
        model="glm-4.6",
        api_key=KEY,
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


def _got_langchain(message: AIMessage | BaseMessageChunk) -> Got:
    assert isinstance(message, AIMessage)
    usage = message.usage_metadata
    return Got(
        text=message.text,
        tools=[(c.get("id") or None, c["name"]) for c in message.tool_calls]
        + [(c.get("id") or None, c.get("name") or "") for c in message.invalid_tool_calls],
        input_tokens=usage["input_tokens"] if usage else None,
    )


def langchain_invoke(handler: Handler) -> Got:
    return _got_langchain(chat_runapi(handler).invoke("hi"))


def langchain_ainvoke(handler: Handler) -> Got:
    return _got_langchain(asyncio.run(chat_runapi(handler).ainvoke("hi")))


def _joined(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    # Added up as LangChain does (BaseChatModel.stream folds them for its callbacks too).
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def langchain_stream(handler: Handler) -> Got:
    return _got_langchain(_joined(list(chat_runapi(handler).stream("hi"))))


def langchain_astream(handler: Handler) -> Got:
    async def run() -> list[AIMessageChunk]:
        return [chunk async for chunk in chat_runapi(handler).astream("hi")]

    return _got_langchain(_joined(asyncio.run(run())))


# ------------------------------------------------------------------------------- LlamaIndex


def runapi_llm(handler: Handler) -> RunAPILLM:
    return RunAPILLM(
        model="glm-4.6",
        api_key=KEY,
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


MESSAGES = [ChatMessage(role="user", content="hi")]


def _got_llama_index(response: ChatResponse) -> Got:
    calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    extra: dict[str, Any] = response.additional_kwargs
    return Got(
        text=response.message.content or "",
        tools=[(b.tool_call_id or None, b.tool_name) for b in calls],
        input_tokens=extra.get("prompt_tokens"),
    )


def llama_index_chat(handler: Handler) -> Got:
    return _got_llama_index(runapi_llm(handler).chat(MESSAGES))


def llama_index_achat(handler: Handler) -> Got:
    return _got_llama_index(asyncio.run(runapi_llm(handler).achat(MESSAGES)))


def llama_index_stream_chat(handler: Handler) -> Got:
    responses = list(runapi_llm(handler).stream_chat(MESSAGES))
    return _got_llama_index(responses[-1])


def llama_index_astream_chat(handler: Handler) -> Got:
    async def run() -> list[ChatResponse]:
        return [r async for r in await runapi_llm(handler).astream_chat(MESSAGES)]

    return _got_llama_index(asyncio.run(run())[-1])


def llama_index_complete(handler: Handler) -> Got:
    response = runapi_llm(handler).complete("hi")
    extra: dict[str, Any] = response.additional_kwargs
    names = [c["function"]["name"] for c in extra.get("tool_calls") or []]
    ids = [c.get("id") or None for c in extra.get("tool_calls") or []]
    return Got(
        text=response.text,
        tools=list(zip(ids, names, strict=True)),
        input_tokens=extra.get("prompt_tokens"),
    )


WHOLE: dict[str, Callable[[Handler], Got]] = {
    "RunAPIClient.chat_completion": core_sync,
    "AsyncRunAPIClient.chat_completion": core_async,
    "ChatRunAPI.invoke": langchain_invoke,
    "ChatRunAPI.ainvoke": langchain_ainvoke,
    "RunAPILLM.chat": llama_index_chat,
    "RunAPILLM.achat": llama_index_achat,
    "RunAPILLM.complete": llama_index_complete,
}
"""The calls that ask for a whole answer."""

STREAMED: dict[str, Callable[[Handler], Got]] = {
    "RunAPIClient.stream_chat_completion": core_stream,
    "AsyncRunAPIClient.stream_chat_completion": core_astream,
    "ChatRunAPI.stream": langchain_stream,
    "ChatRunAPI.astream": langchain_astream,
    "RunAPILLM.stream_chat": llama_index_stream_chat,
    "RunAPILLM.astream_chat": llama_index_astream_chat,
}
"""The calls that ask for a stream (a server may still answer them with a whole answer)."""
