"""Constructor names other LlamaIndex integrations use for our fields (``api_base``,
``model_name``), accepted so that code moved over from ``OpenAILike``/``OpenAIEmbedding`` does
not silently send its key to the default URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runapi_client import ConfigurationError

__all__ = ["apply_other_names"]


def apply_other_names(owner: str, values: dict[str, Any], other_names: Mapping[str, str]) -> None:
    """Move values given under another integration's name (``api_base``) to our field's name
    (``base_url``), in place; the same field given twice with different values is an error."""
    for other, name in other_names.items():
        if other not in values:
            continue
        value = values.pop(other)
        if values.get(name) is not None and values[name] != value:
            raise ConfigurationError(
                f"{owner} got {other}={value!r} and {name}={values[name]!r}; "
                f"keep {name} only ({other} is another name for it)."
            )
        values[name] = value
