"""Warnings that point at the caller's line, not at a line inside this library or a framework.

A warning is only useful where it can be acted on. Ours are raised deep inside a call chain
(``invoke`` → LangChain's ``generate`` → ``_generate`` → the core; ``chat`` → LlamaIndex's
instrumentation wrappers → ``_chat``), so a fixed ``stacklevel`` points into a framework on one
path and somewhere else on another. Instead the stack is walked to the first frame outside these
packages and the standard library.

Some calls leave the caller's stack: LangChain runs ``ainvoke``'s call in an asyncio task and
``batch``'s in worker threads, whose stacks end in the event loop or the thread pool. An adapter
notes the caller's line before that (:func:`remember_caller`) in a context variable, which
tasks and LangChain's worker threads inherit; a warning raised past such a boundary is
attributed to it.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType
from typing import Any

__all__ = ["RunAPIWarning", "remember_caller", "warn_at_caller"]


class RunAPIWarning(UserWarning):
    """What this library warns about (a request adapted to its model, a model with no price).
    A ``UserWarning``, so the usual filters apply; filter this class to single ours out."""

    __module__ = "runapi_client"


_SEP = os.sep
# Matched anywhere in a path (a site-packages install or a checkout of this repository).
_INTERNAL_PACKAGES = (
    "runapi_client",
    "langchain_runapi",
    "llama_index_runapi",
    "langchain_core",
    "langchain",
    "langgraph",
    "llama_index",  # llama_index.core, and this repository's llama_index.llms.runapi aliases
    "llama_index_instrumentation",  # the dispatcher's span wrappers around every LLM method
    "pydantic",
    "pydantic_core",
)
# Names too common to claim outside an installed distribution: a project may have its own
# "workflows" folder.
_INSTALLED_PACKAGES = (
    "workflows",  # llama-index-workflows: the agents' steps
    "llama_agents",
)
_INTERNAL_PARTS = tuple(f"{_SEP}{name}{_SEP}" for name in _INTERNAL_PACKAGES) + tuple(
    f"-packages{_SEP}{name}{_SEP}" for name in _INSTALLED_PACKAGES
)
# The standard library's frames (a thread pool's worker, the event loop) are not the caller's
# either: a LangChain batch runs each call in an executor thread, with no user frame above it.
_STDLIB = sysconfig.get_paths()["stdlib"] + _SEP
# Where the stack of a task or a worker thread begins: a frame found beyond one of these (the
# line that started the event loop) is not the line that made the call.
_BOUNDARIES = (f"{_SEP}asyncio{_SEP}", f"{_SEP}concurrent{_SEP}", f"{_SEP}threading.py")


def _is_internal(filename: str) -> bool:
    # Matches ".../site-packages/langchain_core/..." and a checkout's "runapi_client/_x.py"
    # alike, without importing the frameworks to learn their paths.
    if filename.startswith(_STDLIB) and "-packages" not in filename[len(_STDLIB) :]:
        return True
    return any(part in filename for part in _INTERNAL_PARTS)


@dataclass(frozen=True, slots=True)
class _Site:
    """A line to attribute a warning to, as ``warnings.warn`` takes it from a frame."""

    filename: str
    lineno: int
    module_globals: dict[str, Any]


_remembered: ContextVar[_Site | None] = ContextVar("runapi_caller_site", default=None)


def _caller_site(frame: FrameType | None) -> _Site | None:
    """The first frame outside the library, the frameworks and the standard library; the line
    remembered by :func:`remember_caller` when the walk had to cross a task's or a thread's
    start to find one (or found none)."""
    crossed = False
    while frame is not None and _is_internal(filename := frame.f_code.co_filename):
        crossed = crossed or any(part in filename for part in _BOUNDARIES)
        frame = frame.f_back
    if crossed or frame is None:
        remembered = _remembered.get()
        if remembered is not None:
            return remembered
    if frame is None or frame.f_code.co_filename.startswith("<frozen"):
        return None
    return _Site(frame.f_code.co_filename, frame.f_lineno, frame.f_globals)


@contextmanager
def remember_caller() -> Iterator[None]:
    """Note the caller's line for the warnings of a call that continues in other tasks or
    threads (they inherit it, as they inherit every context variable)."""
    site = _caller_site(sys._getframe(1))
    if site is None:
        yield
        return
    token = _remembered.set(site)
    try:
        yield
    finally:
        _remembered.reset(token)


def warn_at_caller(message: str, category: type[Warning] = RunAPIWarning) -> None:
    """``warnings.warn`` attributed to the first frame outside the library and the frameworks
    (the caller's own line); to the line :func:`remember_caller` noted when the call left the
    caller's stack; to the direct caller when there is neither."""
    site = _caller_site(sys._getframe(1))
    if site is None:
        warnings.warn(message, category, stacklevel=2)
        return
    module_globals = site.module_globals
    warnings.warn_explicit(
        message,
        category,
        site.filename,
        site.lineno,
        module=module_globals.get("__name__", "<string>"),
        registry=module_globals.setdefault("__warningregistry__", {}),
        module_globals=module_globals,
    )
