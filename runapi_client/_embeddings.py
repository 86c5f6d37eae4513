"""Embedding many texts: batching to the API's limits, then one ``/embeddings`` call per batch.

OpenAI's ``/v1/embeddings`` (which RunAPI serves for ``text-embedding-3-small``,
``text-embedding-3-large`` and ``text-embedding-ada-002``) takes at most 2048 inputs and about
300K tokens per request, and at most 8191 tokens per input. :func:`batch_texts` splits a list of
texts into batches within those limits without a tokenizer, and :func:`embed_texts` /
:func:`aembed_texts` send them and return the vectors in input order with the usage and cost of
all the calls together.

Empty strings are refused up front (:class:`ConfigurationError`, before anything is sent):
the API answers 400 for ``""``, and any stand-in vector we made up (zeros, the embedding of a
space) would silently corrupt similarity search. Drop or replace empty texts before embedding.

Prices: RunAPI has not published embedding prices, so there is no built-in figure and ``cost``
is ``None`` unless the client was given one (``RunAPIClient(prices={"text-embedding-3-small":
Price(input=0.02, output=0.0)})`` or ``runapi_client.set_price``). The "no price known" warning
is emitted once per model per process, not once per batch.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._client import AsyncRunAPIClient, EmbeddingResult, RunAPIClient
from ._pricing import Cost
from ._types import Usage
from .errors import ConfigurationError, ServerError

__all__ = [
    "DEFAULT_EMBEDDING_BATCH_SIZE",
    "DEFAULT_EMBEDDING_CONCURRENCY",
    "DEFAULT_EMBEDDING_MODEL",
    "MAX_EMBEDDING_INPUTS",
    "MAX_EMBEDDING_INPUT_TOKENS",
    "MAX_EMBEDDING_REQUEST_TOKENS",
    "EmbeddedTexts",
    "aembed_texts",
    "batch_texts",
    "embed_texts",
    "estimate_tokens",
]

DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
MAX_EMBEDDING_INPUTS = 2048
"""Inputs per request the API accepts."""
MAX_EMBEDDING_REQUEST_TOKENS = 300_000
"""Tokens per request the API accepts (summed over the inputs)."""
MAX_EMBEDDING_INPUT_TOKENS = 8191
"""Tokens per input the API accepts; longer inputs are refused by the server (400)."""
REQUEST_TOKEN_BUDGET = 250_000
"""Estimated tokens we put in one request: below the limit, because the estimate can be low."""
DEFAULT_EMBEDDING_BATCH_SIZE = 1000
"""Inputs per request unless told otherwise (the same default as langchain-openai)."""
DEFAULT_EMBEDDING_CONCURRENCY = 4
"""Batches in flight at once in :func:`aembed_texts`: enough to overlap, few enough not to be
rate limited on a large ingest."""


BYTES_PER_TOKEN = 3
"""The estimate's rate: UTF-8 bytes per token (see :func:`estimate_tokens`)."""


def utf8_size(text: str) -> int:
    """``len(text.encode("utf-8"))``, without encoding the (usual) ASCII text."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def estimate_tokens(text: str) -> int:
    """A cheap token estimate for batching: UTF-8 bytes / 3, rounded up (at least 1).

    OpenAI's tokenizers (cl100k) average about 4 characters per token on English prose and
    code, so this overestimates it by roughly a third; a CJK character is 3 UTF-8 bytes and
    usually 1 token, so it comes out about right there. It can be low for text that tokenizes
    badly (random strings, base64), which is why batches are filled only to
    ``REQUEST_TOKEN_BUDGET``, well under the API's 300K. It is never used to refuse or truncate
    an input: only the server knows the true count.
    """
    return max(1, math.ceil(utf8_size(text) / BYTES_PER_TOKEN))


def check_texts(texts: Sequence[str]) -> None:
    """Refuse non-strings and empty strings, naming the positions, before anything is sent."""
    not_str = [i for i, text in enumerate(texts) if not isinstance(text, str)]
    if not_str:
        raise ConfigurationError(
            f"Every text to embed must be a str; positions {_positions(not_str)} are not."
        )
    empty = [i for i, text in enumerate(texts) if not text]
    if empty:
        raise ConfigurationError(
            f"Cannot embed empty strings (the API refuses them): positions {_positions(empty)} "
            f"of {len(texts)} are ''. Drop or replace them before embedding."
        )


def _positions(indices: list[int]) -> str:
    shown = ", ".join(map(str, indices[:10]))
    return f"{shown}, ... ({len(indices)} in all)" if len(indices) > 10 else shown


def batch_texts(
    texts: Sequence[str],
    *,
    batch_size: int = DEFAULT_EMBEDDING_BATCH_SIZE,
    max_tokens: int = REQUEST_TOKEN_BUDGET,
) -> list[list[int]]:
    """Split ``texts`` into batches of positions, in order, within the API's per-request limits.

    Each batch has at most ``min(batch_size, 2048)`` texts and, by :func:`estimate_tokens`, at
    most ``max_tokens`` tokens, except that a single text over ``max_tokens`` gets a batch of
    its own (the server then judges it). Returns positions into ``texts`` so the caller can put
    the vectors back in input order; concatenating the batches gives ``0 .. len(texts) - 1``.
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("max_tokens", max_tokens)
    per_batch = min(batch_size, MAX_EMBEDDING_INPUTS)
    batches: list[list[int]] = []
    current: list[int] = []
    current_tokens = 0
    for i, text in enumerate(texts):
        tokens = estimate_tokens(text)
        if current and (len(current) >= per_batch or current_tokens + tokens > max_tokens):
            batches.append(current)
            current, current_tokens = [], 0
        current.append(i)
        current_tokens += tokens
    if current:
        batches.append(current)
    return batches


@dataclass
class EmbeddedTexts:
    """The vectors of all the texts, in input order, and what all the calls used and cost."""

    vectors: list[list[float]]
    usage: Usage = field(default_factory=lambda: Usage(prompt_tokens=0, total_tokens=0))
    cost: Cost | None = None
    """``None`` when no price is known for the model (RunAPI publishes none for embeddings)."""
    requests: int = 0
    request_ids: list[str] = field(default_factory=list)


def _body(model: str, texts: list[str], dimensions: int | None) -> dict[str, Any]:
    # encoding_format is explicit: some gateways default to base64, which the core does not decode.
    body: dict[str, Any] = {"model": model, "input": texts, "encoding_format": "float"}
    if dimensions is not None:
        body["dimensions"] = dimensions
    return body


def check_positive_int(name: str, value: object, *, optional: bool = False) -> None:
    """Refuse anything but a whole number >= 1 (or None when ``optional``)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "a whole number >= 1 or None" if optional else "a whole number >= 1"
        raise ConfigurationError(f"{name} must be {allowed}, got {value!r}")


def _check_result(result: EmbeddingResult, sent: int) -> None:
    if len(result.vectors) != sent:
        raise ServerError(
            f"RunAPI returned {len(result.vectors)} embeddings for {sent} inputs; the answer "
            "cannot be matched to the inputs.",
            request_id=result.request_id,
            body=result.response,
        )


def _combine(
    texts: Sequence[str], batches: list[list[int]], results: list[EmbeddingResult]
) -> EmbeddedTexts:
    vectors: list[list[float]] = [[] for _ in texts]
    prompt_tokens = total_tokens = 0
    costs: list[Cost | None] = []
    request_ids: list[str] = []
    for positions, result in zip(batches, results, strict=True):
        for position, vector in zip(positions, result.vectors, strict=True):
            vectors[position] = vector
        usage = result.usage or {}
        prompt = usage.get("prompt_tokens")
        total = usage.get("total_tokens")
        prompt_tokens += prompt if isinstance(prompt, int) else 0
        total_tokens += total if isinstance(total, int) else 0
        costs.append(result.cost)
        if result.request_id:
            request_ids.append(result.request_id)
    cost: Cost | None = None
    if costs and all(c is not None for c in costs):
        # A total with an unpriced batch in it would understate; report no total instead.
        priced = [c for c in costs if c is not None]
        sources = {c.source for c in priced}
        dates = {c.as_of for c in priced}
        cost = Cost(
            input=sum(c.input for c in priced),
            output=sum(c.output for c in priced),
            cache_read=sum(c.cache_read for c in priced),
            cache_write=sum(c.cache_write for c in priced),
            total=sum(c.total for c in priced),  # a server's totals are not the parts' sum
            # Where the figures came from, as each batch said (a list loaded mid-way: mixed).
            source=sources.pop() if len(sources) == 1 else "mixed",
            as_of=dates.pop() if len(dates) == 1 else None,
        )
    return EmbeddedTexts(
        vectors=vectors,
        usage=Usage(prompt_tokens=prompt_tokens, total_tokens=total_tokens),
        cost=cost,
        requests=len(results),
        request_ids=request_ids,
    )


def embed_texts(
    client: RunAPIClient,
    model: str,
    texts: Sequence[str],
    *,
    dimensions: int | None = None,
    batch_size: int = DEFAULT_EMBEDDING_BATCH_SIZE,
) -> EmbeddedTexts:
    """Embed ``texts`` with ``model``, one request per batch, vectors in input order.

    Each request is retried like any other call and recorded into active ``track_usage``
    trackers. ``cost`` is ``None`` unless the client knows the model's price (RunAPI has not
    published embedding prices; pass ``prices=`` to the client). Empty strings raise
    :class:`ConfigurationError` before anything is sent; no texts means no request.
    """
    check_texts(texts)
    check_positive_int("dimensions", dimensions, optional=True)
    batches = batch_texts(texts, batch_size=batch_size)
    results: list[EmbeddingResult] = []
    for positions in batches:
        batch = [texts[i] for i in positions]
        result = client.embeddings(_body(model, batch, dimensions))
        _check_result(result, len(batch))
        results.append(result)
    return _combine(texts, batches, results)


async def aembed_texts(
    client: AsyncRunAPIClient,
    model: str,
    texts: Sequence[str],
    *,
    dimensions: int | None = None,
    batch_size: int = DEFAULT_EMBEDDING_BATCH_SIZE,
    max_concurrency: int = DEFAULT_EMBEDDING_CONCURRENCY,
) -> EmbeddedTexts:
    """Async :func:`embed_texts`: up to ``max_concurrency`` batches in flight at once.

    If one batch fails for good, the others still in flight are cancelled and its error is
    raised (the batches already answered were billed and are in the usage trackers).
    """
    check_texts(texts)
    check_positive_int("dimensions", dimensions, optional=True)
    check_positive_int("max_concurrency", max_concurrency)
    batches = batch_texts(texts, batch_size=batch_size)
    if not batches:
        return _combine(texts, batches, [])
    semaphore = asyncio.Semaphore(max_concurrency)

    async def embed_batch(positions: list[int]) -> EmbeddingResult:
        batch = [texts[i] for i in positions]
        async with semaphore:
            result = await client.embeddings(_body(model, batch, dimensions))
        _check_result(result, len(batch))
        return result

    tasks = [asyncio.ensure_future(embed_batch(positions)) for positions in batches]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return _combine(texts, batches, list(results))
