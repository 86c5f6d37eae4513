"""The core's errors as LangChain's ``ModelError`` family too: ``langchain_runapi.errors``.

LangChain 1.x decides what to do with a failed model call from ``langchain_core.exceptions``:
``ModelRetryMiddleware`` retries an error whose ``is_retryable`` is true and, by default, any
exception that is not a ``ModelError``; ``SummarizationMiddleware`` shortens the prompt on a
``ContextOverflowError``. So an error ``ChatRunAPI`` raises is of a class that subclasses both
the core's class (``except runapi_client.AuthenticationError`` keeps working) and the matching
``ModelError``, as langchain-openai does with the OpenAI SDK's errors. The core stays
framework-free; the pairs are one table (:data:`MODEL_ERROR_OF`), applied in one place
(:func:`model_errors`).

Each twin has its core class's name and lives here: ``langchain_runapi.errors.NotFoundError``
is both ``runapi_client.NotFoundError`` (also ``langchain_runapi.NotFoundError``) and
``langchain_core.exceptions.ModelNotFoundError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from langchain_core import exceptions as lc

import runapi_client.errors as core

MODEL_ERROR_OF: Final[dict[type[core.RunAPIError], type[lc.ModelError]]] = {
    core.BadRequestError: lc.ModelInvalidRequestError,
    core.ContextOverflowError: lc.ContextOverflowError,
    core.ContentFilterError: lc.ModelInvalidRequestError,
    core.AuthenticationError: lc.ModelAuthenticationError,
    core.PermissionDeniedError: lc.ModelPermissionDeniedError,
    core.InsufficientCreditsError: lc.ModelError,
    core.NotFoundError: lc.ModelNotFoundError,
    core.RateLimitError: lc.ModelRateLimitError,
    core.UsageLimitError: lc.ModelRateLimitError,
    core.ServerError: lc.ModelAPIError,
    core.RedirectError: lc.ModelInvalidRequestError,
    core.APIStatusError: lc.ModelInvalidRequestError,
    core.APIConnectionError: lc.ModelConnectionError,
    core.APITimeoutError: lc.ModelTimeoutError,
    core.IncompleteStreamError: lc.ModelAPIError,
    core.StreamInterruptedError: lc.ModelConnectionError,
    core.StreamTimeoutError: lc.ModelTimeoutError,
    core.BudgetExceededError: lc.ModelError,
    core.ConfigurationError: lc.ModelInvalidRequestError,
}
"""Each core error class and the ``ModelError`` its LangChain twin also is. A core class left
out (a new one) is raised as it is, still a ``RunAPIError``."""


_NOT_WORTH_RETRYING: Final = (core.UsageLimitError,)
"""Errors whose ModelError says retrying may help where it cannot: a usage cap (sent with 429)
lasts hours."""


def _twin(cls: type[core.RunAPIError], model_error: type[lc.ModelError]) -> type:
    fields: dict[str, object] = {
        "__module__": __name__,
        "__doc__": f"{cls.__doc__}\n\nAlso LangChain's ``{model_error.__name__}``.",
    }
    if issubclass(cls, _NOT_WORTH_RETRYING):
        fields["is_retryable"] = False
    return type(cls.__name__, (cls, model_error), fields)


_TWINS: Final[dict[type[core.RunAPIError], type]] = {
    cls: _twin(cls, model_error) for cls, model_error in MODEL_ERROR_OF.items()
}
# Importable by name (pickle finds a class by its module and name; so do readers of a
# traceback): langchain_runapi.errors.NotFoundError.
globals().update({twin.__name__: twin for twin in _TWINS.values()})
__all__ = sorted(twin.__name__ for twin in _TWINS.values())


def model_error_class(cls: type[core.RunAPIError]) -> type | None:
    """The LangChain twin of core error class ``cls`` (None for a class without one)."""
    return _TWINS.get(cls)


@contextmanager
def model_errors() -> Iterator[None]:
    """Inside the block, a core error leaves as its twin: the same object, class changed, so
    its message, attributes (``status_code``, ``partial``, ``retry_after``...), cause and
    traceback are all kept."""
    try:
        yield
    except core.RunAPIError as err:
        twin = _TWINS.get(type(err))
        if twin is not None:
            err.__class__ = twin
        raise
