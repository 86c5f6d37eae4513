"""One key, one pace: calls that share a key slow down together when the server says "too many".

Against the emulator with RunAPI's per-key limits set (``KeyLimits``: calls in flight, calls a
second; a 429 with ``Retry-After`` beyond them), through the core clients and both adapters.
Key-wide pauses are shrunk to milliseconds here (``quick_pace`` in tests/conftest.py) except in
the tests marked ``real_pace``; retries wait 1 ms (``retry_log``). How fast a batch finishes is
the benchmark's business (``python -m bench.ratelimit``), not these tests'.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.rate_limiters import InMemoryRateLimiter
from llama_index.core.llms import ChatMessage

from langchain_runapi import ChatRunAPI, RunAPIEmbeddings
from llama_index_runapi import RunAPIEmbedding, RunAPILLM
from runapi_client import (
    APITimeoutError,
    AsyncRunAPIClient,
    ConfigurationError,
    RateLimitError,
    RunAPIClient,
)
from tests.reliability.conftest import RetryLog
from tests.reliability.helpers import HANG_GUARD, KEY, body
from tests.support.fake_runapi import FakeRunAPI, Fault, KeyLimits


@pytest.fixture
def limited(server: FakeRunAPI) -> Iterator[FakeRunAPI]:
    """The server with a tier's limits on the key: 4 calls in flight, each answering in 20 ms."""
    server.key_limits = KeyLimits(in_flight=4, latency=0.02)
    yield server


def chat_model(adapter: str, server: FakeRunAPI, **kw: Any) -> Any:
    settings: dict[str, Any] = {"base_url": server.base_url, "api_key": KEY, **kw}
    if adapter == "langchain":
        return ChatRunAPI(model="glm-4.6", **settings)
    return RunAPILLM(model="glm-4.6", **settings)


async def ask_many(model: Any, adapter: str, n: int, concurrency: int) -> list[Any]:
    """``n`` calls with at most ``concurrency`` at once, as each framework runs a batch."""
    if adapter == "langchain":
        return list(
            await model.abatch(
                [f"question {i}" for i in range(n)],
                config={"max_concurrency": concurrency},
                return_exceptions=True,
            )
        )
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with gate:
            return await model.achat([ChatMessage(role="user", content=f"question {i}")])

    return list(await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True))


# --------------------------------------------------------------------------- one pace per key


def test_every_client_on_one_key_shares_one_pace(server: FakeRunAPI) -> None:
    settings: dict[str, Any] = {"base_url": server.base_url, "api_key": KEY}
    pacers = [
        RunAPIClient(**settings).pacer,
        AsyncRunAPIClient(**settings).pacer,
        ChatRunAPI(model="glm-4.6", **settings).pacer,
        RunAPILLM(model="glm-4.6", **settings).pacer,
        RunAPIEmbeddings(**settings).client.pacer,
        RunAPIEmbedding(**settings)._client.pacer,
    ]
    assert pacers[0] is not None
    assert all(p is pacers[0] for p in pacers)
    assert RunAPIClient(base_url=server.base_url, api_key="another-key").pacer is not pacers[0]
    assert RunAPIClient(**settings, pacing=False).pacer is None
    assert ChatRunAPI(model="glm-4.6", **settings, pacing=False).pacer is None
    assert RunAPILLM(model="glm-4.6", **settings, pacing=False).pacer is None


def test_pacing_settings_are_checked(server: FakeRunAPI) -> None:
    settings: dict[str, Any] = {"base_url": server.base_url, "api_key": KEY}
    with pytest.raises(ConfigurationError, match="max_concurrency must be a whole number >= 1"):
        RunAPIClient(**settings, max_concurrency=0)
    with pytest.raises(ConfigurationError, match="pacing must be True or False"):
        RunAPIClient(**settings, pacing="yes")
    with pytest.raises(ValueError, match="max_concurrency"):
        ChatRunAPI(model="glm-4.6", **settings, max_concurrency=-1)
    with pytest.raises(ValueError, match="max_concurrency"):
        RunAPILLM(model="glm-4.6", **settings, max_concurrency=-1)


# ---------------------------------------------------------------------- a batch over the limit


@pytest.mark.parametrize("adapter", ["langchain", "llama_index"])
def test_a_batch_over_the_keys_limit_is_answered_whole_and_the_limit_is_learned(
    limited: FakeRunAPI, retry_log: RetryLog, adapter: str
) -> None:
    model = chat_model(adapter, limited)
    results = asyncio.run(asyncio.wait_for(ask_many(model, adapter, 60, 16), HANG_GUARD))
    assert [r for r in results if isinstance(r, BaseException)] == []
    limits = limited.key_limits
    assert limits is not None
    assert model.pacer.stats()["limit"] == 4
    # The first burst (16 at once) meets the limit; once it is learned, no call is refused.
    assert limits.refused <= 16
    refused_before = limits.refused
    results = asyncio.run(asyncio.wait_for(ask_many(model, adapter, 60, 16), HANG_GUARD))
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert limits.refused == refused_before
    assert limits.most_in_flight <= 4


def test_without_the_pacer_the_same_batch_fails_calls(
    limited: FakeRunAPI, retry_log: RetryLog
) -> None:
    # What the pacer is for: each call alone, retries spent on 429s, errors to the caller.
    model = chat_model("langchain", limited, pacing=False)
    results = asyncio.run(asyncio.wait_for(ask_many(model, "langchain", 60, 16), HANG_GUARD))
    assert any(isinstance(r, RateLimitError) for r in results)


def test_threads_of_sync_calls_share_the_pace(limited: FakeRunAPI, retry_log: RetryLog) -> None:
    model = chat_model("langchain", limited)
    results = model.batch(
        [f"question {i}" for i in range(40)], config={"max_concurrency": 12}, return_exceptions=True
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert model.pacer.stats()["limit"] == 4
    assert limited.key_limits is not None and limited.key_limits.refused <= 12


def test_sync_and_async_clients_and_both_adapters_together(
    limited: FakeRunAPI, retry_log: RetryLog
) -> None:
    # LangChain in threads and LlamaIndex on an event loop, the same key, at the same time.
    lc = chat_model("langchain", limited)
    li = chat_model("llama_index", limited)

    def lc_batch() -> list[Any]:
        return list(
            lc.batch(
                [f"q{i}" for i in range(30)], config={"max_concurrency": 8}, return_exceptions=True
            )
        )

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        threads = pool.submit(lc_batch)
        loop_results = asyncio.run(asyncio.wait_for(ask_many(li, "llama_index", 30, 8), HANG_GUARD))
        thread_results = threads.result(timeout=HANG_GUARD)
    failures = [r for r in [*thread_results, *loop_results] if isinstance(r, BaseException)]
    assert failures == []
    assert lc.pacer is li.pacer and lc.pacer.stats()["in_flight"] == 0


def test_max_concurrency_keeps_the_key_under_the_tier_from_the_first_call(
    limited: FakeRunAPI, retry_log: RetryLog
) -> None:
    model = chat_model("llama_index", limited, max_concurrency=4)
    results = asyncio.run(asyncio.wait_for(ask_many(model, "llama_index", 40, 16), HANG_GUARD))
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert limited.key_limits is not None
    assert limited.key_limits.refused == 0 and limited.key_limits.most_in_flight == 4


def test_an_embedding_models_fan_out_does_not_cap_the_key(server: FakeRunAPI) -> None:
    # RunAPIEmbeddings' max_concurrency is how many of its batches go at once: a chat batch on
    # the same key is not held to it.
    embeddings = RunAPIEmbeddings(base_url=server.base_url, api_key=KEY, max_concurrency=1)
    assert embeddings.client.config.max_concurrency is None
    li = RunAPIEmbedding(base_url=server.base_url, api_key=KEY, max_concurrency=1)
    assert li._client.config.max_concurrency is None


def test_langchains_own_rate_limiter_works_alongside(
    limited: FakeRunAPI, retry_log: RetryLog
) -> None:
    limiter = InMemoryRateLimiter(
        requests_per_second=200, check_every_n_seconds=0.005, max_bucket_size=4
    )
    model = chat_model("langchain", limited, rate_limiter=limiter)
    results = asyncio.run(asyncio.wait_for(ask_many(model, "langchain", 30, 16), HANG_GUARD))
    assert [r for r in results if isinstance(r, BaseException)] == []
    stats = model.pacer.stats()
    assert stats["sent"] >= 30 and stats["in_flight"] == 0


@pytest.mark.real_pace  # the Retry-After pauses are what keeps the refused calls' retries
def test_a_limit_on_calls_per_second_is_learned_as_a_pace(
    server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.key_limits = KeyLimits(per_second=40, latency=0.005)
    model = chat_model("langchain", server)
    results = asyncio.run(asyncio.wait_for(ask_many(model, "langchain", 80, 8), HANG_GUARD))
    assert [r for r in results if isinstance(r, BaseException)] == []
    stats = model.pacer.stats()
    assert stats["rate"] is not None and stats["limit"] is None  # a pace, not a limit in flight
    assert server.key_limits.refused <= 16


# ------------------------------------------------------------------------ what is not a limit


@pytest.mark.parametrize(
    "fault",
    [Fault.no_balance(), Fault.usage_cap()],
    ids=["no balance (1113)", "5-hour usage cap (1308)"],
)
def test_an_empty_balance_or_a_usage_cap_does_not_pause_the_key(
    server: FakeRunAPI, retry_log: RetryLog, fault: Fault
) -> None:
    server.enqueue(fault)
    client = RunAPIClient(base_url=server.base_url, api_key=KEY)
    with pytest.raises(Exception):  # noqa: B017  (its own typed error; tests/unit/test_errors.py)
        client.chat_completion(body())
    assert client.pacer is not None
    stats = client.pacer.stats()
    assert stats["rate_limited"] == 0 and stats["paused_seconds"] == 0


def test_a_rate_limit_code_in_a_200_teaches_the_pacer_too(
    server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.glm_error(200, code="1302", message="High concurrency usage"))
    client = RunAPIClient(base_url=server.base_url, api_key=KEY)
    client.chat_completion(body())  # retried, then answered
    assert client.pacer is not None and client.pacer.stats()["rate_limited"] == 1


# ---------------------------------------------------------------------- waiting for a turn


def test_waiting_for_a_turn_counts_against_neither_the_timeout_nor_the_retries(
    server: FakeRunAPI,
) -> None:
    # One call at a time, each answering in 0.2 s; six at once: the last waits ~1 s for its
    # turn, five times its read timeout, with no retries allowed.
    server.key_limits = KeyLimits(in_flight=1, latency=0.2)

    async def run() -> list[Any]:
        async with AsyncRunAPIClient(
            base_url=server.base_url, api_key=KEY, timeout=0.5, max_retries=0, max_concurrency=1
        ) as client:
            calls = [client.chat_completion(body(f"q{i}")) for i in range(6)]
            return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(asyncio.wait_for(run(), HANG_GUARD))
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert server.key_limits.refused == 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_waiting_for_a_turn_ends_at_the_calls_total_timeout(server: FakeRunAPI, mode: str) -> None:
    server.key_limits = KeyLimits(in_flight=1, latency=1.0)
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": KEY,
        "max_concurrency": 1,
        "total_timeout": 0.3,
    }
    if mode == "sync":
        client = RunAPIClient(**settings)
        slow = concurrent.futures.ThreadPoolExecutor(1).submit(
            RunAPIClient(**{**settings, "total_timeout": None}).chat_completion, body("slow")
        )
        while client.pacer is not None and client.pacer.stats()["in_flight"] == 0:
            time.sleep(0.005)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"total_timeout=0\.3"):
            client.chat_completion(body("waits"))
        waited = time.monotonic() - started
        slow.result(timeout=HANG_GUARD)
    else:

        async def run() -> float:
            async with AsyncRunAPIClient(**{**settings, "total_timeout": None}) as first:
                slow = asyncio.ensure_future(first.chat_completion(body("slow")))
                await asyncio.sleep(0.05)
                async with AsyncRunAPIClient(**settings) as client:
                    started = time.monotonic()
                    with pytest.raises(APITimeoutError, match=r"total_timeout=0\.3"):
                        await client.chat_completion(body("waits"))
                    waited = time.monotonic() - started
                await slow
                return waited

        waited = asyncio.run(asyncio.wait_for(run(), HANG_GUARD))
    assert waited < 0.9  # ended at its deadline, not when the turn came (~1 s)
    assert [r["body"]["messages"][0]["content"] for r in server.chat_requests] == ["slow"]


@pytest.mark.real_pace
def test_a_pause_the_call_cannot_outlive_ends_it_at_once(server: FakeRunAPI) -> None:
    # A key-wide pause of 30 s and a call with 2 s left: it does not sleep 2 s to fail.
    server.enqueue(Fault.status(429, retry_after="30"))
    first = RunAPIClient(base_url=server.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(RateLimitError):
        first.chat_completion(body())
    client = RunAPIClient(base_url=server.base_url, api_key=KEY, total_timeout=2)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        client.chat_completion(body())
    assert time.monotonic() - started < 1.0
    assert len(server.chat_requests) == 1


def test_cancelling_1000_waiting_calls_leaves_no_turn_taken(server: FakeRunAPI) -> None:
    server.key_limits = KeyLimits(in_flight=1, latency=0.3)

    async def run() -> None:
        async with AsyncRunAPIClient(
            base_url=server.base_url, api_key=KEY, max_concurrency=1
        ) as client:
            pacer = client.pacer
            assert pacer is not None
            before = pacer.stats()
            first = asyncio.ensure_future(client.chat_completion(body("first")))
            await asyncio.sleep(0.02)
            waiting = [
                asyncio.ensure_future(client.chat_completion(body(f"q{i}"))) for i in range(1000)
            ]
            await asyncio.sleep(0.1)
            assert pacer.stats()["in_flight"] == 1 and len(pacer._wakers) == 1000
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            assert all(task.cancelled() for task in waiting)
            assert pacer.stats()["in_flight"] == 1 and not pacer._wakers
            await first
            after = pacer.stats()
            assert after["in_flight"] == before["in_flight"] == 0
            assert after["limit"] == before["limit"] and after["rate"] == before["rate"]
            assert after["sent"] == int(before["sent"] or 0) + 1  # only the first call went out
            await client.chat_completion(body("next"))  # and the key is free at once

    asyncio.run(asyncio.wait_for(run(), HANG_GUARD))
    assert len(server.chat_requests) == 2


def test_a_cancelled_call_in_flight_gives_its_turn_back(server: FakeRunAPI) -> None:
    server.enqueue(Fault.delay(5))

    async def run() -> None:
        async with AsyncRunAPIClient(base_url=server.base_url, api_key=KEY) as client:
            task = asyncio.ensure_future(client.chat_completion(body()))
            await asyncio.sleep(0.1)
            assert client.pacer is not None and client.pacer.stats()["in_flight"] == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client.pacer.stats()["in_flight"] == 0
            assert client.pacer.stats()["limit"] is None  # a cancel teaches nothing

    asyncio.run(asyncio.wait_for(run(), HANG_GUARD))


def test_a_stream_holds_its_turn_until_it_ends(server: FakeRunAPI) -> None:
    client = RunAPIClient(base_url=server.base_url, api_key=KEY)
    assert client.pacer is not None
    with client.stream_chat_completion(body(stream=True)) as stream:
        next(iter(stream))
        assert client.pacer.stats()["in_flight"] == 1
    assert client.pacer.stats()["in_flight"] == 0


# ------------------------------------------------------------------------- Retry-After, for real


@pytest.mark.real_pace
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_retry_after_holds_every_call_on_the_key_not_yet_sent(
    server: FakeRunAPI, mode: str
) -> None:
    # One call meets a 429 with Retry-After: 1; five calls that start after it on the key (from
    # another client) are not sent before the second is over.
    server.enqueue(Fault.status(429, retry_after="1"))
    first = RunAPIClient(base_url=server.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(RateLimitError):
        first.chat_completion(body("first"))
    refused_at = time.monotonic()
    if mode == "sync":
        others = RunAPIClient(base_url=server.base_url, api_key=KEY)
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            list(pool.map(lambda i: others.chat_completion(body(f"q{i}")), range(5)))
    else:

        async def run() -> None:
            async with AsyncRunAPIClient(base_url=server.base_url, api_key=KEY) as others:
                await asyncio.gather(*(others.chat_completion(body(f"q{i}")) for i in range(5)))

        asyncio.run(asyncio.wait_for(run(), HANG_GUARD))
    assert time.monotonic() - refused_at >= 0.99
    assert len(server.chat_requests) == 6


def test_slowing_down_is_logged_at_info_without_the_key(
    limited: FakeRunAPI, retry_log: RetryLog, caplog: pytest.LogCaptureFixture
) -> None:
    limited.key_limits = KeyLimits(in_flight=2, latency=0.02, retry_after="0")  # backoff: short
    model = chat_model("langchain", limited)
    with caplog.at_level(logging.INFO, logger="runapi_client"):
        results = asyncio.run(asyncio.wait_for(ask_many(model, "langchain", 12, 8), HANG_GUARD))
    assert [r for r in results if isinstance(r, BaseException)] == []
    lines = [r.getMessage() for r in caplog.records if "RunAPI rate limit" in r.getMessage()]
    ours = [r for r in caplog.records if r.name.startswith("runapi_client")]
    assert lines and all(r.levelno == logging.INFO for r in ours)
    assert "limit 2" in lines[-1] or "limit 1" in lines[-1]
    assert KEY not in caplog.text


@pytest.mark.real_pace
@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        (None, 0.375, 0.5),  # absent: the backoff
        ("0", 0.375, 0.5),  # would send the crowd straight back: the backoff
        ("-3", 0.375, 0.5),
        ("soon", 0.375, 0.5),  # unreadable
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.375, 0.5),  # a date in the past
        ("2", 2.0, 2.0),
        ("86400", 60.0, 60.0),  # absurd: capped, never hours
    ],
    ids=["absent", "zero", "negative", "unreadable", "past-date", "seconds", "a-day"],
)
def test_what_each_retry_after_does_to_the_key(
    server: FakeRunAPI, header: str | None, low: float, high: float
) -> None:
    server.enqueue(Fault.status(429, retry_after=header))
    client = RunAPIClient(base_url=server.base_url, api_key=KEY, max_retries=0)
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        client.chat_completion(body())
    assert time.monotonic() - started < 0.5  # the call that met it raised without sleeping
    assert client.pacer is not None
    pause = client.pacer.resume_at - started
    assert low - 0.05 <= pause <= high + 0.05
