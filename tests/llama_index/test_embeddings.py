"""RunAPIEmbedding for LlamaIndex: settings, secrets, batching, async, and a cassette replay."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding

from llama_index_runapi import ConfigurationError
from llama_index_runapi.embeddings import RunAPIEmbedding
from runapi_client import AuthenticationError, Price, track_usage
from tests.support.fake_embeddings import FakeEmbeddings as SharedFakeEmbeddings

SECRET = "sk-test-secret-for-llama"


class FakeEmbeddings(SharedFakeEmbeddings):
    def embedding(self, **kwargs: Any) -> RunAPIEmbedding:
        return RunAPIEmbedding(api_key=SECRET, **self.http_clients(), **kwargs)


def test_is_a_base_embedding_with_defaults() -> None:
    embed = RunAPIEmbedding(api_key="k")
    assert isinstance(embed, BaseEmbedding)
    assert embed.model_name == "text-embedding-3-small"
    assert embed.embed_batch_size == 100
    assert RunAPIEmbedding.class_name() == "RunAPIEmbedding"


def test_model_argument_sets_model_name() -> None:
    assert RunAPIEmbedding("text-embedding-3-large", api_key="k").model_name == (
        "text-embedding-3-large"
    )
    assert RunAPIEmbedding(model_name="text-embedding-ada-002", api_key="k").model_name == (
        "text-embedding-ada-002"
    )


def test_embedding_takes_other_names_and_refuses_two_different_models() -> None:
    from llama_index_runapi.embeddings import RunAPIEmbedding

    embedding = RunAPIEmbedding(api_key="k", model_name="emb-a", api_base="http://127.0.0.1:9")
    assert embedding.model_name == "emb-a"
    assert embedding.base_url == "http://127.0.0.1:9"
    assert RunAPIEmbedding(api_key="k", model="emb-a", model_name="emb-a").model_name == "emb-a"
    with pytest.raises(ConfigurationError, match="keep model only"):
        RunAPIEmbedding(api_key="k", model="emb-a", model_name="emb-b")
    with pytest.raises(ConfigurationError, match="keep base_url only"):
        RunAPIEmbedding(api_key="k", base_url="http://a:1", api_base="http://b:2")


def test_batch_size_is_held_to_the_api_limit() -> None:
    with pytest.raises(ValueError):
        RunAPIEmbedding(api_key="k", embed_batch_size=4096)
    with pytest.raises(ValueError):
        RunAPIEmbedding(api_key="k", dimensions=0)


def test_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="RUNAPI_API_KEY"):
        RunAPIEmbedding()


def test_the_key_is_never_serialised_or_shown() -> None:
    embed = RunAPIEmbedding(
        api_key=SECRET, default_headers={"X-Proxy-Auth": "hdr-secret"}, dimensions=8
    )
    for text in (
        repr(embed),
        str(embed),
        str(embed.to_dict()),
        embed.to_json(),
        json.dumps(embed.to_payload()),
    ):
        assert SECRET not in text
        assert "hdr-secret" not in text
    assert "api_key" not in embed.to_dict()
    assert embed.to_dict()["dimensions"] == 8


def test_from_json_rebuilds_with_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNAPI_API_KEY", "key-from-env")
    embed = RunAPIEmbedding("text-embedding-3-large", api_key=SECRET, dimensions=16)
    again = RunAPIEmbedding.from_json(embed.to_json())
    assert (again.model_name, again.dimensions) == ("text-embedding-3-large", 16)
    assert again.api_key is not None and again.api_key.get_secret_value() == "key-from-env"


def test_pickles_for_multiprocess_ingestion() -> None:
    embed = RunAPIEmbedding(api_key=SECRET, dimensions=8)
    again = pickle.loads(pickle.dumps(embed))
    assert again.dimensions == 8
    assert again.api_key is not None and again.api_key.get_secret_value() == SECRET


def test_query_text_and_batch() -> None:
    fake = FakeEmbeddings()
    embed = fake.embedding(dimensions=3, embed_batch_size=2)
    assert embed.get_query_embedding("abc")[0] == 3.0
    assert embed.get_text_embedding("abcd")[0] == 4.0
    vectors = embed.get_text_embedding_batch(["a", "bb", "ccc", "dddd", "eeeee"])
    assert [v[0] for v in vectors] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(len(v) == 3 for v in vectors)
    assert [len(b["input"]) for b in fake.bodies] == [1, 1, 2, 2, 1]
    assert all(b["dimensions"] == 3 for b in fake.bodies)


async def test_async_twins() -> None:
    fake = FakeEmbeddings()
    embed = fake.embedding(embed_batch_size=2)
    assert (await embed.aget_query_embedding("ab"))[0] == 2.0
    assert (await embed.aget_text_embedding("abc"))[0] == 3.0
    vectors = await embed.aget_text_embedding_batch(["a", "bb", "ccc"])
    assert [v[0] for v in vectors] == [1.0, 2.0, 3.0]


def test_empty_strings_are_refused_before_sending() -> None:
    fake = FakeEmbeddings()
    with pytest.raises(ValueError, match="empty strings"):
        fake.embedding().get_text_embedding_batch(["ok", ""])
    assert fake.bodies == []


def test_usage_and_cost_reach_trackers() -> None:
    fake = FakeEmbeddings()
    embed = fake.embedding(price={"input": 0.02, "output": 0.0}, embed_batch_size=1)
    assert embed.price == Price(input=0.02, output=0.0)
    with track_usage() as tracker:
        embed.get_text_embedding_batch(["abcd", "ef"])
    assert tracker.requests == 2
    assert tracker.prompt_tokens == 6
    assert tracker.total_cost == pytest.approx(6 * 0.02 / 1_000_000)


def test_errors_are_the_core_errors() -> None:
    with pytest.raises(AuthenticationError):
        FakeEmbeddings(status=401).embedding().get_query_embedding("x")


def test_namespace_import_path() -> None:
    from llama_index.embeddings.runapi import RunAPIEmbedding as FromNamespace

    assert FromNamespace is RunAPIEmbedding


def test_namespace_import_path_from_the_installed_package(tmp_path: Path) -> None:
    # Outside the checkout, so the import comes from the (editable) install, not from sys.path.
    code = "from llama_index.embeddings.runapi import RunAPIEmbedding; print(RunAPIEmbedding)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "llama_index_runapi.embeddings.RunAPIEmbedding" in done.stdout


@pytest.mark.vcr
def test_index_and_retrieve_over_the_wire() -> None:
    """Replays cassettes/llama_index/test_embeddings/: a small index built and queried."""
    embed = RunAPIEmbedding(dimensions=32)
    docs = [
        Document(text="RunAPI gives one key and one bill for many models."),
        Document(text="GLM-4.6 is a cheap coding model."),
        Document(text="Embeddings turn text into vectors for retrieval."),
    ]
    index = VectorStoreIndex.from_documents(docs, embed_model=embed)
    nodes = index.as_retriever(similarity_top_k=2).retrieve("What is RunAPI?")
    assert len(nodes) == 2
    assert all(len(n.node.embedding or []) in (0, 32) for n in nodes)
    assert len(embed.get_query_embedding("one key")) == 32
