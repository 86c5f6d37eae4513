"""Sync and async clients: requests, retries, streams, usage and cost of each call."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from . import _pool
from ._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ClientConfig
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    IncompleteStreamError,
    RateLimitError,
    RunAPIError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
    error_from_response,
    error_from_stream_payload,
    parse_retry_after,
)
from ._options import NOT_GIVEN, RequestOptions, split_request_options
from ._pricing import Cost, Price, cost_of, token_counts
from ._sse import ServerSentEvent, SSEDecoder
from ._streaming import StreamAccumulator, completion_as_chunk
from ._types import ChatCompletion, ChatCompletionChunk, Model, Usage
from ._usage import check_budgets, record_usage
from ._validate import encode_json, validate_chat_request

__all__ = [
    "AsyncChatStream",
    "AsyncRunAPIClient",
    "ChatResult",
    "ChatStream",
    "EmbeddingResult",
    "RunAPIClient",
]

logger = logging.getLogger("runapi_client")

VERSION = "0.1.0"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 60.0
"""A server asking us to wait longer than this gets its error raised at once, not a nap."""


@dataclass(slots=True)
class ChatResult:
    """A finished call: the wire response, what it cost, and the id to quote to support.

    ``tokens`` is ``token_counts(usage)`` (None without usage), computed once for the cost and
    usage tracking and kept for the adapters.
    """

    completion: ChatCompletion
    cost: Cost | None
    request_id: str | None
    tokens: dict[str, int] | None = None

    @property
    def usage(self) -> Usage | None:
        return self.completion.get("usage")


@dataclass(slots=True)
class EmbeddingResult:
    """One ``/embeddings`` call: vectors in input order, the wire response, cost, request id."""

    vectors: list[list[float]]
    response: dict[str, Any]
    cost: Cost | None
    request_id: str | None

    @property
    def usage(self) -> Usage | None:
        usage = self.response.get("usage")
        return usage if isinstance(usage, dict) else None  # type: ignore[return-value]


_OPTION_CLIENTS = 16
_C = TypeVar("_C", bound="_Base")


def _backoff(attempt: int) -> float:
    # Exponential with jitter, so a crowd of clients does not retry in lockstep.
    return float(min(INITIAL_BACKOFF * 2.0**attempt, MAX_BACKOFF) * (1 - 0.25 * random.random()))


def _retryable(err: RunAPIError) -> bool:
    if isinstance(err, APIConnectionError):
        return True
    if err.status_code is not None:
        return err.status_code in RETRYABLE_STATUS
    # An error a 200 answer reported in its body has no status of its own: its class, chosen
    # from its code, says which status it stands for (1305 overloaded is a ServerError, like a
    # 503; 1211 unknown model a NotFoundError, like a 404, so final).
    return isinstance(err, (RateLimitError, ServerError))


def _retry_delay(
    attempt: int, max_retries: int, err: RunAPIError, headers: Mapping[str, str] | None
) -> float | None:
    """Seconds to wait before the next attempt, or None when the error is final."""
    if attempt >= max_retries or not _retryable(err):
        return None
    hint = parse_retry_after(headers) if headers is not None else None
    if hint is None:
        return _backoff(attempt)
    return hint if hint <= MAX_RETRY_AFTER else None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        data = response.json()
    except (ValueError, RecursionError):  # deeply nested JSON exhausts the recursion limit
        return None
    return data if isinstance(data, dict) else None


def _is_error_envelope(data: Mapping[str, Any]) -> bool:
    """A JSON answer that is an error, not a result (``{"error": ...}`` with no ``choices``
    or ``data``): some gateways pass an upstream failure through with HTTP 200."""
    return bool(data.get("error")) and not (data.get("choices") or data.get("data"))


def _is_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("content-type", "")


def _transport_error(exc: Exception, what: str) -> RunAPIError:
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__
        return APITimeoutError(
            f"{what} timed out ({kind}). Raise timeout=... if the model needs longer to answer."
        )
    return APIConnectionError(
        f"{what} failed: could not reach RunAPI ({type(exc).__name__}: {exc})."
    )


def _empty_stream_retry(state: _StreamState, attempt: list[int], client: _Base) -> float | None:
    """A 200 stream that ended before its first event delivered nothing: it is a failed request,
    not a cut answer, so it is retried like one (a gateway whose upstream died before the first
    token). Returns the delay before the retry, or None to end the stream as it is."""
    if state.accumulator.chunks or state.accumulator.complete:
        return None
    delay = _retry_delay(attempt[0], client.max_retries, _EMPTY_STREAM, None)
    if delay is not None:
        attempt[0] += 1
        state.decoder = SSEDecoder()
        logger.info(
            "RunAPI stream ended before its first event; retry %d in %.2fs", attempt[0], delay
        )
    return delay


_EMPTY_STREAM = APIConnectionError("The stream ended before its first event.")


def _stream_broken(exc: Exception, state: _StreamState) -> RunAPIError:
    """A connection lost mid-stream: both an ``IncompleteStreamError`` (the answer is cut short,
    ``partial`` holds it) and an ``APIConnectionError``/``APITimeoutError`` (the cause)."""
    cls = StreamTimeoutError if isinstance(exc, httpx.TimeoutException) else StreamInterruptedError
    partial = state.accumulator.completion()
    state.record_partial(partial)
    return cls(
        f"The stream broke after {state.accumulator.chunks} chunks ({type(exc).__name__}"
        f"{': ' + str(exc) if str(exc) else ''}). Every chunk received was delivered; `partial` "
        "holds them joined. It is not retried, since part of the answer is already out.",
        partial=partial,
        request_id=state.request_id,
    )


def _ended_after_finish(exc: Exception, state: _StreamState) -> bool:
    """Whether a connection lost after the finish chunk ends the stream normally; if so, end it.

    It does: the finish reason says the answer is whole, and ``end()`` already accepts a body
    that stops there without ``[DONE]``; a connection dropped at that point differs only in how
    the missing terminator went missing. Raising would throw away a complete answer the server
    billed (its usage, on the finish chunk or just after, is recorded as for any stream). A
    normalised stream cut between its finish chunk and its usage chunk ends the same way, its
    cost unknown, as it would if the server had closed cleanly there.
    """
    if not state.accumulator.complete:
        return False
    logger.info(
        "RunAPI stream lost its connection after the finish chunk, before [DONE] (%s); "
        "the answer is complete",
        type(exc).__name__,
    )
    state.end()
    return True


class _Base:
    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        prices: Mapping[str, Price] | None = None,
        config: ClientConfig | None = None,
    ) -> None:
        self.config = config or ClientConfig.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self.prices: dict[str, Price] = dict(prices or {})
        self._headers = {
            "Authorization": f"Bearer {self.config.api_key.get_secret_value()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"runapi-integrations/{VERSION} httpx/{httpx.__version__}",
            **dict(self.config.default_headers),
        }
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}
        self._direct: dict[tuple[str, bool], tuple[httpx.URL, httpx.Headers]] = {}
        self._timeout_extension = {"timeout": httpx.Timeout(self.config.timeout).as_dict()}
        # The timeout for a client the caller gave us: its own, unless a request's timeout=
        # option says otherwise (requests on our pools carry _timeout_extension instead).
        self._send_timeout: httpx.Timeout | Any = httpx.USE_CLIENT_DEFAULT
        self._option_clients: dict[tuple[RequestOptions, object], _Base] = {}

    def _keep_option_client(self, options: RequestOptions, http: object, clone: _C) -> _C:
        """Keep ``clone`` for the next request with the same options on the same httpx client:
        options set through ``bind()``/``model_kwargs`` come with every call, and building a
        client costs ~30 µs. Keyed by the httpx client too, so a reopened pool or another event
        loop's gets a clone of its own; a handful at most."""
        if len(self._option_clients) >= _OPTION_CLIENTS:
            self._option_clients.clear()
        self._option_clients[(options, http)] = clone
        return clone

    def _config_with(self, options: RequestOptions) -> ClientConfig:
        """This client's config as changed by one request's options."""
        headers = self.config.default_headers
        if options.headers:
            # Header names are case-insensitive: X-Trace per request replaces x-trace.
            merged = {name.lower(): (name, value) for name, value in headers}
            extra = options.headers  # pairs, once __post_init__ has run
            pairs = extra.items() if isinstance(extra, Mapping) else extra
            merged.update((name.lower(), (name, value)) for name, value in pairs)
            headers = tuple(sorted(merged.values()))
        timeout = self.config.timeout if options.timeout is NOT_GIVEN else options.timeout
        return dataclasses.replace(self.config, default_headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r}, api_key='**********')"

    @property
    def max_retries(self) -> int:
        return self.config.max_retries

    def _url(self, path: str) -> str:
        return f"{self.config.base_url}{path}"

    def _direct_request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        content: bytes | None,
        stream: bool,
    ) -> httpx.Request:
        """The request ``http.build_request`` would make, from a URL and headers merged once."""
        parts = self._direct.get((path, stream))
        if parts is None:
            headers = httpx.Headers(http.headers)
            headers.update(self._stream_headers if stream else self._headers)
            parts = self._direct[(path, stream)] = (httpx.URL(self._url(path)), headers)
        return httpx.Request(
            method, parts[0], content=content, headers=parts[1], extensions=self._timeout_extension
        )

    def _redact(self, body: bytes | str) -> bytes | str:
        """``body`` with the key blanked out. Some servers echo the key back ("Incorrect API key
        provided: sk-..."), and an error's body ends up in its message, its ``.body``, logs and
        tracebacks; so every error built from what a server sent goes through here."""
        key = self.config.api_key.get_secret_value()
        if isinstance(body, bytes):
            raw = key.encode()
            return body.replace(raw, b"**********") if raw and raw in body else body
        return body.replace(key, "**********") if key and key in body else body

    def _error_of(self, status: int, headers: Mapping[str, str], body: bytes | str) -> RunAPIError:
        """The typed error for an HTTP error status (or a 200 body that is no answer)."""
        return error_from_response(status, headers, self._redact(body))

    def _payload_error(
        self,
        payload: bytes | str,
        request_id: str | None,
        *,
        where: str = "inside the stream",
        unknown: type[RunAPIError] = ServerError,
    ) -> RunAPIError:
        """The typed error for an error a 200 answer reported in its body or its stream."""
        return error_from_stream_payload(
            self._redact(payload), request_id, where=where, unknown=unknown
        )

    def _answer_or_error(self, response: httpx.Response) -> dict[str, Any] | RunAPIError:
        """The JSON object a 200 answered, or the error it stands for: a body that is not a
        JSON object (a proxy's HTML page) is a 502 ``ServerError``; a JSON error envelope is
        the typed error it describes (a gateway passing an upstream failure through as 200)."""
        data = _json_object(response)
        if data is None:
            return self._error_of(502, response.headers, response.content)
        if _is_error_envelope(data):
            # A whole answer that is an error says nothing of being transient ("Bad input"):
            # unless its code says otherwise, it is not retried.
            return self._payload_error(
                response.content,
                response.headers.get("x-request-id"),
                where="in a 200 answer",
                unknown=APIStatusError,
            )
        return data

    def cost_of(
        self,
        model: str,
        usage: Usage | Mapping[str, Any] | None,
        counts: Mapping[str, int] | None = None,
        *,
        warn: bool = True,
    ) -> Cost | None:
        return cost_of(model, usage, overrides=self.prices, counts=counts, warn=warn)

    def _prepare(self, body: Mapping[str, Any], *, stream: bool) -> bytes:
        validate_chat_request(body)
        check_budgets()
        if stream:
            body = {**body, "stream": True}
            if "stream_options" not in body:
                body["stream_options"] = {"include_usage": True}
        elif body.get("stream"):
            body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        return encode_json(body)

    def _finish(
        self, completion: ChatCompletion, request_model: str, request_id: str | None
    ) -> ChatResult:
        model = completion.get("model")
        if not isinstance(model, str) or not model:  # a server may send junk; price what we asked
            model = request_model
        usage = completion.get("usage")
        counts = token_counts(usage) if usage else None
        cost = self.cost_of(model, usage, counts) if usage else None
        # A finished call counts even without usage (a successful request; its cost unknown).
        record_usage(model, usage, cost, counts)
        return ChatResult(completion=completion, cost=cost, request_id=request_id, tokens=counts)

    def _prepare_embeddings(self, body: Mapping[str, Any]) -> bytes:
        model = body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(
                "model must be a non-empty string such as 'text-embedding-3-small'."
            )
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            raise ConfigurationError(
                "input must be a non-empty string or list of strings to embed."
            )
        check_budgets()
        return encode_json(body)

    def _finish_embeddings(
        self, response: Any, request_model: str, request_id: str | None
    ) -> EmbeddingResult:
        if not isinstance(response, dict) or not isinstance(response.get("data"), list):
            # Blanked before it is cut: a key straddling the cut would keep its first half.
            raise self._error_of(502, {}, self._redact(json.dumps(response))[:500])
        model = response.get("model") or request_model
        usage = response.get("usage")
        if usage:
            counts = token_counts(usage)
            cost = self.cost_of(model, usage, counts, warn=False)
            record_usage(model, usage, cost, counts)
        else:
            cost = None
        vectors = [
            item["embedding"] for item in sorted(response["data"], key=lambda d: d.get("index", 0))
        ]
        return EmbeddingResult(vectors=vectors, response=response, cost=cost, request_id=request_id)


class _StreamState:
    """What sync and async streams share: event -> chunk, accumulation, the end-of-stream check."""

    __slots__ = ("accumulator", "client", "decoder", "request_id", "request_model", "result")

    def __init__(self, client: _Base, request_model: str) -> None:
        self.client = client
        self.request_model = request_model
        self.accumulator = StreamAccumulator()
        self.decoder = SSEDecoder()
        self.request_id: str | None = None
        self.result: ChatResult | None = None

    def _shown(self, data: str) -> str:
        """An event quoted in an error message: its start, without the key."""
        return repr(self.client._redact(data)[:200])

    def chunk_of(self, event: ServerSentEvent) -> ChatCompletionChunk | None:
        """Parse one event; None for ``[DONE]``; raise for an error event or a malformed one."""
        data = event.data
        if data == "[DONE]":
            self.accumulator.saw_done = True
            return None
        if event.event == "error":
            raise self.client._payload_error(data, self.request_id)
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            raise IncompleteStreamError(
                f"RunAPI sent a stream event that is not JSON ({self._shown(data)}); the stream "
                "cannot be trusted past this point.",
                partial=self.accumulator.completion(),
                request_id=self.request_id,
            ) from None
        if not isinstance(chunk, dict):
            raise IncompleteStreamError(
                f"RunAPI sent a stream event that is not an object ({self._shown(data)}).",
                partial=self.accumulator.completion(),
                request_id=self.request_id,
            )
        if "error" in chunk and not chunk.get("choices"):
            raise self.client._payload_error(data, self.request_id)
        try:
            self.accumulator.add(chunk)  # type: ignore[arg-type]
        except (TypeError, AttributeError, ValueError) as exc:
            raise IncompleteStreamError(
                f"RunAPI sent a stream chunk of an unexpected shape ({exc}): {self._shown(data)}",
                partial=self.accumulator.completion(),
                request_id=self.request_id,
            ) from None
        return chunk  # type: ignore[return-value]

    def record_partial(self, completion: ChatCompletion) -> None:
        """Count a stream that did not end normally, if its usage arrived: the server billed it
        (``track_usage`` totals and ``max_cost`` budgets see it)."""
        if self.accumulator.usage:
            self.client._finish(completion, self.request_model, self.request_id)

    def json_answer(self, response: httpx.Response) -> ChatCompletionChunk | RunAPIError | None:
        """A stream request answered with a JSON body instead of events (call after reading it):
        the error it describes (a gateway reporting a failure as 200); or, for a whole
        completion (a server that ignores ``stream: true``), the answer as one chunk, the stream
        then complete; None if the body is neither."""
        answer = self.client._answer_or_error(response)
        if isinstance(answer, RunAPIError):
            return answer
        if not isinstance(answer.get("choices"), list):
            return None
        chunk = completion_as_chunk(answer)
        self.accumulator.add(chunk)  # type: ignore[arg-type]
        self.accumulator.saw_done = True
        return chunk  # type: ignore[return-value]

    def end(self) -> ChatResult:
        acc = self.accumulator
        completion = acc.completion()
        if not acc.complete:
            self.record_partial(completion)
            raise IncompleteStreamError(
                f"The stream ended after {acc.chunks} chunks without a finish reason or [DONE]: "
                "the answer is cut short. The deltas received were all delivered; `partial` "
                "holds them joined.",
                partial=completion,
                request_id=self.request_id,
            )
        self.result = self.client._finish(completion, self.request_model, self.request_id)
        return self.result


class _StreamBase:
    _state: _StreamState

    @property
    def accumulator(self) -> StreamAccumulator:
        return self._state.accumulator

    @property
    def result(self) -> ChatResult | None:
        """Set once the stream has ended normally."""
        return self._state.result

    @property
    def request_id(self) -> str | None:
        return self._state.request_id


# ----------------------------------------------------------------------------------------- sync


class RunAPIClient(_Base):
    """Synchronous client. Instances with equal settings share one connection pool.

    ``http_client`` (or ``transport``) replaces the shared pool, e.g. ``httpx.MockTransport``
    in tests; the caller then owns its lifetime.
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if transport is not None and http_client is None:
            http_client = httpx.Client(
                transport=transport, timeout=httpx.Timeout(self.config.timeout)
            )
        self._http_client = http_client

    @property
    def http(self) -> httpx.Client:
        return self._http_client or _pool.sync_http_client(self.config.pool_key)

    def close(self) -> None:
        """Release the sockets. Another call later opens a fresh pool."""
        if self._http_client is not None:
            self._http_client.close()
        else:
            _pool.close_sync_http_client(self.config.pool_key)

    def __enter__(self) -> RunAPIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self, method: str, path: str, content: bytes | None, *, stream: bool, attempt: list[int]
    ) -> httpx.Response:
        """Send with retries; ``attempt`` is shared with the caller so a stream's reconnects
        count against the same ``max_retries``."""
        http = self.http
        direct = _pool.direct_transport(http)
        headers = self._stream_headers if stream else self._headers
        url = self._url(path)
        while True:
            err: RunAPIError
            response_headers: Mapping[str, str] | None = None
            try:
                if isinstance(direct, httpx.BaseTransport):
                    request = self._direct_request(http, method, path, content, stream)
                    response = direct.handle_request(request)
                    response.request = request
                    if not stream:
                        try:
                            response.read()
                        except BaseException:
                            response.close()
                            raise
                else:
                    request = http.build_request(
                        method, url, content=content, headers=headers, timeout=self._send_timeout
                    )
                    response = http.send(request, stream=stream)
            except httpx.TransportError as exc:
                err = _transport_error(exc, f"{method} {path}")
                cause: BaseException = exc
            else:
                if response.status_code < 400:
                    return response
                try:
                    body = response.read()
                except httpx.TransportError:
                    body = b""
                finally:
                    response.close()
                err = self._error_of(response.status_code, response.headers, body)
                response_headers = response.headers
                cause = err
            delay = _retry_delay(attempt[0], self.config.max_retries, err, response_headers)
            if delay is None:
                raise err from (None if cause is err else cause)
            attempt[0] += 1
            logger.info(
                "RunAPI %s %s failed (%s); retry %d in %.2fs",
                method,
                path,
                type(err).__name__,
                attempt[0],
                delay,
            )
            time.sleep(delay)

    def _send_json(
        self, method: str, path: str, content: bytes | None
    ) -> tuple[dict[str, Any], httpx.Response]:
        """Send with retries and return the JSON object answered; a 200 whose body is not one
        (a proxy's HTML page) is a retryable 502 ``ServerError``, one that is an error envelope
        the error it describes (see ``_answer_or_error``)."""
        attempt = [0]
        while True:
            response = self._send(method, path, content, stream=False, attempt=attempt)
            answer = self._answer_or_error(response)
            if not isinstance(answer, RunAPIError):
                return answer, response
            err = answer
            delay = _retry_delay(attempt[0], self.config.max_retries, err, response.headers)
            if delay is None:
                raise err from None
            attempt[0] += 1
            time.sleep(delay)

    def with_options(self, options: RequestOptions) -> RunAPIClient:
        """A client for one request with ``options`` applied, on the same connections."""
        # The same httpx client: a pool's requests carry their own timeout, so a per-request
        # timeout needs no pool of its own.
        http = self.http
        cached = self._option_clients.get((options, http))
        if cached is not None:
            return cached  # type: ignore[return-value]
        clone = RunAPIClient(
            config=self._config_with(options), prices=self.prices, http_client=http
        )
        if options.timeout is not NOT_GIVEN:
            clone._send_timeout = httpx.Timeout(options.timeout)
        return self._keep_option_client(options, http, clone)

    def chat_completion(self, body: Mapping[str, Any]) -> ChatResult:
        """``POST /chat/completions`` (not streamed). The OpenAI SDK's request options in
        ``body`` (``extra_body``, ``extra_headers``, ``timeout``) apply as they do there."""
        body, options = split_request_options(body)
        if options is not None:
            return self.with_options(options).chat_completion(body)
        content = self._prepare(body, stream=False)
        completion, response = self._send_json("POST", "/chat/completions", content)
        return self._finish(
            completion,  # type: ignore[arg-type]
            body["model"],
            response.headers.get("x-request-id"),
        )

    def stream_chat_completion(self, body: Mapping[str, Any]) -> ChatStream:
        """``POST /chat/completions`` with ``stream: true``; iterate the returned stream."""
        body, options = split_request_options(body)
        if options is not None:
            return self.with_options(options).stream_chat_completion(body)
        content = self._prepare(body, stream=True)
        return ChatStream(self, content, body["model"])

    def embeddings(self, body: Mapping[str, Any]) -> EmbeddingResult:
        """``POST /embeddings`` for one batch (see ``embed_texts`` for batching)."""
        content = self._prepare_embeddings(body)
        data, response = self._send_json("POST", "/embeddings", content)
        return self._finish_embeddings(data, body["model"], response.headers.get("x-request-id"))

    def list_models(self) -> list[Model]:
        data, _ = self._send_json("GET", "/models", None)
        return list(data.get("data") or [])


class ChatStream(_StreamBase):
    """An iterator of chunks. Breaking out of it, or ``close()``, releases the connection.

    If the stream ends early, every chunk received is yielded first and then
    :class:`IncompleteStreamError` is raised. Connection failures before the first chunk are
    retried; after it, never (the caller already holds part of the answer).
    """

    def __init__(self, client: RunAPIClient, content: bytes, request_model: str) -> None:
        self._client = client
        self._content = content
        self._state = _StreamState(client, request_model)
        self._iterator = self._iterate()

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self._iterator

    def __next__(self) -> ChatCompletionChunk:
        return next(self._iterator)

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._iterator.close()  # its finally closes the response

    def _iterate(self) -> Generator[ChatCompletionChunk, None, None]:
        # Keep no reference to self in this frame: a stream <-> generator cycle would hold the
        # socket open after `for chunk in stream: break` until the garbage collector ran.
        state, client, content = self._state, self._client, self._content
        del self
        attempt = [0]
        delivered = False
        while True:
            response = client._send(
                "POST", "/chat/completions", content, stream=True, attempt=attempt
            )
            state.request_id = response.headers.get("x-request-id")
            try:
                if _is_json(response):
                    response.read()
                    answer = state.json_answer(response)
                    if isinstance(answer, RunAPIError):
                        delay = _retry_delay(
                            attempt[0], client.max_retries, answer, response.headers
                        )
                        if delay is None:
                            raise answer
                        attempt[0] += 1
                        time.sleep(delay)
                        continue
                    if answer is not None:
                        yield answer
                        state.end()
                        return
                for raw in response.iter_bytes():
                    for event in state.decoder.feed(raw):
                        chunk = state.chunk_of(event)
                        if chunk is None:
                            state.end()
                            return
                        delivered = True
                        yield chunk
                for event in state.decoder.close():
                    chunk = state.chunk_of(event)
                    if chunk is None:
                        break
                    delivered = True
                    yield chunk
                delay = None if delivered else _empty_stream_retry(state, attempt, client)
                if delay is None:
                    state.end()
                    return
                time.sleep(delay)
            except httpx.TransportError as exc:
                if delivered and _ended_after_finish(exc, state):
                    return
                err = _transport_error(exc, "Reading the stream")
                delay = (
                    None if delivered else _retry_delay(attempt[0], client.max_retries, err, None)
                )
                if delay is None:
                    if delivered:
                        raise _stream_broken(exc, state) from exc
                    raise err from exc
                attempt[0] += 1
                state.decoder = SSEDecoder()
                time.sleep(delay)
            finally:
                response.close()


# ---------------------------------------------------------------------------------------- async


class AsyncRunAPIClient(_Base):
    """Asynchronous client. One pool per configuration and event loop, so ``asyncio.run`` twice
    in a script, or a notebook, keeps working."""

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._transport = transport
        self._http_client = http_client

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http_client is None and self._transport is not None:
            self._http_client = httpx.AsyncClient(
                transport=self._transport, timeout=httpx.Timeout(self.config.timeout)
            )
        return self._http_client or _pool.async_http_client(self.config.pool_key)

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.aclose()
        else:
            await _pool.close_async_http_client(self.config.pool_key)

    async def __aenter__(self) -> AsyncRunAPIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(
        self, method: str, path: str, content: bytes | None, *, stream: bool, attempt: list[int]
    ) -> httpx.Response:
        http = self.http
        direct = _pool.direct_transport(http)
        headers = self._stream_headers if stream else self._headers
        url = self._url(path)
        while True:
            err: RunAPIError
            response_headers: Mapping[str, str] | None = None
            try:
                if isinstance(direct, httpx.AsyncBaseTransport):
                    request = self._direct_request(http, method, path, content, stream)
                    response = await direct.handle_async_request(request)
                    response.request = request
                    if not stream:
                        try:
                            await response.aread()
                        except BaseException:
                            await response.aclose()
                            raise
                else:
                    request = http.build_request(
                        method, url, content=content, headers=headers, timeout=self._send_timeout
                    )
                    response = await http.send(request, stream=stream)
            except httpx.TransportError as exc:
                err = _transport_error(exc, f"{method} {path}")
                cause: BaseException = exc
            else:
                if response.status_code < 400:
                    return response
                try:
                    body = await response.aread()
                except httpx.TransportError:
                    body = b""
                finally:
                    await response.aclose()
                err = self._error_of(response.status_code, response.headers, body)
                response_headers = response.headers
                cause = err
            delay = _retry_delay(attempt[0], self.config.max_retries, err, response_headers)
            if delay is None:
                raise err from (None if cause is err else cause)
            attempt[0] += 1
            logger.info(
                "RunAPI %s %s failed (%s); retry %d in %.2fs",
                method,
                path,
                type(err).__name__,
                attempt[0],
                delay,
            )
            await asyncio.sleep(delay)

    async def _send_json(
        self, method: str, path: str, content: bytes | None
    ) -> tuple[dict[str, Any], httpx.Response]:
        attempt = [0]
        while True:
            response = await self._send(method, path, content, stream=False, attempt=attempt)
            answer = self._answer_or_error(response)
            if not isinstance(answer, RunAPIError):
                return answer, response
            err = answer
            delay = _retry_delay(attempt[0], self.config.max_retries, err, response.headers)
            if delay is None:
                raise err from None
            attempt[0] += 1
            await asyncio.sleep(delay)

    def with_options(self, options: RequestOptions) -> AsyncRunAPIClient:
        """A client for one request with ``options`` applied, on the same connections."""
        http = self._http_client
        if http is None and self._transport is None:
            try:  # the same pool, as in the sync twin; a pool needs a running loop to be found
                asyncio.get_running_loop()
                http = self.http
            except RuntimeError:
                pass
        cached = self._option_clients.get((options, http))
        if cached is not None:
            return cached  # type: ignore[return-value]
        clone = AsyncRunAPIClient(
            config=self._config_with(options),
            prices=self.prices,
            http_client=http,
            transport=self._transport,
        )
        if options.timeout is not NOT_GIVEN:
            clone._send_timeout = httpx.Timeout(options.timeout)
        return self._keep_option_client(options, http, clone)

    async def chat_completion(self, body: Mapping[str, Any]) -> ChatResult:
        body, options = split_request_options(body)
        if options is not None:
            return await self.with_options(options).chat_completion(body)
        content = self._prepare(body, stream=False)
        completion, response = await self._send_json("POST", "/chat/completions", content)
        return self._finish(
            completion,  # type: ignore[arg-type]
            body["model"],
            response.headers.get("x-request-id"),
        )

    def stream_chat_completion(self, body: Mapping[str, Any]) -> AsyncChatStream:
        body, options = split_request_options(body)
        if options is not None:
            return self.with_options(options).stream_chat_completion(body)
        content = self._prepare(body, stream=True)
        return AsyncChatStream(self, content, body["model"])

    async def embeddings(self, body: Mapping[str, Any]) -> EmbeddingResult:
        content = self._prepare_embeddings(body)
        data, response = await self._send_json("POST", "/embeddings", content)
        return self._finish_embeddings(data, body["model"], response.headers.get("x-request-id"))

    async def list_models(self) -> list[Model]:
        data, _ = await self._send_json("GET", "/models", None)
        return list(data.get("data") or [])


class AsyncChatStream(_StreamBase):
    """Async twin of :class:`ChatStream`; cancelling the consuming task closes the connection."""

    def __init__(self, client: AsyncRunAPIClient, content: bytes, request_model: str) -> None:
        self._client = client
        self._content = content
        self._state = _StreamState(client, request_model)
        self._iterator = self._iterate()

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._iterator

    async def __anext__(self) -> ChatCompletionChunk:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._iterator.aclose()  # its finally closes the response

    async def _iterate(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        # Keep no reference to self in this frame: a stream <-> generator cycle would hold the
        # socket open after `for chunk in stream: break` until the garbage collector ran.
        state, client, content = self._state, self._client, self._content
        del self
        attempt = [0]
        delivered = False
        while True:
            response = await client._send(
                "POST", "/chat/completions", content, stream=True, attempt=attempt
            )
            state.request_id = response.headers.get("x-request-id")
            try:
                if _is_json(response):
                    await response.aread()
                    answer = state.json_answer(response)
                    if isinstance(answer, RunAPIError):
                        delay = _retry_delay(
                            attempt[0], client.max_retries, answer, response.headers
                        )
                        if delay is None:
                            raise answer
                        attempt[0] += 1
                        await asyncio.sleep(delay)
                        continue
                    if answer is not None:
                        yield answer
                        state.end()
                        return
                async for raw in response.aiter_bytes():
                    for event in state.decoder.feed(raw):
                        chunk = state.chunk_of(event)
                        if chunk is None:
                            state.end()
                            return
                        delivered = True
                        yield chunk
                for event in state.decoder.close():
                    chunk = state.chunk_of(event)
                    if chunk is None:
                        break
                    delivered = True
                    yield chunk
                delay = None if delivered else _empty_stream_retry(state, attempt, client)
                if delay is None:
                    state.end()
                    return
                await asyncio.sleep(delay)
            except httpx.TransportError as exc:
                if delivered and _ended_after_finish(exc, state):
                    return
                err = _transport_error(exc, "Reading the stream")
                delay = (
                    None if delivered else _retry_delay(attempt[0], client.max_retries, err, None)
                )
                if delay is None:
                    if delivered:
                        raise _stream_broken(exc, state) from exc
                    raise err from exc
                attempt[0] += 1
                state.decoder = SSEDecoder()
                await asyncio.sleep(delay)
            finally:
                await response.aclose()
