"""LangChain adapter for RunAPI: ``ChatRunAPI``, ``RunAPIEmbeddings``, ``get_runapi_callback``
and the error classes of the core (``runapi_client.errors``)."""

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

from runapi_client import Price
from runapi_client import errors as _core_errors
from runapi_client.errors import *  # noqa: F403  (the error classes: errors.__all__)

from .callbacks import RunAPIUsage, get_runapi_callback
from .chat_models import ChatRunAPI
from .embeddings import RunAPIEmbeddings

# (The core's module by its own name: importing the .errors submodule below binds ``errors``
# here to langchain_runapi.errors, the LangChain twins.)
__all__ = [
    *_core_errors.__all__,
    "ChatRunAPI",
    "Price",
    "RunAPIEmbeddings",
    "RunAPIUsage",
    "get_runapi_callback",
]
