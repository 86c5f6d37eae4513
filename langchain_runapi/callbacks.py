"""``get_runapi_callback()``: tokens and dollars of every RunAPI call inside a block.

Built on the core's ``track_usage``, which the core feeds for every finished call (invoke,
stream, async, batch). The tracker lives in a ``ContextVar``: asyncio tasks inherit it, and so
do the threads LangChain's ``batch`` uses (its executor copies the context). A thread you start
yourself counts if you run it in a copied context (``contextvars.copy_context().run``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from runapi_client import BudgetExceededError, UsageTracker, track_usage

__all__ = ["BudgetExceededError", "RunAPIUsage", "get_runapi_callback"]

RunAPIUsage = UsageTracker
"""What the block yields: ``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
``cached_tokens``, ``reasoning_tokens``, ``total_cost`` (USD), ``successful_requests``,
``by_model`` (per-model totals) and ``summary()``."""


@contextmanager
def get_runapi_callback(
    max_cost: float | None = None, *, all_threads: bool = False
) -> Iterator[RunAPIUsage]:
    """Total every RunAPI call made inside the ``with`` block, like ``get_openai_callback``.

    ``max_cost`` (USD): calls reserve an upper bound of their cost before they are sent, so
    spend stays within the budget plus one call's bound however many run at once; once it is
    spent, the next call raises :class:`BudgetExceededError` before anything is sent.

    Calls count from this context: its asyncio tasks and the threads LangChain starts
    (``batch``). ``all_threads=True`` also counts plain ``threading.Thread``s, and anything
    else calling RunAPI in the process while the block is open.

    >>> with get_runapi_callback() as cb:  # doctest: +SKIP
    ...     llm.invoke("Hello")
    ...     print(cb.total_tokens, cb.total_cost)
    """
    with track_usage(max_cost=max_cost, all_threads=all_threads) as tracker:
        yield tracker
