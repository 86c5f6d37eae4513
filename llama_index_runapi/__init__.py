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

from runapi_client import Price, UsageTracker, track_usage
from runapi_client import errors as _core_errors
from runapi_client.errors import *  # noqa: F403  (the error classes: errors.__all__)

from .base import DEFAULT_MODEL, RunAPILLM
from .embeddings import RunAPIEmbedding

__all__ = [
    *_core_errors.__all__,
    "DEFAULT_MODEL",
    "Price",
    "RunAPIEmbedding",
    "RunAPILLM",
    "UsageTracker",
    "track_usage",
]
