"""LangChain adapter for RunAPI: ``ChatRunAPI``, ``RunAPIEmbeddings``, ``get_runapi_callback``
and the error classes of the core."""

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
