"""One pace per key: the calls that share a RunAPI key slow down together when it says "too many".

RunAPI's limits are per key (requests per second, and requests in flight). A client alone
meeting a 429 waits its own ``Retry-After`` while the calls beside it keep sending and collect
429s of their own. So every client in the process (sync and async, every thread and event
loop, all four model classes and the core clients) takes its turn from one :class:`Pacer` per
(origin, key):

- **Pauses.** A rate-limited answer (a 429, or a rate-limit code in a 200 or a stream) with a
  ``Retry-After`` holds every call on the key that has not been sent yet until then; the calls
  leave spread over a short jitter, not in lockstep. Without a usable hint (absent, zero,
  negative, unreadable) the pause is the normal backoff, growing with consecutive 429s; an
  absurd one (hours) is capped at 60 s, so the pacer never stalls for long.
- **Concurrency (AIMD, as TCP does).** The limit of calls in flight starts unbounded (or at
  ``max_concurrency``). A 429 on a call sent while more calls were in flight than ever went
  through together says the server counts calls in flight: the limit drops to what the
  episode's refusals leave of the calls that were out (a burst of 64 at a server taking 16
  ends at 16). A 429 within what went through before, on a busy key (10 calls or more
  admitted over the last second), says the server counts calls per second: the pace drops to
  what it admitted over the last second (answered, or still answering), less 2 %, and calls
  leave at that pace by appointment, in order. On a quiet key a 429 teaches nothing (an
  upstream overload, another process on the key): a limit learned from a trickle would hold a
  later batch to it; the pause, growing with 429s in a row, does the work. Both rise again, by
  one call and by 5 %, after a quiet run of successes (10 s), never above
  ``max_concurrency``, never below 1 call.
- A call that never meets a limit pays one lock: nothing is learned, nothing waits.

Waiting for a turn counts against neither a call's read timeout nor its retries; a call
cancelled while it waits leaves no turn taken. The state is visible: ``client.pacer.stats()``.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Later", "Pacer", "Turn", "origin_of", "pacer_for"]

logger = logging.getLogger("runapi_client")

MAX_PAUSE = 60.0
"""The longest key-wide pause: a server asking for hours does not stall every call for hours
(the call that met it raises at once; see the retry rules)."""
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
QUIET_RUN = 10.0
"""Seconds without a 429 (and a window's worth of successes) before a limit is raised a step:
probing a learned limit costs a 429 and a pause, so it is done rarely."""
RATE_MARGIN = 0.98
"""The pace set from what the server admitted over the last second, below it by this factor."""
RATE_EVIDENCE = 10
"""Calls admitted over the last second below which a 429 sets no pace: on a quiet key it says
little about a rate (an upstream overload sent as 429, another process on the key), and a pace
learned from a trickle would hold a later batch to it. The pause still applies."""
UNBOUNDED = math.inf


@dataclass(frozen=True, slots=True)
class Later:
    """Ask again after ``seconds``; ``booking``: the appointment the call now holds, if any."""

    seconds: float
    booking: int | None = None


@dataclass(slots=True)
class Turn:
    """A call's turn on the key: taken before its request is sent, given back once it is over
    (``Pacer.done``). ``together``: the calls in flight with it when it was sent."""

    together: int
    sent_at: float


class Pacer:
    """The pace of the calls on one key in this process (thread-safe, loop-agnostic)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self._lock = threading.Lock()
        self.limit = UNBOUNDED
        """Calls allowed in flight now (AIMD); unbounded until a 429 says otherwise."""
        self.rate: float | None = None
        """Calls allowed to start per second; None until a 429 says the key is paced."""
        self.in_flight = 0
        self.went_through = 0
        """The most calls in flight together that all went through."""
        self.resume_at = 0.0
        self._next_slot = 0.0
        self._epoch = 0
        """Appointments made before a pause or a new pace are void: they count this."""
        self._admitted: collections.deque[float] = collections.deque()
        self._quiet_since = 0.0
        self._successes = 0
        self._consecutive = 0
        self._survivors = 0
        self._wakers: collections.deque[Callable[[], bool]] = collections.deque()
        # What stats() reports.
        self.waits = 0
        self.rate_limited = 0
        self.sent = 0
        self.paused_seconds = 0.0

    # ------------------------------------------------------------------------------ a turn

    def take(self, cap: int | None = None, booking: int | None = None) -> Turn | Later | None:
        """A turn if the call may go now; else :class:`Later` (sleep, then ask again: a pause,
        or an appointment at the pace, which the call then holds: pass its ``booking``), or
        None to wait for a call in flight to end (:meth:`wait_for`). ``cap``: this client's
        ``max_concurrency``.

        At a pace, calls are given appointments one interval apart rather than all polling for
        the next free moment: each sleeps once, and they leave in order."""
        now = time.monotonic()
        with self._lock:
            if now < self.resume_at:
                spread = min(0.1 * (self.resume_at - now) + 0.01, 0.5)
                return Later(self.resume_at - now + random.random() * spread)
            limit = self.limit if cap is None else min(self.limit, cap)
            if self.in_flight >= limit:
                return None
            if self.rate is not None and booking != self._epoch:
                slot = max(now, self._next_slot)
                self._next_slot = slot + 1.0 / self.rate
                if slot > now:
                    return Later(slot - now, self._epoch)
            self.in_flight += 1
            self.sent += 1
            return Turn(self.in_flight, now)

    def waited(self) -> None:
        """A call had to wait for its turn (counted once per call, for ``stats()``)."""
        with self._lock:
            self.waits += 1

    def wait_for(self, waker: Callable[[], bool]) -> Callable[[], None]:
        """Register ``waker``, called (outside the lock) when a call in flight ends; it returns
        False if its waiter is gone (cancelled), and the next one is woken instead. Returns the
        function that unregisters it."""
        with self._lock:
            self._wakers.append(waker)

        def forget() -> None:
            with self._lock, contextlib.suppress(ValueError):  # woken (and removed) already
                self._wakers.remove(waker)

        return forget

    def done(self, turn: Turn, *, limited: bool = False, hint: float | None = None) -> None:
        """The call that took ``turn`` is over: ``limited`` when the server said "too many"
        (``hint``: its ``Retry-After``, seconds)."""
        now = time.monotonic()
        with self._lock:
            together = self.in_flight  # this call and those still out with it
            self.in_flight = max(self.in_flight - 1, 0)
            if limited:
                self._slow_down(turn, now, hint)
            else:
                self._went_through(turn, now, together)
            wakers = list(self._wakers)
            self._wakers.clear()
        for index, waker in enumerate(wakers):
            if waker():  # the first live waiter takes the free turn; the rest ask again later
                with self._lock:
                    self._wakers.extendleft(reversed(wakers[index + 1 :]))
                break

    def give_back(self, turn: Turn) -> None:
        """The call left before its answer said anything (cancelled, or its request never got
        out): the turn is free again, nothing learned."""
        with self._lock:
            self.in_flight = max(self.in_flight - 1, 0)
            wakers = list(self._wakers)
            self._wakers.clear()
        for index, waker in enumerate(wakers):
            if waker():
                with self._lock:
                    self._wakers.extendleft(reversed(wakers[index + 1 :]))
                break

    # ---------------------------------------------------------------------------- learning

    def _went_through(self, turn: Turn, now: float, together: int) -> None:
        self._consecutive = 0
        # As many calls as were out when this one came back went through together (those
        # refused come back at once, before any answer).
        self.went_through = max(self.went_through, together)
        self._admitted.append(turn.sent_at)
        while self._admitted and self._admitted[0] < now - 1.0:
            self._admitted.popleft()
        self._successes += 1
        if self.limit is UNBOUNDED and self.rate is None:
            return
        quiet = now - self._quiet_since >= QUIET_RUN
        if quiet and self._successes >= max(2 * min(self.limit, 1000), 20):
            # A run of successes: one step up (additive), and the pace by 5 %.
            self._successes = 0
            self._quiet_since = now
            if self.limit is not UNBOUNDED:
                self.limit += 1
            if self.rate is not None:
                self.rate *= 1.05

    def _slow_down(self, turn: Turn, now: float, hint: float | None) -> None:
        self.rate_limited += 1
        self._consecutive += 1
        self._successes = 0
        self._quiet_since = now
        before = (self.limit, self.rate)
        if now >= self.resume_at:  # the first refusal of an episode: all that were out
            self._survivors = self.in_flight + 1
        self._survivors -= 1
        if turn.together > self.went_through:
            # Refused when more were in flight than ever went through: a limit on calls in
            # flight. The limit is what the episode's refusals leave of the calls that were
            # out (a burst of 64 on a server taking 16 ends at 16), whenever answers arrive.
            self.limit = max(1.0, min(self.limit, float(self._survivors)))
        elif (admitted := self._admitted_last_second(now)) >= RATE_EVIDENCE:
            # Refused within what went through before, on a busy key: a limit on calls per
            # second, at what the server admitted over the last second.
            rate = max(admitted * RATE_MARGIN, 1.0)
            self.rate = rate if self.rate is None else min(self.rate, rate)
        # Else (within what went through, on a quiet key) nothing is learned: a limit set from
        # a trickle would hold a later batch to it. The pause, growing with refusals in a row,
        # is the answer.
        pause = self._pause(hint)
        if now + pause > self.resume_at:
            self.paused_seconds += now + pause - max(self.resume_at, now)
            self.resume_at = now + pause
        # Appointments start again after the pause, one interval apart.
        self._epoch += 1
        self._next_slot = self.resume_at
        if (self.limit, self.rate) != before or pause >= 1.0:
            logger.info(
                "RunAPI rate limit on %s: calls on this key pause %.2fs; in flight %d, limit %s, "
                "pace %s",
                self.origin,
                pause,
                self.in_flight,
                "none" if self.limit is UNBOUNDED else int(self.limit),
                "none" if self.rate is None else f"{self.rate:.1f}/s",
            )

    def _admitted_last_second(self, now: float) -> int:
        """The calls the server admitted over the last second: those that went through, and
        those still in flight (admitted, answering; a few may yet be refused)."""
        return sum(1 for t in self._admitted if t >= now - 1.0) + self.in_flight

    def _pause(self, hint: float | None) -> float:
        if hint is None or not math.isfinite(hint) or hint <= 0:
            step = min(INITIAL_BACKOFF * 2.0 ** (self._consecutive - 1), MAX_BACKOFF)
            return step * (1 - 0.25 * random.random())
        return min(hint, MAX_PAUSE)

    # ------------------------------------------------------------------------------- state

    def stats(self) -> dict[str, float | int | None]:
        """The pace now: ``limit`` (calls in flight allowed, None: no limit), ``rate`` (calls
        per second, None: unpaced), ``in_flight``, ``waits`` (calls that had to wait for
        their turn), ``rate_limited`` (429s seen), ``sent``, ``paused_seconds``."""
        with self._lock:
            return {
                "limit": None if self.limit is UNBOUNDED else int(self.limit),
                "rate": self.rate,
                "in_flight": self.in_flight,
                "waits": self.waits,
                "rate_limited": self.rate_limited,
                "sent": self.sent,
                "paused_seconds": round(self.paused_seconds, 3),
            }

    def __repr__(self) -> str:
        return f"Pacer({self.origin!r}, {self.stats()})"


_lock = threading.Lock()
_pacers: dict[Hashable, Pacer] = {}


def origin_of(base_url: str) -> str:
    """``scheme://host[:port]`` of ``base_url``: limits are per key at one service."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def pacer_for(origin: str, key: Hashable) -> Pacer:
    """The process's pacer for ``key`` (a digest of the API key, never the key) at ``origin``."""
    pacer = _pacers.get((origin, key))
    if pacer is None:
        with _lock:
            pacer = _pacers.setdefault((origin, key), Pacer(origin))
    return pacer


def _forget_after_fork() -> None:
    # A forked worker starts with its own pace: the parent's calls in flight are not its own.
    global _lock
    _lock = threading.Lock()
    _pacers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
