"""Fixtures for the reliability suite: a fake server per test, fast retries, descriptor counts."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any, cast

import pytest

import runapi_client._machine as machine
from runapi_client import _pool
from tests.support.fake_runapi import FakeRunAPI


@pytest.fixture
def server() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as fake:
        yield fake


@pytest.fixture(params=["native", "normalised"])
def any_shape_server(request: pytest.FixtureRequest) -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape=request.param) as fake:
        yield fake


class RetryLog:
    """Every delay the client chose between attempts (None: it gave up)."""

    def __init__(self) -> None:
        self.delays: list[float | None] = []

    @property
    def retries(self) -> int:
        return sum(d is not None for d in self.delays)


@pytest.fixture
def retry_log(monkeypatch: pytest.MonkeyPatch) -> RetryLog:
    """Record the delays the client computes (Retry-After included) but sleep only 1 ms."""
    log = RetryLog()
    real = machine.RetryBudget.next

    def recording(self: machine.RetryBudget, *args: Any, **kwargs: Any) -> Any:
        outcome = real(self, *args, **kwargs)
        if isinstance(outcome, machine.Wait):
            log.delays.append(outcome.delay)
            return machine.Wait(min(outcome.delay, 0.001))
        log.delays.append(None)
        return outcome

    monkeypatch.setattr(machine.RetryBudget, "next", recording)
    monkeypatch.setattr(machine, "INITIAL_BACKOFF", 0.001)
    monkeypatch.setattr(machine, "MAX_BACKOFF", 0.004)
    return log


@pytest.fixture(autouse=True)
def _fresh_sync_pools() -> Iterator[None]:
    """Each test starts and ends without pooled sync sockets (servers come and go per test)."""
    yield
    for key in list(_pool._sync):
        _pool.close_sync_http_client(cast("tuple[str, float | None]", key))


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A listening socket that never accepts and whose backlog is full: connects stall."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for sock in [*fillers, listener]:
            sock.close()
