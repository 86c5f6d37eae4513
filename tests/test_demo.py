"""`make demo` from a clean environment: offline replay, every section, the cost table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_offline_and_ends_with_cost_table() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNAPI_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Offline:"), lines[0]
    for section in ("LangChain:", "LangGraph:", "LlamaIndex: RunAPILLM", "LlamaIndex: RAG"):
        assert any(section in line for line in lines), section
    assert "-> tool call get_weather" in done.stdout
    total = next(line for line in lines if line.strip().startswith("total"))
    assert float(total.split()[-1]) > 0
    assert "glm-4.6" in done.stdout
    # The balance recorded before and after the calls, beside the computed spend.
    assert any(line.strip().startswith("before: balance $") for line in lines)
    assert any("RunAPI took" in line for line in lines)
