from __future__ import annotations

import warnings

import httpx
import pytest

from runapi_client import (
    PRICES,
    Price,
    PriceList,
    _pricing,
    cost_of,
    get_model_info,
    get_price,
    parse_price_schedules,
    token_counts,
)


def test_cost_parts_with_cache_read() -> None:
    usage = {
        "prompt_tokens": 1_000_000,
        "completion_tokens": 500_000,
        "prompt_tokens_details": {"cached_tokens": 400_000},
    }
    cost = cost_of("glm-4.6", usage)
    assert cost is not None
    assert cost.input == pytest.approx(600_000 * 0.30 / 1e6)
    assert cost.cache_read == pytest.approx(400_000 * 0.06 / 1e6)
    assert cost.output == pytest.approx(0.55)
    assert cost.total == pytest.approx(0.18 + 0.024 + 0.55)
    assert cost.as_dict()["total"] == pytest.approx(cost.total)


def test_reasoning_tokens_are_inside_completion() -> None:
    usage = {
        "prompt_tokens": 160,
        "completion_tokens": 78,
        "total_tokens": 238,
        "completion_tokens_details": {"reasoning_tokens": 56},
    }
    counts = token_counts(usage)
    assert counts["reasoning"] == 56 and counts["output"] == 78 and counts["total"] == 238
    cost = cost_of("glm-4.7", usage)
    assert cost is not None and cost.output == pytest.approx(78 * 1.10 / 1e6)


def test_model_name_normalised() -> None:
    assert get_price("Z-AI/GLM-4.6") == PRICES["glm-4.6"]


def test_override_beats_table() -> None:
    price = Price(input=1.0, output=2.0)
    cost = cost_of(
        "glm-4.6",
        {
            "prompt_tokens": 10,
            "completion_tokens": 10,
            "prompt_tokens_details": {"cached_tokens": 5},
        },
        overrides={"glm-4.6": price},
    )
    assert cost is not None
    # no cache-read rate given: cached tokens billed at the input rate
    assert cost.total == pytest.approx((10 * 1.0 + 10 * 2.0) / 1e6)


def test_unknown_model_no_cost_and_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pricing, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cost_of("mystery-model", {"prompt_tokens": 1, "completion_tokens": 1}) is None
        assert cost_of("mystery-model", {"prompt_tokens": 1, "completion_tokens": 1}) is None
    assert len([w for w in caught if "mystery-model" in str(w.message)]) == 1


def test_no_usage_no_cost() -> None:
    assert cost_of("glm-4.6", None) is None


def test_catalog_facts_and_default() -> None:
    glm = get_model_info("glm-4.6")
    assert glm.context_window >= 200_000 and glm.tool_choice == ("auto",)
    assert glm.json_modes == ("json_object",) and glm.reasoning
    unknown = get_model_info("someone/new-model")
    assert not unknown.known and unknown.name == "new-model"
    assert unknown.context_window > 3900


def test_parse_price_schedules_cents_to_usd() -> None:
    payload = {
        "as_of": "2026-11-01",
        "price_schedules": [
            {
                "model": "glm-4.6",
                "input_price_per_1m_cents": 30,
                "output_price_per_1m_cents": 110,
                "cache_read_price_per_1m_cents": 6,
                "cache_write_price_per_1m_cents": 0,
            },
            {"model": "broken"},
            "junk",
        ],
    }
    prices = parse_price_schedules(payload)
    assert prices == {"glm-4.6": Price(input=0.30, output=1.10, cache_read=0.06, cache_write=0.0)}
    assert parse_price_schedules("nonsense") == {}


def test_price_list_refresh_revalidates_with_etag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pricing, "PRICES", dict(PRICES))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(
            200,
            headers={"etag": '"v1"'},
            json={
                "as_of": "x",
                "price_schedules": [
                    {"input_price_per_1m_cents": 40, "output_price_per_1m_cents": 120}
                ],
            },
        )

    price_list = PriceList(http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert price_list.url == "https://runapi.ai/api/v1/price_schedules"
    first = price_list.refresh(["glm-4.6"])
    assert first["glm-4.6"].input == pytest.approx(0.40)
    assert get_price("glm-4.6") == first["glm-4.6"]
    price_list.refresh(["glm-4.6"])
    assert seen[1].headers["if-none-match"] == '"v1"'
    assert seen[0].url.params["model"] == "glm-4.6"


def test_price_list_takes_its_own_address_never_a_base_url() -> None:
    from runapi_client import ConfigurationError

    assert PriceList("http://127.0.0.1:9/prices").url == "http://127.0.0.1:9/prices"
    with pytest.raises(ConfigurationError, match="looks like a base URL"):
        PriceList("https://runapi.ai/v1")


def test_price_list_failure_keeps_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pricing, "PRICES", dict(PRICES))

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down")

    price_list = PriceList(http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert price_list.refresh(["glm-4.6"]) == {}
    assert get_price("glm-4.6") == Price(input=0.30, output=1.10, cache_read=0.06)


def test_negative_or_junk_token_counts_never_make_a_negative_cost() -> None:
    from runapi_client import cost_of, token_counts

    counts = token_counts({"prompt_tokens": -5, "completion_tokens": -3, "total_tokens": -8})
    assert all(v >= 0 for v in counts.values())
    cost = cost_of("glm-4.6", {"prompt_tokens": 10, "completion_tokens": -3})
    assert cost is not None and cost.output == 0.0 and cost.total >= 0


def test_unreadable_usage_details_count_as_absent() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "prompt_tokens_details": [1, 2],
        "completion_tokens_details": "junk",
    }
    counts = token_counts(usage)
    assert counts["cache_read"] == 0 and counts["reasoning"] == 0 and counts["total"] == 15
    assert cost_of("glm-4.6", usage) is not None
