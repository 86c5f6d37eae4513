"""Fixtures for spend and telemetry: an emulator per test, and the process-wide price list and
"no price known" marks forgotten between tests (each test starts as a fresh process would)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runapi_client import _live_prices, _pricing
from tests.support.fake_runapi import FakeRunAPI


@pytest.fixture
def server() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_process_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache folder of the test's own, no live prices loaded, no model warned about."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RUNAPI_CACHE_DIR", str(cache))
    monkeypatch.setattr(_pricing, "_warned", set())
    _live_prices.forget()
    yield cache
    _live_prices.forget()
