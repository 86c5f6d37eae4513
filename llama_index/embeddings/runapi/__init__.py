"""``from llama_index.embeddings.runapi import RunAPIEmbedding``: the path LlamaIndex users expect.

``llama_index`` and ``llama_index.embeddings`` are namespace packages (no ``__init__.py``), shared
with llama-index-core and every other integration; this package only re-exports.
"""

from llama_index_runapi.embeddings import RunAPIEmbedding

__all__ = ["RunAPIEmbedding"]
