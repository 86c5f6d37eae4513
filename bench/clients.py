"""One benchmark worker: a fresh interpreter that imports ONE client and runs the workloads.

Run by ``bench/run.py``, never imported by it::

    python bench/clients.py CLIENT BASE_URL N_SEQ N_CHUNKS N_ASYNC CONCURRENCY

The first thing it does is time the import of the module that provides the client class, so
the import time is that of a fresh interpreter (only ``sys`` and ``time`` are loaded before).
It prints one JSON object on its last stdout line: seconds per workload, or ``{"error": ...}``
when the client cannot be imported (an adapter not written yet is reported, not fatal).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

Workloads = tuple[Callable[[], str], Callable[[], int], Callable[[], Awaitable[str]]]

IMPORTS = {
    "httpx": "import httpx",
    "runapi_client": "import runapi_client",
    # The core as it was before (bench/run.py puts that tree first on PYTHONPATH), and with
    # OpenTelemetry imported but not set up, and set up: what telemetry costs a call.
    "runapi_client@base": "import runapi_client",
    "runapi_client+otel-idle": "import runapi_client",
    "runapi_client+otel": "import runapi_client",
    "runapi_client-nopace": "import runapi_client",
    "ChatRunAPI": "from langchain_runapi import ChatRunAPI",
    "ChatOpenAI": "from langchain_openai import ChatOpenAI",
    "RunAPILLM": "from llama_index_runapi import RunAPILLM",
    "OpenAILike": "from llama_index.llms.openai_like import OpenAILike",
}

PROMPT = "Say hello in one short sentence."
MODEL = "glm-4.6"


def _time_import(client: str) -> float:
    start = time.perf_counter()
    exec(IMPORTS[client], {})
    return time.perf_counter() - start


# --------------------------------------------------------------------------------- the clients
# Each returns (call, stream, acall): call() -> answer text; stream() -> number of chunks seen;
# acall is an async function -> answer text. The stream client asks the fake server for
# n_chunks chunks through the X-Fake-Chunks header.


def _raw_httpx(base_url: str, n_chunks: int) -> Workloads:
    """The floor: a hand-written minimal request, json.loads, SSE split by lines."""
    import json

    import httpx

    url = f"{base_url}/chat/completions"
    headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}
    stream_headers = {**headers, "Accept": "text/event-stream", "X-Fake-Chunks": str(n_chunks)}
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    stream_body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    client = httpx.Client(timeout=60)

    def call() -> str:
        response = client.post(url, content=json.dumps(body), headers=headers)
        response.raise_for_status()
        return str(json.loads(response.content)["choices"][0]["message"]["content"])

    def stream() -> int:
        parts = []
        with client.stream(
            "POST", url, content=json.dumps(stream_body), headers=stream_headers
        ) as response:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    break
                for choice in json.loads(data)["choices"]:
                    text = choice["delta"].get("content")
                    if text:
                        parts.append(text)
        "".join(parts)
        return len(parts)

    aclient: list[httpx.AsyncClient] = []

    async def acall() -> str:
        if not aclient:
            aclient.append(httpx.AsyncClient(timeout=60))
        response = await aclient[0].post(url, content=json.dumps(body), headers=headers)
        response.raise_for_status()
        return str(json.loads(response.content)["choices"][0]["message"]["content"])

    return call, stream, acall


def _core(base_url: str, n_chunks: int, **settings: Any) -> Workloads:
    from runapi_client import AsyncRunAPIClient, RunAPIClient

    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    client = RunAPIClient(api_key="x", base_url=base_url, **settings)
    streamer = RunAPIClient(
        api_key="x",
        base_url=base_url,
        default_headers={"X-Fake-Chunks": str(n_chunks)},
        **settings,
    )
    aclient = AsyncRunAPIClient(api_key="x", base_url=base_url, **settings)

    def call() -> str:
        return str(client.chat_completion(body).completion["choices"][0]["message"]["content"])

    def stream() -> int:
        chunks = 0
        for _ in streamer.stream_chat_completion(body):
            chunks += 1
        return chunks

    async def acall() -> str:
        result = await aclient.chat_completion(body)
        return str(result.completion["choices"][0]["message"]["content"])

    return call, stream, acall


def _langchain(cls: Any, kwargs: dict[str, Any], n_chunks: int) -> Workloads:
    model = cls(**kwargs)
    streamer = cls(**kwargs, default_headers={"X-Fake-Chunks": str(n_chunks)})

    def call() -> str:
        return str(model.invoke(PROMPT).content)

    def stream() -> int:
        chunks = 0
        for _ in streamer.stream(PROMPT):
            chunks += 1
        return chunks

    async def acall() -> str:
        return str((await model.ainvoke(PROMPT)).content)

    return call, stream, acall


def _llama_index(cls: Any, kwargs: dict[str, Any], n_chunks: int) -> Workloads:
    from llama_index.core.llms import ChatMessage

    messages = [ChatMessage(role="user", content=PROMPT)]
    llm = cls(**kwargs)
    streamer = cls(**kwargs, default_headers={"X-Fake-Chunks": str(n_chunks)})

    def call() -> str:
        return str(llm.chat(messages).message.content)

    def stream() -> int:
        chunks = 0
        for _ in streamer.stream_chat(messages):
            chunks += 1
        return chunks

    async def acall() -> str:
        return str((await llm.achat(messages)).message.content)

    return call, stream, acall


def _otel_sdk() -> None:
    """OpenTelemetry set up as an application would, with a span exporter that keeps nothing
    and a metric reader never read: the cost of recording, not of shipping."""
    from collections.abc import Sequence

    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


def _make(client: str, base_url: str, n_chunks: int) -> Workloads:
    if client == "httpx":
        return _raw_httpx(base_url, n_chunks)
    if client in ("runapi_client", "runapi_client@base"):
        return _core(base_url, n_chunks)
    if client == "runapi_client+otel-idle":
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401  (imported, as langsmith does; no provider)

        return _core(base_url, n_chunks)
    if client == "runapi_client+otel":
        _otel_sdk()
        return _core(base_url, n_chunks)
    if client == "runapi_client-nopace":  # what the pacer costs a call that meets no limit
        return _core(base_url, n_chunks, pacing=False)
    if client == "ChatRunAPI":
        from langchain_runapi import ChatRunAPI

        return _langchain(
            ChatRunAPI, {"model": MODEL, "api_key": "x", "base_url": base_url}, n_chunks
        )
    if client == "ChatOpenAI":
        from langchain_openai import ChatOpenAI

        return _langchain(
            ChatOpenAI, {"model": MODEL, "api_key": "x", "base_url": base_url}, n_chunks
        )
    if client == "RunAPILLM":
        from llama_index_runapi import RunAPILLM

        return _llama_index(
            RunAPILLM, {"model": MODEL, "api_key": "x", "base_url": base_url}, n_chunks
        )
    if client == "OpenAILike":
        from llama_index.llms.openai_like import OpenAILike

        return _llama_index(
            OpenAILike,
            {"model": MODEL, "api_key": "x", "api_base": base_url, "is_chat_model": True},
            n_chunks,
        )
    raise SystemExit(f"unknown client {client!r}")


# ------------------------------------------------------------------------------- the workloads


def main(argv: list[str]) -> None:
    client, base_url = argv[0], argv[1]
    n_seq, n_chunks, n_async, concurrency = (int(a) for a in argv[2:6])
    try:
        import_s = _time_import(client)
    except ImportError as exc:
        import json

        print(json.dumps({"error": f"n/a ({type(exc).__name__}: {exc})"}))
        return

    import asyncio
    import json

    out: dict[str, float | int | str] = {"import": import_s}
    try:
        call, stream, acall = _make(client, base_url, n_chunks)
    except Exception as exc:  # an adapter mid-rewrite: report, do not crash the run
        print(json.dumps({"error": f"n/a ({type(exc).__name__}: {exc})", "import": import_s}))
        return

    # Warm-up: first-call costs (lazy imports, pool, connection) are not what is measured.
    for _ in range(3):
        answer = call()
    if "You said" not in answer:
        raise SystemExit(f"{client}: unexpected answer {answer!r}")
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n_seq):
        call()
    out["sequential"] = time.perf_counter() - start
    out["sequential_cpu"] = time.process_time() - cpu

    start, cpu = time.perf_counter(), time.process_time()
    chunks = stream()
    out["stream"] = time.perf_counter() - start
    out["stream_cpu"] = time.process_time() - cpu
    out["stream_chunks"] = chunks
    if chunks < n_chunks:
        raise SystemExit(f"{client}: stream gave {chunks} chunks, expected >= {n_chunks}")

    async def concurrent() -> tuple[float, float]:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> str:
            async with gate:
                return await acall()

        await asyncio.gather(*(one() for _ in range(concurrency)))  # warm-up: fill the pool
        start, cpu = time.perf_counter(), time.process_time()
        answers = await asyncio.gather(*(one() for _ in range(n_async)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if len(answers) != n_async or not all("You said" in a for a in answers):
            raise SystemExit(f"{client}: async answers are wrong")
        return elapsed, cpu

    out["async"], out["async_cpu"] = asyncio.run(concurrent())
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
