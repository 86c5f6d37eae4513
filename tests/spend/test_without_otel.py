"""Without OpenTelemetry, or with it installed but never set up, everything works and nothing
of it is imported. Each case runs in a fresh interpreter against the emulator: the first hides
``opentelemetry`` behind an import hook, as if the ``[otel]`` extra were not installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.fake_runapi import FakeRunAPI

ROOT = Path(__file__).resolve().parents[2]

HIDE_OTEL = """
import importlib.abc, sys

class NoOpenTelemetry(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoOpenTelemetry())
"""

CALLS = """
import asyncio, sys
from langchain_runapi import ChatRunAPI
from llama_index.core.base.llms.types import ChatMessage
from llama_index_runapi import RunAPILLM
from runapi_client import AsyncRunAPIClient, RunAPIClient, _telemetry, configure_telemetry

base_url = sys.argv[1]
body = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}
client = RunAPIClient(api_key="k", base_url=base_url)
assert client.chat_completion(body).cost.total > 0
assert sum(1 for _ in client.stream_chat_completion(body)) > 0

async def run():
    aclient = AsyncRunAPIClient(api_key="k", base_url=base_url)
    assert (await aclient.chat_completion(body)).cost is not None
    async for _ in aclient.stream_chat_completion(body):
        pass

asyncio.run(run())
message = ChatRunAPI(model="glm-4.6", api_key="k", base_url=base_url).invoke("hi")
assert message.response_metadata["cost_details"]["source"] == "built-in"
llm = RunAPILLM(model="glm-4.6", api_key="k", base_url=base_url)
assert llm.chat([ChatMessage(role="user", content="hi")]).additional_kwargs["cost"] > 0
configure_telemetry(capture_message_content=True)  # a setting, harmless without OpenTelemetry
assert _telemetry.telemetry() is None
print("calls ok")
"""


def run(script: str, base_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, base_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_everything_works_when_opentelemetry_is_not_installed() -> None:
    script = (
        HIDE_OTEL
        + CALLS
        + """
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
assert not loaded, loaded
print("no opentelemetry")
"""
    )
    with FakeRunAPI() as server:
        done = run(script, server.base_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["calls", "ok", "no", "opentelemetry"]


def test_installed_but_not_set_up_it_records_nothing() -> None:
    script = (
        """
import sys
try:
    import opentelemetry.trace  # the application imported it, but set no provider
except ImportError:
    print("calls ok")
    raise SystemExit(0)
"""
        + CALLS
    )
    with FakeRunAPI() as server:
        done = run(script, server.base_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["calls", "ok"]


def test_the_core_imports_no_opentelemetry() -> None:
    # (langchain_runapi is left out: langsmith, which langchain-core imports, loads
    # OpenTelemetry itself when it is installed.)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, runapi_client, llama_index_runapi; "
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"
