"""What ChatRunAPI's settings and per-call keywords put in the request body and headers:
sampling parameters, ``stop`` (a single string too), the reasoning switch, ``model_kwargs``,
``extra_body`` and ``default_headers``, a per-call value overriding a setting."""

from __future__ import annotations

import httpx

from langchain_runapi import ChatRunAPI
from tests.support.fake_runapi import FakeRunAPI
from tests.support.wire import snapshot

from ._mock import ScriptedServer, llm_on, sample

KEY = "sk-test-SECRET-123"


def test_request_parameters(server: ScriptedServer) -> None:
    server.json(sample("glm-4.6.nonstream.json"))
    llm = server.model(
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        seed=7,
        stop=["END"],
        reasoning=False,
        model_kwargs={"user": "u1"},
        extra_body={"request_tag": "t"},
    )
    llm.invoke("hi", model="glm-4.7")
    body = server.last
    assert body["model"] == "glm-4.7"  # per-call override wins
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 50
    assert body["top_p"] == 0.9
    assert body["seed"] == 7
    assert body["stop"] == ["END"]
    assert body["thinking"] == {"type": "disabled"}
    assert body["user"] == "u1"
    assert body["request_tag"] == "t"


def test_extra_fields_and_headers_reach_the_wire() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(snapshot(request))
        return httpx.Response(200, content=sample("glm-4.6.nonstream.json"))

    llm = ChatRunAPI(
        api_key=KEY,
        temperature=0.2,
        model_kwargs={"user": "u1"},
        extra_body={"thinking": {"type": "enabled", "clear_thinking": False}},
        default_headers={"X-Team": "data"},
        http_client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    llm.invoke("hi", temperature=0.5)  # a per-call value overrides the field
    body = httpx.Response(200, content=seen[0].content).json()
    assert body["user"] == "u1"
    assert body["thinking"] == {"type": "enabled", "clear_thinking": False}
    assert body["temperature"] == 0.5
    assert seen[0].headers["x-team"] == "data"
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"


def test_stop_accepts_a_single_string(fake: FakeRunAPI) -> None:
    llm = llm_on(fake, stop="END")
    assert llm.stop == ["END"]
    assert ChatRunAPI(api_key="k", stop_sequences="END").stop == ["END"]
    llm.invoke("hi")
    assert fake.chat_requests[-1]["body"]["stop"] == ["END"]


def test_reasoning_switch_and_default(server: ScriptedServer) -> None:
    for _ in range(3):
        server.json(sample("glm-4.6.nonstream.json"))
    server.model().invoke("hi")
    assert "thinking" not in server.last  # unset leaves the model's default
    server.model(reasoning=True).invoke("hi")
    assert server.last["thinking"] == {"type": "enabled"}
    server.model().invoke("hi", reasoning=False)
    assert server.last["thinking"] == {"type": "disabled"}
