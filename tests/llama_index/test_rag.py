"""RunAPILLM answering in a VectorStoreIndex query engine and a chat engine, from cassettes.

The index uses a bag-of-words embedding (deterministic, no network, and unlike MockEmbedding it
ranks documents, so retrieval is the same at recording and at replay): only the LLM calls are
recorded. Recorded against the GLM emulator (``make record OFFLINE=1``), which echoes
the last user message, so the answer shows the retrieved context reached the model. Tests with
a ``[native]``/``[normalised]`` id ask the emulator for that stream shape.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.response.schema import StreamingResponse
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.chat_engine.types import ChatMode
from llama_index.core.embeddings import MockEmbedding

from llama_index_runapi import RunAPILLM, track_usage
from tests.llama_index.cassette_usage import (
    check_shape,
    glm46_cost,
    recorded_usages,
    shape_headers,
)

SHAPES = ["native", "normalised"]
QUESTION = "What does RunAPI bill for?"
DOCUMENTS = [
    Document(text="RunAPI gives one API key and one bill for many AI models."),
    Document(text="GLM-4.6 costs $0.30 per million input tokens on RunAPI."),
    Document(text="Cached input tokens of GLM-4.6 cost $0.06 per million."),
]


VOCABULARY = ("runapi", "bill", "key", "glm", "costs", "cached", "million", "tokens")


class WordCountEmbedding(MockEmbedding):
    """Counts of a few words: the query about billing lands nearest the billing sentences."""

    def _vector(self, text: str) -> list[float]:
        words = [w.strip(".,?$").lower() for w in text.split()]
        return [float(words.count(v)) + 0.01 for v in VOCABULARY]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    embed = WordCountEmbedding(embed_dim=len(VOCABULARY))
    return VectorStoreIndex.from_documents(DOCUMENTS, embed_model=embed)


def assert_answered_from_sources(answer: str, source_nodes: list[Any], vcr: Any) -> None:
    """The question reached the model with the retrieved text, and the answer is built from it
    (the emulator answers a retrieval prompt with the context sentences closest to the query)."""
    body = json.loads(vcr.requests[-1].body)
    sent = "\n".join(str(m.get("content")) for m in body["messages"])
    assert QUESTION in sent
    retrieved = [node.node.get_content() for node in source_nodes]
    assert all(text in sent for text in retrieved), (retrieved, sent)
    assert any(text in answer for text in retrieved), answer


def llm(shape: str | None = None) -> RunAPILLM:
    return RunAPILLM(model="glm-4.6", default_headers=shape_headers(shape) if shape else None)


@pytest.mark.vcr
def test_query_engine_answers_and_track_usage_totals_the_whole_query(
    index: VectorStoreIndex, vcr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LlamaIndex's own counter, fed the server's numbers through raw["usage"]. The engine puts
    # the global callback manager on the LLM (replacing the LLM's own); track_usage() does not
    # depend on it and counts the same.
    counter = TokenCountingHandler()
    monkeypatch.setattr(Settings, "callback_manager", CallbackManager([counter]))
    engine = index.as_query_engine(llm=llm(), similarity_top_k=2)
    with track_usage() as usage:
        response = engine.query(QUESTION)

    assert_answered_from_sources(str(response), response.source_nodes, vcr)
    assert len(response.source_nodes) == 2

    recorded = recorded_usages(vcr)
    assert usage.requests == len(recorded) >= 1
    assert usage.prompt_tokens == sum(u["prompt_tokens"] for u in recorded)
    assert usage.completion_tokens == sum(u["completion_tokens"] for u in recorded)
    assert usage.cached_tokens == sum(
        (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0) for u in recorded
    )
    assert usage.total_cost == pytest.approx(sum(glm46_cost(u) for u in recorded))
    assert usage.total_cost > 0
    assert counter.prompt_llm_token_count == usage.prompt_tokens
    assert counter.completion_llm_token_count == usage.completion_tokens


@pytest.mark.vcr
@pytest.mark.parametrize("shape", SHAPES)
def test_streaming_query_engine(index: VectorStoreIndex, shape: str, vcr: Any) -> None:
    engine = index.as_query_engine(llm=llm(shape), similarity_top_k=2, streaming=True)
    with track_usage() as usage:
        response = engine.query(QUESTION)
        assert isinstance(response, StreamingResponse)
        pieces = list(response.response_gen)
    text = "".join(pieces)
    assert len(pieces) > 3  # really streamed
    assert_answered_from_sources(text, response.source_nodes, vcr)
    recorded = recorded_usages(vcr)
    assert usage.total_cost == pytest.approx(sum(glm46_cost(u) for u in recorded))
    check_shape(vcr, shape)


@pytest.mark.vcr
async def test_async_query_engine(index: VectorStoreIndex, vcr: Any) -> None:
    engine = index.as_query_engine(llm=llm(), similarity_top_k=2)
    response = await engine.aquery(QUESTION)
    assert_answered_from_sources(str(response), response.source_nodes, vcr)


@pytest.mark.vcr
def test_chat_engine_answers_with_context(index: VectorStoreIndex) -> None:
    engine = index.as_chat_engine(chat_mode=ChatMode.CONTEXT, llm=llm(), similarity_top_k=2)
    with track_usage() as usage:
        first = engine.chat("What is RunAPI?")
        second = engine.chat("And what does GLM-4.6 cost?")
    assert "What is RunAPI?" in str(first)
    assert "GLM-4.6" in str(second)
    assert len(engine.chat_history) == 4  # both turns remembered
    assert usage.requests == 2


@pytest.mark.vcr
@pytest.mark.parametrize("shape", SHAPES)
async def test_streaming_chat_engine(index: VectorStoreIndex, shape: str, vcr: Any) -> None:
    engine = index.as_chat_engine(chat_mode=ChatMode.CONTEXT, llm=llm(shape), similarity_top_k=2)
    response = await engine.astream_chat("What is RunAPI?")
    pieces = [piece async for piece in response.async_response_gen()]
    assert "What is RunAPI?" in "".join(pieces)
    check_shape(vcr, shape)
