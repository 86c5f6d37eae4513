"""What the fake RunAPI server "says": a deterministic, scripted stand-in for GLM-4.6.

Pure functions from a Chat Completions request body to an :class:`Answer` (reasoning, content,
tool calls, finish reason, token counts). The wire framing (JSON or SSE, native or normalised)
lives in ``fake_runapi``. The rules, first match wins:

- ``tools`` present, ``tool_choice`` not ``"none"`` and the last message is not a tool result:
  call the tool ``tool_choice`` names, else the first tool; when ``parallel_tool_calls`` is not
  false and the user text names two or more tools, call each of them. Arguments come from the
  tool's JSON schema (integers 3, enums their first value, strings a quoted phrase of the user
  text when there is one, else a plausible value).
- The last message is a tool result: a short text quoting it.
- ``response_format`` ``json_schema``: a JSON object valid for the schema. ``json_object``: a
  JSON object with the keys the prompt names (an embedded JSON schema, or quoted key names
  next to the word "keys"), else ``{"answer": ...}``.
- Otherwise ``"\\nHello! You said: <last user text>"``: several words, so streams have chunks,
  and a per-call echo, so an answer delivered to the wrong caller is detectable.

``stop`` cuts the text before the first stop string; ``max_tokens`` caps the words.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "answer", "example_from_schema", "split_words"]

_QUOTED = re.compile(r"'([^'\n]{1,80})'|\"([^\"\n]{1,80})\"|“([^”\n]{1,80})”")
_NUMBER = re.compile(r"(?<![\w.-])-?\d+(?:\.\d+)?(?![\w.])")


@dataclass
class Answer:
    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "completion_tokens": self.completion_tokens,
            "prompt_tokens": self.prompt_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


def split_words(text: str) -> list[str]:
    """Text -> stream pieces that join back to the text (a word with its leading space)."""
    pieces = re.findall(r"\s*\S+|\s+$", text)
    return pieces or ([text] if text else [])


def text_of(content: Any) -> str:
    """Message content (a string or a list of parts) -> its text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content
        ).strip()
    return "" if content is None else json.dumps(content, ensure_ascii=False)


def _digest(*parts: Any) -> int:
    raw = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big")


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


# ------------------------------------------------------------------------- values from schemas


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def _plausible_string(name: str, schema: dict[str, Any], hint: str | None) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2025-11-03T16:26:14Z"
    if fmt == "date":
        return "2025-11-03"
    if fmt == "email":
        return "user@example.com"
    if fmt in ("uri", "url"):
        return "https://example.com"
    key = name.lower()
    if hint and not any(w in key for w in ("style", "setup", "punchline")):
        return hint  # a phrase the user quoted, e.g. a name in their own script
    if "city" in key or "location" in key or "place" in key:
        return "Paris"
    if "style" in key:
        return "pirate"
    if "setup" in key:
        return "Why did the cat sit on the computer?"
    if "punchline" in key:
        return "To keep an eye on the mouse."
    if "lang" in key:
        return "中文"
    return hint or f"example {name or 'value'}"


def example_from_schema(
    schema: Any,
    *,
    name: str = "",
    hint: str | None = None,
    root: Any = None,
    depth: int = 0,
    numbers: list[float] | None = None,
) -> Any:
    """A value valid for ``schema`` (the subset of JSON Schema tools and response formats use).

    ``numbers`` (consumed in order) fills numeric fields, so "multiply 6 by 7" calls with 6 and 7.
    """
    root = root if root is not None else (schema if isinstance(schema, dict) else {})
    schema = _resolve(schema, root)
    if depth > 8:
        return None
    for combinator in ("anyOf", "oneOf"):
        options = [_resolve(o, root) for o in schema.get(combinator) or []]
        options = [o for o in options if o.get("type") != "null"] or options
        if options:
            return example_from_schema(
                options[0], name=name, hint=hint, root=root, depth=depth + 1, numbers=numbers
            )
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part, root))
        return example_from_schema(
            merged, name=name, hint=hint, root=root, depth=depth + 1, numbers=numbers
        )
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind in ("integer", "number"):
        given = numbers.pop(0) if numbers else 3
        value: int | float = int(given) if kind == "integer" or given == int(given) else given
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if isinstance(low, (int, float)) and value <= low:
            value = int(low) + 1
        if isinstance(high, (int, float)) and value >= high:
            value = int(high) - 1 if "exclusiveMaximum" in schema else int(high)
        return value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        item = example_from_schema(
            schema.get("items", {}),
            name=name,
            hint=hint,
            root=root,
            depth=depth + 1,
            numbers=numbers,
        )
        return [item] * count
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            key: example_from_schema(
                sub, name=key, hint=hint, root=root, depth=depth + 1, numbers=numbers
            )
            for key, sub in properties.items()
        }
    return _plausible_string(name, schema, hint)


# ---------------------------------------------------------------------------------- the answer


def _tool_calls(body: dict[str, Any], user_text: str) -> list[dict[str, Any]]:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    functions = [t.get("function") or {} for t in tools]
    choice = body.get("tool_choice")
    chosen: list[dict[str, Any]]
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name") or choice.get("name")
        chosen = [f for f in functions if f.get("name") == wanted][:1] or functions[:1]
    elif isinstance(choice, str) and choice not in ("auto", "any", "required", "none"):
        chosen = [f for f in functions if f.get("name") == choice][:1] or functions[:1]
    else:
        mentioned = [f for f in functions if f.get("name") and f["name"] in user_text]
        if body.get("parallel_tool_calls") is not False and len(mentioned) >= 2:
            chosen = mentioned
        else:
            chosen = mentioned[:1] or functions[:1]
    match = _QUOTED.search(user_text)
    hint = next((g for g in match.groups() if g), None) if match else None
    calls = []
    for index, function in enumerate(chosen):
        numbers = [float(n) for n in _NUMBER.findall(user_text)]
        args = example_from_schema(function.get("parameters") or {}, hint=hint, numbers=numbers)
        if not isinstance(args, dict):
            args = {}
        digest = _digest(user_text, function.get("name"), index)
        calls.append(
            {
                "id": f"call_-{digest % 10**19}",
                "index": index,
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": json.dumps(args, ensure_ascii=False, separators=(",", ":")),
                },
            }
        )
    return calls


# LlamaIndex's default question-answering prompt (text_qa_template).
_QA = re.compile(
    r"Context information is below\.\s*-+\s*(?P<context>.*?)\s*-{3,}"
    r".*?Query:\s*(?P<query>.*?)\s*Answer:",
    re.DOTALL,
)
_METADATA_LINE = re.compile(r"^\w+: \S")


def extractive_answer(user_text: str) -> str | None:
    """For a retrieval prompt: the two context sentences that share most words with the query,
    so a RAG answer visibly comes from what was retrieved (a scripted stand-in for reading)."""
    match = _QA.search(user_text)
    if match is None:
        return None
    query = {w.lower() for w in re.findall(r"\w+", match["query"]) if len(w) > 3}
    # Paragraphs of prose (wrapped lines joined), then sentences.
    paragraphs: list[list[str]] = [[]]
    in_code = False
    for line in match["context"].splitlines():
        if line.startswith("```"):
            in_code = not in_code  # code, tables and metadata are not sentences to quote
        elif line.strip() and not in_code and not _METADATA_LINE.match(line) and line[0] != "|":
            paragraphs[-1].append(line.strip().lstrip("-#* "))
        elif paragraphs[-1]:
            paragraphs.append([])
    sentences = [
        s
        for lines in paragraphs
        for s in re.split(r"(?<=[.!?])\s+", " ".join(lines))
        if len(s) > 20
    ]
    if not sentences:
        return None
    scored = sorted(
        range(len(sentences)),
        key=lambda i: -len(query & {w.lower() for w in re.findall(r"\w+", sentences[i])}),
    )
    best = sorted(scored[:2])  # in context order
    return "\n" + " ".join(sentences[i] for i in best)


def _json_answer(body: dict[str, Any], messages: list[Any], user_text: str) -> str | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return json.dumps(example_from_schema(schema, hint=None), ensure_ascii=False)
    if fmt.get("type") != "json_object":
        return None
    everything = "\n".join(text_of(m.get("content")) for m in messages if isinstance(m, dict))
    start = everything.find("{")
    while start != -1:  # an embedded JSON schema, if any
        try:
            embedded, _ = json.JSONDecoder().raw_decode(everything[start:])
        except ValueError:
            embedded = None
        if isinstance(embedded, dict) and "properties" in embedded:
            return json.dumps(example_from_schema(embedded), ensure_ascii=False)
        start = everything.find("{", start + 1)
    keys_at = everything.lower().find("keys")
    if keys_at != -1:
        keys = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(everything[:keys_at])]
        if keys:
            return json.dumps(
                {k: example_from_schema({"type": "string"}, name=k) for k in keys},
                ensure_ascii=False,
            )
    return json.dumps({"answer": f"You said: {user_text}"}, ensure_ascii=False)


def _count_prompt_tokens(body: dict[str, Any]) -> int:
    chars = sum(
        len(text_of(m.get("content"))) + 4
        for m in body.get("messages") or []
        if isinstance(m, dict)
    )
    if body.get("tools"):
        chars += len(json.dumps(body["tools"]))
    return max(1, chars // 4 + 3)


def answer(body: dict[str, Any]) -> Answer:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    user_text = _last_user_text(messages)
    last = messages[-1] if messages else {}
    thinking = body.get("thinking")
    reasons = not (isinstance(thinking, dict) and thinking.get("type") == "disabled")
    result = Answer()
    result.prompt_tokens = _count_prompt_tokens(body)
    digest = _digest(body.get("model"), messages)
    # Deterministic cache hits: a prompt either "was seen before" or not, always the same way.
    result.cached_tokens = (result.prompt_tokens // 2) if digest % 3 == 0 else 0

    if body.get("tools") and last.get("role") != "tool" and body.get("tool_choice") != "none":
        result.tool_calls = _tool_calls(body, user_text)
        result.finish_reason = "tool_calls"
        if reasons:
            result.reasoning = "\nThe user wants a tool result; I will call the tool."
    elif last.get("role") == "tool":
        result.content = f"\nThe tool returned: {text_of(last.get('content'))}"
        if reasons:
            result.reasoning = "\nI have the tool result; I will report it."
    else:
        json_text = _json_answer(body, messages, user_text)
        extracted = None if json_text is not None else extractive_answer(user_text)
        if json_text is not None:
            result.content = json_text
        elif extracted is not None:
            result.content = extracted
        else:
            result.content = f"\nHello! You said: {user_text or '(nothing)'}"
        if reasons:
            result.reasoning = f"\nThe user said {len(user_text.split())} words; answer briefly."

    stops = body.get("stop")
    stops = [stops] if isinstance(stops, str) else [s for s in stops or [] if isinstance(s, str)]
    for stop in stops:
        if stop and stop in result.content:
            result.content = result.content[: result.content.index(stop)]
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    reasoning_words = split_words(result.reasoning)
    content_words = split_words(result.content)
    if isinstance(limit, int) and limit > 0 and not result.tool_calls:
        if len(content_words) > limit:
            content_words = content_words[:limit]
            result.content = "".join(content_words)
            result.finish_reason = "length"
        room = limit - len(content_words)
        if len(reasoning_words) > room:
            reasoning_words = reasoning_words[: max(room, 0)]
            result.reasoning = "".join(reasoning_words)
    result.reasoning_tokens = len(reasoning_words)
    tool_tokens = sum(len(c["function"]["arguments"]) // 4 + 5 for c in result.tool_calls)
    result.completion_tokens = len(content_words) + result.reasoning_tokens + tool_tokens
    return result
