"""The shared core of the RunAPI integrations: transport, streaming, errors, retries, cost.

It imports httpx and pydantic only, never a framework; ``langchain_runapi`` and
``llama_index_runapi`` convert their framework's types to and from the plain dicts used here.
"""

from ._catalog import CATALOG, DEFAULT_MODEL_INFO, ModelInfo, get_model_info
from ._client import (
    AsyncChatStream,
    AsyncRunAPIClient,
    ChatResult,
    ChatStream,
    EmbeddingResult,
    RunAPIClient,
)
from ._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, ClientConfig, normalize_base_url
from ._embeddings import (
    DEFAULT_EMBEDDING_MODEL,
    MAX_EMBEDDING_INPUTS,
    EmbeddedTexts,
    aembed_texts,
    batch_texts,
    embed_texts,
    estimate_tokens,
)
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
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
    error_from_response,
    parse_error_body,
)
from ._options import RequestOptions
from ._price_list import PriceList, parse_price_schedules
from ._pricing import PRICES, PRICES_AS_OF, Cost, Price, cost_of, get_price, set_price, token_counts
from ._sse import ServerSentEvent, SSEDecoder
from ._streaming import StreamAccumulator
from ._types import ChatCompletion, ChatCompletionChunk, ChatRequest, Model, ToolCall, Usage
from ._usage import BudgetExceededError, ModelUsage, UsageTracker, track_usage
from ._validate import validate_chat_request

__version__ = "0.1.0"

ERROR_CLASSES = (
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "IncompleteStreamError",
    "InsufficientCreditsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RunAPIError",
    "ServerError",
    "StreamInterruptedError",
    "StreamTimeoutError",
)

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "CATALOG",
    "DEFAULT_BASE_URL",
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_MODEL_INFO",
    "MAX_EMBEDDING_INPUTS",
    "PRICES",
    "PRICES_AS_OF",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncRunAPIClient",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "ChatResult",
    "ChatStream",
    "ClientConfig",
    "ConfigurationError",
    "Cost",
    "EmbeddedTexts",
    "EmbeddingResult",
    "IncompleteStreamError",
    "InsufficientCreditsError",
    "Model",
    "ModelInfo",
    "ModelUsage",
    "NotFoundError",
    "PermissionDeniedError",
    "Price",
    "PriceList",
    "RateLimitError",
    "RequestOptions",
    "RunAPIClient",
    "RunAPIError",
    "SSEDecoder",
    "ServerError",
    "ServerSentEvent",
    "StreamAccumulator",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "ToolCall",
    "Usage",
    "UsageTracker",
    "__version__",
    "aembed_texts",
    "batch_texts",
    "cost_of",
    "embed_texts",
    "error_from_response",
    "estimate_tokens",
    "get_model_info",
    "get_price",
    "normalize_base_url",
    "parse_error_body",
    "parse_price_schedules",
    "set_price",
    "token_counts",
    "track_usage",
    "validate_chat_request",
]
