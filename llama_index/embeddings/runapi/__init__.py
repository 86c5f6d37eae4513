"""``from llama_index.embeddings.runapi import RunAPIEmbedding``: the path LlamaIndex users expect.

``llama_index`` and ``llama_index.embeddings`` are namespace packages (no ``__init__.py``), shared
with llama-index-core and every other integration; this package only re-exports.
"""

try:  # a missing extra gets a message that says how to install it; see tests/test_packaging.py
    import llama_index.core  # noqa: F401
except ModuleNotFoundError as error:
    if error.name not in ("llama_index", "llama_index.core"):
        raise
    raise ModuleNotFoundError(
        "llama_index.embeddings.runapi needs LlamaIndex (llama-index-core), which is not "
        'installed: pip install "runapi-integrations[llama-index]"',
        name=error.name,
    ) from error

from llama_index_runapi.embeddings import RunAPIEmbedding

__all__ = ["RunAPIEmbedding"]
