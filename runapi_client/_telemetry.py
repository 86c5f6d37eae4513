"""OpenTelemetry for every chat and embeddings call, by the GenAI semantic conventions.

One span per call (``chat glm-4.6``, kind CLIENT; a stream's span ends when the stream ends, is
cut, or is abandoned: closed, cancelled or garbage collected), and the client metrics
``gen_ai.client.operation.duration`` (seconds) and ``gen_ai.client.token.usage`` (by
``gen_ai.token.type``), plus ``runapi.client.cost``, a counter of USD.

The conventions define no attribute for cost (semantic-conventions-genai#443 proposes
``gen_ai.usage.cost.*``; not adopted when this was written), so the cost goes under this
library's own namespace: ``runapi.cost.usd``, ``runapi.cost.source`` (``built-in``, ``live``,
``custom``, ``server``) and ``runapi.cost.prices_as_of``; nothing collides when the conventions
gain theirs. Other ``runapi.*`` attributes: ``runapi.request_id`` (the id to quote to support),
``runapi.retries``, and ``runapi.ended_early`` for a call the caller closed or cancelled.

Without OpenTelemetry nothing is imported and nothing is done: the library never imports it
itself. Telemetry starts once the application has imported ``opentelemetry.trace`` or
``opentelemetry.metrics`` and set a tracer or meter provider; until then each call costs a
dictionary lookup (see docs/performance.md). Message content is recorded only when asked:
``configure_telemetry(capture_message_content=True)`` or the conventions' variable
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ._pricing import Cost, token_counts
from ._version import __version__

if TYPE_CHECKING:
    from ._client import _Base
    from ._machine import Call

__all__ = ["CAPTURE_CONTENT_ENV", "Observation", "Telemetry", "configure_telemetry", "telemetry"]

logger = logging.getLogger("runapi_client")

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
PROVIDER = "runapi"
DURATION_BUCKETS = [
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
]
TOKEN_BUCKETS = [
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
]

# Request fields and the attributes the conventions name for them.
_REQUEST_NUMBERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
}

_enabled = True
_capture: bool | None = None


def configure_telemetry(
    *, enabled: bool | None = None, capture_message_content: bool | None = None
) -> None:
    """Process-wide telemetry settings. ``enabled=False``: no spans or metrics from this
    library even with a provider set. ``capture_message_content``: record the messages sent
    and received on the spans (``gen_ai.input.messages``, ``gen_ai.output.messages``); None
    leaves it to ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (off unless set)."""
    global _enabled, _capture
    if enabled is not None:
        _enabled = bool(enabled)
    if capture_message_content is not None:
        _capture = bool(capture_message_content)


def _capture_content() -> bool:
    if _capture is not None:
        return _capture
    value = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower()
    # "true" as the Python instrumentations read it; SPAN_ONLY/SPAN_AND_EVENT as the newer
    # ones do (we record on spans only, so EVENT_ONLY records nothing here).
    return value in ("true", "1", "yes", "span_only", "span_and_event")


def _set(provider: Any, inert: tuple[str, ...]) -> bool:
    return type(provider).__name__ not in inert


class Telemetry:
    """The tracer and instruments, made once a provider is set (a global provider can be set
    only once in OpenTelemetry, so they never need remaking)."""

    def __init__(self, trace: Any, metrics: Any) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self.trace = trace
        self.kind = SpanKind.CLIENT
        self.status_error = (Status, StatusCode.ERROR)
        self.tracer = trace.get_tracer("runapi_client", __version__)
        meter = metrics.get_meter("runapi_client", __version__)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk in a streaming response.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.cost = meter.create_counter(
            "runapi.client.cost",
            unit="USD",
            description="What RunAPI calls cost, in USD, as computed from their usage and "
            "prices (or as a gateway reported it).",
        )

    def start(self, client: _Base, call: Call, body: Mapping[str, Any]) -> Observation:
        return Observation(self, client, call, body)


_telemetry: Telemetry | None = None
_setup_lock = threading.Lock()


def telemetry() -> Telemetry | None:
    """The telemetry to record a call with, or None: disabled, OpenTelemetry not imported by
    the application, or no provider set. Without OpenTelemetry this is two lookups; imported
    but not set up (langsmith imports it whenever it is installed), a few calls more."""
    if not _enabled:
        return None
    if _telemetry is not None:
        return _telemetry
    trace = sys.modules.get("opentelemetry.trace")
    metrics = sys.modules.get("opentelemetry.metrics")
    if trace is None and metrics is None:
        return None
    return _set_up(trace, metrics)


def _set_up(trace: Any, metrics: Any) -> Telemetry | None:
    global _telemetry
    traced = trace is not None and _set(
        trace.get_tracer_provider(), ("ProxyTracerProvider", "NoOpTracerProvider")
    )
    metered = metrics is not None and _set(
        metrics.get_meter_provider(), ("_ProxyMeterProvider", "NoOpMeterProvider")
    )
    if not (traced or metered):
        return None
    try:
        from opentelemetry import metrics, trace
    except ImportError:  # a half-installed OpenTelemetry is no reason to fail a call
        return None
    with _setup_lock:
        if _telemetry is None:
            _telemetry = Telemetry(trace, metrics)
    return _telemetry


@lru_cache(maxsize=64)
def _server(base_url: str) -> tuple[str, int]:
    """``server.address`` and ``server.port`` of a base URL."""
    import httpx

    url = httpx.URL(base_url)
    return url.host, url.port or (443 if url.scheme == "https" else 80)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _request_attributes(body: Mapping[str, Any], operation: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if operation == "embeddings":
        if isinstance(body.get("dimensions"), int):
            attributes["gen_ai.embeddings.dimension.count"] = body["dimensions"]
        if isinstance(body.get("encoding_format"), str):
            attributes["gen_ai.request.encoding_formats"] = [body["encoding_format"]]
        return attributes
    for field, name in _REQUEST_NUMBERS.items():
        if _number(body.get(field)):
            attributes[name] = float(body[field])
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    if isinstance(limit, int) and not isinstance(limit, bool):
        attributes["gen_ai.request.max_tokens"] = limit
    if isinstance(body.get("seed"), int) and not isinstance(body["seed"], bool):
        attributes["gen_ai.request.seed"] = body["seed"]
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop
    if isinstance(stops, list) and stops and all(isinstance(s, str) for s in stops):
        attributes["gen_ai.request.stop_sequences"] = stops
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        attributes["gen_ai.request.choice.count"] = n
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind in ("json_object", "json_schema"):
        attributes["gen_ai.output.type"] = "json"
    elif kind == "text":
        attributes["gen_ai.output.type"] = "text"
    return attributes


class Observation:
    """One call's span and measurements, from its start to its end."""

    __slots__ = ("call", "metric", "operation", "span", "started", "telemetry", "token")

    def __init__(
        self, telemetry: Telemetry, client: _Base, call: Call, body: Mapping[str, Any]
    ) -> None:
        self.telemetry = telemetry
        self.call = call
        self.operation = "chat" if call.path.endswith("/chat/completions") else "embeddings"
        model = body.get("model")
        model = model if isinstance(model, str) else ""
        address, port = _server(client.config.base_url)
        # Attributes of the metrics too: few values each (no ids), as the conventions ask.
        self.metric: dict[str, Any] = {
            "gen_ai.operation.name": self.operation,
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": model,
            "server.address": address,
            "server.port": port,
        }
        attributes = {**self.metric, **_request_attributes(body, self.operation)}
        if call.stream:
            attributes["gen_ai.request.stream"] = True
        capture = self.operation == "chat" and _capture_content()
        if capture and isinstance(body.get("messages"), list):
            attributes["gen_ai.input.messages"] = _dump(input_messages(body["messages"]))
        name = f"{self.operation} {model}" if model else self.operation
        self.span = telemetry.tracer.start_span(name, kind=telemetry.kind, attributes=attributes)
        self.token: object | None = None
        if not call.stream:
            # The call's span is the current one while it runs (an HTTP instrumentation's
            # spans nest under it). Not for a stream: its generator is resumed in whatever
            # context its reader is in, and a context attached in one cannot be detached in
            # another.
            from opentelemetry import context

            self.token = context.attach(telemetry.trace.set_span_in_context(self.span))
        self.started = time.perf_counter()

    def end(self, result: Any, exc: BaseException | None) -> None:
        elapsed = time.perf_counter() - self.started
        span, metric = self.span, self.metric
        completion, cost, counts, request_id = self._outcome(result)
        attributes: dict[str, Any] = {}
        if completion is not None:
            attributes.update(_response_attributes(completion))
            if isinstance(completion.get("model"), str) and completion["model"]:
                metric = {**metric, "gen_ai.response.model": completion["model"]}
        if counts is not None:
            attributes["gen_ai.usage.input_tokens"] = counts["input"]
            if self.operation == "chat":
                attributes["gen_ai.usage.output_tokens"] = counts["output"]
                attributes["gen_ai.usage.cache_read.input_tokens"] = counts["cache_read"]
                if counts["cache_write"]:
                    attributes["gen_ai.usage.cache_creation.input_tokens"] = counts["cache_write"]
                if counts["reasoning"]:
                    attributes["gen_ai.usage.reasoning.output_tokens"] = counts["reasoning"]
        if cost is not None:
            attributes["runapi.cost.usd"] = cost.total
            attributes["runapi.cost.source"] = cost.source
            if cost.as_of is not None:
                attributes["runapi.cost.prices_as_of"] = cost.as_of
        if request_id:
            attributes["runapi.request_id"] = request_id
        # Streams only, as the conventions ask: from the request (retries included) to the
        # first chunk handed to the caller.
        first_chunk_at = getattr(self.call, "first_chunk_at", None)
        to_first_chunk = None if first_chunk_at is None else first_chunk_at - self.started
        if to_first_chunk is not None:
            attributes["gen_ai.response.time_to_first_chunk"] = to_first_chunk
        attributes["runapi.retries"] = self.call.budget.used
        if completion is not None and self.operation == "chat" and _capture_content():
            attributes["gen_ai.output.messages"] = _dump(output_messages(completion))
        if exc is not None:
            if isinstance(exc, Exception):
                error = type(exc).__name__
                attributes["error.type"] = error
                metric = {**metric, "error.type": error}
                status, code = self.telemetry.status_error
                # The class and status only: an error's message may quote what was sent.
                http = getattr(exc, "status_code", None)
                span.set_status(status(code, f"{error}" + (f" (HTTP {http})" if http else "")))
            else:  # GeneratorExit, CancelledError: the caller closed or cancelled the call
                attributes["runapi.ended_early"] = True
        span.set_attributes(attributes)
        span.end()
        if self.token is not None:
            from opentelemetry import context

            context.detach(self.token)  # type: ignore[arg-type]
        telemetry = self.telemetry
        telemetry.duration.record(elapsed, metric)
        if to_first_chunk is not None:
            telemetry.first_chunk.record(to_first_chunk, metric)
        if counts is not None:
            telemetry.tokens.record(counts["input"], {**metric, "gen_ai.token.type": "input"})
            if self.operation == "chat":
                telemetry.tokens.record(counts["output"], {**metric, "gen_ai.token.type": "output"})
        if cost is not None:
            telemetry.cost.add(cost.total, {**metric, "runapi.cost.source": cost.source})

    def _outcome(
        self, result: Any
    ) -> tuple[Mapping[str, Any] | None, Cost | None, Mapping[str, int] | None, str | None]:
        """What the call came to: its answer (or as much of a stream as arrived), cost, token
        counts and request id."""
        call: Any = self.call
        if result is None and call.stream:
            if call.result is not None:
                result = call.result
            else:  # a stream cut short, closed or cancelled: what arrived
                accounted = call.accounted or (None, None)
                partial = call.accumulator.completion() if call.accumulator.chunks else None
                return partial, accounted[0], accounted[1], call.request_id
        if result is None:
            return None, None, None, None
        completion = getattr(result, "completion", None)
        if completion is None:  # an EmbeddingResult
            response = result.response
            usage = response.get("usage")
            counts = token_counts(usage) if isinstance(usage, Mapping) else None
            return response, result.cost, counts, result.request_id
        counts = result.tokens
        if counts is None and isinstance(completion.get("usage"), Mapping):
            counts = token_counts(completion["usage"])
        return completion, result.cost, counts, result.request_id


def _response_attributes(completion: Mapping[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if isinstance(completion.get("id"), str) and completion["id"]:
        attributes["gen_ai.response.id"] = completion["id"]
    if isinstance(completion.get("model"), str) and completion["model"]:
        attributes["gen_ai.response.model"] = completion["model"]
    choices = completion.get("choices")
    if isinstance(choices, list):
        reasons = [
            c["finish_reason"]
            for c in choices
            if isinstance(c, Mapping) and isinstance(c.get("finish_reason"), str)
        ]
        if reasons:
            attributes["gen_ai.response.finish_reasons"] = reasons
    return attributes


# --------------------------------------------------------- message content (opt-in only)


def _dump(value: Any) -> str:
    # Spans take no nested structures in OpenTelemetry's Python API: JSON text, as the
    # conventions allow.
    return json.dumps(value, ensure_ascii=False, default=str)


def _arguments(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[dict[str, Any]] = []
    if not isinstance(content, list):
        return parts
    for part in content:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "text":
            parts.append({"type": "text", "content": part.get("text", "")})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if isinstance(url, str) and url.startswith("data:"):
                mime, _, data = url[5:].partition(";base64,")
                parts.append(
                    {"type": "blob", "modality": "image", "mime_type": mime, "content": data}
                )
            elif isinstance(url, str):
                parts.append({"type": "uri", "modality": "image", "uri": url})
        else:
            parts.append({"type": str(part.get("type"))})
    return parts


def _tool_call_parts(calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": _arguments(function.get("arguments")),
                }
            )
    return parts


def input_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """Wire messages in the conventions' input-messages shape (roles and typed parts)."""
    out = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        parts: list[dict[str, Any]]
        if role == "tool":
            parts = [
                {
                    "type": "tool_call_response",
                    "id": message.get("tool_call_id"),
                    "response": message.get("content"),
                }
            ]
        else:
            parts = []
            reasoning = message.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                parts.append({"type": "reasoning", "content": reasoning})
            parts += _content_parts(message.get("content"))
            parts += _tool_call_parts(message.get("tool_calls"))
        entry: dict[str, Any] = {"role": role, "parts": parts}
        if isinstance(message.get("name"), str):
            entry["name"] = message["name"]
        out.append(entry)
    return out


def output_messages(completion: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The answer's choices in the conventions' output-messages shape."""
    out = []
    choices = completion.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, Mapping):
            continue
        message = choice.get("message")
        message = message if isinstance(message, Mapping) else {}
        parts: list[dict[str, Any]] = []
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            parts.append({"type": "reasoning", "content": reasoning})
        parts += _content_parts(message.get("content"))
        parts += _tool_call_parts(message.get("tool_calls"))
        out.append(
            {
                "role": message.get("role") or "assistant",
                "parts": parts,
                "finish_reason": choice.get("finish_reason") or "",
            }
        )
    return out
