"""LangChain adapter for RunAPI: ``ChatRunAPI``, ``RunAPIEmbeddings``, ``get_runapi_callback``
and the error classes of the core (``runapi_client.errors``)."""

from runapi_client import Price, errors
from runapi_client.errors import *  # noqa: F403  (the error classes: errors.__all__)

from .callbacks import RunAPIUsage, get_runapi_callback
from .chat_models import ChatRunAPI
from .embeddings import RunAPIEmbeddings

__all__ = [
    *errors.__all__,
    "ChatRunAPI",
    "Price",
    "RunAPIEmbeddings",
    "RunAPIUsage",
    "get_runapi_callback",
]
