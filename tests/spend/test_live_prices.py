"""``prices="live"``: RunAPI's price list loaded once per process (per model), from both
clients, revalidated with its ETag, cached on disk with a TTL, one warning offline; its own
address, never the base URL's host. Against the emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runapi_client import (
    PRICES_AS_OF,
    AsyncRunAPIClient,
    ConfigurationError,
    Price,
    PriceList,
    RunAPIClient,
    _live_prices,
    _pricing,
    set_price,
)
from runapi_client._live_prices import cache_dir
from tests.support.fake_runapi import PRICE_LIST_AS_OF, FakeRunAPI

BODY = {"model": "glm-4.6", "messages": [{"role": "user", "content": "Hello there"}]}


def client(server: FakeRunAPI, **kw: Any) -> RunAPIClient:
    kw.setdefault("price_list_url", server.price_list_url)
    return RunAPIClient(api_key="k", base_url=server.base_url, **kw)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------- the prices used


def test_live_prices_price_the_call_and_say_so(server: FakeRunAPI) -> None:
    server.set_price_schedule("glm-4.6", 40, 120, 8, as_of="2026-12-01T00:00:00Z")
    result = client(server, prices="live").chat_completion(BODY)
    assert result.cost is not None
    assert result.cost.source == "live" and result.cost.as_of == "2026-12-01T00:00:00Z"
    counts = result.tokens
    assert counts is not None
    uncached = counts["input"] - counts["cache_read"]
    expected = (uncached * 0.40 + counts["cache_read"] * 0.08 + counts["output"] * 1.20) / 1e6
    assert result.cost.total == pytest.approx(expected)


def test_without_live_the_built_in_table_prices_the_call(server: FakeRunAPI) -> None:
    server.set_price_schedule("glm-4.6", 40, 120, 8)
    result = client(server).chat_completion(BODY)
    assert result.cost is not None
    assert (result.cost.source, result.cost.as_of) == ("built-in", PRICES_AS_OF)
    assert server.price_list_requests == []


def test_the_environment_variable_turns_live_prices_on(
    server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNAPI_PRICES", "live")
    monkeypatch.setenv("RUNAPI_PRICE_LIST_URL", server.price_list_url)
    result = RunAPIClient(api_key="k", base_url=server.base_url).chat_completion(BODY)
    assert result.cost is not None and result.cost.source == "live"
    assert result.cost.as_of == PRICE_LIST_AS_OF
    # prices="built-in" on a client wins over the variable
    built_in = RunAPIClient(api_key="k", base_url=server.base_url, prices="built-in")
    cost = built_in.chat_completion(BODY).cost
    assert cost is not None and cost.source == "built-in"


def test_a_price_given_by_hand_wins_over_the_live_list(
    server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pricing, "PRICES", dict(_pricing.PRICES))
    mine = Price(input=9.0, output=9.0)
    cost = client(server, prices={"glm-4.6": mine}).chat_completion(BODY).cost
    assert cost is not None and cost.source == "custom"  # prices={...}: overrides, not live
    live = client(server, prices="live")
    set_price("glm-4.7", Price(input=8.0, output=8.0))  # process-wide, by hand
    cost = live.chat_completion({**BODY, "model": "glm-4.7"}).cost
    assert cost is not None and cost.source == "custom"


def test_a_model_the_list_does_not_have_keeps_its_built_in_price(server: FakeRunAPI) -> None:
    del server.price_schedules["glm-4.6"]
    cost = client(server, prices="live").chat_completion(BODY).cost
    assert cost is not None and cost.source == "built-in"
    assert len(server.price_list_requests) == 1


# ------------------------------------------------------------------- once per process


def test_loaded_once_per_process_not_per_client_nor_per_call(server: FakeRunAPI) -> None:
    for _ in range(3):
        live = client(server, prices="live")
        for _ in range(3):
            live.chat_completion(BODY)
        for _ in live.stream_chat_completion(BODY):
            pass

    async def from_async() -> None:
        aclient = AsyncRunAPIClient(
            api_key="k",
            base_url=server.base_url,
            prices="live",
            price_list_url=server.price_list_url,
        )
        await asyncio.gather(*(aclient.chat_completion(BODY) for _ in range(5)))

    asyncio.run(from_async())
    requests = server.price_list_requests
    assert len(requests) == 1
    assert "authorization" not in requests[0]["headers"]  # the list is public: no key sent
    # A second model is a second (and last) request.
    client(server, prices="live").chat_completion({**BODY, "model": "glm-4.7"})
    client(server, prices="live").chat_completion({**BODY, "model": "GLM-4.7"})
    assert len(server.price_list_requests) == 2


def test_first_calls_from_many_threads_load_once(server: FakeRunAPI) -> None:
    from concurrent.futures import ThreadPoolExecutor

    live = client(server, prices="live")
    with ThreadPoolExecutor(8) as pool:
        costs = list(pool.map(lambda _: live.chat_completion(BODY).cost, range(16)))
    assert all(c is not None and c.source == "live" for c in costs)
    assert len(server.price_list_requests) == 1


# ------------------------------------------------------------------- disk cache, TTL, ETag


def test_a_fresh_disk_cache_is_used_without_asking(
    server: FakeRunAPI, fresh_process_state: Path
) -> None:
    client(server, prices="live").chat_completion(BODY)
    cached = json.loads((fresh_process_state / "price_schedules.json").read_text())
    entry = cached[server.price_list_url]["glm-4.6"]
    assert entry["etag"] and entry["payload"]["price_schedules"][0]["model"] == "glm-4.6"
    _live_prices.forget()  # as a new process would start
    cost = client(server, prices="live").chat_completion(BODY).cost
    assert cost is not None and cost.source == "live"
    assert len(server.price_list_requests) == 1  # the second process read the disk


def test_a_stale_list_is_revalidated_with_its_etag(server: FakeRunAPI) -> None:
    live = client(server, prices="live", price_list_ttl=0.2)
    live.chat_completion(BODY)
    time.sleep(0.3)
    live.chat_completion(BODY)  # stale: revalidated in the background, the call goes on
    deadline = time.monotonic() + 5
    while len(server.price_list_requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    first, second = server.price_list_requests[:2]
    assert "if-none-match" not in first["headers"]
    assert second["headers"]["if-none-match"].startswith('W/"')
    cost = live.chat_completion(BODY).cost
    assert cost is not None and cost.source == "live"  # a 304 keeps the list


def test_the_ttl_comes_from_the_environment_too(
    server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNAPI_PRICE_LIST_TTL", "3600")
    assert client(server, prices="live").config.price_list_ttl == 3600.0
    with pytest.raises(ConfigurationError, match="RUNAPI_PRICE_LIST_TTL"):
        monkeypatch.setenv("RUNAPI_PRICE_LIST_TTL", "soon")
        client(server, prices="live")


# ------------------------------------------------------------------------------- offline


def test_offline_the_built_in_table_stays_with_one_warning(
    server: FakeRunAPI, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/api/v1/price_schedules"
    caplog.set_level(logging.DEBUG, logger="runapi_client")
    for model in ("glm-4.6", "glm-4.7", "glm-4.5-air"):
        for _ in range(2):
            cost = (
                client(server, prices="live", price_list_url=dead)
                .chat_completion({**BODY, "model": model})
                .cost
            )
            assert cost is not None and cost.source == "built-in"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "built-in prices" in warnings[0].getMessage()


def test_offline_a_stale_cached_copy_is_used(server: FakeRunAPI) -> None:
    server.set_price_schedule("glm-4.6", 50, 150, 10)
    client(server, prices="live", price_list_ttl=0.1).chat_completion(BODY)
    url = server.price_list_url
    server.stop()  # the list's host goes away
    _live_prices.forget()
    time.sleep(0.15)
    with FakeRunAPI() as other:  # chat still answers, from another host
        live = RunAPIClient(
            api_key="k",
            base_url=other.base_url,
            prices="live",
            price_list_url=url,
            price_list_ttl=0.1,
        )
        cost = live.chat_completion(BODY).cost
    assert cost is not None and cost.source == "live"
    assert cost.input > 0 and cost.as_of == PRICE_LIST_AS_OF


# --------------------------------------------------------------- never blocks an event loop


def test_an_async_first_call_waits_without_blocking_the_loop(
    server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.fake_runapi import Fault

    monkeypatch.setattr(_live_prices, "FIRST_CALL_WAIT", 0.3)
    server.enqueue(Fault.delay(1.0))  # the price list (asked first) takes a second

    async def run() -> tuple[int, str, str]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        aclient = AsyncRunAPIClient(
            api_key="k",
            base_url=server.base_url,
            prices="live",
            price_list_url=server.price_list_url,
        )
        first = await aclient.chat_completion(BODY)  # gave up waiting after 0.3 s
        await asyncio.sleep(1.0)  # the list arrives meanwhile
        second = await aclient.chat_completion(BODY)
        stop.set()
        await task
        assert first.cost is not None and second.cost is not None
        return ticks, first.cost.source, second.cost.source

    ticks, first, second = asyncio.run(run())
    assert ticks >= 50  # the loop ran all along (1.3 s at 10 ms a tick)
    assert (first, second) == ("built-in", "live")


# ---------------------------------------------------------------- the list's own address


def test_a_custom_base_url_never_makes_the_client_ask_its_host_for_prices(
    server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNAPI_BASE_URL", "https://gateway.example/v1")
    assert PriceList().url == "https://runapi.ai/api/v1/price_schedules"
    assert RunAPIClient(api_key="k").config.price_list_url == PriceList().url
    with FakeRunAPI() as gateway:
        live = RunAPIClient(
            api_key="k",
            base_url=gateway.base_url,
            prices="live",
            price_list_url=server.price_list_url,
        )
        cost = live.chat_completion(BODY).cost
        assert cost is not None and cost.source == "live"
        assert gateway.price_list_requests == [] and len(server.price_list_requests) == 1


def test_price_list_refresh_asks_the_lists_address(server: FakeRunAPI) -> None:
    found = PriceList(server.price_list_url).refresh(["glm-4.6"], apply=False)
    assert found["glm-4.6"].source == "live" and found["glm-4.6"].input == pytest.approx(0.30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prices": "cheap"}, "'live'"),
        ({"price_list_url": "https://runapi.ai/v1"}, "looks like a base URL"),
        ({"price_list_url": "ftp://runapi.ai/prices"}, "http"),
        ({"price_list_ttl": -1}, "positive"),
    ],
)
def test_bad_price_settings_are_configuration_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RunAPIClient(api_key="k", **kwargs)


# --------------------------------------------------------------------- the cache's folder


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"XDG_CACHE_HOME": "/xdg"}, "/xdg/runapi-integrations"),
        ("linux", {"XDG_CACHE_HOME": "relative"}, "~/.cache/runapi-integrations"),
        ("linux", {}, "~/.cache/runapi-integrations"),
        ("darwin", {}, "~/Library/Caches/runapi-integrations"),
        (
            "win32",
            {"LOCALAPPDATA": "C:/Users/a/AppData/Local"},
            "C:/Users/a/AppData/Local/runapi-integrations/Cache",
        ),
    ],
)
def test_the_cache_folder_is_the_platforms(
    platform: str, env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNAPI_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("LOCALAPPDATA", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", platform)
    assert cache_dir() == Path(expected).expanduser()


def test_an_unwritable_cache_folder_keeps_the_list_in_memory(
    server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RUNAPI_CACHE_DIR", str(blocker / "cache"))
    cost = client(server, prices="live").chat_completion(BODY).cost
    assert cost is not None and cost.source == "live"
