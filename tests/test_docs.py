"""Every Python snippet in README.md and docs/ runs as is, against the GLM emulator on 127.0.0.1,
and prints what the page shows it printing.

Each snippet runs alone (they are written to be copied one at a time), in this interpreter, with
RUNAPI_BASE_URL and RUNAPI_PRICE_LIST_URL pointing at the emulator and a dummy key; both stream
shapes get exercised. What a snippet sets process-wide (``set_price``, a price list refresh, the
live prices loaded) is undone after it. Every page is read: README.md and each docs/*.md.

**Output.** A ```` ```text ```` block right after a snippet (nothing but blank lines between) is
what the snippet prints: its stdout is compared with it, line by line, leading and trailing
blank lines and trailing spaces aside. ``...`` in it stands for any text, within a line or
across lines: the model's answer (the emulator's is not a real one), an id or a time. The rest
is exact; the emulator's token counts, hence costs, are deterministic. A snippet without such
a block only has to run. Comments in a snippet explain; they do not show output.

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
PAGES = ("README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")))
BLOCK = re.compile(
    r"(?:<!-- docs-test: ([\w-]+)[^>]*-->\n)?```python\n(.*?)```\n(?:\n*```text\n(.*?)```)?",
    re.DOTALL,
)
MODES = ("", "own-process", "skip")
SNIPPETS = [
    (page, number, mode, code, shown)
    for page in PAGES
    for number, (mode, code, shown) in enumerate(
        BLOCK.findall((ROOT / page).read_text(encoding="utf-8")), 1
    )
]


def _lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip("\n")


def shows(shown: str, printed: str) -> bool:
    """Whether ``printed`` is what the page shows, ``...`` matching any text."""
    pattern = ".*?".join(re.escape(part) for part in _lines(shown).split("..."))
    return re.fullmatch(pattern, _lines(printed), re.DOTALL) is not None


def _check_output(name: str, shown: str, printed: str) -> None:
    if shown and not shows(shown, printed):
        pytest.fail(
            f"{name} prints what its page does not show.\n--- shown\n{shown}\n"
            f"--- printed\n{printed}"
        )


def test_pages_have_snippets() -> None:
    counted = {page for page, *_ in SNIPPETS}
    assert {"README.md", "docs/core.md", "docs/langchain.md", "docs/llama_index.md"} <= counted
    assert {mode for _, _, mode, _, _ in SNIPPETS} <= set(MODES)


def test_shown_output_matches_with_ellipses() -> None:
    assert shows("2 1536\n", "2 1536\n")
    assert not shows("2 1536", "2 1024")
    assert shows("...\n$0.000017", "\nHello! You said: Name three SQL joins.\n$0.000017\n")
    assert shows("id call_-...", "id call_-4020741784943338432")
    assert not shows("a\n...\nb", "a\nb\nc")


@pytest.mark.parametrize(
    ("page", "number", "mode", "code", "shown"),
    SNIPPETS,
    ids=[f"{p}#{n}" for p, n, *_ in SNIPPETS],
)
def test_snippet_runs(
    page: str,
    number: int,
    mode: str,
    code: str,
    shown: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if mode == "skip":
        pytest.skip("marked docs-test: skip (needs a service that is not here)")
    if "from opentelemetry" in code and importlib.util.find_spec("opentelemetry.sdk") is None:
        pytest.skip("needs OpenTelemetry's SDK (the [otel] extra and opentelemetry-sdk)")
    shape = "native" if number % 2 else "normalised"
    name = f"{page}#{number}"
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
        assert done.returncode == 0, f"{name}:\n{done.stderr[-3000:]}"
        _check_output(name, shown, done.stdout)
        return
    monkeypatch.setattr(_pricing, "PRICES", dict(_pricing.PRICES))
    _live_prices.forget()
    with FakeRunAPI(stream_shape=shape) as server:
        monkeypatch.setenv("RUNAPI_BASE_URL", server.base_url)
        monkeypatch.setenv("RUNAPI_PRICE_LIST_URL", server.price_list_url)
        monkeypatch.setenv("RUNAPI_API_KEY", "docs-snippet-key")
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # documented warnings (tool_choice on GLM, ...)
            exec(compile(code, name, "exec"), {"__name__": "__doc_snippet__"})
    _check_output(name, shown, capsys.readouterr().out)
