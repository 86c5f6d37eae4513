"""LangChain's standard unit suite for ChatRunAPI (no network)."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import pytest
from langchain_core.load import dumpd, load
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_runapi import ChatRunAPI


class TestChatRunAPIUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatRunAPI]:
        return ChatRunAPI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "glm-4.6"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"RUNAPI_API_KEY": "api_key", "RUNAPI_BASE_URL": "https://gateway.example/v1"},
            {"model": "glm-4.6"},
            {"api_key": "api_key", "base_url": "https://gateway.example/v1"},
        )

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "glm-4.7"

    @pytest.mark.xfail(
        reason="harness limit, not the model: the standard test loads with "
        "allowed_objects='all', which admits only classes in langchain-core's built-in "
        "allowlist (in-tree partners); ChatRunAPI round-trips with an explicit allowlist, "
        "see test_serdes_with_explicit_allowlist",
        strict=True,
        raises=ValueError,
    )
    def test_serdes(self, model: Any, snapshot: Any) -> None:
        super().test_serdes(model, snapshot)

    # load() is marked beta in langchain-core: called on purpose here.
    @pytest.mark.filterwarnings("ignore:The function `load` is in beta")
    def test_serdes_with_explicit_allowlist(self, model: Any, snapshot: Any) -> None:
        """The standard serdes checks, loading with ``allowed_objects=[ChatRunAPI]``, the way
        LangChain documents loading a class outside its allowlist."""
        env_params, _, _ = self.init_from_env_params
        with mock.patch.dict(os.environ, env_params):
            ser = dumpd(model)
            assert ser == snapshot(name="serialized")
            loaded = load(
                dumpd(model),
                valid_namespaces=model.get_lc_namespace()[:1],
                allowed_objects=[ChatRunAPI],
                secrets_from_env=True,
            )
            assert loaded._identifying_params == model._identifying_params
            assert loaded.api_key.get_secret_value() == "api_key"  # from the environment
