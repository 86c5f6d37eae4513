"""Building a ChatRunAPI: names and aliases, a missing key or a bad setting refused with a
``ConfigurationError`` that names the fix and never the key, ChatOpenAI's own settings refused,
the model's profile and tracing parameters, and the client built once and rebuilt when a
setting changes (``model_copy``, assignment, a header changed in place)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr

from langchain_runapi import ChatRunAPI, ConfigurationError, RunAPIEmbeddings
from tests.support.fake_runapi import FakeRunAPI


def test_model_name_alias() -> None:
    assert ChatRunAPI(model_name="glm-4.7", api_key="k").model_name == "glm-4.7"


def test_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="RUNAPI_API_KEY"):
        ChatRunAPI(model="glm-4.6")


@pytest.mark.parametrize("cls", [ChatRunAPI, RunAPIEmbeddings])
def test_construction_error_names_the_fix_and_never_the_key(
    cls: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="RUNAPI_API_KEY") as missing:
        cls()
    assert isinstance(missing.value, ValueError)  # `except ValueError` catches it
    with pytest.raises(ConfigurationError, match="timeout must be a positive number") as bad:
        cls(api_key="sk-very-secret", timeout=-1)
    assert "sk-very-secret" not in str(bad.value)


@pytest.mark.parametrize("name", ["openai_api_key", "openai_api_base", "api_base"])
def test_chat_openai_settings_are_refused_not_sent_in_the_body(name: str) -> None:
    from langchain_runapi import ChatRunAPI

    with pytest.raises(ConfigurationError, match=f"{name} is ChatOpenAI's setting") as caught:
        ChatRunAPI(api_key="k", **{name: "sk-openai-secret-value"})
    assert "sk-openai-secret-value" not in str(caught.value)


def test_profile_and_ls_params() -> None:
    llm = ChatRunAPI(model="glm-4.6", api_key="k", temperature=0.1, max_tokens=5)
    assert llm.profile is not None
    assert llm.profile["max_input_tokens"] == 204_800
    assert llm.profile["tool_choice"] is False  # GLM cannot be forced to call a tool
    assert llm.profile["structured_output"] is False
    assert llm.profile["reasoning_output"] is True
    assert llm._get_ls_params(model="glm-4.7") == {
        "ls_provider": "runapi",
        "ls_model_name": "glm-4.7",
        "ls_model_type": "chat",
        "ls_temperature": 0.1,
        "ls_max_tokens": 5,
    }
    assert "test-key" not in repr(ChatRunAPI(api_key="test-key"))


# ---------------------------------------- one client per instance, rebuilt when a setting changes


def test_client_is_built_once_per_instance() -> None:
    llm = ChatRunAPI(api_key="k")
    assert llm.client is llm.client
    assert llm.async_client is llm.async_client


@pytest.mark.parametrize(
    ("field", "value"), [("timeout", 5.0), ("max_retries", 0), ("api_key", SecretStr("other"))]
)
def test_client_is_reused_until_a_setting_changes(field: str, value: Any) -> None:
    llm = ChatRunAPI(api_key="k")
    client, aclient = llm.client, llm.async_client
    assert llm.client is client and llm.async_client is aclient
    setattr(llm, field, value)
    assert llm.client is not client and llm.async_client is not aclient
    assert llm.client is llm.client
    config = llm.client.config
    assert getattr(config, field) == value


def test_model_copy_without_changes_shares_the_client() -> None:
    llm = ChatRunAPI(api_key="k")
    client = llm.client
    assert llm.model_copy().client is client


def test_model_copy_and_assignment_follow_the_new_settings() -> None:
    with FakeRunAPI() as old, FakeRunAPI() as new:
        llm = ChatRunAPI(model="glm-4.6", api_key="key-A", base_url=old.base_url)
        llm.invoke("warm up")
        copy = llm.model_copy(update={"base_url": new.base_url, "api_key": SecretStr("key-B")})
        copy.invoke("to the new server")
        assert len(new.chat_requests) == 1
        assert new.chat_requests[-1]["headers"]["authorization"] == "Bearer key-B"

        llm.invoke("the original is unchanged")
        assert len(old.chat_requests) == 2
        assert old.chat_requests[-1]["headers"]["authorization"] == "Bearer key-A"

        llm.base_url = new.base_url
        asyncio.run(llm.ainvoke("after assignment"))
        llm.invoke("after assignment")
        assert len(new.chat_requests) == 3 and len(old.chat_requests) == 2

        llm.default_headers = {"X-Trace": "1"}
        llm.invoke("with a header")
        assert new.chat_requests[-1]["headers"]["x-trace"] == "1"
        llm.default_headers["X-Trace"] = "2"  # changed in place
        llm.invoke("with a changed header")
        assert new.chat_requests[-1]["headers"]["x-trace"] == "2"
