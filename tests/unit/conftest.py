"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The core clients' waits between attempts, recorded instead of slept (sync and async)."""
    slept: list[float] = []

    async def fake_async_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("runapi_client._client.time.sleep", slept.append)
    monkeypatch.setattr("runapi_client._client.asyncio.sleep", fake_async_sleep)
    return slept
