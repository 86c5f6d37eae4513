"""Model names as gateways spell them, mapped to the names the catalog and the prices use.

One normalisation for profiles and prices alike. Servers and users write the same model in many
ways: ``GLM-4.6``, ``z-ai/glm-4.6`` or ``zai-org/GLM-4.6`` (a provider prefix), and a response
may name a dated snapshot of what was asked for (``z-ai/glm-5-turbo-20260315`` for a request of
``glm-5-turbo``). :func:`model_key` folds case and drops the prefix; :func:`lookup` then tries
that key, and the key without its snapshot date, so ``glm-5-turbo-20260315`` finds
``glm-5-turbo``'s entry while a table entry for the snapshot itself would still win.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

__all__ = ["base_model", "lookup", "model_key"]

_V = TypeVar("_V")

# A dated snapshot suffix: -20260315, -2026-03-15, @20260315 (8 digits or an ISO date only, so
# version numbers such as glm-4.5 or a -0414 revision are left alone).
_SNAPSHOT = re.compile(r"[-@_](?:\d{8}|\d{4}-\d{2}-\d{2})$")


def model_key(model: str) -> str:
    """``"Z-AI/GLM-4.6"`` -> ``"glm-4.6"``: case and provider prefixes vary between gateways."""
    return model.rsplit("/", 1)[-1].strip().lower()


def base_model(model: str) -> str:
    """:func:`model_key` without a dated snapshot suffix: ``glm-5-turbo-20260315`` ->
    ``glm-5-turbo``."""
    return _SNAPSHOT.sub("", model_key(model))


def lookup(model: str, table: Mapping[str, _V]) -> _V | None:
    """``table``'s entry for ``model`` (keys written as :func:`model_key` gives them): the exact
    name first, then the base model of a dated snapshot."""
    key = model_key(model)
    found = table.get(key)
    if found is None:
        base = _SNAPSHOT.sub("", key)
        if base != key:
            found = table.get(base)
    return found
