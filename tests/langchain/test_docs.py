"""Every Python snippet in docs/langchain.md runs, against the in-process GLM emulator
(127.0.0.1 only; nothing leaves the machine)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from tests.support.fake_runapi import FakeRunAPI

DOC = Path(__file__).resolve().parents[2] / "docs" / "langchain.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_snippets() -> None:
    assert len(SNIPPETS) >= 8


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_snippet_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeRunAPI(stream_shape="native" if index % 2 else "normalised") as server:
        monkeypatch.setenv("RUNAPI_BASE_URL", server.base_url)
        monkeypatch.setenv("RUNAPI_API_KEY", "docs-key")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the documented tool_choice/json_schema warnings
            exec(compile(SNIPPETS[index], f"{DOC.name}[{index}]", "exec"), {"__name__": "doc"})
        assert server.chat_requests or "import" in SNIPPETS[index]
