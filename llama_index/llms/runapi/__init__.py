"""``from llama_index.llms.runapi import RunAPILLM``: the import path LlamaIndex users expect.

``llama_index`` and ``llama_index.llms`` are namespace packages (llama-index-core owns them);
this directory adds only ``runapi`` to them.
"""

from llama_index_runapi import RunAPILLM, track_usage

__all__ = ["RunAPILLM", "track_usage"]
