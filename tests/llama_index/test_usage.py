"""track_usage() totals wherever LlamaIndex or the caller runs the call: asyncio tasks, threads
started from the context, a streaming chat engine's writer thread, nested blocks."""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.chat_engine.types import ChatMode
from llama_index.core.embeddings import MockEmbedding

from llama_index_runapi import BudgetExceededError, track_usage
from tests.llama_index.helpers import json_response, make_llm, sample, sse_response
from tests.llama_index.test_llm import COST_NONSTREAM, COST_NORMALISED, USER


def test_asyncio_tasks_and_threads_started_from_the_context() -> None:
    llm, _ = make_llm(json_response(sample("glm-4.6.nonstream.json")))

    async def in_tasks() -> None:
        await asyncio.gather(*(asyncio.create_task(llm.achat(USER)) for _ in range(3)))
        await asyncio.to_thread(llm.chat, USER)  # to_thread copies the context

    with track_usage() as usage:
        asyncio.run(in_tasks())
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, llm.chat, USER) for _ in range(2)
            ]
            for future in futures:
                future.result()
    assert usage.requests == 6
    assert usage.prompt_tokens == 6 * 81
    assert usage.total_cost == pytest.approx(6 * COST_NONSTREAM)
    assert usage.by_model["glm-4.6"].requests == 6


def test_a_streaming_chat_engine_counted_once_per_call() -> None:
    llm, _ = make_llm(sse_response(sample("glm-4.6.stream-normalised.sse")))
    index = VectorStoreIndex.from_documents(
        [Document(text="RunAPI: one key, one bill.")], embed_model=MockEmbedding(embed_dim=8)
    )
    engine = index.as_chat_engine(chat_mode=ChatMode.CONTEXT, llm=llm)
    with track_usage() as usage:
        response = engine.stream_chat("What is RunAPI?")
        assert "".join(response.response_gen) == "模型"
    assert usage.requests == 1
    assert usage.completion_tokens == 1024
    assert usage.total_cost == pytest.approx(COST_NORMALISED)


def test_nested_blocks_and_a_budget() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")))
    with track_usage() as outer:
        llm.chat(USER)
        with track_usage(max_cost=COST_NONSTREAM) as inner:
            llm.chat(USER)
            with pytest.raises(BudgetExceededError):
                llm.chat(USER)  # refused before sending
    assert (outer.requests, inner.requests, len(server.requests)) == (2, 1, 2)
