"""`make demo`: a LangChain chain, a LangGraph agent and a LlamaIndex RAG pipeline on RunAPI.

With RUNAPI_API_KEY set it calls RunAPI live. Without it, it replays the responses recorded in
cassettes/demo/ (see cassettes/README.md for how they were made) and says so in its first line.
It ends with a table of calls, tokens and cost per model, counted by the core's track_usage(),
and the account's balance read before and after the calls beside the spend computed from them.

    python examples/demo.py                      # offline replay, or live with a key
    python examples/demo.py --record             # re-record the cassette live (needs a key)
    python examples/demo.py --record-emulator    # re-record against the local GLM emulator
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CASSETTE = ROOT / "cassettes" / "demo" / "demo.yaml"
DOCS_SNAPSHOT = CASSETTE.with_name("docs-snapshot.json")
"""The docs/ pages as they were when the cassette was recorded: replay indexes these, so that
editing the docs does not invalidate the recorded embeddings."""
MODEL = "glm-4.6"
EMBED_MODEL = "text-embedding-3-small"

warnings.filterwarnings("ignore", category=DeprecationWarning)
# RunAPI publishes no embedding prices: the table below says "unpriced" instead.
warnings.filterwarnings("ignore", message="No price known for model 'text-embedding")


class Spinner:
    """A progress line on stderr while waiting for the first output of a step."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._tty = sys.stderr.isatty()

    def _spin(self) -> None:
        for frame in itertools.cycle("|/-\\"):
            if self._stop.wait(0.1):
                break
            sys.stderr.write(f"\r  {frame} {self.label}...")
            sys.stderr.flush()

    def __enter__(self) -> Spinner:
        if self._tty:
            self._thread.start()
        else:
            sys.stderr.write(f"  ... {self.label}\n")
        return self

    def done(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            if self._tty:
                self._thread.join()
                sys.stderr.write("\r" + " " * (len(self.label) + 8) + "\r")
                sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        self.done()


def clip(text: str, limit: int = 400) -> str:
    """Long answers are cut for the terminal; the full text is in the response object."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)))


def langchain_chain() -> None:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from langchain_runapi import ChatRunAPI

    heading("LangChain: a prompt | ChatRunAPI | parser chain, streamed token by token")
    llm = ChatRunAPI(model=MODEL, temperature=0.3, max_tokens=200)
    chain = (
        ChatPromptTemplate.from_messages(
            [("system", "You are a concise database tutor."), ("user", "{question}")]
        )
        | llm
        | StrOutputParser()
    )
    with Spinner("waiting for the first token") as spinner:
        for token in chain.stream({"question": "In two sentences: what does a LEFT JOIN return?"}):
            spinner.done()
            print(token, end="", flush=True)
    print()


def langgraph_agent() -> None:
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent

    from langchain_runapi import ChatRunAPI

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return f"Sunny, 22 C in {city}"

    heading("LangGraph: a ReAct agent calling a tool")
    agent = create_react_agent(ChatRunAPI(model=MODEL, temperature=0), [get_weather])
    with Spinner("agent working"):
        result = agent.invoke({"messages": [("user", "What is the weather in Paris?")]})
    for message in result["messages"]:
        calls = getattr(message, "tool_calls", None)
        if calls:
            for call in calls:
                print(f"  -> tool call {call['name']}({call['args']})")
        elif message.type == "tool":
            print(f"  <- tool result: {message.content}")
        elif message.type == "ai":
            print(f"  answer: {clip(str(message.content))}")


def llama_index_chat_and_agent() -> None:
    import asyncio

    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.base.llms.types import ThinkingBlock
    from llama_index.core.llms import ChatMessage

    from llama_index_runapi import RunAPILLM

    heading("LlamaIndex: RunAPILLM chat, then a FunctionAgent with a tool")
    llm = RunAPILLM(model=MODEL, temperature=0.3, max_tokens=200)
    with Spinner("waiting for the answer"):
        response = llm.chat([ChatMessage(role="user", content="Name one use of a B-tree index.")])
    thinking = "".join(
        block.content or "" for block in response.message.blocks if isinstance(block, ThinkingBlock)
    )
    if thinking:
        print(f"  (GLM reasoned first, kept apart from the answer: {clip(thinking, 80)!r})")
    print(f"  {clip(str(response.message.content))}")

    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    agent = FunctionAgent(tools=[multiply], llm=RunAPILLM(model=MODEL, temperature=0))

    async def run_agent() -> object:
        return await agent.run("What is 6 times 7? Use the tool.")

    with Spinner("agent working"):
        answer = asyncio.run(run_agent())
    print(f"  agent: {clip(str(answer))}")


def load_docs(source: str) -> list[Any]:
    """docs/*.md as LlamaIndex documents: read live ("live"), read live and saved with the
    cassette ("record"), or the saved snapshot ("replay"). Built the same way in every case,
    so replay splits them into the same chunks as were embedded when recording."""
    from llama_index.core import Document

    if source == "replay":
        pages = json.loads(DOCS_SNAPSHOT.read_text(encoding="utf-8"))
    else:
        pages = [
            {"file_name": path.name, "text": path.read_text(encoding="utf-8")}
            for path in sorted((ROOT / "docs").glob("*.md"))
        ]
        if source == "record":
            DOCS_SNAPSHOT.write_text(
                json.dumps(pages, ensure_ascii=False, indent=1), encoding="utf-8"
            )
    return [Document(text=p["text"], metadata={"file_name": p["file_name"]}) for p in pages]


def llama_index_rag(docs_source: str) -> None:
    from llama_index.core import Settings, VectorStoreIndex

    from llama_index_runapi import RunAPILLM
    from llama_index_runapi.embeddings import RunAPIEmbedding

    heading("LlamaIndex: RAG over this repository's docs/ (RunAPIEmbedding + RunAPILLM)")
    if docs_source == "replay":
        print("  (offline: the docs/ pages as recorded with the cassette)")
    Settings.chunk_size = 512
    docs = load_docs(docs_source)
    with Spinner(f"embedding {len(docs)} documents"):
        index = VectorStoreIndex.from_documents(
            docs, embed_model=RunAPIEmbedding(model=EMBED_MODEL)
        )
    engine = index.as_query_engine(llm=RunAPILLM(model=MODEL, temperature=0), similarity_top_k=2)
    question = "What does a stream that ends before its finish reason raise?"
    print(f"  Q: {question}")
    with Spinner("retrieving and answering"):
        answer = engine.query(question)
    print(f"  A: {clip(str(answer))}")
    sources = sorted({n.node.metadata.get("file_name", "?") for n in answer.source_nodes})
    print(f"  (retrieved from {', '.join(sources)})")


def cost_table(tracker: object) -> None:
    from runapi_client import UsageTracker

    assert isinstance(tracker, UsageTracker)
    heading("Usage and cost, counted by runapi_client.track_usage()")
    header = (
        f"  {'model':<24}{'calls':>6}{'input':>9}{'cached':>8}{'output':>9}"
        f"{'reason.':>9}{'cost USD':>13}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for model, per in sorted(tracker.by_model.items()):
        cost = f"{per.cost:.6f}" if per.priced else "unpriced"
        print(
            f"  {model:<24}{per.requests:>6}{per.prompt_tokens:>9}{per.cached_tokens:>8}"
            f"{per.completion_tokens:>9}{per.reasoning_tokens:>9}{cost:>13}"
        )
    print("  " + "-" * (len(header) - 2))
    print(
        f"  {'total':<24}{tracker.requests:>6}{tracker.prompt_tokens:>9}{tracker.cached_tokens:>8}"
        f"{tracker.completion_tokens:>9}{tracker.reasoning_tokens:>9}{tracker.total_cost:>13.6f}"
    )


def account_balance() -> object | None:
    """The account's balance (RunAPIClient.balance()), or None when there is none to read
    (offline, a cassette recorded before the demo read balances)."""
    from runapi_client import RunAPIClient

    try:
        return RunAPIClient().balance()
    except Exception as exc:  # vcr's "not in the cassette" is no RunAPIError
        print(f"  (no balance to read: {type(exc).__name__})")
        return None


def balance_table(before: object | None, after: object | None, spent: float) -> None:
    from runapi_client import Balance

    heading("The account: balance before and after, beside the spend computed above")
    if not isinstance(before, Balance) or not isinstance(after, Balance):
        print("  no balance recorded: the spend above is the computed one only")
        return
    print(f"  before: {before}")
    print(f"  after:  {after}")
    if before.balance is not None and after.balance is not None:
        taken = before.balance - after.balance
        print(f"  RunAPI took {taken:.6f} USD; the calls' computed cost is {spent:.6f} USD")
        print("  (the computed cost leaves out calls without a known price: the embeddings)")


def _cassette(mode: str) -> contextlib.AbstractContextManager[object]:
    import vcr

    from tests.support.recording import FILTER_HEADERS, FILTER_QUERY_PARAMETERS, scrub_response

    recorder = vcr.VCR(
        record_mode=mode,
        match_on=["method", "scheme", "host", "port", "path"],
        filter_headers=FILTER_HEADERS,
        filter_query_parameters=FILTER_QUERY_PARAMETERS,
        before_record_response=scrub_response,
        decode_compressed_response=True,
    )
    return recorder.use_cassette(str(CASSETTE), allow_playback_repeats=False)


@contextlib.contextmanager
def _emulator() -> Iterator[str]:
    from tests.support.fake_runapi import FakeRunAPI

    with FakeRunAPI(stream_shape="normalised") as server:
        os.environ["RUNAPI_BASE_URL"] = server.base_url
        os.environ["RUNAPI_API_KEY"] = "emulator-key"
        yield server.base_url.rsplit("/v1", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="re-record live (needs a key)")
    parser.add_argument("--record-emulator", action="store_true", help="re-record on the emulator")
    args = parser.parse_args()

    from runapi_client import track_usage

    live = bool(os.environ.get("RUNAPI_API_KEY")) and not args.record_emulator
    emulator_origin = None
    docs_source = "record" if (args.record or args.record_emulator) else "live"
    context: contextlib.AbstractContextManager[object]
    if args.record_emulator:
        print("Recording the demo cassette against the local GLM emulator.")
        stack = contextlib.ExitStack()
        emulator_origin = stack.enter_context(_emulator())
        if CASSETTE.exists():
            CASSETTE.unlink()  # vcr appends otherwise
        stack.enter_context(_cassette("all"))
        context = stack
    elif args.record:
        if not live:
            print("--record needs RUNAPI_API_KEY: recording calls RunAPI live.", file=sys.stderr)
            return 2
        print("Live, recording: calling RunAPI and writing cassettes/demo/demo.yaml.")
        if CASSETTE.exists():
            CASSETTE.unlink()
        context = _cassette("all")
    elif live:
        print(
            f"Live: calling RunAPI at {os.environ.get('RUNAPI_BASE_URL', 'https://runapi.ai/v1')}."
        )
        context = contextlib.nullcontext()
    else:
        print(
            "Offline: no RUNAPI_API_KEY, so replaying recorded responses (cassettes/demo/demo.yaml,"
            " recorded from the local GLM emulator: real wire format, scripted answers)."
            " Set RUNAPI_API_KEY to call RunAPI live."
        )
        os.environ["RUNAPI_API_KEY"] = "offline-replay-no-key"
        os.environ.pop("RUNAPI_BASE_URL", None)
        context = _cassette("none")
        docs_source = "replay"

    with context, track_usage() as tracker:
        before = account_balance()
        langchain_chain()
        langgraph_agent()
        llama_index_chat_and_agent()
        llama_index_rag(docs_source)
        after = account_balance()
    cost_table(tracker)
    balance_table(before, after, tracker.total_cost)
    if emulator_origin is not None:
        # Recorded against 127.0.0.1:PORT; replay expects the default base URL.
        from scripts.record_cassettes import rewrite_origin

        text = CASSETTE.read_text(encoding="utf-8")
        CASSETTE.write_text(rewrite_origin(text, emulator_origin), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
