"""A forked child (gunicorn --preload, Celery prefork, multiprocessing's fork) opens its own
connections: before, it wrote on its parent's kept-alive socket and read answers meant for
another process."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from runapi_client import RunAPIClient, _pool
from tests.support.fake_runapi import FakeRunAPI

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _ask(client: RunAPIClient, text: str) -> str:
    body: dict[str, Any] = {"model": "glm-4.6", "messages": [{"role": "user", "content": text}]}
    return str(client.chat_completion(body).completion["choices"][0]["message"]["content"])


def test_children_get_their_own_answers_and_pools(server: FakeRunAPI) -> None:
    client = RunAPIClient(api_key="k", base_url=server.base_url)
    assert "parent warm-up" in _ask(client, "parent warm-up")  # a kept-alive socket now
    parent_pool = _pool.sync_http_client(client.config.pool_key)

    children = []
    for n in range(3):
        pid = os.fork()
        if pid == 0:  # the child: report through the exit code, never return into pytest
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
        children.append(pid)

    # The parent goes on using its own socket meanwhile, and gets its own answers.
    for i in range(10):
        assert f"parent question {i}" in _ask(client, f"parent question {i}")
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0  # 1: pool shared, 2: a wrong answer
    assert _pool.sync_http_client(client.config.pool_key) is parent_pool
    client.close()
