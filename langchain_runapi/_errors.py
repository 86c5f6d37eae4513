"""The core's errors as LangChain's ``ModelError`` family too.

LangChain 1.x decides what to do with a failed model call from ``langchain_core.exceptions``:
``ModelRetryMiddleware`` retries an error whose ``is_retryable`` is true and, by default, any
exception that is not a ``ModelError``; ``SummarizationMiddleware`` shortens the prompt on a
``ContextOverflowError``. A bare ``runapi_client.AuthenticationError`` was retried three times
and then turned into an ordinary-looking answer ("Model call failed after 3 attempts ...").

So ``ChatRunAPI`` re-raises each core error as a class that subclasses both the core's class
(``except runapi_client.AuthenticationError`` keeps working) and the matching ``ModelError``,
as langchain-openai does with the OpenAI SDK's errors. The core stays framework-free.
"""

from __future__ import annotations

from typing import Final

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from runapi_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ConfigurationError,
    IncompleteStreamError,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RunAPIError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
)

__all__ = ["as_model_error"]


class RunAPIInvalidRequestError(BadRequestError, ModelInvalidRequestError):
    """400/422: the request was refused as invalid; retrying it unchanged cannot succeed."""


class RunAPIContextOverflowError(BadRequestError, ContextOverflowError):
    """The prompt is longer than the model's context window."""


class RunAPIAuthenticationError(AuthenticationError, ModelAuthenticationError):
    """401: the key is missing, wrong or revoked."""


class RunAPIPermissionDeniedError(PermissionDeniedError, ModelPermissionDeniedError):
    """403."""


class RunAPIInsufficientCreditsError(InsufficientCreditsError, ModelError):
    """402: the account has no credit left; not retryable."""


class RunAPIModelNotFoundError(NotFoundError, ModelNotFoundError):
    """404: an unknown model id."""


class RunAPIRateLimitError(RateLimitError, ModelRateLimitError):
    """429, after the core's own retries."""


class RunAPIServerError(ServerError, ModelAPIError):
    """5xx or an overload reported in a stream, after the core's own retries."""


class RunAPIStatusError(APIStatusError, ModelInvalidRequestError):
    """Another 4xx status (409, 413, ...)."""


class RunAPIConnectionError(APIConnectionError, ModelConnectionError):
    """RunAPI could not be reached, after the core's own retries."""


class RunAPITimeoutError(APITimeoutError, ModelTimeoutError):
    """No answer in time, after the core's own retries."""


class RunAPIIncompleteStreamError(IncompleteStreamError, ModelAPIError):
    """The server ended a stream before its finish reason; ``partial`` holds what arrived."""


class RunAPIStreamInterruptedError(StreamInterruptedError, ModelConnectionError):
    """The connection broke mid-stream; ``partial`` holds what arrived."""


class RunAPIStreamTimeoutError(StreamTimeoutError, ModelTimeoutError):
    """A stream stalled past the read timeout; ``partial`` holds what arrived."""


class RunAPIBudgetExceededError(BudgetExceededError, ModelError):
    """A ``max_cost`` budget is spent: nothing was sent, and retrying cannot help."""


class RunAPIConfigurationError(ConfigurationError, ModelInvalidRequestError):
    """A request refused before sending (a bad value, content the model cannot read)."""


_MODEL_ERROR_OF: Final[dict[type[RunAPIError], type[RunAPIError]]] = {
    BadRequestError: RunAPIInvalidRequestError,
    AuthenticationError: RunAPIAuthenticationError,
    PermissionDeniedError: RunAPIPermissionDeniedError,
    InsufficientCreditsError: RunAPIInsufficientCreditsError,
    NotFoundError: RunAPIModelNotFoundError,
    RateLimitError: RunAPIRateLimitError,
    ServerError: RunAPIServerError,
    APIStatusError: RunAPIStatusError,
    APIConnectionError: RunAPIConnectionError,
    APITimeoutError: RunAPITimeoutError,
    IncompleteStreamError: RunAPIIncompleteStreamError,
    StreamInterruptedError: RunAPIStreamInterruptedError,
    StreamTimeoutError: RunAPIStreamTimeoutError,
    BudgetExceededError: RunAPIBudgetExceededError,
    ConfigurationError: RunAPIConfigurationError,
}

_OVERFLOW_CODES = frozenset({"context_length_exceeded", "context_window_exceeded"})
_OVERFLOW_WORDS = (
    "context length",
    "context window",
    "maximum context",
    "prompt is too long",
    "prompt exceeds",
    "input is too long",
    "too many tokens",
)


def _is_overflow(err: RunAPIError) -> bool:
    if err.code in _OVERFLOW_CODES:
        return True
    text = err.message.lower()
    return any(words in text for words in _OVERFLOW_WORDS)


def as_model_error(err: RunAPIError) -> RunAPIError:
    """``err`` as the class that is both its core class and LangChain's ``ModelError`` for it,
    with the same message, attributes (``status_code``, ``code``, ``request_id``, ``body``,
    ``partial``, ``retry_after``) and traceback; ``err`` itself if there is none."""
    if isinstance(err, ModelError):
        return err
    cls = _MODEL_ERROR_OF.get(type(err))
    if cls is None:
        return err
    if cls is RunAPIInvalidRequestError and _is_overflow(err):
        cls = RunAPIContextOverflowError
    converted = cls.__new__(cls)
    Exception.__init__(converted, *err.args)
    converted.__dict__.update(err.__dict__)
    converted.__cause__ = err.__cause__
    converted.__suppress_context__ = err.__suppress_context__
    return converted.with_traceback(err.__traceback__)
