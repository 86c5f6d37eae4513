"""The LangChain suite's fixtures: ``server``, the scripted ``httpx.MockTransport`` of
``_mock``; ``fake``, the GLM emulator on 127.0.0.1. And its collection: the json_schema re-runs
of the standard integration tests keep their structured-output tests only
(test_standard_integration.STRUCTURED_ONLY)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_runapi import FakeRunAPI

from ._mock import ScriptedServer


@pytest.fixture
def server() -> ScriptedServer:
    return ScriptedServer()


@pytest.fixture
def fake() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as server:
        yield server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        cls = getattr(item, "cls", None)
        if (
            cls is not None
            and cls.__name__.endswith("JsonSchema")
            and "structured_output" not in item.name
        ):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
