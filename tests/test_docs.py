"""Every Python snippet in README.md and docs/ runs as is, against the GLM emulator on 127.0.0.1.

Each snippet runs alone (they are written to be copied one at a time), in this interpreter, with
RUNAPI_BASE_URL and RUNAPI_PRICE_LIST_URL pointing at the emulator and a dummy key; both stream
shapes get exercised. What a snippet sets process-wide (``set_price``, a price list refresh, the
live prices loaded) is undone after it.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from runapi_client import _live_prices, _pricing
from tests.support.fake_runapi import FakeRunAPI

ROOT = Path(__file__).resolve().parent.parent
PAGES = (
    "README.md",
    "docs/core.md",
    "docs/cost.md",
    "docs/embeddings.md",
    "docs/langchain.md",
    "docs/llama_index.md",
    "docs/models.md",
)
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
SNIPPETS = [
    (page, number, code)
    for page in PAGES
    for number, code in enumerate(BLOCK.findall((ROOT / page).read_text(encoding="utf-8")), 1)
]


def test_pages_have_snippets() -> None:
    counted = {page for page, _, _ in SNIPPETS}
    assert counted == set(PAGES)


@pytest.mark.parametrize(
    ("page", "number", "code"), SNIPPETS, ids=[f"{p}#{n}" for p, n, _ in SNIPPETS]
)
def test_snippet_runs(page: str, number: int, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    shape = "native" if number % 2 else "normalised"
    monkeypatch.setattr(_pricing, "PRICES", dict(_pricing.PRICES))
    _live_prices.forget()
    with FakeRunAPI(stream_shape=shape) as server:
        monkeypatch.setenv("RUNAPI_BASE_URL", server.base_url)
        monkeypatch.setenv("RUNAPI_PRICE_LIST_URL", server.price_list_url)
        monkeypatch.setenv("RUNAPI_API_KEY", "docs-snippet-key")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # documented warnings (tool_choice on GLM, ...)
            exec(compile(code, f"{page}#{number}", "exec"), {"__name__": "__doc_snippet__"})
