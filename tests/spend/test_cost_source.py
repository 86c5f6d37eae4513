"""Every cost says where its prices came from and when: ``cost_details`` through both adapters,
streamed and not, for built-in, live, custom and server-reported prices; every catalog model
has a price or is marked as having none; "no price known" is warned once per process per model,
whichever client or adapter asked."""

from __future__ import annotations

import asyncio
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from llama_index.core.base.llms.types import ChatMessage

from langchain_runapi import ChatRunAPI, RunAPIEmbeddings
from llama_index_runapi import RunAPIEmbedding, RunAPILLM
from runapi_client import CATALOG, PRICES_AS_OF, Price, RunAPIClient, embed_texts
from tests.support.fake_runapi import PRICE_LIST_AS_OF, FakeRunAPI

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [ChatMessage(role="user", content="What does a LEFT JOIN return?")]

# (settings, source, as_of) for each way a price is found
CASES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "built-in": ({}, "built-in", PRICES_AS_OF),
    "live": ({"prices": "live"}, "live", PRICE_LIST_AS_OF),
    "custom": ({"price": Price(input=1.0, output=2.0)}, "custom", None),
}


def settings(server: FakeRunAPI, case: str) -> dict[str, Any]:
    extra, _, _ = CASES[case]
    return {
        "api_key": "k",
        "base_url": server.base_url,
        "price_list_url": server.price_list_url,
        **extra,
    }


def check(details: dict[str, Any], case: str) -> None:
    _, source, as_of = CASES[case]
    assert details["source"] == source
    assert details.get("as_of") == as_of
    assert details["total"] > 0


def langchain_details(llm: ChatRunAPI, how: str) -> dict[str, Any]:
    if how == "invoke":
        return dict(llm.invoke("What does a LEFT JOIN return?").response_metadata["cost_details"])
    if how == "ainvoke":
        message = asyncio.run(llm.ainvoke("What does a LEFT JOIN return?"))
        return dict(message.response_metadata["cost_details"])
    if how == "stream":
        chunks = list(llm.stream("What does a LEFT JOIN return?"))
    else:

        async def collect() -> list[AIMessageChunk]:
            return [c async for c in llm.astream("What does a LEFT JOIN return?")]

        chunks = asyncio.run(collect())
    priced = [c for c in chunks if "cost_details" in c.response_metadata]
    assert len(priced) == 1  # exactly one chunk carries the cost
    return dict(priced[0].response_metadata["cost_details"])


def llama_index_details(llm: RunAPILLM, how: str) -> dict[str, Any]:
    if how == "invoke":
        return dict(llm.chat(MESSAGES).additional_kwargs["cost_details"])
    if how == "ainvoke":
        return dict(asyncio.run(llm.achat(MESSAGES)).additional_kwargs["cost_details"])
    if how == "stream":
        responses = list(llm.stream_chat(MESSAGES))
    else:

        async def collect() -> list[Any]:
            return [r async for r in await llm.astream_chat(MESSAGES)]

        responses = asyncio.run(collect())
    return dict(responses[-1].additional_kwargs["cost_details"])


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_langchain_cost_details_say_source_and_date(
    server: FakeRunAPI, case: str, how: str
) -> None:
    check(langchain_details(ChatRunAPI(model="glm-4.6", **settings(server, case)), how), case)


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_llama_index_cost_details_say_source_and_date(
    server: FakeRunAPI, case: str, how: str
) -> None:
    check(llama_index_details(RunAPILLM(model="glm-4.6", **settings(server, case)), how), case)


def test_a_cost_the_server_reported_says_server_through_both_adapters(
    server: FakeRunAPI,
) -> None:
    server.set_default(stream_shape="gateway")  # a gateway puts cost in usage
    chat = ChatRunAPI(model="glm-4.6", api_key="k", base_url=server.base_url)
    llm = RunAPILLM(model="glm-4.6", api_key="k", base_url=server.base_url)
    for details in (langchain_details(chat, "invoke"), llama_index_details(llm, "stream")):
        assert details["source"] == "server" and "as_of" not in details


def test_embedding_totals_keep_their_source(server: FakeRunAPI) -> None:
    client = RunAPIClient(
        api_key="k", base_url=server.base_url, prices={"embedding-3": Price(0.02, 0.0)}
    )
    result = embed_texts(client, "embedding-3", ["a", "b", "c"], batch_size=1)
    assert result.requests == 3
    assert result.cost is not None and result.cost.source == "custom"


@pytest.mark.parametrize("kind", ["RunAPIEmbeddings", "RunAPIEmbedding"])
@pytest.mark.parametrize("case", ["live", "custom"])
def test_the_embedding_classes_price_from_the_same_sources(
    server: FakeRunAPI, kind: str, case: str
) -> None:
    # LangChain's and LlamaIndex's embedding interfaces return vectors only: the totals are
    # read from each object's own client, as their usage callbacks see them.
    server.set_price_schedule("embedding-3", 2, 0, as_of="2026-12-02T00:00:00Z")
    extra: dict[str, Any] = (
        {"prices": "live"} if case == "live" else {"price": Price(input=0.5, output=0.0)}
    )
    common: dict[str, Any] = {
        "api_key": "k",
        "base_url": server.base_url,
        "price_list_url": server.price_list_url,
    }
    if kind == "RunAPIEmbeddings":
        client = RunAPIEmbeddings(model="embedding-3", **common, **extra).client
    else:
        client = RunAPIEmbedding(model_name="embedding-3", **common, **extra)._client
    result = embed_texts(client, "embedding-3", ["a", "b", "c"], batch_size=1)
    assert result.cost is not None
    if case == "live":
        assert (result.cost.source, result.cost.as_of) == ("live", "2026-12-02T00:00:00Z")
    else:
        assert result.cost.source == "custom"
        assert result.cost.input == pytest.approx(result.usage["prompt_tokens"] * 0.5 / 1e6)


# ------------------------------------------------------------------------- the catalog


def test_every_catalog_model_has_a_price_or_is_marked_as_having_none() -> None:
    source = (ROOT / "runapi_client" / "_catalog.py").read_text(encoding="utf-8")
    for name, info in CATALOG.items():
        line = next(line for line in source.splitlines() if f'("{name}",' in line)
        assert "price=" in line, f"{name}: its catalog line says no price either way"
        assert info.priced == ("NOT_PUBLISHED" not in line), name
        if info.price is not None:
            assert (info.price.source, info.price.as_of) == ("built-in", PRICES_AS_OF)


def test_the_models_page_lists_every_catalog_price() -> None:
    page = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([\w.-]+)` \| ([^\n]*)\|$", page, re.MULTILINE)
    }
    for name, info in CATALOG.items():
        assert name in rows, f"{name} missing from the price table in docs/models.md"
        if info.price is None:
            assert "none published" in rows[name], name
        else:
            figures = [c.strip() for c in rows[name].split("|")]
            assert float(figures[0]) == info.price.input, name
            assert float(figures[1]) == info.price.output, name


# ------------------------------------------------------------- "no price known", once


def test_no_price_known_is_warned_once_per_process_per_model(server: FakeRunAPI) -> None:
    body = {"model": "glm-5", "messages": [{"role": "user", "content": "hi"}]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # the module's own once-only, not the filter's
        for _ in range(2):
            RunAPIClient(api_key="k", base_url=server.base_url).chat_completion(body)
        for _ in range(2):
            ChatRunAPI(model="glm-5", api_key="k", base_url=server.base_url).invoke("hi")
            RunAPILLM(model="glm-5", api_key="k", base_url=server.base_url).chat(MESSAGES)
        RunAPIClient(api_key="k", base_url=server.base_url).chat_completion(
            {**body, "model": "glm-5.1"}
        )
    unpriced = [str(w.message) for w in caught if "No price known" in str(w.message)]
    assert len(unpriced) == 2, unpriced
    assert "'glm-5'" in unpriced[0] and "'glm-5.1'" in unpriced[1]
