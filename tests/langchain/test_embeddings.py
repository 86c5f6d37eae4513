"""RunAPIEmbeddings beyond the standard suite: settings, batching, secrets, errors (offline)."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_runapi.embeddings import RunAPIEmbeddings
from runapi_client import AuthenticationError, Price, track_usage
from tests.support.fake_embeddings import FakeEmbeddings as SharedFakeEmbeddings


class FakeEmbeddings(SharedFakeEmbeddings):
    def embeddings(self, **kwargs: Any) -> RunAPIEmbeddings:
        return RunAPIEmbeddings(api_key="sk-test-secret", **self.http_clients(), **kwargs)


def test_defaults() -> None:
    embeddings = RunAPIEmbeddings(api_key="k")
    assert embeddings.model == "text-embedding-3-small"
    assert embeddings.chunk_size == 1000
    assert embeddings.dimensions is None
    assert embeddings.client.config.base_url == "https://runapi.ai/v1"


def test_the_key_never_shows() -> None:
    embeddings = RunAPIEmbeddings(api_key="sk-test-secret")
    assert "sk-test-secret" not in repr(embeddings)
    assert "sk-test-secret" not in str(embeddings.model_dump())
    assert "sk-test-secret" not in embeddings.model_dump_json()
    assert "sk-test-secret" not in repr(embeddings.client)


def test_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    # ConfigurationError is a ValueError, so pydantic reports it as a ValidationError.
    with pytest.raises(ValueError, match="RUNAPI_API_KEY"):
        RunAPIEmbeddings()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RunAPIEmbeddings(api_key="k", chunk_size=4096)  # over the API's 2048 inputs
    with pytest.raises(ValueError):
        RunAPIEmbeddings(api_key="k", dimensions=0)
    with pytest.raises(ValueError):
        RunAPIEmbeddings(api_key="k", base_url="ftp://nope")
    with pytest.raises(ValueError):
        RunAPIEmbeddings(api_key="k", not_a_setting=1)


def test_documents_are_batched_by_chunk_size_in_order() -> None:
    fake = FakeEmbeddings()
    embeddings = fake.embeddings(chunk_size=2, dimensions=3)
    vectors = embeddings.embed_documents(["a", "bb", "ccc", "dddd", "eeeee"])
    assert [v[0] for v in vectors] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(len(v) == 3 for v in vectors)
    assert [len(b["input"]) for b in fake.bodies] == [2, 2, 1]
    assert all(b["dimensions"] == 3 and b["model"] == "text-embedding-3-small" for b in fake.bodies)


def test_query_is_one_request() -> None:
    fake = FakeEmbeddings()
    assert fake.embeddings().embed_query("hello")[0] == 5.0
    assert fake.bodies == [
        {"model": "text-embedding-3-small", "input": ["hello"], "encoding_format": "float"}
    ]


async def test_async_twins() -> None:
    fake = FakeEmbeddings()
    embeddings = fake.embeddings(chunk_size=1, max_concurrency=2)
    vectors = await embeddings.aembed_documents(["a", "bb", "ccc"])
    assert [v[0] for v in vectors] == [1.0, 2.0, 3.0]
    assert (await embeddings.aembed_query("four"))[0] == 4.0
    assert len(fake.bodies) == 4


def test_no_documents_no_request_and_empty_strings_refused() -> None:
    fake = FakeEmbeddings()
    embeddings = fake.embeddings()
    assert embeddings.embed_documents([]) == []
    with pytest.raises(ValueError, match="empty strings"):
        embeddings.embed_documents(["fine", ""])
    assert fake.bodies == []


def test_usage_and_cost_reach_trackers() -> None:
    fake = FakeEmbeddings()
    price = Price(input=0.02, output=0.0)
    embeddings = fake.embeddings(price=price, chunk_size=1)
    with track_usage() as tracker:
        embeddings.embed_documents(["abcd", "ef"])
    assert tracker.requests == 2
    assert tracker.prompt_tokens == 6
    assert tracker.total_cost == pytest.approx(6 * 0.02 / 1_000_000)


def test_errors_are_the_core_errors() -> None:
    fake = FakeEmbeddings(status=401)
    with pytest.raises(AuthenticationError):
        fake.embeddings().embed_query("x")


def test_changed_settings_get_a_fresh_client() -> None:
    embeddings = RunAPIEmbeddings(api_key="k")
    first = embeddings.client
    assert embeddings.client is first  # cached
    embeddings.base_url = "https://other.example/v1"
    assert embeddings.client is not first
    assert embeddings.client.config.base_url == "https://other.example/v1"
