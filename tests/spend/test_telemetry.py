"""OpenTelemetry spans and metrics by the GenAI semantic conventions, read back from the SDK's
in-memory exporters: the core and both adapters, sync, async and streamed; streams ending,
cut, closed and collected; errors; content only on request. Skipped without the ``[otel]``
extra (the suite without it is covered by test_without_otel.py)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from langchain_core.messages import AIMessageChunk
from llama_index.core.base.llms.types import ChatMessage
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client import (
    PRICES_AS_OF,
    APIConnectionError,
    AsyncRunAPIClient,
    AuthenticationError,
    ChatResult,
    IncompleteStreamError,
    Price,
    RunAPIClient,
    _telemetry,
    configure_telemetry,
)
from tests.support.fake_runapi import FakeRunAPI, Fault

QUESTION = "What does a LEFT JOIN return?"
BODY: dict[str, Any] = {
    "model": "glm-4.6",
    "messages": [{"role": "user", "content": QUESTION}],
    "temperature": 0.2,
    "max_tokens": 300,
}
MESSAGES = [ChatMessage(role="user", content="What does a LEFT JOIN return?")]


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        delta = AggregationTemporality.DELTA
        self.reader = InMemoryMetricReader(preferred_temporality={Counter: delta, Histogram: delta})

    def finished(self) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name.startswith(("chat", "emb"))]

    def one(self) -> ReadableSpan:
        spans = self.finished()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self) -> dict[str, list[Any]]:
        """The data points recorded since the last look, by metric name (ours only)."""
        out: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                if scope.scope.name != "runapi_client":
                    continue
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out


@pytest.fixture(scope="session")
def providers() -> Otel:
    """The process's tracer and meter providers (OpenTelemetry lets a process set each once)."""
    otel = Otel()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(otel.spans))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[otel.reader]))
    return otel


@pytest.fixture(scope="module", autouse=True)
def telemetry_on() -> Iterator[None]:
    configure_telemetry(enabled=True)
    yield
    # The providers stay set for the rest of the session: the tests after these need no spans.
    configure_telemetry(enabled=False)


@pytest.fixture
def otel(providers: Otel, monkeypatch: pytest.MonkeyPatch) -> Otel:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    monkeypatch.setattr(_telemetry, "_capture", None)  # the variable decides
    configure_telemetry(enabled=True)
    providers.spans.clear()
    providers.points()  # forget what earlier tests recorded
    return providers


def core(server: FakeRunAPI) -> RunAPIClient:
    return RunAPIClient(api_key="k", base_url=server.base_url)


def acore(server: FakeRunAPI) -> AsyncRunAPIClient:
    return AsyncRunAPIClient(api_key="k", base_url=server.base_url)


def check_chat_span(span: ReadableSpan, server: FakeRunAPI, *, stream: bool = False) -> None:
    attributes = dict(span.attributes or {})
    assert span.name == "chat glm-4.6" and span.kind is SpanKind.CLIENT
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "runapi"
    assert attributes["gen_ai.request.model"] == "glm-4.6"
    assert attributes["gen_ai.response.model"] == "glm-4.6"
    assert str(attributes["gen_ai.response.id"]).isalnum()
    assert list(attributes["gen_ai.response.finish_reasons"]) == ["stop"]  # type: ignore[arg-type]
    assert attributes["server.address"] == "127.0.0.1" and attributes["server.port"] == server.port
    assert int(attributes["gen_ai.usage.input_tokens"]) > 0  # type: ignore[arg-type]
    assert int(attributes["gen_ai.usage.output_tokens"]) > 0  # type: ignore[arg-type]
    assert "gen_ai.usage.cache_read.input_tokens" in attributes
    assert float(attributes["runapi.cost.usd"]) > 0  # type: ignore[arg-type]
    assert attributes["runapi.cost.source"] == "built-in"
    assert attributes["runapi.cost.prices_as_of"] == PRICES_AS_OF
    assert attributes["runapi.request_id"] == attributes["gen_ai.response.id"]
    assert attributes.get("gen_ai.request.stream", False) is stream
    assert "gen_ai.input.messages" not in attributes  # content only on request
    assert "gen_ai.output.messages" not in attributes
    assert "error.type" not in attributes and span.status.status_code is StatusCode.UNSET


# ---------------------------------------------------------------------------------- core


def test_a_call_is_one_span_with_the_conventions_attributes(otel: Otel, server: FakeRunAPI) -> None:
    result = core(server).chat_completion(BODY)
    span = otel.one()
    check_chat_span(span, server)
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.request.max_tokens"] == 300
    assert result.cost is not None and attributes["runapi.cost.usd"] == result.cost.total
    assert result.tokens is not None
    assert attributes["gen_ai.usage.input_tokens"] == result.tokens["input"]
    assert attributes["gen_ai.usage.output_tokens"] == result.tokens["output"]
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == result.tokens["reasoning"]
    assert attributes["runapi.retries"] == 0


def test_the_metrics_are_recorded(otel: Otel, server: FakeRunAPI) -> None:
    result = core(server).chat_completion(BODY)
    points = otel.points()
    (duration,) = points["gen_ai.client.operation.duration"]
    assert duration.count == 1 and 0 < duration.sum < 10
    assert duration.attributes["gen_ai.operation.name"] == "chat"
    assert duration.attributes["gen_ai.provider.name"] == "runapi"
    assert duration.attributes["gen_ai.response.model"] == "glm-4.6"
    assert "gen_ai.response.id" not in duration.attributes  # metrics keep few values
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points["gen_ai.client.token.usage"]}
    assert result.tokens is not None
    assert tokens == {"input": result.tokens["input"], "output": result.tokens["output"]}
    (cost,) = points["runapi.client.cost"]
    assert result.cost is not None and cost.value == pytest.approx(result.cost.total)
    assert cost.attributes["runapi.cost.source"] == "built-in"


def test_a_stream_records_its_time_to_first_chunk(otel: Otel, server: FakeRunAPI) -> None:
    # Held back 0.2 s before its head: the first chunk is at least that late, and the whole
    # stream no earlier than its first chunk. A call that is not a stream records none.
    server.enqueue(Fault.delay(0.2))
    for _ in core(server).stream_chat_completion(BODY):
        pass
    core(server).chat_completion(BODY)
    stream_span, plain_span = otel.finished()
    first = dict(stream_span.attributes or {})["gen_ai.response.time_to_first_chunk"]
    assert isinstance(first, float)
    assert stream_span.end_time is not None and stream_span.start_time is not None
    assert 0.2 <= first <= (stream_span.end_time - stream_span.start_time) / 1e9
    assert "gen_ai.response.time_to_first_chunk" not in dict(plain_span.attributes or {})
    points = otel.points()
    (to_first,) = points["gen_ai.client.operation.time_to_first_chunk"]
    assert to_first.count == 1 and to_first.sum == pytest.approx(first)
    assert to_first.attributes["gen_ai.response.model"] == "glm-4.6"
    assert sum(p.count for p in points["gen_ai.client.operation.duration"]) == 2


def test_a_stream_that_delivered_nothing_records_no_first_chunk(
    otel: Otel, server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runapi_client._client.time.sleep", lambda _: None)
    server.enqueue(Fault.cut_stream(0), Fault.cut_stream(0), Fault.cut_stream(0))
    with pytest.raises(APIConnectionError):  # cut before its first chunk: retried, then lost
        for _ in core(server).stream_chat_completion(BODY):
            pass
    assert "gen_ai.response.time_to_first_chunk" not in dict(otel.one().attributes or {})
    assert "gen_ai.client.operation.time_to_first_chunk" not in otel.points()


def test_retries_and_errors_are_on_the_span_and_the_duration(
    otel: Otel, server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runapi_client._client.time.sleep", lambda _: None)
    server.enqueue(Fault.status(503))
    core(server).chat_completion(BODY)
    assert dict(otel.one().attributes or {})["runapi.retries"] == 1
    otel.spans.clear()
    otel.points()
    with pytest.raises(AuthenticationError):
        RunAPIClient(api_key="bad-key", base_url=server.base_url).chat_completion(BODY)
    span = otel.one()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "AuthenticationError (HTTP 401)"
    assert dict(span.attributes or {})["error.type"] == "AuthenticationError"
    (duration,) = otel.points()["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == "AuthenticationError"


def test_an_async_call_and_streams(otel: Otel, server: FakeRunAPI) -> None:
    async def run() -> None:
        client = acore(server)
        await client.chat_completion(BODY)
        async for _ in client.stream_chat_completion(BODY):
            pass

    asyncio.run(run())
    for _ in core(server).stream_chat_completion(BODY):
        pass
    spans = otel.finished()
    assert len(spans) == 3
    check_chat_span(spans[0], server)
    check_chat_span(spans[1], server, stream=True)
    check_chat_span(spans[2], server, stream=True)


def test_the_callers_span_is_the_parent(otel: Otel, server: FakeRunAPI) -> None:
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("handle request") as parent:
        core(server).chat_completion(BODY)
        for _ in core(server).stream_chat_completion(BODY):
            pass
    for span in otel.finished():
        assert span.parent is not None
        assert span.parent.span_id == parent.get_span_context().span_id


def test_embeddings(otel: Otel, server: FakeRunAPI) -> None:
    client = RunAPIClient(
        api_key="k", base_url=server.base_url, prices={"embedding-3": Price(0.02, 0.0)}
    )
    result = client.embeddings({"model": "embedding-3", "input": ["a", "b"], "dimensions": 64})
    span = otel.one()
    attributes = dict(span.attributes or {})
    assert span.name == "embeddings embedding-3"
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.embeddings.dimension.count"] == 64
    assert attributes["gen_ai.usage.input_tokens"] == result.response["usage"]["prompt_tokens"]
    assert "gen_ai.usage.output_tokens" not in attributes
    assert attributes["runapi.cost.source"] == "custom"
    tokens = otel.points()["gen_ai.client.token.usage"]
    assert [p.attributes["gen_ai.token.type"] for p in tokens] == ["input"]


# ----------------------------------------------------------------------- how streams end


def test_a_stream_closed_early_ends_its_span(otel: Otel, server: FakeRunAPI) -> None:
    with core(server).stream_chat_completion(BODY) as stream:
        next(iter(stream))
        assert otel.finished() == []  # still open while the stream is
    span = otel.one()
    assert dict(span.attributes or {})["runapi.ended_early"] is True
    assert span.status.status_code is StatusCode.UNSET  # the caller's choice, not an error


def test_a_stream_dropped_unclosed_ends_its_span_when_collected(
    otel: Otel, server: FakeRunAPI
) -> None:
    stream = core(server).stream_chat_completion(BODY)
    next(iter(stream))
    del stream
    gc.collect()
    assert dict(otel.one().attributes or {})["runapi.ended_early"] is True


def test_a_stream_cut_short_ends_its_span_with_the_error(otel: Otel, server: FakeRunAPI) -> None:
    server.enqueue(Fault.cut_stream(3))
    with pytest.raises(IncompleteStreamError):
        for _ in core(server).stream_chat_completion(BODY):
            pass
    span = otel.one()
    assert dict(span.attributes or {})["error.type"] == "StreamInterruptedError"
    assert span.status.status_code is StatusCode.ERROR


def test_a_cancelled_async_stream_ends_its_span(otel: Otel, server: FakeRunAPI) -> None:
    server.enqueue(Fault.stall(5, after=2))

    async def run() -> None:
        async def read() -> None:
            async for _ in acore(server).stream_chat_completion(BODY):
                pass

        task = asyncio.create_task(read())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert dict(otel.one().attributes or {})["runapi.ended_early"] is True


def test_usage_that_arrived_before_a_stream_was_left_is_on_its_span(
    otel: Otel, server: FakeRunAPI
) -> None:
    stream = core(server).stream_chat_completion(BODY)
    for chunk in stream:
        if chunk.get("usage"):
            break  # left right after the usage chunk, before [DONE]
    stream.close()
    attributes = dict(otel.one().attributes or {})
    assert stream.cost is not None and attributes["runapi.cost.usd"] == stream.cost.total


# --------------------------------------------------------------------------- content


def test_message_content_only_when_asked(
    otel: Otel, server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    core(server).chat_completion(BODY)
    assert "gen_ai.input.messages" not in dict(otel.one().attributes or {})
    otel.spans.clear()
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    result: ChatResult = core(server).chat_completion(BODY)
    attributes = dict(otel.one().attributes or {})
    sent = json.loads(str(attributes["gen_ai.input.messages"]))
    assert sent == [{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]
    (answer,) = json.loads(str(attributes["gen_ai.output.messages"]))
    assert answer["role"] == "assistant" and answer["finish_reason"] == "stop"
    text = result.completion["choices"][0]["message"]["content"]
    assert {"type": "text", "content": text} in answer["parts"]
    assert answer["parts"][0]["type"] == "reasoning"  # GLM's reasoning, as its own part
    otel.spans.clear()
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    configure_telemetry(capture_message_content=True)  # or the setting
    core(server).chat_completion(BODY)
    assert "gen_ai.output.messages" in dict(otel.one().attributes or {})


def test_disabled_means_no_spans(otel: Otel, server: FakeRunAPI) -> None:
    configure_telemetry(enabled=False)
    core(server).chat_completion(BODY)
    assert otel.finished() == [] and otel.points() == {}


# ------------------------------------------------------------------------ both adapters


def test_langchain_spans(otel: Otel, server: FakeRunAPI) -> None:
    llm = ChatRunAPI(model="glm-4.6", api_key="k", base_url=server.base_url, temperature=0.5)
    llm.invoke("hi")
    list(llm.stream("hi"))

    async def run() -> None:
        await llm.ainvoke("hi")
        chunks: list[AIMessageChunk] = [c async for c in llm.astream("hi")]
        assert chunks

    asyncio.run(run())
    spans = otel.finished()
    assert len(spans) == 4
    for span, stream in zip(spans, (False, True, False, True), strict=True):
        check_chat_span(span, server, stream=stream)
        assert dict(span.attributes or {})["gen_ai.request.temperature"] == 0.5


def test_llama_index_spans(otel: Otel, server: FakeRunAPI) -> None:
    llm = RunAPILLM(model="glm-4.6", api_key="k", base_url=server.base_url, max_tokens=123)
    llm.chat(MESSAGES)
    list(llm.stream_chat(MESSAGES))

    async def run() -> None:
        await llm.achat(MESSAGES)
        async for _ in await llm.astream_chat(MESSAGES):
            pass

    asyncio.run(run())
    spans = otel.finished()
    assert len(spans) == 4
    for span, stream in zip(spans, (False, True, False, True), strict=True):
        check_chat_span(span, server, stream=stream)
        assert dict(span.attributes or {})["gen_ai.request.max_tokens"] == 123
