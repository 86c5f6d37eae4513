"""LangChain adapter for RunAPI: ``ChatRunAPI``, ``RunAPIEmbeddings``, ``get_runapi_callback``
and the error classes of the core."""

try:  # a missing extra gets a message that says how to install it; see tests/test_packaging.py
    import langchain_core  # noqa: F401
except ModuleNotFoundError as error:
    if error.name != "langchain_core":
        raise
    raise ModuleNotFoundError(
        "langchain_runapi needs LangChain (langchain-core), which is not installed: "
        'pip install "runapi-integrations[langchain]"',
        name=error.name,
    ) from error

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
    Price,
    RateLimitError,
    RunAPIError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
)

from .callbacks import RunAPIUsage, get_runapi_callback
from .chat_models import ChatRunAPI
from .embeddings import RunAPIEmbeddings

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ChatRunAPI",
    "ConfigurationError",
    "IncompleteStreamError",
    "InsufficientCreditsError",
    "NotFoundError",
    "PermissionDeniedError",
    "Price",
    "RateLimitError",
    "RunAPIEmbeddings",
    "RunAPIError",
    "RunAPIUsage",
    "ServerError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "get_runapi_callback",
]
