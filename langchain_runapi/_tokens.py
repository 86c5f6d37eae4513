"""Token estimates for ``get_num_tokens*``: no GLM tokenizer ships offline.

LangChain's default counts with GPT-2's tokenizer from ``transformers``: an ImportError unless
that (large) package is installed, and GPT-2's vocabulary says little about GLM's anyway. So
``trim_messages(token_counter=model)`` and context-window checks would fail out of the box.

The estimate here is the core's (:func:`runapi_client.estimate_tokens`: UTF-8 bytes / 3,
which overestimates English by about a third and is about right for CJK), applied through
LangChain's own ``count_tokens_approximately`` so roles, names, tool calls, tool schemas and
images are counted the way LangChain counts them. With ``use_usage_metadata_scaling``, a
history holding an answer from RunAPI whose reported ``total_tokens`` exceeds the estimate up to
that answer scales the estimate up by that ratio (LangChain caps it at 1.25): where the bytes/3
rule runs low (code, random strings), the real tokenizer's count pulls it up.

An answer is counted as it is sent back (:func:`_as_sent`): its text and its tool calls. With
``output_version="v1"`` its content is a list of blocks, reasoning among them, and LangChain
would count every block, each with its JSON overhead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.utils.function_calling import convert_to_openai_tool

from runapi_client import estimate_tokens
from runapi_client.kit import BYTES_PER_TOKEN, utf8_size

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["count_message_tokens", "count_text_tokens"]


def count_text_tokens(text: str) -> int:
    """Estimated tokens in ``text`` (0 for the empty string)."""
    return estimate_tokens(text) if text else 0


def _chars_per_token(messages: Sequence[BaseMessage]) -> float:
    """Characters per token such that counting characters gives UTF-8 bytes / 3.

    ``count_tokens_approximately`` divides characters, and a CJK character is 3 bytes and
    about 1 token: 3.0 for ASCII text, down to 1.0 for CJK text.
    """
    chars = size = 0
    for message in messages:
        text = message.text
        chars += len(text)
        size += utf8_size(text)
    return BYTES_PER_TOKEN * chars / size if size else float(BYTES_PER_TOKEN)


def _as_sent(message: BaseMessage) -> BaseMessage:
    """An answer whose content is a list of blocks, as the wire has it: its text, with the
    tool calls beside it (LangChain counts those for string content). Usage and metadata are
    kept, for the usage scaling."""
    if isinstance(message, AIMessage) and not isinstance(message.content, str):
        return message.model_copy(update={"content": message.text})
    return message


def count_message_tokens(
    messages: Sequence[BaseMessage], tools: Sequence[Any] | None = None
) -> int:
    """Estimated prompt tokens of ``messages`` (and ``tools``' schemas, if given)."""
    messages = [_as_sent(m) for m in messages]
    schemas: list[BaseTool | dict[str, Any]] | None = (
        [convert_to_openai_tool(tool) for tool in tools] if tools else None
    )
    return count_tokens_approximately(
        messages,
        chars_per_token=_chars_per_token(messages),
        tools=schemas,
        use_usage_metadata_scaling=True,
    )
