"""A forked child (gunicorn --preload, Celery prefork, multiprocessing's fork) opens its own
connections: before, it wrote on its parent's kept-alive socket and read answers meant for
another process.

The forking runs in a fresh interpreter, single-threaded as a preforking server's parent is:
pytest's process has the fake server's thread (and whatever other tests left running), and
forking a multi-threaded process can deadlock the child (Python 3.12+ warns that it may)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fake_runapi import FakeRunAPI

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
import os, sys, warnings
from typing import Any

from runapi_client import RunAPIClient, _pool


def _ask(client: RunAPIClient, text: str) -> str:
    body: dict[str, Any] = {"model": "glm-4.6", "messages": [{"role": "user", "content": text}]}
    return str(client.chat_completion(body).completion["choices"][0]["message"]["content"])


client = RunAPIClient(api_key="k", base_url=sys.argv[1])
assert "parent warm-up" in _ask(client, "parent warm-up")  # a kept-alive socket now
parent_pool = _pool.sync_http_client(client.config.pool_key)

children = []
for n in range(3):
    with warnings.catch_warnings(record=True) as caught:  # 3.12+: "... is multi-threaded ..."
        warnings.simplefilter("always")
        pid = os.fork()
    if pid == 0:  # the child: report through the exit code, never return into the parent's code
        code = 3
        try:
            fresh = _pool.sync_http_client(client.config.pool_key) is not parent_pool
            right = all(
                f"child {n} question {i}" in _ask(client, f"child {n} question {i}")
                for i in range(10)
            )
            code = 0 if fresh and right else (1 if not fresh else 2)
        finally:
            sys.stdout.flush()
            os._exit(code)
    assert not caught, [str(w.message) for w in caught]  # forked from a multi-threaded process
    children.append(pid)

# The parent goes on using its own socket meanwhile, and gets its own answers.
for i in range(10):
    assert f"parent question {i}" in _ask(client, f"parent question {i}")
for pid in children:
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status  # 1: pool shared, 2: a wrong answer
assert _pool.sync_http_client(client.config.pool_key) is parent_pool
client.close()
"""


def test_children_get_their_own_answers_and_pools(server: FakeRunAPI) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO, server.base_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
