"""Embedding batches: the pure batching rules, then embed_texts/aembed_texts over MockTransport."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runapi_client import (
    AsyncRunAPIClient,
    BadRequestError,
    ConfigurationError,
    Price,
    RunAPIClient,
    ServerError,
    aembed_texts,
    batch_texts,
    embed_texts,
    estimate_tokens,
    track_usage,
)
from runapi_client._embeddings import (
    MAX_EMBEDDING_INPUTS,
    MAX_EMBEDDING_REQUEST_TOKENS,
    REQUEST_TOKEN_BUDGET,
    check_texts,
)

MODEL = "text-embedding-3-small"

# No embedding price is published; the one warning about it is tested below on its own.

# ------------------------------------------------------------------------------ pure batching


def test_estimate_tokens_is_bytes_over_three_rounded_up() -> None:
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abc") == 1
    assert estimate_tokens("abcd") == 2
    assert estimate_tokens("x" * 3000) == 1000
    # A CJK character is 3 UTF-8 bytes and about one token.
    assert estimate_tokens("你好世界") == 4


def test_estimate_overestimates_english_prose() -> None:
    # ~4 characters per token in cl100k for English: the estimate should not be below that.
    prose = "The quick brown fox jumps over the lazy dog. " * 100
    assert estimate_tokens(prose) >= len(prose) / 4


def test_batches_respect_batch_size_and_keep_order() -> None:
    texts = [f"t{i}" for i in range(10)]
    assert batch_texts(texts, batch_size=4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batch_texts(texts, batch_size=100) == [list(range(10))]


def test_batch_size_is_capped_at_the_api_limit() -> None:
    batches = batch_texts(["x"] * 5000, batch_size=10_000)
    assert [len(b) for b in batches] == [MAX_EMBEDDING_INPUTS, MAX_EMBEDDING_INPUTS, 904]


def test_batches_respect_the_token_budget() -> None:
    assert REQUEST_TOKEN_BUDGET < MAX_EMBEDDING_REQUEST_TOKENS
    text = "y" * 24_000  # 8000 estimated tokens each
    batches = batch_texts([text] * 100)
    per_batch = REQUEST_TOKEN_BUDGET // 8000
    assert all(len(b) <= per_batch for b in batches)
    assert sum(estimate_tokens(text) * len(b) for b in batches[:1]) <= REQUEST_TOKEN_BUDGET
    assert [i for b in batches for i in b] == list(range(100))


def test_a_text_over_the_budget_gets_a_batch_of_its_own() -> None:
    assert batch_texts(["a", "b" * 300, "c"], max_tokens=50) == [[0], [1], [2]]


def test_no_texts_no_batches() -> None:
    assert batch_texts([]) == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None])
def test_bad_batch_size_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="batch_size"):
        batch_texts(["a"], batch_size=bad)


@given(
    st.lists(st.text(min_size=1, max_size=40), max_size=60),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=1, max_value=30),
)
def test_batches_partition_the_input_in_order(texts: list[str], size: int, budget: int) -> None:
    batches = batch_texts(texts, batch_size=size, max_tokens=budget)
    assert [i for b in batches for i in b] == list(range(len(texts)))
    for batch in batches:
        assert 1 <= len(batch) <= size
        if len(batch) > 1:
            assert sum(estimate_tokens(texts[i]) for i in batch) <= budget


def test_empty_strings_are_refused_with_their_positions() -> None:
    with pytest.raises(ConfigurationError, match=r"positions 1, 3 of 4 are ''") as info:
        check_texts(["a", "", "b", ""])
    assert isinstance(info.value, ValueError)
    check_texts(["  "])  # whitespace is the server's business, not ours


def test_non_strings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be a str"):
        not_all_str: list[Any] = ["a", 3]
        check_texts(not_all_str)


# ---------------------------------------------------------------------------- over the wire


def vector_for(text: str, dims: int) -> list[float]:
    return [float(len(text))] + [float(i) for i in range(1, dims)]


def embeddings_body(body: dict[str, Any], *, shuffle: bool = True) -> dict[str, Any]:
    dims = body.get("dimensions") or 3
    data = [
        {"object": "embedding", "index": i, "embedding": vector_for(text, dims)}
        for i, text in enumerate(body["input"])
    ]
    if shuffle:  # the API does not promise order; `index` is what counts
        data.reverse()
    n = sum(len(t) for t in body["input"])
    return {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": n, "total_tokens": n},
    }


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.headers.append(request.headers.copy())  # the client takes the key off after
        request_id = f"r{len(self.bodies)}"
        return httpx.Response(200, json=embeddings_body(body), headers={"x-request-id": request_id})


def client_for(handler: Any, **kwargs: Any) -> RunAPIClient:
    return RunAPIClient(api_key="k", transport=httpx.MockTransport(handler), **kwargs)


def test_vectors_come_back_in_input_order_across_batches() -> None:
    recorder = Recorder()
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    out = embed_texts(client_for(recorder), MODEL, texts, batch_size=2)
    assert [v[0] for v in out.vectors] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [b["input"] for b in recorder.bodies] == [["a", "bb"], ["ccc", "dddd"], ["eeeee"]]
    assert out.requests == 3
    assert out.request_ids == ["r1", "r2", "r3"]
    assert out.usage == {"prompt_tokens": 15, "total_tokens": 15}


def test_request_body_carries_model_dimensions_and_float_encoding() -> None:
    recorder = Recorder()
    out = embed_texts(client_for(recorder), "text-embedding-3-large", ["hi"], dimensions=8)
    assert recorder.bodies == [
        {
            "model": "text-embedding-3-large",
            "input": ["hi"],
            "encoding_format": "float",
            "dimensions": 8,
        }
    ]
    assert recorder.headers[0]["authorization"] == "Bearer k"
    assert len(out.vectors[0]) == 8


def test_dimensions_are_left_out_when_not_set() -> None:
    recorder = Recorder()
    embed_texts(client_for(recorder), MODEL, ["hi"])
    assert "dimensions" not in recorder.bodies[0]


def test_no_texts_means_no_request() -> None:
    recorder = Recorder()
    out = embed_texts(client_for(recorder), MODEL, [])
    assert out.vectors == [] and out.requests == 0 and recorder.bodies == []


def test_an_empty_string_fails_before_anything_is_sent() -> None:
    recorder = Recorder()
    with pytest.raises(ConfigurationError, match="empty strings"):
        embed_texts(client_for(recorder), MODEL, ["fine", ""], batch_size=1)
    assert recorder.bodies == []


def test_bad_dimensions_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="dimensions"):
        embed_texts(client_for(Recorder()), MODEL, ["a"], dimensions=0)


def test_cost_is_none_without_a_price_and_no_warning() -> None:
    # RunAPI publishes no embedding prices: an unpriced embedding model is the normal case.
    model = "text-embedding-unpriced-for-this-test"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # count our own once-only logic, not Python's registry
        client = client_for(Recorder())
        first = embed_texts(client, model, ["a", "b", "c"], batch_size=1)
        second = embed_texts(client, model, ["d", "e"], batch_size=1)
    assert first.cost is None and second.cost is None
    assert [str(w.message) for w in caught if "No price known" in str(w.message)] == []


def test_cost_is_summed_over_batches_when_a_price_is_given() -> None:
    client = client_for(Recorder(), prices={MODEL: Price(input=0.02, output=0.0)})
    out = embed_texts(client, MODEL, ["a" * 10, "b" * 20, "c" * 30], batch_size=2)
    assert out.cost is not None
    assert out.cost.total == pytest.approx(60 * 0.02 / 1_000_000)
    assert out.cost.output == 0.0


def test_every_batch_is_recorded_in_usage_trackers() -> None:
    with track_usage() as tracker:
        embed_texts(client_for(Recorder()), MODEL, ["ab", "cd", "ef"], batch_size=2)
    assert tracker.requests == 2
    assert tracker.prompt_tokens == 6
    assert tracker.by_model[MODEL].requests == 2


def test_a_refused_request_raises_the_typed_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={"error": {"message": "'$.input' is invalid.", "type": "invalid_request_error"}},
        )

    with pytest.raises(BadRequestError, match="input"):
        embed_texts(client_for(handler), MODEL, ["a"])


def test_rate_limits_are_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            error = {"error": {"message": "slow down"}}
            return httpx.Response(429, headers={"Retry-After": "0"}, json=error)
        return httpx.Response(200, json=embeddings_body(json.loads(request.content)))

    out = embed_texts(client_for(handler), MODEL, ["abc"])
    assert len(calls) == 2
    assert out.vectors[0][0] == 3.0


def test_a_short_answer_is_a_server_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = embeddings_body(json.loads(request.content))
        body["data"] = body["data"][:1]
        return httpx.Response(200, json=body, headers={"x-request-id": "req-short"})

    with pytest.raises(ServerError, match="1 embeddings for 2 inputs") as info:
        embed_texts(client_for(handler), MODEL, ["a", "b"])
    assert info.value.request_id == "req-short"


# ------------------------------------------------------------------------------------ async


def async_client_for(handler: Any, **kwargs: Any) -> AsyncRunAPIClient:
    return AsyncRunAPIClient(api_key="k", transport=httpx.MockTransport(handler), **kwargs)


async def test_async_batches_run_concurrently_but_bounded_and_keep_order() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json=embeddings_body(json.loads(request.content)))

    texts = ["x" * (i + 1) for i in range(20)]
    client = async_client_for(handler)
    out = await aembed_texts(client, MODEL, texts, batch_size=2, max_concurrency=3)
    assert [v[0] for v in out.vectors] == [float(i + 1) for i in range(20)]
    assert out.requests == 10
    assert peak == 3
    assert out.usage["prompt_tokens"] == sum(range(1, 21))


async def test_async_failure_cancels_the_batches_in_flight() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        first = json.loads(request.content)["input"][0]
        started.append(first)
        if first == "bad":
            return httpx.Response(400, json={"error": {"message": "nope"}})
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(first)
            raise
        return httpx.Response(200, json=embeddings_body(json.loads(request.content)))

    with pytest.raises(BadRequestError):
        await asyncio.wait_for(
            aembed_texts(async_client_for(handler), MODEL, ["ok", "bad", "ok2"], batch_size=1),
            timeout=2,
        )
    assert sorted(started) == ["bad", "ok", "ok2"]
    assert sorted(cancelled) == ["ok", "ok2"]  # already cancelled when the error reached us


async def test_async_no_texts_no_request_and_empty_strings_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    client = async_client_for(handler)
    assert (await aembed_texts(client, MODEL, [])).vectors == []
    with pytest.raises(ConfigurationError):
        await aembed_texts(client, MODEL, [""])
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        await aembed_texts(client, MODEL, ["a"], max_concurrency=0)
