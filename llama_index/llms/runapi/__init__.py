"""``from llama_index.llms.runapi import RunAPILLM``: the import path LlamaIndex users expect.

``llama_index`` and ``llama_index.llms`` are namespace packages (llama-index-core owns them);
this directory adds only ``runapi`` to them.
"""

try:  # a missing extra gets a message that says how to install it; see tests/test_packaging.py
    import llama_index.core  # noqa: F401
except ModuleNotFoundError as error:
    if error.name not in ("llama_index", "llama_index.core"):
        raise
    raise ModuleNotFoundError(
        "llama_index.llms.runapi needs LlamaIndex (llama-index-core), which is not installed: "
        'pip install "runapi-integrations[llama-index]"',
        name=error.name,
    ) from error

from llama_index_runapi import RunAPILLM, track_usage

__all__ = ["RunAPILLM", "track_usage"]
