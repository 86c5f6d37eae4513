"""Totals of calls, tokens and cost across every RunAPI call made inside a block.

The core records each finished call here, so a LangChain callback and a LlamaIndex tracker count
exactly the same way and neither depends on a framework's callback manager (LlamaIndex query
engines replace ``llm.callback_manager``). Trackers live in a ``ContextVar``: asyncio tasks
inherit them, and so do threads started from a copied context (LangChain's executors,
``asyncio.to_thread``, ``contextvars.copy_context().run``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ._pricing import Cost, token_counts
from .errors import BudgetExceededError

__all__ = [
    "ModelUsage",
    "Reservation",
    "UsageTracker",
    "budget_trackers",
    "record_usage",
    "track_usage",
]


@dataclass
class ModelUsage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    priced: bool = True
    """False once any call of this model had no known price (its cost is then a floor)."""


@dataclass
class UsageTracker:
    """Running totals; thread-safe. ``max_cost`` (USD) bounds spend, even under concurrency:
    each call reserves an upper bound of its cost before it is sent and settles to its real
    cost when its usage arrives; a call whose reservation does not fit waits for calls in
    flight to settle, and is refused once the budget is spent. So spend never exceeds
    ``max_cost`` by more than one call's bound (one call may always go when none is in flight
    and the budget is not spent yet: an upper bound is far above a typical call's cost)."""

    max_cost: float | None = None
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    total_cost: float = 0.0
    by_model: dict[str, ModelUsage] = field(default_factory=dict)
    reserved: float = 0.0
    """USD reserved by calls in flight (their cost bounds), not spent yet."""
    in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def successful_requests(self) -> int:
        return self.requests

    def add(
        self,
        model: str,
        usage: Mapping[str, Any] | None,
        cost: Cost | None,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        """Count one request; ``counts`` is ``token_counts(usage)`` if the caller has it."""
        if counts is None:
            counts = token_counts(usage or {})
        amount = cost.total if cost is not None else 0.0
        with self._lock:
            per = self.by_model.get(model)
            if per is None:
                per = self.by_model[model] = ModelUsage()
            for target in (self, per):
                target.requests += 1
                target.prompt_tokens += counts["input"]
                target.completion_tokens += counts["output"]
                target.total_tokens += counts["total"]
                target.cached_tokens += counts["cache_read"]
                target.reasoning_tokens += counts["reasoning"]
            self.total_cost += amount
            per.cost += amount
            if cost is None:
                per.priced = False

    def check_budget(self) -> None:
        if self.max_cost is not None and self.total_cost >= self.max_cost:
            raise self._spent()

    def _spent(self) -> BudgetExceededError:
        return BudgetExceededError(
            f"Budget spent: ${self.total_cost:.6f} of max_cost=${self.max_cost:.6f} used "
            f"over {self.requests} calls; no further call was sent. Raise max_cost to go on."
        )

    def try_reserve(self, bound: float) -> bool:
        """Reserve ``bound`` USD for a call about to be sent: True if it fits (or nothing is in
        flight), False if it must wait for calls in flight to settle; raises
        ``BudgetExceededError`` once the budget is spent."""
        assert self.max_cost is not None
        with self._lock:
            if self.total_cost >= self.max_cost:
                raise self._spent()
            if self.in_flight and self.total_cost + self.reserved + bound > self.max_cost:
                return False
            self.reserved += bound
            self.in_flight += 1
            return True

    def release(self, bound: float) -> None:
        """The call that reserved ``bound`` is over (its cost, if any, already added)."""
        with self._lock:
            self.reserved = max(self.reserved - bound, 0.0)
            self.in_flight -= 1

    def summary(self) -> str:
        lines = [
            f"Requests: {self.requests}",
            f"Tokens: {self.total_tokens} (prompt {self.prompt_tokens},"
            f" cached {self.cached_tokens}; completion {self.completion_tokens},"
            f" reasoning {self.reasoning_tokens})",
            f"Total cost (USD): ${self.total_cost:.6f}",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


_active: ContextVar[tuple[UsageTracker, ...]] = ContextVar("runapi_usage_trackers", default=())
# Trackers opened with all_threads=True: they also see calls from threads that did not inherit
# the context (a plain threading.Thread, a ThreadPoolExecutor's workers).
_process_wide: list[UsageTracker] = []
_process_lock = threading.Lock()


@contextmanager
def track_usage(
    max_cost: float | None = None, *, all_threads: bool = False
) -> Iterator[UsageTracker]:
    """Total every RunAPI call made inside the block (nested blocks each count).

    By default a call counts when it runs in this context: this thread, the asyncio tasks it
    starts, and threads started from a copied context (LangChain's executors,
    ``asyncio.to_thread``). ``all_threads=True`` counts every call in the process while the
    block is open, plain threads included; calls that other code makes meanwhile count too.
    """
    tracker = UsageTracker(max_cost=max_cost)
    token = _active.set((*_active.get(), tracker))
    if all_threads:
        with _process_lock:
            _process_wide.append(tracker)
    try:
        yield tracker
    finally:
        _active.reset(token)
        if all_threads:
            with _process_lock:
                # By identity: trackers are dataclasses, and two with equal totals compare equal.
                _process_wide[:] = [t for t in _process_wide if t is not tracker]


def _trackers() -> tuple[UsageTracker, ...]:
    scoped = _active.get()
    if not _process_wide:  # the common case: no lock, no copy
        return scoped
    with _process_lock:
        extra = tuple(t for t in _process_wide if not any(t is s for s in scoped))
    return scoped + extra


def check_budgets() -> None:
    """Raise before sending if any enclosing tracker's budget is spent."""
    for tracker in _trackers():
        tracker.check_budget()


def budget_trackers() -> list[UsageTracker]:
    """The enclosing trackers that have a ``max_cost``."""
    return [tracker for tracker in _trackers() if tracker.max_cost is not None]


RESERVE_POLL = 0.005
"""Seconds between looks, for a call waiting for its reservation to fit (at most 50 ms)."""


class Reservation:
    """A call's claim on the budgets of the trackers around it (those with ``max_cost``):
    :meth:`take` before sending, :meth:`release` once the call is over, whatever its end."""

    __slots__ = ("bound", "held", "trackers", "waits")

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.trackers = budget_trackers()
        self.held: list[UsageTracker] = []
        self.waits = 0

    def take(self) -> float | None:
        """Try to reserve on every budget at once: None when done, else the seconds to wait
        before trying again (all or nothing, so two calls never hold half each). Raises
        ``BudgetExceededError`` once a budget is spent."""
        for tracker in self.trackers:
            try:
                fits = tracker.try_reserve(self.bound)
            except BudgetExceededError:
                self.release()
                raise
            if not fits:
                self.release()
                self.waits += 1
                return min(RESERVE_POLL * self.waits, 0.05)
            self.held.append(tracker)
        return None

    def release(self) -> None:
        held, self.held = self.held, []
        for tracker in held:
            tracker.release(self.bound)


def record_usage(
    model: str,
    usage: Mapping[str, Any] | None,
    cost: Cost | None,
    counts: Mapping[str, int] | None = None,
) -> None:
    for tracker in _trackers():
        tracker.add(model, usage, cost, counts)
