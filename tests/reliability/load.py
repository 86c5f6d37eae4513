"""A load run: thousands of async calls at high concurrency, a share of them faulted or cancelled.

Every call carries its own text ("call 17") and the fake server echoes it, so an answer handed to
the wrong caller is caught. Faults ride on each call's ``X-Fake-Fault`` header (no shared queue);
``times=1`` makes a fault hit only the first attempt, so the retry must succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from runapi_client import APIConnectionError, BadRequestError, RunAPIError
from tests.reliability.helpers import echo

# (name, streamed?, X-Fake-Fault header or None, expected outcome)
#   "ok": the echo; an exception class: that typed error; "cancelled": we cancel it midway
PLAN: list[tuple[str, bool, str | None, object]] = [
    ("plain", False, None, "ok"),
    ("plain", False, None, "ok"),
    ("stream", True, None, "ok"),
    ("stream", True, None, "ok"),
    ("503 then ok", False, "status=503;times=1", "ok"),
    ("429 then ok", False, "status=429;retry_after=0;times=1", "ok"),
    ("reset then ok", True, "reset;times=1", "ok"),
    ("html 502 then ok", True, "html=502;times=1", "ok"),
    ("400", False, "status=400", BadRequestError),
    ("cut stream", True, "cut_stream=9", APIConnectionError),
    ("cancelled stream", True, "stall=30;after=3", "cancelled"),
    ("cancelled call", False, "delay=30", "cancelled"),
]
CANCEL_AFTER = 0.2  # seconds a stalled call is given before its caller cancels it

# call(text, headers, streamed) -> the answer's text
Call = Callable[[str, dict[str, str], bool], Awaitable[str]]


@dataclass
class LoadReport:
    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    faults_injected: int = 0
    problems: list[str] = field(default_factory=list)


async def run_load(call: Call, n_calls: int, concurrency: int) -> LoadReport:
    report = LoadReport(calls=n_calls)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        name, streamed, fault, expected = PLAN[i % len(PLAN)]
        text = f"call {i} ({name})"
        headers = {"X-Fake-Fault": fault} if fault else {}
        report.faults_injected += fault is not None
        async with gate:
            try:
                if expected == "cancelled":
                    task = asyncio.ensure_future(call(text, headers, streamed))
                    await asyncio.sleep(CANCEL_AFTER)
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    outcome = "cancelled" if task.cancelled() else f"finished: {task.result()!r}"
                else:
                    answer = await call(text, headers, streamed)
                    outcome = "ok" if answer == echo(text) else f"wrong answer {answer!r}"
            except RunAPIError as exc:
                outcome = type(exc).__name__
                if isinstance(expected, type) and isinstance(exc, expected):
                    outcome = expected.__name__
        report.outcomes[outcome] += 1
        wanted = expected if isinstance(expected, str) else getattr(expected, "__name__", "")
        if outcome != wanted:
            report.problems.append(f"{text}: expected {wanted}, got {outcome}")

    await asyncio.gather(*(one(i) for i in range(n_calls)))
    return report
