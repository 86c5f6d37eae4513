"""Sync and async clients: thin shells that do the I/O the request machine (``_machine``) asks.

Each public method prepares the request (the policy: ``policy.prepare_request``), checks and
encodes it, and hands a :class:`~runapi_client._machine.Call` to a shell: send, read, sleep
between attempts, raise what the machine decided. The two shells differ only by ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from . import _pool
from ._account import BALANCE_PATH, ME_PATH, Account, Balance, read_account, read_balance
from ._config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientConfig,
    check_prices,
    mask_url,
    url_for,
)
from ._hooks import CallHooks, call_hooks
from ._live_prices import LivePrices, live_prices
from ._machine import (
    DONE,
    Call,
    ChatCall,
    StreamCall,
    TurnSteps,
    Wait,
    WaitForFreeTurn,
    answer_of,
)
from ._options import NOT_GIVEN, RequestOptions
from ._pacer import Pacer, Turn, origin_of, pacer_for
from ._pricing import Cost, Price, cost_of, token_counts
from ._secret import seal
from ._sse import DEFAULT_MAX_EVENT_BYTES
from ._streaming import StreamAccumulator
from ._types import ChatCompletion, ChatCompletionChunk, Model, Usage
from ._usage import check_budgets, record_usage
from ._validate import encode_json, validate_chat_request
from ._version import __version__
from .errors import (
    ConfigurationError,
    RunAPIError,
    ServerError,
    error_from_response,
    error_from_stream_payload,
)
from .policy import PreparedRequest, prepare_request

__all__ = [
    "AsyncChatStream",
    "AsyncRunAPIClient",
    "ChatResult",
    "ChatStream",
    "EmbeddingResult",
    "RunAPIClient",
]

_OPTION_CLIENTS = 16
_C = TypeVar("_C", bound="_Base")


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


class _Base:
    """What both clients share: settings, request parts, errors, cost and usage records."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        prices: Mapping[str, Price] | str | None = None,
        config: ClientConfig | None = None,
        total_timeout: float | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        pacing: bool = True,
        max_concurrency: int | None = None,
        price_list_url: str | None = None,
        price_list_ttl: float | None = None,
    ) -> None:
        api_key = seal(api_key)  # the plain key is not left in this frame's locals
        # prices: a price per model (overrides), or where prices come from ("live", "built-in").
        mode = prices if isinstance(prices, str) else None
        self.config = config or ClientConfig.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            total_timeout=total_timeout,
            max_event_bytes=max_event_bytes,
            pacing=pacing,
            max_concurrency=max_concurrency,
            prices=mode,
            price_list_url=price_list_url,
            price_list_ttl=price_list_ttl,
        )
        if config is not None and mode is not None:
            self.config = dataclasses.replace(config, prices=check_prices(mode))
        self.prices: dict[str, Price] = {} if isinstance(prices, str) else dict(prices or {})
        # RunAPI's price list, shared by the process (loaded once per model, on first use).
        self._live: LivePrices | None = (
            live_prices(self.config.price_list_url) if self.config.prices == "live" else None
        )
        # No Authorization here: it is added to each request as it is sent and taken off it
        # once sent, so no object a traceback can reach holds the key in plain text.
        self._headers: dict[str, str] = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"runapi-integrations/{__version__} httpx/{httpx.__version__}",
            **dict(self.config.default_headers),
        }
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}
        # (path, stream, direct) -> (URL, headers): merged once per client, not per request.
        self._parts: dict[tuple[str, bool, bool], tuple[httpx.URL, list[tuple[str, str]]]] = {}
        self._timeout_extension = {"timeout": httpx.Timeout(self.config.timeout).as_dict()}
        # The timeout for a client the caller gave us: its own, unless a request's timeout=
        # option says otherwise (requests on our pools carry _timeout_extension instead).
        self._send_timeout: httpx.Timeout | Any = httpx.USE_CLIENT_DEFAULT
        self._option_clients: dict[tuple[RequestOptions, object], _Base] = {}
        self.pacer: Pacer | None = (
            pacer_for(origin_of(self.config.base_url), self.config.key_digest)
            if self.config.pacing
            else None
        )
        """The pace shared by every client in the process on this key (``stats()`` says it);
        None with ``pacing=False``."""

    def _turn_taken(self, call: Call, turn: Turn | None, failed: bool) -> None:
        """Give ``turn`` back to the pacer, saying what the attempt learned (nothing if it
        ended in an exception: cancelled, or its request never went out)."""
        if turn is None or self.pacer is None:
            return
        if failed:
            self.pacer.give_back(turn)
        else:
            self.pacer.done(turn, limited=call.limited, hint=call.hint)
        call.limited, call.hint = False, None

    def __repr__(self) -> str:
        # Safe on an object whose __init__ failed: error trackers repr every frame's locals.
        config = getattr(self, "config", None)
        base_url = mask_url(config.base_url) if config is not None else None
        return f"{type(self).__name__}(base_url={base_url!r}, api_key='**********')"

    @property
    def max_retries(self) -> int:
        return self.config.max_retries

    # ------------------------------------------------------------------------------ options

    def _keep_option_client(self, options: RequestOptions, http: object, clone: _C) -> _C:
        """Keep ``clone`` for the next request with the same options on the same httpx client:
        options set through ``bind()``/``model_kwargs`` come with every call. Keyed by the
        httpx client too, so a reopened pool or another event loop's gets a clone of its own;
        a handful at most."""
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

    # ----------------------------------------------------------------------------- requests

    def _request(
        self, http: httpx.Client | httpx.AsyncClient, call: Call, direct: bool
    ) -> httpx.Request:
        """The request for ``call``, its ``Authorization`` added now (see ``__init__``)."""
        key = (call.path, call.stream, direct)
        parts = self._parts.get(key)
        if parts is None:
            ours = self._stream_headers if call.stream else self._headers
            # A pooled client's own defaults (httpx's User-Agent is replaced by ours) are what
            # http.build_request would merge in; a caller's client merges its own.
            merged = dict(http.headers) if direct else {}
            merged.update({name.lower(): value for name, value in ours.items()})
            url = httpx.URL(url_for(self.config.base_url, call.path))
            parts = self._parts[key] = (url, list(merged.items()))
        url, headers = parts
        auth = ("authorization", f"Bearer {self.config.api_key.get_secret_value()}")
        if direct:
            extensions = self._timeout_extension
            if call.deadline is not None:  # no wait may go past the call's deadline
                extensions = {"timeout": call.timeouts(extensions["timeout"])}
            return httpx.Request(
                call.method,
                url,
                content=call.content,
                headers=[*headers, auth],
                extensions=extensions,
            )
        timeout = self._send_timeout
        if call.deadline is not None:
            given = http.timeout if timeout is httpx.USE_CLIENT_DEFAULT else timeout
            timeout = httpx.Timeout(**call.timeouts(given.as_dict()))
        return http.build_request(
            call.method, url, content=call.content, headers=[*headers, auth], timeout=timeout
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

    def _redact_text(self, text: str) -> str:
        return str(self._redact(text))

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

    # ------------------------------------------------------------------------ cost and usage

    def _live_table(self) -> dict[str, Price] | None:
        """The live prices loaded so far (by model key), for a client with ``prices="live"``."""
        return self._live.table if self._live is not None else None

    def _around(self, call: Call, body: Mapping[str, Any] | None = None) -> CallHooks:
        """What runs at the start and the end of ``call`` (see ``_hooks``)."""
        return call_hooks(self, call, body)

    def cost_of(
        self,
        model: str,
        usage: Usage | Mapping[str, Any] | None,
        counts: Mapping[str, int] | None = None,
        *,
        warn: bool = True,
        requested_model: str | None = None,
    ) -> Cost | None:
        return cost_of(
            model,
            usage,
            overrides=self.prices,
            counts=counts,
            warn=warn,
            requested_model=requested_model,
            live=self._live_table(),
        )

    def _account(
        self, model: Any, usage: Mapping[str, Any] | None, requested: Any
    ) -> tuple[Cost | None, dict[str, int] | None]:
        """The cost and token counts of a finished call, counted in the active usage trackers
        (a call counts even without usage: its cost is then unknown)."""
        requested = requested if isinstance(requested, str) else ""
        if not isinstance(model, str) or not model:  # a server may send junk: use what we asked
            model = requested
        counts = token_counts(usage) if usage else None
        cost = self.cost_of(model, usage, counts, requested_model=requested) if usage else None
        record_usage(model, usage, cost, counts)
        return cost, counts

    def _finish(
        self,
        completion: ChatCompletion,
        prepared: PreparedRequest,
        request_id: str | None,
        *,
        accounted: tuple[Cost | None, dict[str, int] | None] | None = None,
    ) -> ChatResult:
        """The result of a call whose answer arrived whole (or whose stream ended), counted
        now unless it was when its usage arrived (``accounted``: that cost and token count)."""
        completion = answer_of(completion, prepared)  # type: ignore[arg-type]
        if accounted is None:
            accounted = self._account(
                completion.get("model"), completion.get("usage"), prepared.body["model"]
            )
        cost, counts = accounted
        return ChatResult(completion=completion, cost=cost, request_id=request_id, tokens=counts)

    # ---------------------------------------------------------------------------- checking

    @staticmethod
    def _prepared(request: Mapping[str, Any] | PreparedRequest) -> PreparedRequest:
        return request if isinstance(request, PreparedRequest) else prepare_request(request)

    @staticmethod
    def _encode(prepared: PreparedRequest, *, stream: bool) -> bytes:
        body = prepared.body
        validate_chat_request(body)
        check_budgets()
        if stream:
            body = {**body, "stream": True}
            if "stream_options" not in body:
                body["stream_options"] = {"include_usage": True}
        elif body.get("stream"):
            body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        return encode_json(body)

    @staticmethod
    def _encode_embeddings(body: Mapping[str, Any]) -> bytes:
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

    def _embedding_result(
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


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _StreamBase:
    _call: StreamCall

    @property
    def accumulator(self) -> StreamAccumulator:
        return self._call.accumulator

    @property
    def result(self) -> ChatResult | None:
        """Set once the stream has ended normally."""
        return self._call.result

    @property
    def request_id(self) -> str | None:
        return self._call.request_id

    @property
    def cost(self) -> Cost | None:
        """The call's cost, known from the moment its usage arrived (a stream cut short after
        that has one too, though it has no ``result``)."""
        return self._call.accounted[0] if self._call.accounted is not None else None

    @property
    def tokens(self) -> dict[str, int] | None:
        """``token_counts`` of the usage, from the moment it arrived."""
        return self._call.accounted[1] if self._call.accounted is not None else None


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
        if "api_key" in kwargs:  # sealed first: an error below must not find it in kwargs
            kwargs["api_key"] = seal(kwargs["api_key"])
        super().__init__(**kwargs)
        if transport is not None and http_client is None:
            http_client = httpx.Client(
                transport=transport, timeout=httpx.Timeout(self.config.timeout)
            )
        self._http_client = http_client
        self._joined: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http_client is not None:
            return self._http_client
        pool = _pool.sync_http_client(self.config.pool_key)
        if pool is not self._joined:  # once per pool, not per call
            _pool.join(pool, self)
            self._joined = pool
        return pool

    def close(self) -> None:
        """Release the sockets: your ``http_client``'s, or the shared pool's, unless another
        client still uses it (it stays open for them). Another call later opens a fresh pool."""
        if self._http_client is not None:
            self._http_client.close()
        else:
            _pool.close_sync_http_client(self.config.pool_key, self)
            self._joined = None

    def __enter__(self) -> RunAPIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------- the I/O shell

    def _send(self, call: Call) -> httpx.Response:
        """Send ``call``'s request; the response's body is left to read."""
        http = self.http
        direct = _pool.direct_transport(http)
        if isinstance(direct, httpx.BaseTransport):
            request = self._request(http, call, True)
            response = direct.handle_request(request)
            response.request = request
        else:
            request = self._request(http, call, False)
            response = http.send(request, stream=True)
        del request.headers["authorization"]  # sent: not kept where a traceback can reach it
        return response

    def _exchange(self, call: Call) -> tuple[int, httpx.Headers, bytes]:
        response = self._send(call)
        try:
            body = response.read()
        finally:
            response.close()
        return response.status_code, response.headers, body

    def _wait_turn(self, call: Call) -> Turn | None:
        """This call's turn on the key, after what waiting the pacer asks for (``TurnSteps``);
        raises the deadline error if ``total_timeout`` runs out first."""
        if self.pacer is None:
            return None
        steps = TurnSteps(self.pacer, call, self.config.max_concurrency)
        while not isinstance(step := steps.step(), Turn):
            if not isinstance(step, WaitForFreeTurn):
                time.sleep(step)
                continue
            freed = threading.Event()

            def wake(freed: threading.Event = freed) -> bool:
                freed.set()
                return True  # a waiting thread is never gone: it looks again when woken

            forget = self.pacer.wait_for(wake)
            try:
                freed.wait(step.timeout)
            finally:
                forget()
        return step

    @contextlib.contextmanager
    def _reserved(self, call: Call) -> Iterator[None]:
        """Inside, the call holds its reservation on the ``max_cost`` budgets around it
        (waiting for calls in flight to settle if it does not fit yet)."""
        reservation = call.reservation()
        if reservation is None:
            yield
            return
        while (wait := reservation.take()) is not None:
            time.sleep(wait)
        try:
            yield
        finally:
            reservation.release()

    def _call(self, call: Call) -> tuple[dict[str, Any], httpx.Headers]:
        """The JSON answer of a call (not streamed), after what retries it takes."""
        while True:
            headers: httpx.Headers | None = None
            outcome: dict[str, Any] | Wait | RunAPIError
            turn = self._wait_turn(call)
            try:
                status, headers, body = self._exchange(call)
                if (late := call.expired()) is not None:  # a body that took past the deadline
                    raise late
            except httpx.TransportError as exc:
                outcome = call.lost(exc)
            except BaseException:
                self._turn_taken(call, turn, failed=True)
                raise
            else:
                outcome = call.answered(status, headers, body)
            self._turn_taken(call, turn, failed=False)
            if isinstance(outcome, Wait):
                time.sleep(outcome.delay)
            elif isinstance(outcome, RunAPIError):
                raise outcome
            else:
                assert headers is not None
                return outcome, headers

    def _attempt(self, call: StreamCall) -> Generator[ChatCompletionChunk, None, None]:
        """One attempt of a stream: the chunks it delivers; its outcome is left in ``call``.
        The attempt holds its turn on the key until its response is closed."""
        if (late := call.expired()) is not None:
            call.outcome = late
            return
        try:
            turn = self._wait_turn(call)
        except RunAPIError as late:  # the deadline passed while it waited
            call.outcome = late
            return
        failed = True
        try:
            yield from self._read_attempt(call)
            failed = False
        finally:
            self._turn_taken(call, turn, failed)

    def _read_attempt(self, call: StreamCall) -> Generator[ChatCompletionChunk, None, None]:
        try:
            response = self._send(call)
        except httpx.TransportError as exc:
            call.lost(exc)
            return
        try:
            if not 200 <= response.status_code < 300:
                try:
                    body = response.read()
                except httpx.TransportError:
                    body = b""
                call.refused(response.status_code, response.headers, body)
                return
            call.opened(response.headers)
            try:
                for raw in response.iter_bytes():
                    yield from call.feed(raw)
                    if call.outcome is not None:
                        return
            except httpx.TransportError as exc:
                yield from call.broken(exc)
                return
            yield from call.ended()
        finally:
            response.close()

    def _stream(self, call: StreamCall) -> Generator[ChatCompletionChunk, None, None]:
        with self._around(call), self._reserved(call):
            while True:
                yield from self._attempt(call)
                outcome = call.take_outcome()
                if outcome is DONE:
                    return
                if isinstance(outcome, Wait):
                    time.sleep(outcome.delay)
                    continue
                raise outcome  # type: ignore[misc]

    # ------------------------------------------------------------------------- the methods

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

    def chat_completion(self, request: Mapping[str, Any] | PreparedRequest) -> ChatResult:
        """``POST /chat/completions`` (not streamed). ``request`` is a body (adapted to its
        model by the policy on the way) or a ``PreparedRequest``. The OpenAI SDK's request
        options in the body (``extra_body``, ``extra_headers``, ``timeout``) apply as there."""
        prepared = self._prepared(request)
        client = self if prepared.options is None else self.with_options(prepared.options)
        content = self._encode(prepared, stream=False)
        call = ChatCall(client, "POST", "/chat/completions", content, prepared)
        with client._around(call) as hooks, client._reserved(call):
            completion, headers = client._call(call)
            result = client._finish(completion, prepared, headers.get("x-request-id"))  # type: ignore[arg-type]
            return hooks.done(result)

    def stream_chat_completion(self, request: Mapping[str, Any] | PreparedRequest) -> ChatStream:
        """``POST /chat/completions`` with ``stream: true``; iterate the returned stream."""
        prepared = self._prepared(request)
        client = self if prepared.options is None else self.with_options(prepared.options)
        return ChatStream(client, StreamCall(client, self._encode(prepared, stream=True), prepared))

    def embeddings(self, body: Mapping[str, Any]) -> EmbeddingResult:
        """``POST /embeddings`` for one batch (see ``embed_texts`` for batching)."""
        call = Call(self, "POST", "/embeddings", self._encode_embeddings(body))
        with self._around(call, body) as hooks, self._reserved(call):
            data, headers = self._call(call)
            return hooks.done(
                self._embedding_result(data, body["model"], headers.get("x-request-id"))
            )

    def list_models(self) -> list[Model]:
        data, _ = self._call(Call(self, "GET", "/models", None))
        return list(data.get("data") or [])

    def balance(self) -> Balance:
        """The account's balance and spend in USD (``GET /api/v1/me/balance``, at the base
        URL's root: see ``url_for``), with a chat call's errors and retries."""
        data, _ = self._call(Call(self, "GET", BALANCE_PATH, None))
        return read_balance(data)

    def me(self) -> Account:
        """The account behind the key (``GET /api/v1/me``): whatever fields RunAPI sends."""
        data, _ = self._call(Call(self, "GET", ME_PATH, None))
        return read_account(data, self._redact_text)


class ChatStream(_StreamBase):
    """An iterator of chunks. Breaking out of it, or ``close()``, releases the connection.

    If the stream ends early, every chunk received is yielded first and then
    :class:`IncompleteStreamError` is raised. Failures before the first chunk (a lost
    connection, an error event) are retried; after it, never (the caller already holds part of
    the answer).
    """

    def __init__(self, client: RunAPIClient, call: StreamCall) -> None:
        self._call = call
        # The generator holds the client and the call, not this object: a stream <-> generator
        # cycle would keep the socket open after `for chunk in stream: break` until the
        # garbage collector ran.
        self._iterator = client._stream(call)

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
        if "api_key" in kwargs:
            kwargs["api_key"] = seal(kwargs["api_key"])
        super().__init__(**kwargs)
        self._transport = transport
        self._http_client = http_client
        self._joined: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http_client is None and self._transport is not None:
            self._http_client = httpx.AsyncClient(
                transport=self._transport, timeout=httpx.Timeout(self.config.timeout)
            )
        if self._http_client is not None:
            return self._http_client
        pool = _pool.async_http_client(self.config.pool_key)
        if pool is not self._joined:  # once per pool (one per event loop), not per call
            _pool.join(pool, self)
            self._joined = pool
        return pool

    async def aclose(self) -> None:
        """Release the sockets of this event loop (as ``RunAPIClient.close``)."""
        if self._http_client is not None:
            await self._http_client.aclose()
        else:
            await _pool.close_async_http_client(self.config.pool_key, self)
            self._joined = None

    async def __aenter__(self) -> AsyncRunAPIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ----------------------------------------------------------------------- the I/O shell

    async def _send(self, call: Call) -> httpx.Response:
        http = self.http
        direct = _pool.direct_transport(http)
        if isinstance(direct, httpx.AsyncBaseTransport):
            request = self._request(http, call, True)
            response = await direct.handle_async_request(request)
            response.request = request
        else:
            request = self._request(http, call, False)
            response = await http.send(request, stream=True)
        del request.headers["authorization"]
        return response

    async def _exchange(self, call: Call) -> tuple[int, httpx.Headers, bytes]:
        response = await self._send(call)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return response.status_code, response.headers, body

    async def _wait_turn(self, call: Call) -> Turn | None:
        if self.pacer is None:
            return None
        loop = asyncio.get_running_loop()
        steps = TurnSteps(self.pacer, call, self.config.max_concurrency)
        while not isinstance(step := steps.step(), Turn):
            if not isinstance(step, WaitForFreeTurn):
                await asyncio.sleep(step)
                continue
            freed = loop.create_future()

            def wake(freed: asyncio.Future[None] = freed) -> bool:
                # Called from whichever thread ended a call; False: this waiter is gone.
                if freed.done() or loop.is_closed():
                    return False
                loop.call_soon_threadsafe(_resolve, freed)
                return True

            forget = self.pacer.wait_for(wake)
            try:
                await asyncio.wait([freed], timeout=step.timeout)
            finally:
                forget()
                freed.cancel()
        return step

    @contextlib.asynccontextmanager
    async def _reserved(self, call: Call) -> AsyncIterator[None]:
        reservation = call.reservation()
        if reservation is None:
            yield
            return
        while (wait := reservation.take()) is not None:
            await asyncio.sleep(wait)
        try:
            yield
        finally:
            reservation.release()

    async def _call(self, call: Call) -> tuple[dict[str, Any], httpx.Headers]:
        while True:
            headers: httpx.Headers | None = None
            outcome: dict[str, Any] | Wait | RunAPIError
            turn = await self._wait_turn(call)
            try:
                status, headers, body = await self._exchange(call)
                if (late := call.expired()) is not None:
                    raise late
            except httpx.TransportError as exc:
                outcome = call.lost(exc)
            except BaseException:
                self._turn_taken(call, turn, failed=True)
                raise
            else:
                outcome = call.answered(status, headers, body)
            self._turn_taken(call, turn, failed=False)
            if isinstance(outcome, Wait):
                await asyncio.sleep(outcome.delay)
            elif isinstance(outcome, RunAPIError):
                raise outcome
            else:
                assert headers is not None
                return outcome, headers

    async def _attempt(self, call: StreamCall) -> AsyncGenerator[ChatCompletionChunk, None]:
        if (late := call.expired()) is not None:
            call.outcome = late
            return
        try:
            turn = await self._wait_turn(call)
        except RunAPIError as late:
            call.outcome = late
            return
        failed = True
        try:
            async with contextlib.aclosing(self._read_attempt(call)) as chunks:
                async for chunk in chunks:
                    yield chunk
            failed = False
        finally:
            self._turn_taken(call, turn, failed)

    async def _read_attempt(self, call: StreamCall) -> AsyncGenerator[ChatCompletionChunk, None]:
        try:
            response = await self._send(call)
        except httpx.TransportError as exc:
            call.lost(exc)
            return
        try:
            if not 200 <= response.status_code < 300:
                try:
                    body = await response.aread()
                except httpx.TransportError:
                    body = b""
                call.refused(response.status_code, response.headers, body)
                return
            call.opened(response.headers)
            try:
                # aclosing: leaving at [DONE] closes the body's generator now, not when collected
                body_bytes = response.aiter_bytes()
                async with contextlib.aclosing(body_bytes):  # type: ignore[type-var]
                    async for raw in body_bytes:
                        for chunk in call.feed(raw):
                            yield chunk
                        if call.outcome is not None:
                            return
            except httpx.TransportError as exc:
                for chunk in call.broken(exc):
                    yield chunk
                return
            for chunk in call.ended():
                yield chunk
        finally:
            await response.aclose()

    async def _stream(self, call: StreamCall) -> AsyncGenerator[ChatCompletionChunk, None]:
        async with self._around(call), self._reserved(call):
            while True:
                # aclosing: an async generator abandoned mid-loop is otherwise closed only
                # when collected, and its response with it.
                async with contextlib.aclosing(self._attempt(call)) as attempt:
                    async for chunk in attempt:
                        yield chunk
                outcome = call.take_outcome()
                if outcome is DONE:
                    return
                if isinstance(outcome, Wait):
                    await asyncio.sleep(outcome.delay)
                    continue
                raise outcome  # type: ignore[misc]

    # ------------------------------------------------------------------------- the methods

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

    async def chat_completion(self, request: Mapping[str, Any] | PreparedRequest) -> ChatResult:
        prepared = self._prepared(request)
        client = self if prepared.options is None else self.with_options(prepared.options)
        content = self._encode(prepared, stream=False)
        call = ChatCall(client, "POST", "/chat/completions", content, prepared)
        async with client._around(call) as hooks, client._reserved(call):
            completion, headers = await client._call(call)
            result = client._finish(completion, prepared, headers.get("x-request-id"))  # type: ignore[arg-type]
            return hooks.done(result)

    def stream_chat_completion(
        self, request: Mapping[str, Any] | PreparedRequest
    ) -> AsyncChatStream:
        prepared = self._prepared(request)
        client = self if prepared.options is None else self.with_options(prepared.options)
        call = StreamCall(client, self._encode(prepared, stream=True), prepared)
        return AsyncChatStream(client, call)

    async def embeddings(self, body: Mapping[str, Any]) -> EmbeddingResult:
        call = Call(self, "POST", "/embeddings", self._encode_embeddings(body))
        async with self._around(call, body) as hooks, self._reserved(call):
            data, headers = await self._call(call)
            return hooks.done(
                self._embedding_result(data, body["model"], headers.get("x-request-id"))
            )

    async def list_models(self) -> list[Model]:
        data, _ = await self._call(Call(self, "GET", "/models", None))
        return list(data.get("data") or [])

    async def balance(self) -> Balance:
        """The account's balance and spend in USD (``GET /api/v1/me/balance``)."""
        data, _ = await self._call(Call(self, "GET", BALANCE_PATH, None))
        return read_balance(data)

    async def me(self) -> Account:
        """The account behind the key (``GET /api/v1/me``)."""
        data, _ = await self._call(Call(self, "GET", ME_PATH, None))
        return read_account(data, self._redact_text)


class AsyncChatStream(_StreamBase):
    """Async twin of :class:`ChatStream`; cancelling the consuming task closes the connection."""

    def __init__(self, client: AsyncRunAPIClient, call: StreamCall) -> None:
        self._call = call
        self._iterator = client._stream(call)

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._iterator

    async def __anext__(self) -> ChatCompletionChunk:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._iterator.aclose()  # its finally closes the response
