"""What each outcome of a call means, decided without doing any I/O.

The sync and async clients (``_client``) are shells that send bytes, read them and sleep as
this module tells them; every decision lives here once, so a fix lands in both:

- :class:`RetryBudget`: whether an error is retried, and after how long (``Retry-After``
  honoured and sanitised, backoff with jitter otherwise); every retry is logged the same way.
- :class:`Call`: one request, and what a response or a lost connection means for it;
  :class:`ChatCall` reads a chat answer into the wire's shapes (``_reading``) on the way.
- :class:`StreamCall`: a streamed request: bytes in, chunks out, whatever the body turns out to
  be (SSE events, or a JSON answer or error, whatever the content type says), the end of the
  stream, and a connection lost half-way.

An outcome is a value, never raised from here: a result, :class:`Wait` (send again after a
delay), or the :class:`RunAPIError` to raise. The shells raise it from their own frame, where
no response, request or header is in scope, so a traceback's locals hold no key.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import httpx

from ._pacer import Pacer, Turn
from ._pricing import Cost, cost_bound
from ._reading import Unreadable, read_chunk, read_completion
from ._sse import ServerSentEvent, SSEDecoder
from ._streaming import StreamAccumulator, completion_as_chunk
from ._types import ChatCompletion, ChatCompletionChunk
from ._usage import Reservation, budget_trackers
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    IncompleteStreamError,
    InsufficientCreditsError,
    RateLimitError,
    RunAPIError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
    UsageLimitError,
    parse_retry_after,
)
from .policy import PreparedRequest, normalize_message, recover_tool_call

if TYPE_CHECKING:
    from ._client import ChatResult, _Base

__all__ = [
    "DONE",
    "Call",
    "ChatCall",
    "RetryBudget",
    "StreamCall",
    "TurnSteps",
    "Wait",
    "WaitForFreeTurn",
]

logger = logging.getLogger("runapi_client")

INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 60.0
"""A server asking us to wait longer than this gets its error raised at once, not a nap."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Send the request again after ``delay`` seconds."""

    delay: float


TURN_POLL = 0.05
"""Seconds a call waiting for a free turn looks again even unwoken (a turn freed between its
look and its registering as a waiter wakes no one)."""


@dataclass(frozen=True, slots=True)
class WaitForFreeTurn:
    """Wait until a call on the key ends (``Pacer.wait_for``), at most ``timeout`` seconds,
    then ask again."""

    timeout: float


class TurnSteps:
    """Taking a call's turn on the key, without I/O: each :meth:`step` gives the turn, or
    seconds to sleep (a pause, an appointment at the pace), or :class:`WaitForFreeTurn`; the
    shells do the waiting. Waiting counts against neither the timeout nor the retries, but it
    ends at the call's deadline: :meth:`step` raises its error then."""

    __slots__ = ("booking", "call", "cap", "pacer", "waited")

    def __init__(self, pacer: Pacer, call: Call, cap: int | None) -> None:
        self.pacer = pacer
        self.call = call
        self.cap = cap
        self.booking: int | None = None
        self.waited = False

    def step(self) -> Turn | float | WaitForFreeTurn:
        got = self.pacer.take(self.cap, self.booking)
        if isinstance(got, Turn):
            return got
        if not self.waited:
            self.waited = True
            self.pacer.waited()
        if got is not None:
            wait = self.call.turn_wait(got.seconds)
            if isinstance(wait, RunAPIError):
                raise wait
            self.booking = got.booking
            return wait
        wait = self.call.turn_wait(TURN_POLL, open_ended=True)
        if isinstance(wait, RunAPIError):
            raise wait
        return WaitForFreeTurn(wait)


class _Done:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DONE"


DONE: Final = _Done()
"""A stream that ended normally."""

Outcome = Wait | RunAPIError | _Done


def backoff(attempt: int) -> float:
    """Exponential with jitter, so a crowd of clients does not retry in lockstep."""
    return float(min(INITIAL_BACKOFF * 2.0**attempt, MAX_BACKOFF) * (1 - 0.25 * random.random()))


class RetryBudget:
    """The retries left to one call (``max_retries`` of them, shared by every attempt, a
    stream's reconnects included) and the wait before each."""

    __slots__ = ("label", "max_retries", "used")

    def __init__(self, max_retries: int, label: str) -> None:
        self.max_retries = max_retries
        self.used = 0
        self.label = label

    def next(
        self, err: RunAPIError, headers: Mapping[str, str] | None = None
    ) -> Wait | RunAPIError:
        """:class:`Wait` before the next attempt after ``err``, spending one retry; or ``err``
        itself when it is final (not retryable by its class, retries spent, or the server asks
        for a longer wait than :data:`MAX_RETRY_AFTER`)."""
        if self.used >= self.max_retries or not err.retryable:
            return err
        hint = parse_retry_after(headers) if headers is not None else None
        if hint is None or not math.isfinite(hint) or hint <= 0:
            # No hint, or one that cannot be meant (0, negative, nan): the normal backoff, so a
            # crowd does not come straight back in lockstep.
            delay = backoff(self.used)
        elif hint > MAX_RETRY_AFTER:
            return err
        else:
            delay = hint
        self.used += 1
        logger.info(
            "RunAPI %s failed (%s); retry %d of %d in %.2fs",
            self.label,
            type(err).__name__,
            self.used,
            self.max_retries,
            delay,
        )
        return Wait(delay)


def is_rate_limit(err: RunAPIError) -> bool:
    """Whether ``err`` says the key sends too much (a 429 or a rate-limit code, an overload
    sent as 429 included), as opposed to a usage cap or an empty balance, which no pace
    helps."""
    if isinstance(err, (UsageLimitError, InsufficientCreditsError)):
        return False
    return isinstance(err, RateLimitError) or err.status_code == 429


def scrub_traceback(exc: BaseException | None) -> None:
    """Clear the locals of the finished frames ``exc`` (and its causes) passed through.

    A transport error raised from inside httpx and httpcore carries frames whose locals hold
    the request, and with it the ``Authorization`` header; anything that records frame locals
    (``pytest --showlocals``, error trackers) would print the key. The frames are done with.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def transport_error(exc: Exception, what: str) -> RunAPIError:
    """The typed error for a request that got no HTTP answer; its cause is ``exc``, scrubbed."""
    scrub_traceback(exc)
    err: RunAPIError
    if isinstance(exc, httpx.TimeoutException):
        err = APITimeoutError(
            f"{what} timed out ({type(exc).__name__}). Raise timeout=... if the model needs "
            "longer to answer."
        )
    else:
        err = APIConnectionError(
            f"{what} failed: could not reach RunAPI ({type(exc).__name__}: {exc})."
        )
    err.__cause__ = exc
    return err


def json_object(body: bytes) -> dict[str, Any] | None:
    """``body`` as a JSON object, or None when it is not one (blank lines around it are
    fine: some gateways send them before the body)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # deeply nested JSON exhausts the recursion limit
        return None
    return data if isinstance(data, dict) else None


def is_error_envelope(data: Mapping[str, Any]) -> bool:
    """A JSON answer that is an error, not a result (``{"error": ...}`` with no ``choices``
    or ``data``): some gateways pass an upstream failure through with HTTP 200."""
    return bool(data.get("error")) and not (data.get("choices") or data.get("data"))


class Call:
    """One request (not streamed): what a response or a lost connection means for it."""

    __slots__ = (
        "budget",
        "client",
        "content",
        "deadline",
        "hint",
        "limited",
        "method",
        "path",
        "prepared",
    )

    stream = False

    def __init__(
        self,
        client: _Base,
        method: str,
        path: str,
        content: bytes | None,
        prepared: PreparedRequest | None = None,
    ) -> None:
        self.client = client
        self.method = method
        self.path = path
        self.content = content
        self.prepared = prepared
        self.budget = RetryBudget(client.max_retries, f"{method} {path}")
        total = client.config.total_timeout
        self.deadline = time.monotonic() + total if total is not None else None
        # What the last attempt's answer says to the key's pacer: "too many", and how long to
        # hold off (its Retry-After), for every call on the key.
        self.limited = False
        self.hint: float | None = None

    # ------------------------------------------------------------------------------ deadline

    def retry_or(
        self, err: RunAPIError, headers: Mapping[str, str] | None = None
    ) -> Wait | RunAPIError:
        """The retry budget's verdict on ``err``, unless waiting would pass the deadline. Every
        error an attempt ends with passes here, so here it is noted for the pacer whether the
        server said "too many"."""
        if is_rate_limit(err):
            self.limited = True
            self.hint = parse_retry_after(headers) if headers is not None else None
            if self.hint is None and isinstance(err, RateLimitError):
                self.hint = err.retry_after
        outcome = self.budget.next(err, headers)
        if (
            isinstance(outcome, Wait)
            and self.deadline is not None
            and time.monotonic() + outcome.delay >= self.deadline
        ):
            return self.past_deadline(err)
        return outcome

    def past_deadline(self, last: RunAPIError | None = None) -> RunAPIError:
        """The error of a call that ran out of ``total_timeout`` (the last error as cause)."""
        total = self.client.config.total_timeout
        err = APITimeoutError(
            f"The call did not finish within total_timeout={total} s"
            + (f" (last: {type(last).__name__})" if last is not None else "")
            + ". Raise total_timeout, or leave it unset for no deadline."
        )
        err.__cause__ = last
        return err

    def turn_wait(self, seconds: float, *, open_ended: bool = False) -> float | RunAPIError:
        """How long to wait for a turn on the key (the pacer's pause or appointment,
        ``seconds``; or, ``open_ended``, a look after ``seconds`` for a call in flight to end),
        within the deadline: a known wait that would pass it ends the call now, as a retry's
        would; an open-ended one waits up to it, and then ends the call."""
        if self.deadline is None:
            return seconds
        left = self.deadline - time.monotonic()
        if left <= 0 or (not open_ended and seconds >= left):
            return self.past_deadline()
        return min(seconds, left)

    def expired(self) -> RunAPIError | None:
        """The deadline error if the call is past its deadline, else None."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return self.past_deadline()
        return None

    def timeouts(self, base: dict[str, float | None]) -> dict[str, float | None]:
        """``base`` (connect, read, write, pool seconds) with none beyond the deadline."""
        if self.deadline is None:
            return base
        left = max(self.deadline - time.monotonic(), 0.001)
        return {phase: left if s is None else min(s, left) for phase, s in base.items()}

    def reservation(self) -> Reservation | None:
        """The call's claim on the ``max_cost`` budgets around it, None when there are none:
        an upper bound of its cost, reserved before sending (see ``UsageTracker``)."""
        if not budget_trackers():
            return None
        bound = 0.0
        if self.prepared is not None:
            body = self.prepared.body
            limit = body.get("max_tokens") or body.get("max_completion_tokens")
            if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
                limit = self.prepared.model.max_output_tokens
            size = len(self.content or b"")
            model = str(body.get("model"))
            bound = cost_bound(model, size, limit, self.client.prices, self.client._live_table())
        return Reservation(bound)

    def lost(self, exc: Exception) -> Wait | RunAPIError:
        """The request got no HTTP answer (refused, reset, timed out)."""
        return self.retry_or(transport_error(exc, f"{self.method} {self.path}"))

    def refused(self, status: int, headers: Mapping[str, str], body: bytes) -> Wait | RunAPIError:
        """An answer with a status other than 2xx (a redirect included: never followed)."""
        return self.retry_or(self.client._error_of(status, headers, body), headers)

    def answered(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any] | Wait | RunAPIError:
        """A whole answer: the JSON object it holds, or what to do instead. A 2xx whose body
        is not a JSON object (a proxy's HTML page) is a retryable 502; a JSON error envelope
        is the typed error it describes, retried as its class says."""
        if not 200 <= status < 300:
            return self.refused(status, headers, body)
        data = json_object(body)
        if data is None:
            return self.retry_or(self.client._error_of(502, headers, body), headers)
        if is_error_envelope(data):
            # A whole answer that is an error says nothing of being transient ("Bad input"):
            # unless its code says otherwise, it is not retried.
            err = self.client._payload_error(
                body, headers.get("x-request-id"), where="in a 200 answer", unknown=APIStatusError
            )
            return self.retry_or(err, headers)
        return data


def unusable_answer(problem: Unreadable, request_id: str | None) -> ServerError:
    """The error for a 200 chat answer with no choice that can be read: a bad answer from
    upstream, so a 502, retried as a 200 whose body is not JSON is."""
    where = f" [request_id {request_id}]" if request_id else ""
    return ServerError(
        f"RunAPI answered 200 with no usable choice ({problem}); taken as a 502. This is on "
        f"the server side; retrying later usually helps.{where}",
        status_code=502,
        request_id=request_id,
    )


class ChatCall(Call):
    """A chat request (not streamed): its answer is read into the wire's shapes
    (``_reading``) before anyone sees it; one with no usable choice is a 502."""

    __slots__ = ()

    def answered(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any] | Wait | RunAPIError:
        outcome = super().answered(status, headers, body)
        if isinstance(outcome, dict):
            try:
                read_completion(outcome)
            except Unreadable as problem:
                err = unusable_answer(problem, headers.get("x-request-id"))
                return self.retry_or(err, headers)
        return outcome


class StreamCall(Call):
    """A streamed chat request: bytes in, chunks out, and the outcome once the body ends.

    The shells call :meth:`opened` on a 2xx, :meth:`feed` with each piece of the body (it
    returns the chunks to yield, and sets :attr:`outcome` when the stream is over), then
    :meth:`ended` at the end of the body, or :meth:`broken` if the connection is lost. The
    stream's state (accumulated answer, the retry budget, what was delivered) lives across
    attempts; only an attempt that delivered nothing is ever retried.
    """

    __slots__ = (
        "_json",
        "accounted",
        "accumulator",
        "decoder",
        "first_chunk_at",
        "outcome",
        "request_id",
        "result",
        "sniffed",
    )

    stream = True

    def __init__(self, client: _Base, content: bytes, prepared: PreparedRequest) -> None:
        super().__init__(client, "POST", "/chat/completions", content, prepared)
        self.prepared: PreparedRequest = prepared
        self.accumulator = StreamAccumulator(single_tool_call=prepared.single_tool_call)
        self.decoder = SSEDecoder(client.config.max_event_bytes)
        self.request_id: str | None = None
        self.result: ChatResult | None = None
        self.outcome: Outcome | None = None
        # When the first chunk was handed on (perf_counter(), for the telemetry); None while
        # nothing was, which is what allows a retry.
        self.first_chunk_at: float | None = None
        self.sniffed = False
        self._json: list[bytes] | None = None
        # (cost, token counts), from the moment the usage arrived and the call was counted.
        self.accounted: tuple[Cost | None, dict[str, int] | None] | None = None

    @property
    def delivered(self) -> bool:
        """Whether a chunk has reached the caller: from then on nothing is retried."""
        return self.first_chunk_at is not None

    # ------------------------------------------------------------------------------ attempts

    def opened(self, headers: Mapping[str, str]) -> None:
        """A 2xx answer's head arrived: a new attempt starts reading."""
        self.request_id = headers.get("x-request-id") or self.request_id
        self.decoder = SSEDecoder(self.client.config.max_event_bytes)
        self.outcome = None
        self.sniffed = False
        self._json = None

    def refused(self, status: int, headers: Mapping[str, str], body: bytes) -> Wait | RunAPIError:
        self.outcome = super().refused(status, headers, body)
        return self.outcome

    def lost(self, exc: Exception) -> Wait | RunAPIError:
        self.outcome = super().lost(exc)
        return self.outcome

    def take_outcome(self) -> Outcome:
        """What the attempt that just ended came to (the stream ended normally if nothing
        else was decided). Called once the attempt's frame is done: the frames a lost
        connection passed through, the attempt's own included (it held the response), are
        cleared now, as they could not be while it ran."""
        outcome, self.outcome = self.outcome, None
        if isinstance(outcome, RunAPIError):
            scrub_traceback(outcome.__cause__)
        return DONE if outcome is None else outcome

    # ----------------------------------------------------------------------------- the body

    def feed(self, raw: bytes) -> Iterator[ChatCompletionChunk]:
        """The chunks ``raw`` completes, one at a time: each is folded into the accumulator as
        it is yielded, so ``accumulator`` is the answer up to the chunk the caller holds. The
        body is sniffed, not trusted to its content type: a JSON body (an error, or a whole
        answer from a server that ignores ``stream: true``) is read whole at the end; anything
        else is SSE."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self._out_of_time()
            return
        if not self.sniffed:
            head = raw.lstrip()
            if not head:
                return  # blank lines before the first event or object
            self.sniffed = True
            if head[:1] in (b"{", b"["):
                self._json = []
        if self._json is not None:
            self._json.append(raw)
            return
        for event in self.decoder.feed(raw):
            yield from self._event(event)
            if self.outcome is not None:
                return
        if self.decoder.too_large:
            limit = self.decoder.max_event_bytes
            shown = f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{limit:,} bytes"
            self.outcome = IncompleteStreamError(
                f"RunAPI sent a stream event larger than {shown}, the client's max_event_bytes: "
                "the stream was stopped there and the event dropped. Every chunk before it was "
                "delivered; `partial` holds them joined. If the events really are this large, "
                "raise max_event_bytes=... on the client.",
                partial=self.accumulator.completion(),
                request_id=self.request_id,
            )

    def ended(self) -> Iterator[ChatCompletionChunk]:
        """The body ended (cleanly, as far as HTTP goes): the last chunks, and the outcome."""
        if self.outcome is not None:
            return
        if self._json is not None:
            yield from self._json_answer(b"".join(self._json))
        else:
            for event in self.decoder.close():
                yield from self._event(event)
                if self.outcome is not None:
                    return
        if self.outcome is None:
            yield from self._finish()

    def broken(self, exc: Exception) -> Iterator[ChatCompletionChunk]:
        """The connection was lost while reading: retried if nothing was delivered; a stream
        past its finish reason ends normally (its answer is whole); otherwise the answer is cut
        short and the error says so, ``partial`` holding what arrived."""
        if not self.delivered and not self.accumulator.chunks:
            self.outcome = self.retry_or(transport_error(exc, "Reading the stream"))
            return
        if self.accumulator.complete:
            logger.info(
                "RunAPI stream lost its connection after the finish chunk, before [DONE] (%s); "
                "the answer is complete",
                type(exc).__name__,
            )
            yield from self._finish()
            return
        scrub_traceback(exc)
        timed_out = isinstance(exc, httpx.TimeoutException)
        cls = StreamTimeoutError if timed_out else StreamInterruptedError
        detail = f": {exc}" if str(exc) else ""
        err = cls(
            f"The stream broke after {self.accumulator.chunks} chunks ({type(exc).__name__}"
            f"{detail}). Every chunk received was delivered; `partial` holds them joined. It is "
            "not retried, since part of the answer is already out.",
            partial=self.accumulator.completion(),
            request_id=self.request_id,
        )
        err.__cause__ = exc
        self.outcome = err

    # ---------------------------------------------------------------------------- internals

    def _event(self, event: ServerSentEvent) -> Iterator[ChatCompletionChunk]:
        """The chunk of one event, if it holds one; the outcome is set once the stream is over
        (``[DONE]``, an error, an event that cannot be read)."""
        data = event.data
        if data == "[DONE]":
            self.accumulator.saw_done = True
            yield from self._finish()
            return
        if event.event == "error":
            self._failed(self.client._payload_error(data, self.request_id))
            return
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            self._malformed(f"a stream event that is not JSON ({self._shown(data)})")
            return
        if not isinstance(chunk, dict):
            self._malformed(f"a stream event that is not an object ({self._shown(data)})")
            return
        if "error" in chunk and not chunk.get("choices"):
            self._failed(self.client._payload_error(data, self.request_id))
            return
        try:
            read_chunk(chunk)
        except Unreadable as problem:
            self._malformed(f"a chunk with no usable choice ({problem}): {self._shown(data)}")
            return
        try:
            self.accumulator.add(chunk)  # type: ignore[arg-type]
        except (TypeError, AttributeError, ValueError) as exc:
            self._malformed(f"a stream chunk of an unexpected shape ({exc}): {self._shown(data)}")
            return
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()
        self._record_on_arrival()
        yield chunk  # type: ignore[misc]

    def _json_answer(self, body: bytes) -> Iterator[ChatCompletionChunk]:
        """A stream request answered with a JSON body: the error it describes (a gateway that
        reports an upstream failure as a 200, e.g. 1305 overloaded) or a whole completion,
        delivered as one chunk."""
        data = json_object(body)
        if data is None:
            self._failed(self.client._error_of(502, {}, body))
        elif is_error_envelope(data):
            self._failed(self.client._payload_error(body, self.request_id, where="in a 200 answer"))
        else:
            try:
                read_completion(data)
            except Unreadable as problem:
                self._failed(unusable_answer(problem, self.request_id))
                return
            chunk = completion_as_chunk(data)
            self.accumulator.add(chunk)  # type: ignore[arg-type]
            self.accumulator.saw_done = True
            self.first_chunk_at = time.perf_counter()
            self._record_on_arrival()
            yield chunk  # type: ignore[misc]

    def _failed(self, err: RunAPIError) -> None:
        """An error the server reported. Before anything was delivered it is like the same
        error before the stream (retried as its class says); after, it ends the stream with
        what arrived in ``partial``."""
        if not self.delivered:
            self.outcome = self.retry_or(err)
            return
        err.partial = self.accumulator.completion()
        self.outcome = err

    def _out_of_time(self) -> None:
        """The deadline passed while the stream was read (pings keep a read timeout from
        ever firing): it ends here, with what arrived in ``partial``."""
        if not self.delivered:
            self.outcome = self.past_deadline()
            return
        self.outcome = StreamTimeoutError(
            f"The stream did not end within total_timeout={self.client.config.total_timeout} s; "
            "every chunk received was delivered, `partial` holds them joined.",
            partial=self.accumulator.completion(),
            request_id=self.request_id,
        )

    def _malformed(self, what: str) -> None:
        self.outcome = IncompleteStreamError(
            f"RunAPI sent {what}; the stream cannot be trusted past this point.",
            partial=self.accumulator.completion(),
            request_id=self.request_id,
        )

    def _finish(self) -> Iterator[ChatCompletionChunk]:
        """The body is over: the outcome, after the chunk of a tool call given as text."""
        acc = self.accumulator
        if not acc.chunks and not acc.complete:
            # A 200 stream that ended before its first event delivered nothing: a failed
            # request, not a cut answer, so it is retried like one (an upstream that died
            # before its first token).
            self.outcome = self.retry_or(_EMPTY_STREAM)
            if isinstance(self.outcome, Wait):
                self.decoder = SSEDecoder(self.client.config.max_event_bytes)
                return
        if not acc.complete:
            self.outcome = IncompleteStreamError(
                f"The stream ended after {acc.chunks} chunks without a finish reason or [DONE]: "
                "the answer is cut short. The deltas received were all delivered; `partial` "
                "holds them joined.",
                partial=acc.completion(),
                request_id=self.request_id,
            )
            return
        recovered = recover_tool_call(
            {"content": acc.content, "tool_calls": acc.tool_calls()}, self.prepared.forced_tool
        )
        if recovered is not None:
            chunk = _tool_call_chunk(acc, recovered)
            acc.add(chunk)  # type: ignore[arg-type]
            acc.finish_reason = "tool_calls"
            yield chunk  # type: ignore[misc]
        self.result = self.client._finish(
            acc.completion(), self.prepared, self.request_id, accounted=self.accounted
        )
        self.outcome = DONE

    def _record_on_arrival(self) -> None:
        """Count the call the moment its usage arrives, not when the stream is read to its
        end: a caller may stop reading right after the finish chunk, and the server billed
        the call either way (``track_usage`` totals and ``max_cost`` budgets must see it)."""
        acc = self.accumulator
        if self.accounted is None and acc.usage is not None:
            self.accounted = self.client._account(
                acc.model, acc.usage, self.prepared.body.get("model")
            )

    def _shown(self, data: str) -> str:
        """An event quoted in an error message: its start, without the key."""
        return repr(self.client._redact(data)[:200])


_EMPTY_STREAM = APIConnectionError("The stream ended before its first event.")


def _tool_call_chunk(acc: StreamAccumulator, call: dict[str, Any]) -> dict[str, Any]:
    """A stream chunk carrying ``call`` as a tool-call delta, in the stream's own shape."""
    chunk: dict[str, Any] = {"id": acc.id or "", "created": acc.created or 0}
    chunk["model"] = acc.model or ""
    chunk["choices"] = [
        {
            "index": 0,
            "delta": {"tool_calls": [{"index": 0, **call}]},
            "finish_reason": "tool_calls",
        }
    ]
    return chunk


def answer_of(completion: dict[str, Any], prepared: PreparedRequest) -> ChatCompletion:
    """A whole answer read by the policy's rules, changed in place: a gateway's
    ``reasoning`` read as ``reasoning_content``, the first tool call only when parallel calls
    were refused, a forced tool's call given as JSON text read as that call."""
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return completion  # type: ignore[return-value]
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return completion  # type: ignore[return-value]
    normalize_message(message)
    calls = message.get("tool_calls")
    if prepared.single_tool_call and isinstance(calls, list) and len(calls) > 1:
        message["tool_calls"] = calls[:1]
    recovered = recover_tool_call(message, prepared.forced_tool)
    if recovered is not None:
        message["tool_calls"] = [recovered]
        choices[0]["finish_reason"] = "tool_calls"
    return completion  # type: ignore[return-value]
