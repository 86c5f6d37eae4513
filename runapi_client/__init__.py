"""The shared core of the RunAPI integrations: transport, streaming, errors, retries, cost.

It imports httpx and pydantic only, never a framework; ``langchain_runapi`` and
``llama_index_runapi`` convert their framework's types to and from the plain dicts used here.
Public modules: this package's namespace, ``runapi_client.errors`` (every error class),
``runapi_client.policy`` (the rules of talking to each model) and ``runapi_client.kit`` (what
the adapters share).
"""

from . import errors, kit, policy
from ._account import Account, Balance
from ._catalog import CATALOG, DEFAULT_MODEL_INFO, PRICES, PRICES_AS_OF, ModelInfo, get_model_info
from ._client import (
    AsyncChatStream,
    AsyncRunAPIClient,
    ChatResult,
    ChatStream,
    EmbeddingResult,
    RunAPIClient,
)
from ._config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_PRICE_LIST_URL,
    PRICE_LIST_TTL_ENV,
    PRICE_LIST_URL_ENV,
    PRICES_ENV,
    ClientConfig,
    normalize_base_url,
)
from ._embeddings import (
    DEFAULT_EMBEDDING_MODEL,
    MAX_EMBEDDING_INPUTS,
    EmbeddedTexts,
    aembed_texts,
    batch_texts,
    embed_texts,
    estimate_tokens,
)
from ._names import base_model, model_key
from ._options import RequestOptions
from ._pacer import Pacer
from ._price import Price
from ._price_list import PriceList, parse_price_schedules
from ._pricing import (
    Cost,
    cost_of,
    format_usd,
    get_price,
    set_price,
    token_counts,
)
from ._sse import ServerSentEvent, SSEDecoder
from ._streaming import StreamAccumulator
from ._telemetry import configure_telemetry
from ._types import ChatCompletion, ChatCompletionChunk, ChatRequest, Model, ToolCall, Usage
from ._usage import ModelUsage, UsageTracker, track_usage
from ._validate import validate_chat_request
from ._version import __version__
from ._warn import RunAPIWarning
from .errors import *  # noqa: F403  (the error classes and their parsers: errors.__all__)
from .policy import PreparedRequest, prepare_request

__all__ = [
    *errors.__all__,
    "API_KEY_ENV",
    "Account",
    "BASE_URL_ENV",
    "CATALOG",
    "DEFAULT_BASE_URL",
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_MODEL_INFO",
    "DEFAULT_PRICE_LIST_URL",
    "MAX_EMBEDDING_INPUTS",
    "PRICES",
    "PRICES_AS_OF",
    "PRICES_ENV",
    "PRICE_LIST_TTL_ENV",
    "PRICE_LIST_URL_ENV",
    "AsyncChatStream",
    "AsyncRunAPIClient",
    "Balance",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "ChatResult",
    "ChatStream",
    "ClientConfig",
    "Cost",
    "EmbeddedTexts",
    "EmbeddingResult",
    "Model",
    "ModelInfo",
    "ModelUsage",
    "Pacer",
    "PreparedRequest",
    "Price",
    "PriceList",
    "RequestOptions",
    "RunAPIClient",
    "RunAPIWarning",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamAccumulator",
    "ToolCall",
    "Usage",
    "UsageTracker",
    "__version__",
    "aembed_texts",
    "base_model",
    "batch_texts",
    "configure_telemetry",
    "cost_of",
    "embed_texts",
    "errors",
    "estimate_tokens",
    "format_usd",
    "get_model_info",
    "get_price",
    "kit",
    "model_key",
    "normalize_base_url",
    "parse_price_schedules",
    "policy",
    "prepare_request",
    "set_price",
    "token_counts",
    "track_usage",
    "validate_chat_request",
]
