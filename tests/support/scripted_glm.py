"""What the fake RunAPI server "says": a deterministic, scripted stand-in for a GLM model.

Pure functions from a Chat Completions request body to a :class:`Refusal` (what GLM rejects
with HTTP 400) or an :class:`Answer` (reasoning, content, tool calls, finish reason, token
counts). The wire framing (JSON or SSE, in one of several dialects) lives in ``fake_runapi``.

:func:`refusal` first, as Z.ai checks a request before the model sees it:

- ``messages`` missing, not a list or empty: 1214. An unknown model (no model, or one whose
  name contains ``does-not-exist``): 1211.
- A GLM model (name starting with ``glm``, after any ``provider/`` prefix) accepts
  ``tool_choice`` ``"auto"`` (and ``"none"``, honoured) only: ``"required"``, ``"any"``, a
  function dict or a tool name are 1210; so is ``response_format`` ``json_schema`` (GLM takes
  ``json_object``). Other models (``gpt-4o-mini``...) accept both.
- A prompt longer than the model's context window (:func:`context_window`, tokens estimated
  as :func:`answer` counts them): 1261.

Then :func:`answer`; the rules, first match wins:

- The last message is a tool result: a short text quoting it.
- ``tools`` offered and a tool call asked for (never merely because tools are offered, as a
  real model answers "Hello" in prose whatever tools it holds):

  a. ``tool_choice`` forces one (``"required"``/``"any"``, a function dict, a tool name: the
     models that accept it): the named tool, else the tools the user names, else the first.
  b. A system (or developer) message asks in words: a verb (call/use/invoke) and the word
     "tool", or a tool's exact name with call/use (the instruction the client sends when it
     cannot force a tool: "Answer by calling one of the provided tools: call `X`."). The tool
     that text names, else the tools the user names, else the first tool.
  c. The last user message asks: a verb and "tool" ("Use the tool.", "call a tool", "with the
     tool"); or it names a tool exactly ("get_weather", "magic_function(3)"; a one-word name
     such as "add" only beside call/use/invoke, so a tool "Joke" is not called by "Tell me a
     joke"); or the tool is named verb_noun (``get_weather``, ``searchDocs``: get, fetch,
     lookup, look, search, find, check, read, query, list) and a noun of it (4+ letters) is a
     word of the question ("What is the weather in Paris?"), which only the tool can answer.

  The tools the user names are all called (parallel calls) when there are two or more and
  ``parallel_tool_calls`` is not false (GLM accepts the field and ignores it). Arguments come
  from the tool's JSON schema (integers from the numbers in the user text, else 3; enums their
  first value; strings a quoted phrase of the user text when there is one, else a plausible
  value).
- ``response_format`` ``json_schema``: a JSON object valid for the schema. ``json_object``: a
  JSON object with the keys the prompt names (an embedded JSON schema, or quoted key names
  next to the word "keys"), else ``{"answer": ...}``.
- A retrieval prompt (LlamaIndex's question-answering template): its two best context sentences.
- Otherwise ``"\\nHello! You said: <last user text>"``: several words, so streams have chunks,
  and a per-call echo, so an answer delivered to the wrong caller is detectable. Offered tools
  do not change that.

``stop`` cuts the text before the first stop string; ``max_tokens`` caps the words.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "Refusal",
    "answer",
    "context_window",
    "example_from_schema",
    "is_glm",
    "refusal",
    "split_words",
]

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


# ------------------------------------------------------------------------- what GLM refuses

_SNAPSHOT = re.compile(r"-\d{8}$")
# Context windows in tokens (Z.ai's model pages); anything else gets a conservative 32K.
_CONTEXT_WINDOWS = {
    "glm-4.5": 131_072,
    "glm-4.5-air": 131_072,
    "glm-4.6": 204_800,
    "glm-4.7": 204_800,
    "glm-5": 204_800,
    "glm-5-turbo": 204_800,
    "glm-5.1": 204_800,
}
_DEFAULT_CONTEXT_WINDOW = 32_768


def base_model(model: str) -> str:
    """``z-ai/GLM-4.6-20251001`` -> ``glm-4.6``: no provider prefix, no dated snapshot suffix."""
    return _SNAPSHOT.sub("", model.rsplit("/", 1)[-1].strip().lower())


def is_glm(model: str) -> bool:
    return base_model(model).startswith("glm")


def context_window(model: str) -> int:
    return _CONTEXT_WINDOWS.get(base_model(model), _DEFAULT_CONTEXT_WINDOW)


@dataclass(frozen=True)
class Refusal:
    """A request the model refuses: the HTTP status and Z.ai's error code and message."""

    status: int
    code: str
    message: str

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def _forces_a_tool(choice: Any) -> bool:
    """Whether ``tool_choice`` asks for more than GLM's "auto" (and "none", which it honours)."""
    return choice is not None and choice not in ("auto", "none")


def refusal(body: Any) -> Refusal | None:
    """What Z.ai answers with HTTP 400 instead of an answer, or None (see the module docstring)."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return Refusal(400, "1214", "messages 参数非法")
    if not body["messages"]:
        return Refusal(400, "1214", "messages 参数非法")
    model = str(body.get("model") or "")
    if not model or "does-not-exist" in model:
        return Refusal(400, "1211", "模型不存在，请检查模型代码。")
    if is_glm(model):
        if _forces_a_tool(body.get("tool_choice")):
            message = "Invalid API parameter tool_choice: only 'auto' is supported"
            return Refusal(400, "1210", message)
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            return Refusal(
                400,
                "1210",
                "Invalid API parameter response_format: json_schema is not supported, "
                "use json_object",
            )
    if _count_prompt_tokens(body) > context_window(model):
        return Refusal(400, "1261", "Prompt exceeds max length")
    return None


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


_VERB = r"(?:call|calls|calling|called|use|uses|using|invoke|invokes|invoking)"
_VERB_WORD = re.compile(rf"\b{_VERB}\b", re.IGNORECASE)
_TOOL_WORD = re.compile(r"\btools?\b", re.IGNORECASE)
# A verb and "tool" a few words apart ("use the weather tool"), or "with the tool".
_ASKS_FOR_A_TOOL = re.compile(
    rf"\b{_VERB}\W+(?:\w+\W+){{0,3}}?tools?\b"
    r"|\bwith\W+(?:the|a|an|your|this|that|one)\W+(?:\w+\W+)?tools?\b",
    re.IGNORECASE,
)
# "do not use", "never call", "without using", "no need to call": asked not to.
_NEGATION = re.compile(
    r"\b(?:not|never|without|no need to|n't|dont|cannot)\W+(?:\w+\W+)?$", re.IGNORECASE
)
# Tool names read as "verb_noun": a question about the noun is one only the tool can answer.
_LOOKUP_VERBS = frozenset(
    ("get", "fetch", "lookup", "look", "search", "find", "check", "read", "query", "list")
)
_NAME_PART = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _affirmed(text: str, match: re.Match[str]) -> bool:
    """The match is not in the scope of a negation just before it ("do not use the tool")."""
    return _NEGATION.search(text[max(0, match.start() - 24) : match.start()]) is None


def _has_verb(text: str) -> bool:
    return any(_affirmed(text, m) for m in _VERB_WORD.finditer(text))


def _asks_for_a_tool(text: str) -> bool:
    return any(_affirmed(text, m) for m in _ASKS_FOR_A_TOOL.finditer(text))


def _is_identifier(name: str) -> bool:
    """``get_weather``, ``getWeather``, ``tool2``: not a word of prose, so naming it in a
    message means the tool, where "add" or "Joke" may just be English."""
    return "_" in name or bool(re.search(r"\d|[a-z][A-Z]", name))


def _mentions(text: str, name: str) -> bool:
    return bool(name) and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def _names(text: str, name: str) -> bool:
    """The text names the tool: its exact name, and for a one-word name also a verb (call,
    use, invoke) or a call's parenthesis ("add(2, 3)")."""
    if not _mentions(text, name):
        return False
    if _is_identifier(name):
        return True
    return _has_verb(text) or re.search(rf"(?<!\w){re.escape(name)}\(", text) is not None


def _is_about(text: str, name: str) -> bool:
    """A verb_noun tool (``get_weather``) whose noun is a word of the text ("the weather")."""
    verb, *nouns = [part.lower() for part in _NAME_PART.findall(name)]
    if verb not in _LOOKUP_VERBS or not nouns:
        return False
    words = {w.lower() for w in re.findall(r"\w+", text)}
    return any(len(noun) >= 4 and noun in words for noun in nouns)


def _named_by_user(
    functions: list[dict[str, Any]], user_text: str, parallel: bool
) -> list[dict[str, Any]]:
    """The tools the user's text names (all of them when two or more and parallel calls are
    allowed), else the first tool it is about; empty if neither."""
    named = [f for f in functions if _names(user_text, str(f.get("name") or ""))]
    if named:
        return named if parallel and len(named) >= 2 else named[:1]
    return [f for f in functions if _is_about(user_text, str(f.get("name") or ""))][:1]


def _system_text(messages: list[Any]) -> str:
    return "\n".join(
        text_of(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role") in ("system", "developer")
    )


def _system_asks(system_text: str, functions: list[dict[str, Any]]) -> bool:
    if not _has_verb(system_text):
        return False
    return bool(_TOOL_WORD.search(system_text)) or any(
        _mentions(system_text, str(f.get("name") or "")) for f in functions
    )


def chosen_tools(body: dict[str, Any], messages: list[Any], user_text: str) -> list[dict[str, Any]]:
    """The functions (``tools[i]["function"]``) the model calls now; empty: it answers in text.
    The rules are the module docstring's a, b and c."""
    functions = [t.get("function") or {} for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if not functions or choice == "none":
        return []
    parallel = body.get("parallel_tool_calls") is not False
    if isinstance(choice, dict):  # a: forced, by name
        wanted = (choice.get("function") or {}).get("name") or choice.get("name")
        return [f for f in functions if f.get("name") == wanted][:1] or functions[:1]
    if isinstance(choice, str) and choice not in ("auto", "any", "required"):
        return [f for f in functions if f.get("name") == choice][:1] or functions[:1]
    if choice in ("any", "required"):  # a: forced, any tool
        return _named_by_user(functions, user_text, parallel) or functions[:1]
    system_text = _system_text(messages)
    if _system_asks(system_text, functions):  # b
        in_system = [f for f in functions if _mentions(system_text, str(f.get("name") or ""))]
        return in_system[:1] or _named_by_user(functions, user_text, parallel) or functions[:1]
    named = _named_by_user(functions, user_text, parallel)  # c
    if named:
        return named
    return functions[:1] if _asks_for_a_tool(user_text) else []


def _tool_calls(chosen: list[dict[str, Any]], user_text: str) -> list[dict[str, Any]]:
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
                "id": f"call_-{digest % 2**63}",  # a negative int64, as GLM's JSON ids
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

    chosen = [] if last.get("role") == "tool" else chosen_tools(body, messages, user_text)
    if last.get("role") == "tool":
        result.content = f"\nThe tool returned: {text_of(last.get('content'))}"
        if reasons:
            result.reasoning = "\nI have the tool result; I will report it."
    elif chosen:
        result.tool_calls = _tool_calls(chosen, user_text)
        result.finish_reason = "tool_calls"
        if reasons:
            result.reasoning = "\nThe user wants a tool result; I will call the tool."
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
