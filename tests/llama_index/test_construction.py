"""Building a RunAPILLM: settings from arguments and the environment, the model catalog's
metadata, OpenAI-style names (``api_base``, ``model_name``) and their conflicts, misspelt
keywords refused with the closest name, one client per LLM rebuilt when a setting changes; and
rebuilding it from ``to_dict``, ``to_json`` and a pickle."""

from __future__ import annotations

import httpx
import pytest
from llama_index.core import PromptHelper
from llama_index.core.base.llms.types import ChatMessage

import llama_index_runapi
import runapi_client
from llama_index_runapi import ConfigurationError, RunAPILLM
from tests.llama_index.helpers import json_response, make_llm, sample
from tests.support.fake_runapi import FakeRunAPI
from tests.support.wire import snapshot

USER = [ChatMessage(role="user", content="Hi")]


def test_env_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNAPI_API_KEY", "env-key")
    monkeypatch.setenv("RUNAPI_BASE_URL", "http://127.0.0.1:9/v1/")
    server_seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        server_seen.append(snapshot(request))
        return json_response(sample("glm-4.6.nonstream.json"))

    llm = RunAPILLM(
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    llm.chat(USER)
    assert server_seen[0].url == "http://127.0.0.1:9/v1/chat/completions"
    assert server_seen[0].headers["authorization"] == "Bearer env-key"
    monkeypatch.setenv("RUNAPI_API_KEY", "rotated-key")  # read again when it changes
    llm.chat(USER)
    assert server_seen[1].headers["authorization"] == "Bearer rotated-key"


def test_missing_key_is_reported_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(llama_index_runapi.ConfigurationError, match="RUNAPI_API_KEY"):
        RunAPILLM()


def test_metadata_from_the_catalog() -> None:
    meta = RunAPILLM(api_key="k").metadata
    assert meta.context_window == 204_800  # not LlamaIndex's 3900 default
    # Not the model's 131,072-token output limit: a query engine would keep that much of the
    # window free for the answer and pack retrieved text into the remaining 73K.
    assert meta.num_output == 16_384
    assert PromptHelper.from_llm_metadata(meta).context_window - meta.num_output == 188_416
    assert meta.is_chat_model is True
    assert meta.is_function_calling_model is True
    assert meta.model_name == "glm-4.6"
    assert RunAPILLM(api_key="k", max_tokens=512).metadata.num_output == 512
    assert RunAPILLM(api_key="k", context_window=8000).metadata.context_window == 8000
    unknown = RunAPILLM(api_key="k", model="some-new-model").metadata
    assert unknown.context_window == runapi_client.DEFAULT_MODEL_INFO.context_window
    assert unknown.num_output == runapi_client.DEFAULT_MODEL_INFO.max_output_tokens  # 4,096
    assert RunAPILLM.class_name() == "RunAPILLM"


def test_one_client_per_llm_reused_across_calls() -> None:
    llm, _ = make_llm(json_response(sample("glm-4.6.nonstream.json")))
    llm.chat(USER)
    first = llm._sync_client()
    llm.chat(USER)
    assert llm._sync_client() is first
    llm.max_retries = 0  # a changed setting is honoured: the client is rebuilt
    llm.chat(USER)
    assert llm._sync_client() is not first and llm._sync_client().max_retries == 0
    llm.default_headers = {"X-A": "1"}
    llm.chat(USER)
    rebuilt = llm._sync_client()
    assert rebuilt.config.default_headers == (("X-A", "1"),)
    llm.default_headers["X-A"] = "2"  # changed in place: noticed too
    assert llm._sync_client() is not rebuilt


# ------------------------------------- OpenAI-style names, conflicting aliases, misspelt keywords


def test_openai_style_names_are_accepted() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", api_base=fake.base_url, model_name="glm-4.7")
        assert (llm.base_url, llm.model) == (fake.base_url, "glm-4.7")
        llm.chat([ChatMessage(role="user", content="hi")])
        assert fake.chat_requests[-1]["body"]["model"] == "glm-4.7"
        # The same value twice is not a conflict.
        same = RunAPILLM(api_key="k", api_base=fake.base_url, base_url=fake.base_url)
        assert same.base_url == fake.base_url


@pytest.mark.parametrize(
    ("kwargs", "keep"),
    [
        ({"api_base": "http://a.test/v1", "base_url": "http://b.test/v1"}, "base_url"),
        ({"model_name": "glm-4.7", "model": "glm-4.6"}, "model"),
    ],
)
def test_an_alias_and_its_field_with_different_values_is_refused(
    kwargs: dict[str, str], keep: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"keep {keep}"):
        RunAPILLM(api_key="k", **kwargs)


def test_unknown_keyword_arguments_are_refused_with_the_closest_name() -> None:
    with pytest.raises(ConfigurationError, match=r"temprature.*did you mean 'temperature'"):
        RunAPILLM(api_key="k", temprature=0.2)
    with pytest.raises(ConfigurationError, match=r"tmeout \(did you mean 'timeout'\?\), zzz"):
        RunAPILLM(api_key="k", tmeout=5, zzz=1)
    # ChatOpenAI's (and ChatRunAPI's) other name for timeout is taken, as api_base is.
    assert RunAPILLM(api_key="k", request_timeout=5).timeout == 5


# ------------------------------------------------------------------------------------ round trips


def test_to_dict_to_json_and_pickle_round_trips_keep_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pickle

    monkeypatch.setenv("RUNAPI_API_KEY", "sk-env")
    llm = RunAPILLM(
        api_base="http://a.test/v1",
        model_name="glm-4.7",
        temperature=0.3,
        system_prompt="Be brief.",
        max_tokens=100,
    )
    for again in (
        RunAPILLM.from_dict(llm.to_dict()),
        RunAPILLM.from_json(llm.to_json()),
        RunAPILLM(**llm.to_dict()),  # class_name included
        pickle.loads(pickle.dumps(llm)),
    ):
        assert again.to_dict() == llm.to_dict()
        assert again.base_url == "http://a.test/v1" and again.model == "glm-4.7"


def test_from_dict_round_trip_takes_the_key_from_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNAPI_API_KEY", "env-key")
    llm = RunAPILLM(
        api_key="sk-test-secret-123",
        model="glm-4.7",
        max_tokens=99,
        price={"input": 1.0, "output": 2.0},
    )
    again = RunAPILLM.from_dict(llm.to_dict())
    assert (again.model, again.max_tokens, again.price) == ("glm-4.7", 99, llm.price)
    assert again._config().api_key.get_secret_value() == "env-key"
