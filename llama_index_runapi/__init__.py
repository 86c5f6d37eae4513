"""RunAPI (runapi.ai) for LlamaIndex: ``RunAPILLM``, usage totals and the error classes.

```python
from llama_index_runapi import RunAPILLM, track_usage

llm = RunAPILLM(model="glm-4.6")
with track_usage() as usage:
    print(llm.complete("Hello").text)
print(usage.total_cost)
```
"""

try:  # a missing extra gets a message that says how to install it; see tests/test_packaging.py
    import llama_index.core  # noqa: F401
except ModuleNotFoundError as error:
    if error.name not in ("llama_index", "llama_index.core"):
        raise
    raise ModuleNotFoundError(
        "llama_index_runapi needs LlamaIndex (llama-index-core), which is not installed: "
        'pip install "runapi-integrations[llama-index]"',
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
    UsageTracker,
    track_usage,
)

from .base import DEFAULT_MODEL, RunAPILLM
from .embeddings import RunAPIEmbedding

__all__ = [
    "DEFAULT_MODEL",
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
    "Price",
    "RateLimitError",
    "RunAPIEmbedding",
    "RunAPIError",
    "RunAPILLM",
    "ServerError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "UsageTracker",
    "track_usage",
]
