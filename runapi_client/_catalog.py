"""Per-model facts: limits, tool and JSON-mode support, reasoning, images, and price.

One line per model: adding a model (its profile and its price) touches this file only.

Sources: Z.ai's model documentation for the GLM family and the wire samples (GLM accepts
``tool_choice="auto"`` only and ``response_format`` ``json_object`` but not reliably
``json_schema``); prices from RunAPI's model pages (USD per 1M tokens, as collected in the
project's wire samples on :data:`PRICES_AS_OF`). Unknown models get
:data:`DEFAULT_MODEL_INFO`, a conservative profile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ._names import lookup, model_key
from ._price import Price

__all__ = [
    "CATALOG",
    "DEFAULT_MODEL_INFO",
    "NOT_PUBLISHED",
    "PRICES",
    "PRICES_AS_OF",
    "ModelInfo",
    "get_model_info",
]

PRICES_AS_OF = "2026-11-29"
"""When the built-in rates were copied from RunAPI's model pages (as collected in the project's
wire samples); the pages themselves carry no date."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    context_window: int
    max_output_tokens: int
    supports_tools: bool = True
    tool_choice: tuple[str, ...] = ("auto",)
    """``tool_choice`` values the model accepts ("auto", "none", "required", "function")."""
    parallel_tool_calls: bool = False
    """Whether the ``parallel_tool_calls`` request field is accepted."""
    json_modes: tuple[str, ...] = ("json_object",)
    """``response_format`` types accepted: ``json_object`` and/or ``json_schema``."""
    reasoning: bool = False
    """The model thinks, and ``thinking: {"type": "enabled"|"disabled"}`` switches it."""
    reasoning_default: bool = False
    image_input: bool = False
    file_input: bool = False
    """PDF and other files as ``file`` content parts."""
    known: bool = True
    price: Price | None = None
    """RunAPI's published rates; None (:data:`NOT_PUBLISHED`) where RunAPI publishes none: the
    call reports no cost unless a price is given (``prices=``, ``set_price``) or the live
    price list has one."""

    @property
    def priced(self) -> bool:
        """Whether the built-in table has a price for the model."""
        return self.price is not None

    @property
    def accepts_json_schema(self) -> bool:
        return "json_schema" in self.json_modes

    @property
    def content_parts(self) -> frozenset[str]:
        """The user-message content part types the model reads."""
        parts = {"text"}
        if self.image_input:
            parts.add("image_url")
        if self.file_input:
            parts.add("file")
        return frozenset(parts)


NOT_PUBLISHED = None
"""A catalog line's ``price=`` for a model RunAPI publishes no rate for: every line says its
price or this, so a model without one is a decision written down, not an omission."""

Rates = tuple[float, float, float]


def _rates(input: float, output: float, cache_read: float) -> Price:
    # Cache writes are free on RunAPI's pages.
    return Price(input, output, cache_read, 0.0, source="built-in", as_of=PRICES_AS_OF)


def _glm(
    name: str,
    context: int,
    output: int,
    *,
    image_input: bool = False,
    price: Rates | None,
) -> ModelInfo:
    # GLM: thinks by default, tool_choice "auto" only, json_object but not json_schema.
    return ModelInfo(
        name,
        context,
        output,
        tool_choice=("auto",),
        json_modes=("json_object",),
        parallel_tool_calls=False,
        reasoning=True,
        reasoning_default=True,
        image_input=image_input,
        price=_rates(*price) if price else None,
    )


def _openai(name: str, context: int, output: int, *, price: Rates | None) -> ModelInfo:
    return ModelInfo(
        name,
        context,
        output,
        tool_choice=("auto", "none", "required", "function"),
        json_modes=("json_object", "json_schema"),
        parallel_tool_calls=True,
        image_input=True,
        file_input=True,
        price=_rates(*price) if price else None,
    )


CATALOG: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        # price: USD per 1M tokens (input, output, cache read), or NOT_PUBLISHED
        _glm("glm-4.5", 131_072, 98_304, price=NOT_PUBLISHED),
        _glm("glm-4.5-air", 131_072, 98_304, price=(0.10, 0.55, 0.02)),
        _glm("glm-4.6", 204_800, 131_072, price=(0.30, 1.10, 0.06)),
        _glm("glm-4.7", 204_800, 131_072, price=(0.30, 1.10, 0.06)),
        _glm("glm-5", 204_800, 131_072, price=NOT_PUBLISHED),
        _glm("glm-5-turbo", 204_800, 131_072, price=(0.60, 2.00, 0.12)),
        _glm("glm-5.1", 204_800, 131_072, price=NOT_PUBLISHED),
        _glm("glm-4.5v", 65_536, 16_384, image_input=True, price=NOT_PUBLISHED),
        _glm("glm-4.6v", 131_072, 32_768, image_input=True, price=NOT_PUBLISHED),
        _openai("gpt-4o-mini", 128_000, 16_384, price=NOT_PUBLISHED),
        _openai("gpt-4o", 128_000, 16_384, price=NOT_PUBLISHED),
        _openai("gpt-4.1", 1_047_576, 32_768, price=NOT_PUBLISHED),
        _openai("gpt-4.1-mini", 1_047_576, 32_768, price=NOT_PUBLISHED),
    )
}

PRICES: dict[str, Price] = {name: m.price for name, m in CATALOG.items() if m.price is not None}
"""The prices in force, by model: the catalog's, then any ``set_price`` adds (process-wide)."""

DEFAULT_MODEL_INFO = ModelInfo(
    name="",
    context_window=32_768,
    max_output_tokens=4_096,
    supports_tools=True,
    tool_choice=("auto",),
    json_modes=("json_object",),
    known=False,
)


def get_model_info(model: str) -> ModelInfo:
    """Facts for ``model`` in any spelling (case, provider prefix, dated snapshot: see
    ``_names``); an unknown model gets a conservative default profile."""
    info = lookup(model, CATALOG)
    return info if info is not None else replace(DEFAULT_MODEL_INFO, name=model_key(model))
