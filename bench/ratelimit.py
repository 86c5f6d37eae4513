"""The rate-limit scenario: many calls on one key against a server that admits R requests per
second and N in flight, and answers 429 with ``Retry-After`` beyond that.

    python -m bench.ratelimit                    # all four clients, the defaults below
    python -m bench.ratelimit --calls 300 --clients ChatRunAPI ChatOpenAI

Per client, in a fresh interpreter each (the pace is per process): the calls that failed to the
caller, the requests the server refused (429s: requests wasted), and the makespan against the
ideal (calls / R). ``bench/run.py`` runs it as part of ``make bench``.

The server (``serve``) is an ``asyncio.Protocol`` in a process of its own. Admission: at most R
requests started in any one-second window and N in flight; an admitted request is answered
after ``--latency`` seconds (a fast model), a refused one at once, with ``Retry-After``: whole
seconds until a request would be admitted (at least 1), as RunAPI sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("ChatRunAPI", "RunAPILLM", "ChatOpenAI", "OpenAILike", "ChatRunAPI+cap")
"""``ChatRunAPI+cap``: ChatRunAPI with ``max_concurrency`` set to the server's limit on calls in
flight, as a user who knows their tier's limit would: no first burst of refusals.
``ChatRunAPI-nopace`` (not run by default): ChatRunAPI with ``pacing=False``, each call meeting
its 429s alone, as before the pacer."""
EXTRA_CLIENTS = ("ChatRunAPI-nopace",)
PROMPT = "Say hello in one short sentence."
MODEL = "glm-4.6"

_ANSWER = json.dumps(
    {
        "id": "bench",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    }
).encode()
_REFUSED = json.dumps({"error": {"code": "rate_limited", "message": "Too many requests"}}).encode()


# ------------------------------------------------------------------------------------ server


class _Limits:
    def __init__(self, rate: int, in_flight: int, latency: float) -> None:
        self.rate = rate
        self.max_in_flight = in_flight
        self.latency = latency
        self.started: collections.deque[float] = collections.deque()
        self.in_flight = 0
        self.ok = 0
        self.limited = 0
        self.admitted_at: list[float] = []

    def admit(self) -> float | None:
        """None if admitted, else the seconds until one would be."""
        now = time.monotonic()
        while self.started and self.started[0] <= now - 1.0:
            self.started.popleft()
        waits = []
        if len(self.started) >= self.rate:
            waits.append(self.started[0] + 1.0 - now)
        if self.in_flight >= self.max_in_flight:
            waits.append(self.latency)
        if waits:
            self.limited += 1
            return max(waits)
        self.started.append(now)
        self.admitted_at.append(now)
        self.in_flight += 1
        self.ok += 1
        return None


class _Connection(asyncio.Protocol):
    def __init__(self, limits: _Limits) -> None:
        self.limits = limits
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < end + 4 + length:
                return
            method, target, _ = head[0].split(" ", 2)
            del self.buffer[: end + 4 + length]
            self._answer(method, target)

    def _write(self, status: str, body: bytes, extra: str = "") -> None:
        if self.transport is None:
            return
        self.transport.write(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n".encode()
            + body
        )

    def _answer(self, method: str, target: str) -> None:
        limits = self.limits
        if target == "/stats":
            times = limits.admitted_at
            gaps = [round(b - a, 3) for a, b in itertools.pairwise(times) if b - a > 0.2]
            span = round(times[-1] - times[0], 3) if times else 0.0
            stats = {"ok": limits.ok, "limited": limits.limited, "span": span, "gaps": gaps}
            self._write("200 OK", json.dumps(stats).encode())
            return
        if target == "/reset":
            limits.ok = limits.limited = 0
            limits.started.clear()
            limits.admitted_at.clear()
            self._write("200 OK", b"{}")
            return
        wait = limits.admit()
        if wait is not None:
            self._write(
                "429 Too Many Requests", _REFUSED, f"Retry-After: {max(1, math.ceil(wait))}\r\n"
            )
            return

        def done() -> None:
            limits.in_flight -= 1
            self._write("200 OK", _ANSWER)

        asyncio.get_running_loop().call_later(limits.latency, done)


async def _serve(port: int, rate: int, in_flight: int, latency: float) -> None:
    limits = _Limits(rate, in_flight, latency)
    server = await asyncio.get_running_loop().create_server(
        lambda: _Connection(limits), "127.0.0.1", port, backlog=2048
    )
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", flush=True)
    await asyncio.Event().wait()


# ------------------------------------------------------------------------------------ clients


def _model(client: str, base_url: str, in_flight: int) -> Any:
    """The client's model object (imported and built before the clock starts)."""
    if client.startswith("ChatRunAPI"):
        from langchain_runapi import ChatRunAPI

        cap = in_flight if client == "ChatRunAPI+cap" else None
        return ChatRunAPI(
            model=MODEL,
            base_url=base_url,
            api_key="bench",
            max_concurrency=cap,
            pacing=client != "ChatRunAPI-nopace",
        )
    if client == "ChatOpenAI":
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        return ChatOpenAI(model=MODEL, base_url=base_url, api_key=SecretStr("bench"))
    if client == "RunAPILLM":
        from llama_index_runapi import RunAPILLM

        return RunAPILLM(model=MODEL, base_url=base_url, api_key="bench")
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(model=MODEL, api_base=base_url, api_key="bench", is_chat_model=True)


async def _run(
    client: str, base_url: str, calls: int, concurrency: int, in_flight: int
) -> dict[str, Any]:
    failed: collections.Counter[str] = collections.Counter()
    llm = _model(client, base_url, in_flight)
    started = time.perf_counter()
    if client.startswith("Chat"):
        # LangChain's own way to run many: abatch with max_concurrency.
        results = await llm.abatch(
            [PROMPT] * calls, config={"max_concurrency": concurrency}, return_exceptions=True
        )
    else:
        # LlamaIndex has no batch call: a semaphore, as a workflow with num_workers does.
        gate = asyncio.Semaphore(concurrency)

        async def one() -> Any:
            async with gate:
                return await llm.acomplete(PROMPT)

        results = await asyncio.gather(*(one() for _ in range(calls)), return_exceptions=True)
    seconds = time.perf_counter() - started
    for result in results:
        if isinstance(result, BaseException):
            failed[type(result).__name__] += 1
    pace = getattr(getattr(llm, "pacer", None), "stats", None)
    return {
        "client": client,
        "seconds": seconds,
        "failed": sum(failed.values()),
        "errors": dict(failed),
        "pacer": pace() if pace else None,
    }


# ---------------------------------------------------------------------------------- the run


def _get(base_url: str, path: str) -> dict[str, Any]:
    import httpx

    origin = base_url.rsplit("/v1", 1)[0]
    response = httpx.get(f"{origin}{path}", timeout=10)
    return dict(response.json())


def run_scenario(
    *,
    clients: list[str],
    calls: int,
    concurrency: int,
    rate: int,
    in_flight: int,
    latency: float,
) -> list[dict[str, Any]]:
    """Run each client against one fresh server process; the rows of the report."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost"}
    rows = []
    for client in clients:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "bench.ratelimit", "serve",
                "--rate", str(rate), "--in-flight", str(in_flight), "--latency", str(latency),
            ],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()
            worker = subprocess.run(
                [
                    sys.executable, "-m", "bench.ratelimit", "client", client, base_url,
                    str(calls), str(concurrency), str(in_flight),
                ],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            lines = [line for line in worker.stdout.splitlines() if line.startswith("{")]
            row: dict[str, Any] = (
                json.loads(lines[-1])
                if lines
                else {"client": client, "error": worker.stderr[-500:]}
            )
            stats = _get(base_url, "/stats")
            row["wasted"] = stats["limited"]
            row["server"] = {"span": stats["span"], "gaps": stats["gaps"]}
            row["ideal"] = calls / rate
            rows.append(row)
        finally:
            server.kill()
            server.wait()
    return rows


def report(rows: list[dict[str, Any]], calls: int) -> str:
    lines = [
        f"{'client':<12} {'failed':>7} {'wasted 429s':>12} {'wasted %':>9} {'makespan':>9} "
        f"{'x ideal':>8}"
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['client']:<12} error: {row['error']}")
            continue
        lines.append(
            f"{row['client']:<12} {row['failed']:>7} {row['wasted']:>12} "
            f"{100 * row['wasted'] / calls:>8.1f}% {row['seconds']:>8.2f}s "
            f"{row['seconds'] / row['ideal']:>8.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "serve":
        parser = argparse.ArgumentParser()
        parser.add_argument("--port", type=int, default=0)
        parser.add_argument("--rate", type=int, default=100)
        parser.add_argument("--in-flight", type=int, default=16)
        parser.add_argument("--latency", type=float, default=0.05)
        options = parser.parse_args(args[1:])
        asyncio.run(_serve(options.port, options.rate, options.in_flight, options.latency))
        return
    if args and args[0] == "client":
        client, base_url = args[1], args[2]
        calls, concurrency, in_flight = int(args[3]), int(args[4]), int(args[5])
        print(json.dumps(asyncio.run(_run(client, base_url, calls, concurrency, in_flight))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--clients", nargs="+", default=list(CLIENTS), choices=CLIENTS + EXTRA_CLIENTS
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05)
    options = parser.parse_args(args)
    rows = run_scenario(
        clients=options.clients,
        calls=options.calls,
        concurrency=options.concurrency,
        rate=options.rate,
        in_flight=options.in_flight,
        latency=options.latency,
    )
    print(
        f"{options.calls} calls at concurrency {options.concurrency}; the server admits "
        f"{options.rate}/s and {options.in_flight} in flight, answers in {options.latency}s; "
        f"ideal {options.calls / options.rate:.1f}s"
    )
    print(report(rows, options.calls))
    for row in rows:
        if row.get("pacer"):
            print(f"  {row['client']} pacer: {row['pacer']}")
        if row.get("server"):
            print(
                f"  {row['client']} server: first to last admission {row['server']['span']}s, "
                f"gaps over 0.2s {row['server']['gaps']}"
            )


if __name__ == "__main__":
    main()
