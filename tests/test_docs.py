"""Every Python snippet in README.md and docs/ runs as is, against the GLM emulator on 127.0.0.1.

Each snippet runs alone (they are written to be copied one at a time), in this interpreter, with
RUNAPI_BASE_URL and RUNAPI_PRICE_LIST_URL pointing at the emulator and a dummy key; both stream
shapes get exercised. What a snippet sets process-wide (``set_price``, a price list refresh, the
live prices loaded) is undone after it.

A comment right before a snippet changes how it runs: ``<!-- docs-test: own-process (why) -->``
runs it in a fresh interpreter (it sets what a process can set only once, such as
OpenTelemetry's global providers), ``<!-- docs-test: skip (why) -->`` leaves it out (it needs a
service that is not here, such as a Collector). The comment does not show on the rendered page.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
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
    "docs/fleet.md",
    "docs/langchain.md",
    "docs/llama_index.md",
    "docs/models.md",
    "docs/rate-limits.md",
)
BLOCK = re.compile(r"(?:<!-- docs-test: ([\w-]+)[^>]*-->\n)?```python\n(.*?)```", re.DOTALL)
MODES = ("", "own-process", "skip")
SNIPPETS = [
    (page, number, mode, code)
    for page in PAGES
    for number, (mode, code) in enumerate(
        BLOCK.findall((ROOT / page).read_text(encoding="utf-8")), 1
    )
]


def test_pages_have_snippets() -> None:
    counted = {page for page, _, _, _ in SNIPPETS}
    assert counted == set(PAGES)
    assert {mode for _, _, mode, _ in SNIPPETS} <= set(MODES)


@pytest.mark.parametrize(
    ("page", "number", "mode", "code"), SNIPPETS, ids=[f"{p}#{n}" for p, n, _, _ in SNIPPETS]
)
def test_snippet_runs(
    page: str, number: int, mode: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "skip":
        pytest.skip("marked docs-test: skip (needs a service that is not here)")
    if "from opentelemetry" in code and importlib.util.find_spec("opentelemetry.sdk") is None:
        pytest.skip("needs OpenTelemetry's SDK (the [otel] extra and opentelemetry-sdk)")
    shape = "native" if number % 2 else "normalised"
    if mode == "own-process":
        with FakeRunAPI(stream_shape=shape) as server:
            env = {
                **os.environ,
                "RUNAPI_BASE_URL": server.base_url,
                "RUNAPI_PRICE_LIST_URL": server.price_list_url,
                "RUNAPI_API_KEY": "docs-snippet-key",
            }
            done = subprocess.run(
                [sys.executable, "-W", "ignore", "-c", code],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert done.returncode == 0, f"{page}#{number}:\n{done.stderr[-3000:]}"
        return
    monkeypatch.setattr(_pricing, "PRICES", dict(_pricing.PRICES))
    _live_prices.forget()
    with FakeRunAPI(stream_shape=shape) as server:
        monkeypatch.setenv("RUNAPI_BASE_URL", server.base_url)
        monkeypatch.setenv("RUNAPI_PRICE_LIST_URL", server.price_list_url)
        monkeypatch.setenv("RUNAPI_API_KEY", "docs-snippet-key")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # documented warnings (tool_choice on GLM, ...)
            exec(compile(code, f"{page}#{number}", "exec"), {"__name__": "__doc_snippet__"})
