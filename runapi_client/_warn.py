"""Warnings that point at the caller's line, not at a line inside this library or a framework.

A warning is only useful where it can be acted on. Ours are raised deep inside a call chain
(``invoke`` → LangChain's ``generate`` → ``_generate`` → the core), so a fixed ``stacklevel``
points into ``langchain_core`` or the core on one path and somewhere else on another. Instead
the stack is walked to the first frame outside these packages.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import warnings

__all__ = ["warn_at_caller"]

_INTERNAL_PACKAGES = (
    "runapi_client",
    "langchain_runapi",
    "llama_index_runapi",
    "langchain_core",
    "langchain",
    "langgraph",
    "llama_index",
    "pydantic",
    "pydantic_core",
)
_SEP = os.sep
# The standard library's frames (a thread pool's worker, the event loop) are not the caller's
# either: a LangChain batch runs each call in an executor thread, with no user frame above it.
_STDLIB = sysconfig.get_paths()["stdlib"] + _SEP


def _is_internal(filename: str) -> bool:
    # Matches ".../site-packages/langchain_core/..." and a checkout's "runapi_client/_x.py"
    # alike, without importing the frameworks to learn their paths.
    if filename.startswith(_STDLIB) and "-packages" not in filename[len(_STDLIB) :]:
        return True
    return any(f"{_SEP}{name}{_SEP}" in filename for name in _INTERNAL_PACKAGES)


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the first frame outside the library and the frameworks
    (the caller's own line); to the direct caller when there is no such frame (e.g. inside an
    asyncio task, whose stack ends in the event loop)."""
    frame = sys._getframe(1)
    level = 2
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    if frame is None or frame.f_code.co_filename.startswith("<frozen"):
        level = 2  # no caller's frame on this stack: the line that raised the warning
    warnings.warn(message, category, stacklevel=level)
